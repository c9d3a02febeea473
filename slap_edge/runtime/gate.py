"""Speech gate: skip the encoder when a window holds no speech, and guard what reaches the model."""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class EnergyGate:
    """Energy gate: ``speech`` is the fraction of short frames in the window louder than ``threshold_db``.

    The gate opens when that fraction reaches ``min_speech``. Frame energies are RMS in dB relative to full scale.
    """

    threshold_db: float = -45.0
    frame_s: float = 0.02
    min_speech: float = 0.1
    enabled: bool = True

    def __post_init__(self) -> None:
        if self.frame_s <= 0:
            raise ValueError(f"gate frame_s must be positive, got {self.frame_s}")
        if not 0.0 <= self.min_speech <= 1.0:
            raise ValueError(f"gate min_speech must be in [0, 1], got {self.min_speech}")

    def speech(self, window: np.ndarray, sample_rate: int) -> float:
        """Fraction of frames above the threshold (1.0 when the gate is disabled)."""
        if not self.enabled:
            return 1.0
        n = max(1, int(round(self.frame_s * sample_rate)))
        frames = window.shape[0] // n
        if frames == 0:
            return 0.0
        x = window[: frames * n].reshape(frames, n).astype(np.float64)
        rms = np.sqrt(np.mean(x * x, axis=1))
        db = 20.0 * np.log10(np.maximum(rms, 1e-10))
        return float(np.mean(db > self.threshold_db))

    def is_open(self, speech: float) -> bool:
        return (not self.enabled) or speech >= self.min_speech


@dataclasses.dataclass
class GuardCounts:
    """Samples repaired before they could reach the model."""

    nonfinite: int = 0
    clipped: int = 0


def guard_samples(samples: np.ndarray, counts: GuardCounts) -> np.ndarray:
    """``samples`` as float32 with NaN/inf replaced by 0 and values clamped to [-1, 1]; counts what it fixed.

    Clamping keeps a saturated or wrongly scaled input (say int16 values passed as float) inside the range the model
    was trained on, and counting it lets the summary show a misconfigured capture.
    """
    x = np.asarray(samples, dtype=np.float32).reshape(-1)
    finite = np.isfinite(x)
    if not finite.all():
        counts.nonfinite += int(x.shape[0] - np.count_nonzero(finite))
        x = np.where(finite, x, np.float32(0.0))
    over = np.abs(x) > 1.0
    if over.any():
        counts.clipped += int(np.count_nonzero(over))
        x = np.clip(x, -1.0, 1.0)
    return x
