"""Non-speech test signals for the speech gate: coloured noises, clipped noise, tones and chirps at set levels.

Every signal is deterministic (seeded) and scaled to an RMS level in dBFS, so a gate's figures can be reproduced and
compared at the same loudness. Real non-speech sounds (sound themes, game effects, music) come from Debian packages
in ``benchmarks/bench_speech_gate.py``.
"""

from __future__ import annotations

import numpy as np

NOISE_KINDS = ("white", "pink", "brown", "clipped", "tone", "chord", "chirp", "clicks")


def _coloured(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """Noise whose power falls as 1/f**exponent (0 white, 1 pink, 2 brown), shaped in the frequency domain."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n)
    f[0] = f[1]
    spectrum /= f ** (exponent / 2.0)
    return np.fft.irfft(spectrum, n)


def _at_level(x: np.ndarray, level_dbfs: float) -> np.ndarray:
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) or 1.0
    return x * (10.0 ** (level_dbfs / 20.0) / rms)


def synth_nonspeech(kind: str, level_dbfs: float, seconds: float, sample_rate: int, seed: int = 0) -> np.ndarray:
    """``seconds`` of the non-speech signal ``kind`` (one of `NOISE_KINDS`) at RMS ``level_dbfs``, float32 in [-1, 1].

    ``clipped`` is white noise driven 20 dB past full scale and clipped (a saturated input); ``tone`` a 440 Hz sine;
    ``chord`` 220+277+330+440 Hz; ``chirp`` a sweep 100 Hz -> 6 kHz repeated every 2 s; ``clicks`` 5 ms bursts of
    noise 8 times a second.
    """
    if kind not in NOISE_KINDS:
        raise ValueError(f"unknown non-speech kind {kind!r}; choose from {', '.join(NOISE_KINDS)}")
    if seconds <= 0 or sample_rate <= 0:
        raise ValueError(f"seconds and sample_rate must be positive, got {seconds} s at {sample_rate} Hz")
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sample_rate))
    t = np.arange(n) / sample_rate
    if kind == "white":
        x = rng.standard_normal(n)
    elif kind == "pink":
        x = _coloured(rng, n, 1.0)
    elif kind == "brown":
        x = _coloured(rng, n, 2.0)
    elif kind == "clipped":
        return np.clip(_at_level(rng.standard_normal(n), level_dbfs + 20.0), -1.0, 1.0).astype(np.float32)
    elif kind == "tone":
        x = np.sin(2 * np.pi * 440.0 * t)
    elif kind == "chord":
        x = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6, 440.0))
    elif kind == "chirp":
        period = 2.0
        tau = np.mod(t, period)
        f0, f1 = 100.0, 6000.0
        k = (f1 / f0) ** (1.0 / period)
        x = np.sin(2 * np.pi * f0 * (k**tau - 1.0) / np.log(k))
    else:  # clicks
        x = np.zeros(n)
        burst = int(0.005 * sample_rate)
        for start in range(0, n - burst, sample_rate // 8):
            x[start : start + burst] = rng.standard_normal(burst)
    return np.clip(_at_level(np.asarray(x, dtype=np.float64), level_dbfs), -1.0, 1.0).astype(np.float32)
