"""Per-section decisions: exponential smoothing, hysteresis and a minimum dwell before an event.

A decision changes only when a new label leads the smoothed probabilities by a margin, above an entry level, for
``min_dwell_hops`` consecutive hops; so a one-hop flicker is never an event.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np


@dataclasses.dataclass(frozen=True)
class DecisionConfig:
    """How eagerly decisions change. Times are in seconds so they do not depend on the hop."""

    smoothing_s: float = 0.75  # time constant of the exponential moving average of the probabilities
    enter_prob: float = 0.55  # a new label needs at least this smoothed probability ...
    margin: float = 0.1  # ... and must lead the current label by this much
    min_dwell_s: float = 0.5  # ... for this long before the event fires

    def __post_init__(self) -> None:
        # NaN passes every comparison below, so it is refused first: one NaN here makes every probability NaN.
        for name in ("smoothing_s", "enter_prob", "margin", "min_dwell_s"):
            value = getattr(self, name)
            if not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value}")
        if self.smoothing_s < 0:
            raise ValueError(f"smoothing_s must be >= 0, got {self.smoothing_s}")
        if not 0.0 <= self.enter_prob <= 1.0:
            raise ValueError(f"enter_prob must be in [0, 1], got {self.enter_prob}")
        if not 0.0 <= self.margin <= 1.0:
            raise ValueError(f"margin must be in [0, 1], got {self.margin}")
        if self.min_dwell_s < 0:
            raise ValueError(f"min_dwell_s must be >= 0, got {self.min_dwell_s}")

    def alpha(self, hop_s: float) -> float:
        """Weight of the newest hop in the moving average."""
        return 1.0 if self.smoothing_s == 0 else 1.0 - math.exp(-hop_s / self.smoothing_s)

    def dwell_hops(self, hop_s: float) -> int:
        return max(1, math.ceil(self.min_dwell_s / hop_s - 1e-9))


@dataclasses.dataclass(frozen=True)
class Decision:
    """A change of one section's decision."""

    section: str
    label: str
    prob: float
    previous: str | None


class SectionDecision:
    """The smoothed state of one section."""

    def __init__(
        self,
        name: str,
        labels: tuple[str, ...],
        cfg: DecisionConfig,
        hop_s: float,
        enter_probs: np.ndarray | None = None,
    ) -> None:
        self.name = name
        self.labels = labels
        self.cfg = cfg
        # Entry level per label: a calibrated threshold (adapted heads, `slap-edge adapt --target-far`) replaces
        # cfg.enter_prob for its label; NaN or None keeps cfg.enter_prob.
        levels = np.full(len(labels), cfg.enter_prob)
        if enter_probs is not None:
            given = np.asarray(enter_probs, dtype=np.float64)
            if given.shape != (len(labels),):
                raise ValueError(f"section {name!r}: {len(labels)} labels but enter_probs of shape {given.shape}")
            levels = np.where(np.isnan(given), levels, given)
        self.enter_levels = levels
        self._alpha = cfg.alpha(hop_s)
        self._dwell = cfg.dwell_hops(hop_s)
        self.smoothed: np.ndarray | None = None
        self.current: int | None = None
        self._candidate: int | None = None
        self._count = 0

    @property
    def current_label(self) -> str | None:
        return None if self.current is None else self.labels[self.current]

    def update(self, probs: np.ndarray) -> Decision | None:
        """Fold in one hop's probabilities; returns a `Decision` when the decision changes."""
        p = np.asarray(probs, dtype=np.float64)
        self.smoothed = p.copy() if self.smoothed is None else self._alpha * p + (1.0 - self._alpha) * self.smoothed
        s = self.smoothed
        top = int(np.argmax(s))
        if top == self.current:
            self._candidate, self._count = None, 0
            return None
        lead = s[top] - (s[self.current] if self.current is not None else np.partition(s, -2)[-2])
        if s[top] < self.enter_levels[top] or lead < self.cfg.margin:
            self._candidate, self._count = None, 0
            return None
        if self._candidate == top:
            self._count += 1
        else:
            self._candidate, self._count = top, 1
        if self._count < self._dwell:
            return None
        previous = self.current_label
        self.current, self._candidate, self._count = top, None, 0
        return Decision(self.name, self.labels[top], float(s[top]), previous)
