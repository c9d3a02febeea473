"""A stream: ring buffer and per-stream state over a shared `Engine`.

Hop ``k`` (k = 1, 2, ...) ends at sample ``k * hop`` and scores the window ``[end - window, end)`` (shorter at the
start of the stream or after a gap, never shorter than ``min_window_s``). Hop positions depend only on the sample
count, never on how the audio was chunked, so any chunking gives the same scores.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from slap_edge.runtime.decision import DecisionConfig, SectionDecision
from slap_edge.runtime.gate import Gate, GuardCounts, VadGate, guard_samples
from slap_edge.runtime.ring import RingBuffer
from slap_edge.scoring import section_tops

if TYPE_CHECKING:
    from slap_edge.runtime.engine import Engine


class JsonObject(dict):
    """A message as the JSON object of spec/events.md: a plain dict, whose ``str`` is its JSON line (so
    ``print(result.to_json())`` prints JSON, and ``json.dumps`` and dict access work as on any dict)."""

    def __str__(self) -> str:
        return json.dumps(self, separators=(", ", ": "), ensure_ascii=False)


@dataclasses.dataclass
class Scores:
    """One hop's result (a ``"scores"`` line of spec/events.md)."""

    seq: int
    t: float
    window: tuple[float, float]
    speech: float
    sections: dict[str, dict[str, Any]] | None
    latency_ms: dict[str, float]
    dropped: int
    probs: dict[str, np.ndarray] | None = dataclasses.field(default=None, repr=False)
    embedding: np.ndarray | None = dataclasses.field(default=None, repr=False)

    def to_json(self) -> JsonObject:
        return JsonObject(
            {
                "type": "scores",
                "seq": self.seq,
                "t": round(self.t, 4),
                "window": [round(self.window[0], 4), round(self.window[1], 4)],
                "speech": round(self.speech, 4),
                "sections": self.sections,
                "latency_ms": {k: round(v, 3) for k, v in self.latency_ms.items()},
                "dropped": self.dropped,
            }
        )


@dataclasses.dataclass
class Event:
    """A change of a section's smoothed decision (an ``"event"`` line of spec/events.md)."""

    seq: int
    t: float
    section: str
    label: str
    prob: float
    previous: str | None

    def to_json(self) -> JsonObject:
        return JsonObject(
            {
                "type": "event",
                "seq": self.seq,
                "t": round(self.t, 4),
                "section": self.section,
                "label": self.label,
                "prob": round(self.prob, 4),
                "previous": self.previous,
            }
        )


Message = Scores | Event


class Stream:
    """Accepts samples at the engine's rate and produces `Scores` and `Event`s, one hop at a time."""

    def __init__(
        self,
        engine: Engine,
        hop_s: float | None = None,
        window_s: float | None = None,
        min_window_s: float = 0.5,
        decision: DecisionConfig | None = None,
        gate: Gate | None = None,
    ) -> None:
        sr = engine.sample_rate
        self.engine = engine
        self.sample_rate = sr
        self.hop_s = engine.bundle.hop_s if hop_s is None else float(hop_s)
        self.window_s = engine.bundle.window_s if window_s is None else float(window_s)
        if not (math.isfinite(self.hop_s) and math.isfinite(self.window_s)) or self.hop_s <= 0 or self.window_s <= 0:
            raise ValueError(
                f"hop and window must be positive numbers of seconds, got hop (--hop) {self.hop_s} s, window "
                f"{self.window_s} s"
            )
        if self.hop_s > self.window_s:
            raise ValueError(
                f"hop (--hop) {self.hop_s} s is longer than the window {self.window_s} s: the audio between windows "
                f"would never be scored; use a hop of at most {self.window_s} s"
            )
        self.hop = max(1, int(round(self.hop_s * sr)))
        self.window = max(1, int(round(self.window_s * sr)))
        if engine.fixed_samples is not None:
            self.window = engine.fixed_samples
        self.min_window = min(self.window, max(1, int(round(min_window_s * sr))))
        self.gate = gate or VadGate()
        self._gate_tracker = self.gate.create_tracker(sr)
        self.decision_cfg = decision or DecisionConfig()
        self.decisions = {
            name: SectionDecision(
                name, labels, self.decision_cfg, self.hop / sr, getattr(engine, "section_thresholds", {}).get(name)
            )
            for name, labels in engine.section_labels.items()
        }
        # The log-mel frames kept from hop to hop (None: the whole graph runs every hop; see runtime/frames.py).
        self._frames = engine.frame_cache(self.window)
        self._ring = RingBuffer(self.window + 8 * self.hop)
        self._window_buf = np.empty(self.window, dtype=np.float32)
        self._next_end = self.hop
        self._valid_start = 0  # windows never reach back before this sample (start, or after a gap)
        self._drop_until = 0  # hops ending before this were skipped to catch up: counted as dropped
        self.seq = 0
        self.hops = 0
        self.gated = 0
        self.dropped = 0
        self.guard = GuardCounts()
        # Latencies of the most recent hops only (about 4.5 h at 4 hops/s): a kiosk runs for weeks.
        self._latencies = RingBuffer(1 << 16)
        self._resamplers: dict[int, Any] = {}  # input rate -> streaming resampler, for accept_waveform(sample_rate=)

    @property
    def first_hop_s(self) -> float:
        """Seconds of audio a stream needs before its first scored hop (the first hop whose window is long enough)."""
        return math.ceil(self.min_window / self.hop) * self.hop / self.sample_rate

    @property
    def samples(self) -> int:
        """Samples accepted (and skipped) so far: the stream's clock."""
        return self._ring.total

    def accept_waveform(self, samples: np.ndarray, sample_rate: int | None = None) -> None:
        """Append samples (mono, or [frames, channels] averaged to mono). Without ``sample_rate`` they are at the
        engine's rate; with another rate they are resampled here (streaming, so a resampler's few ms of delay are
        released by `input_finished`). NaN/inf and out-of-range values are guarded."""
        if sample_rate is not None or np.ndim(samples) == 2:
            samples = self._to_engine_rate(samples, sample_rate)
        x = guard_samples(samples, self.guard)
        # Keep every sample that a not-yet-scored window still needs, growing the ring for large chunks.
        oldest_needed = max(self._valid_start, self._next_end - self.window)
        need = self._ring.total + x.shape[0] - oldest_needed
        if need > self._ring.capacity:
            self._ring.grow(max(need, 2 * self._ring.capacity))
        self._ring.write(x)

    def _to_engine_rate(self, samples: np.ndarray, sample_rate: int | None) -> np.ndarray:
        from slap_edge.runtime.sources import Resampler, to_mono

        x = to_mono(samples)
        if sample_rate is None:
            return x
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
            raise ValueError(f"sample_rate must be a positive whole number of Hz, got {sample_rate!r}")
        rate = int(sample_rate)
        if rate == self.sample_rate:
            return x
        if rate not in self._resamplers:
            self._resamplers[rate] = Resampler(rate, self.sample_rate)
        return self._resamplers[rate](x)

    def input_finished(self) -> None:
        """No more audio will come: flush what the resamplers still hold, so the last hop can be scored."""
        for resampler in self._resamplers.values():
            tail = resampler(np.zeros(0, dtype=np.float32), last=True)
            if tail.shape[0]:
                self.accept_waveform(tail)
        self._resamplers.clear()

    def skip(self, n: int, dropped: bool) -> None:
        """Advance the clock by ``n`` samples that will never arrive (a lost device, or audio discarded to catch
        up when processing fell behind). With ``dropped``, the hops this costs are counted as dropped windows."""
        if n <= 0:
            return
        self._ring.write(np.zeros(min(n, self._ring.capacity), dtype=np.float32))
        self._ring.total += n - min(n, self._ring.capacity)
        self._valid_start = self._ring.total
        # Hops that end inside the gap have no audio: step over them at once (a device may be gone for hours).
        in_gap = 0
        if self._next_end <= self._valid_start:
            in_gap = (self._valid_start - self._next_end) // self.hop + 1
            self._next_end += in_gap * self.hop
        if dropped:
            self.dropped += in_gap
            self._drop_until = self._valid_start + self.window

    def ready(self) -> bool:
        """True when a hop's worth of new samples is waiting."""
        return self._ring.total >= self._next_end

    def pending_hops(self) -> int:
        return max(0, (self._ring.total - self._next_end) // self.hop + 1) if self.ready() else 0

    def process(self) -> Iterator[Message]:
        """Score every hop that is ready; yields the scores of each hop followed by its events."""
        while self.ready():
            yield from self._step()

    def _step(self) -> list[Message]:
        t_begin = time.perf_counter()
        end = self._next_end
        self._next_end += self.hop
        if end < self._drop_until:
            self.dropped += 1
            return []
        start = max(self._valid_start, end - self.window)
        n = end - start
        if n < self.min_window:
            return []
        window = self._ring.read(start, n, out=self._window_buf[:n])
        sr = self.sample_rate
        t_gate = time.perf_counter()
        speech = self._gate_tracker.speech(window, start)
        gate_ms = (time.perf_counter() - t_gate) * 1000.0
        self.hops += 1
        t_end = end / sr
        msgs: list[Message] = []
        if not self._gate_tracker.is_open(speech, n / sr):
            self.gated += 1
            total = (time.perf_counter() - t_begin) * 1000.0
            self._latencies.write(np.array([total], dtype=np.float32))
            self.seq += 1
            latency = {"gate": gate_ms, "total": total}
            msgs.append(Scores(self.seq, t_end, (start / sr, t_end), speech, None, latency, self.dropped))
            return msgs
        emb, enc_ms = self.engine.timed_embed(window, start, self._frames)
        t_score = time.perf_counter()
        probs = self.engine.score(emb)
        sections = section_tops(probs, self.engine.section_labels)
        score_ms = (time.perf_counter() - t_score) * 1000.0
        decisions = [d for name, p in probs.items() if (d := self.decisions[name].update(p)) is not None]
        total = (time.perf_counter() - t_begin) * 1000.0
        self._latencies.write(np.array([total], dtype=np.float32))
        self.seq += 1
        latency = {"gate": gate_ms, "features_and_encoder": enc_ms, "score": score_ms, "total": total}
        msgs.append(Scores(self.seq, t_end, (start / sr, t_end), speech, sections, latency, self.dropped, probs, emb))
        for d in decisions:
            self.seq += 1
            msgs.append(Event(self.seq, t_end, d.section, d.label, d.prob, d.previous))
        return msgs

    def latency_percentiles(self) -> dict[str, float]:
        """p50/p95/p99 of per-hop processing time (ms) over the recent hops."""
        held = self._latencies.total - self._latencies.oldest
        if held == 0:
            return {}
        a = self._latencies.read(self._latencies.oldest, held)
        return {f"p{q}": float(np.percentile(a, q)) for q in (50, 95, 99)}
