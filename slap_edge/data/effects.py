"""Channel and loudness effects in numpy/scipy: telephone band, noise at a set SNR, reverberation, level.

All functions take and return float32 mono waves and are pure given their ``rng``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import signal

CHANNELS = ("clean", "telephone", "noise", "reverberant")
LOUDNESS_DBFS = {"quiet": -36.0, "normal": -23.0, "loud": -12.0}
NOISE_KINDS = ("white", "pink", "brown", "speech-shaped")


def rms_dbfs(wave: np.ndarray) -> float:
    """Level of the louder half of 20 ms frames in dB full scale: pauses do not pull a sparse clip down."""
    x = np.asarray(wave, dtype=np.float64)
    frame = 320
    n = len(x) // frame
    if n == 0:
        return float(10 * np.log10(np.mean(x**2) + 1e-12))
    power = np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1)
    loud = np.sort(power)[n // 2 :]
    return float(10 * np.log10(np.mean(loud) + 1e-12))


def normalize_loudness(wave: np.ndarray, target_dbfs: float, peak: float = 0.97) -> Any:
    """Scale to ``target_dbfs`` (see `rms_dbfs`), then soft-limit so no sample passes ``peak``."""
    x = np.asarray(wave, dtype=np.float64)
    if not np.any(x):
        return x.astype(np.float32)
    x = x * 10 ** ((target_dbfs - rms_dbfs(x)) / 20)
    top = np.max(np.abs(x))
    if top > peak:
        # tanh limiting keeps a loud clip loud (a plain rescale would undo the loudness label).
        knee = 0.7 * peak
        over = np.abs(x) > knee
        x[over] = np.sign(x[over]) * (knee + (peak - knee) * np.tanh((np.abs(x[over]) - knee) / (peak - knee)))
    return x.astype(np.float32)


def telephone(wave: np.ndarray, sample_rate: int, rng: np.random.Generator) -> Any:
    """Narrow-band telephone: 300-3400 Hz band-pass, 8 kHz resampling, mu-law companding at 8 bits, slight clipping."""
    x = np.asarray(wave, dtype=np.float64)
    low = rng.uniform(250.0, 400.0)
    high = rng.uniform(3000.0, 3500.0)
    sos = signal.butter(6, [low, high], btype="bandpass", fs=sample_rate, output="sos")
    y = signal.sosfilt(sos, x)
    if sample_rate > 8000:
        y = signal.resample_poly(signal.resample_poly(y, 8000, sample_rate), sample_rate, 8000)[: len(x)]
    scale = np.max(np.abs(y)) + 1e-9
    mu = 255.0
    companded = np.sign(y / scale) * np.log1p(mu * np.abs(y / scale)) / np.log1p(mu)
    quantized = np.round(companded * 127) / 127
    y = np.sign(quantized) * np.expm1(np.abs(quantized) * np.log1p(mu)) / mu * scale
    return y.astype(np.float32)


def make_noise(kind: str, n: int, sample_rate: int, rng: np.random.Generator) -> Any:
    """Unit-RMS coloured noise of ``n`` samples."""
    if kind not in NOISE_KINDS:
        raise ValueError(f"noise kind {kind!r} is not accepted; use one of {', '.join(NOISE_KINDS)}")
    white = rng.standard_normal(n)
    if kind == "white":
        noise = white
    else:
        spectrum = np.fft.rfft(white)
        freqs = np.fft.rfftfreq(n, 1 / sample_rate)
        freqs[0] = freqs[1] if n > 1 else 1.0
        if kind == "pink":
            shape = 1 / np.sqrt(freqs)
        elif kind == "brown":
            shape = 1 / freqs
        else:
            # Long-term average speech spectrum: flat to ~500 Hz, then about -9 dB per octave.
            shape = 1 / np.sqrt(1 + (freqs / 500.0) ** 3)
        noise = np.fft.irfft(spectrum * shape, n)
    return noise / (np.sqrt(np.mean(noise**2)) + 1e-12)


def add_noise(wave: np.ndarray, sample_rate: int, snr_db: float, kind: str, rng: np.random.Generator) -> Any:
    """Add ``kind`` noise at ``snr_db`` relative to the speech level (`rms_dbfs`, so pauses do not count)."""
    x = np.asarray(wave, dtype=np.float64)
    noise = make_noise(kind, len(x), sample_rate, rng)
    speech_rms = 10 ** (rms_dbfs(x) / 20)
    return (x + noise * speech_rms * 10 ** (-snr_db / 20)).astype(np.float32)


def room_impulse_response(sample_rate: int, rt60_s: float, rng: np.random.Generator, drr_db: float = 3.0) -> Any:
    """A synthetic room response: a direct impulse, a few early reflections and an exponentially decaying noise
    tail whose level reaches -60 dB after ``rt60_s``; ``drr_db`` is the direct-to-reverberant energy ratio."""
    length = int(min(rt60_s * 1.2, 1.5) * sample_rate)
    t = np.arange(length) / sample_rate
    tail = rng.standard_normal(length) * np.exp(-6.9078 * t / rt60_s)  # ln(1000) = 6.9078: -60 dB at rt60
    # Air and wall absorption make the tail darker than the direct sound.
    tail = signal.sosfilt(signal.butter(2, 4000, fs=sample_rate, output="sos"), tail)
    onset = int(0.003 * sample_rate)
    tail[:onset] = 0.0
    for _ in range(6):
        pos = int(rng.uniform(0.004, 0.04) * sample_rate)
        tail[pos] += rng.uniform(-0.6, 0.6) * np.exp(-6.9078 * pos / sample_rate / rt60_s)
    tail_energy = np.sum(tail**2) + 1e-12
    rir = tail * np.sqrt(10 ** (-drr_db / 10) / tail_energy)
    rir[0] = 1.0
    return rir


def reverberate(wave: np.ndarray, sample_rate: int, rt60_s: float, rng: np.random.Generator) -> Any:
    x = np.asarray(wave, dtype=np.float64)
    rir = room_impulse_response(sample_rate, rt60_s, rng, drr_db=rng.uniform(-3.0, 4.0))
    return signal.fftconvolve(x, rir)[: len(x)].astype(np.float32)


def apply_channel(
    wave: np.ndarray, sample_rate: int, channel: str, rng: np.random.Generator
) -> tuple[Any, dict[str, Any]]:
    """Apply ``channel`` and return (wave, the settings drawn), so the manifest can say what was done."""
    if channel == "clean":
        return np.asarray(wave, dtype=np.float32), {}
    if channel == "telephone":
        return telephone(wave, sample_rate, rng), {}
    if channel == "noise":
        kind = NOISE_KINDS[int(rng.integers(len(NOISE_KINDS)))]
        snr = float(rng.uniform(0.0, 15.0))
        return add_noise(wave, sample_rate, snr, kind, rng), {"noise": kind, "snr_db": round(snr, 1)}
    if channel == "reverberant":
        rt60 = float(rng.uniform(0.4, 1.2))
        return reverberate(wave, sample_rate, rt60, rng), {"rt60_s": round(rt60, 2)}
    raise ValueError(f"channel {channel!r} is not accepted; use one of {', '.join(CHANNELS)}")


def trim_silence(wave: np.ndarray, sample_rate: int, threshold_db: float = -40.0) -> Any:
    """Cut leading and trailing frames quieter than ``threshold_db`` below the loudest frame (10 ms frames)."""
    x = np.asarray(wave)
    frame = max(1, sample_rate // 100)
    n = len(x) // frame
    if n == 0:
        return x
    power = np.mean(x[: n * frame].astype(np.float64).reshape(n, frame) ** 2, axis=1)
    level = 10 * np.log10(power + 1e-12)
    keep = np.nonzero(level > level.max() + threshold_db)[0]
    if keep.size == 0:
        return x[:0]
    return x[keep[0] * frame : (keep[-1] + 1) * frame]
