"""A preallocated float32 ring buffer addressed by absolute sample index.

One writer (an audio callback, or the stream's own `accept_waveform`) and one reader. The writer only copies and
then advances ``total``; the reader asks for samples by absolute index, so it can tell exactly which samples were
overwritten before it got to them.
"""

from __future__ import annotations

import numpy as np


class RingBuffer:
    """Keeps the most recent ``capacity`` samples; ``total`` counts every sample ever written."""

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError(f"ring buffer capacity must be positive, got {capacity}")
        self._buf = np.zeros(capacity, dtype=np.float32)
        # Updated only after the samples are in place, so a reader on another thread never sees unwritten data.
        self.total = 0
        self._first = 0  # nothing before this index is held (raised by `grow`, which keeps only what it had)

    @property
    def capacity(self) -> int:
        return self._buf.shape[0]

    @property
    def oldest(self) -> int:
        """Absolute index of the oldest sample still held."""
        return max(self._first, self.total - self.capacity)

    def write(self, samples: np.ndarray) -> None:
        """Append samples (1-D); the oldest are overwritten once the buffer is full. Allocation-free."""
        n = samples.shape[0]
        cap = self.capacity
        if n >= cap:
            self._buf[:] = samples[n - cap :]
            # Rotate so that position (total + n) % cap is the next write slot.
            shift = (self.total + n) % cap
            if shift:
                self._buf[:] = np.roll(self._buf, shift)
            self.total += n
            return
        start = self.total % cap
        first = min(n, cap - start)
        self._buf[start : start + first] = samples[:first]
        if first < n:
            self._buf[: n - first] = samples[first:]
        self.total += n

    def read(self, start: int, n: int, out: np.ndarray | None = None) -> np.ndarray:
        """Copy samples ``[start, start + n)`` (absolute indices); they must still be held."""
        if n < 0 or start < self.oldest or start + n > self.total:
            raise IndexError(f"samples [{start}, {start + n}) not held (held: [{self.oldest}, {self.total}))")
        if out is None:
            out = np.empty(n, dtype=np.float32)
        cap = self.capacity
        s = start % cap
        first = min(n, cap - s)
        out[:first] = self._buf[s : s + first]
        if first < n:
            out[first:n] = self._buf[: n - first]
        return out

    def grow(self, capacity: int) -> None:
        """Enlarge the buffer keeping what it holds (used by streams fed chunks longer than expected)."""
        if capacity <= self.capacity:
            return
        first_held = self.oldest
        held = self.total - first_held
        data = self.read(first_held, held)
        self._buf = np.zeros(capacity, dtype=np.float32)
        start = first_held % capacity
        first = min(held, capacity - start)
        self._buf[start : start + first] = data[:first]
        self._buf[: held - first] = data[first:]
        self._first = first_held

    def reset(self) -> None:
        self._buf[:] = 0.0
        self.total = 0
        self._first = 0
