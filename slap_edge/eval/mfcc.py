"""40 MFCC statistics per clip: the reference row of the linear probe (numpy only).

A clip becomes the mean and standard deviation over frames of 40 mel-frequency cepstral coefficients (80 numbers).
A learnt embedding that a linear probe cannot read better than these carries little beyond the spectral envelope.
The settings follow librosa's defaults for ``librosa.feature.mfcc`` at 16 kHz with 25 ms windows and 10 ms hops
(centred frames, zero padding, periodic Hann window, Slaney mel filters with Slaney area normalisation, power in
dB with an 80 dB floor below the clip's peak, orthonormal DCT-II); the tests check it against librosa.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np


@dataclasses.dataclass(frozen=True)
class MfccConfig:
    sample_rate: int = 16000
    n_mfcc: int = 40
    n_mels: int = 64
    n_fft: int = 512
    win_length: int = 400  # 25 ms at 16 kHz
    hop_length: int = 160  # 10 ms
    fmin: float = 0.0
    fmax: float | None = None  # None: half the sample rate
    top_db: float = 80.0

    def __post_init__(self) -> None:
        if self.n_mfcc > self.n_mels:
            raise ValueError(f"n_mfcc={self.n_mfcc} must be <= n_mels={self.n_mels}")
        if self.win_length > self.n_fft:
            raise ValueError(f"win_length={self.win_length} must be <= n_fft={self.n_fft}")


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above (librosa's default, htk=False)."""
    hz = np.asarray(hz, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    mel = hz / f_sp
    high = hz >= min_log_hz
    mel[high] = min_log_mel + np.log(hz[high] / min_log_hz) / logstep
    return mel


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    hz = f_sp * mel
    high = mel >= min_log_mel
    hz[high] = min_log_hz * np.exp(logstep * (mel[high] - min_log_mel))
    return hz


@functools.lru_cache(maxsize=8)
def mel_filterbank(config: MfccConfig) -> np.ndarray:
    """Triangular filters [n_mels, n_fft // 2 + 1], each scaled to unit area (Slaney normalisation)."""
    fmax = config.fmax if config.fmax is not None else config.sample_rate / 2
    bins = np.linspace(0, config.sample_rate / 2, config.n_fft // 2 + 1)
    edges = _mel_to_hz(
        np.linspace(_hz_to_mel(np.array([config.fmin]))[0], _hz_to_mel(np.array([fmax]))[0], config.n_mels + 2)
    )
    widths = np.diff(edges)
    ramps = edges[:, None] - bins[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights


@functools.lru_cache(maxsize=8)
def _dct_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Orthonormal DCT-II [n_out, n_in] (scipy.fft.dct(type=2, norm='ortho') truncated to n_out rows)."""
    k = np.arange(n_out)[:, None]
    n = np.arange(n_in)[None, :]
    matrix = np.cos(np.pi * k * (2 * n + 1) / (2 * n_in)) * np.sqrt(2.0 / n_in)
    matrix[0] /= np.sqrt(2.0)
    return matrix


def mfcc(wave: np.ndarray, config: MfccConfig = MfccConfig()) -> np.ndarray:
    """MFCCs [n_mfcc, frames] of a mono waveform at ``config.sample_rate``."""
    wave = np.asarray(wave, dtype=np.float64).reshape(-1)
    if not len(wave):
        raise ValueError("mfcc of an empty waveform")
    pad = config.n_fft // 2
    padded = np.pad(wave, pad)  # centred frames, zero padding (librosa >= 0.10 pads with zeros)
    frames = 1 + (len(padded) - config.n_fft) // config.hop_length
    if frames < 1:
        padded = np.pad(padded, (0, config.n_fft - len(padded)))
        frames = 1
    index = np.arange(config.n_fft)[None, :] + config.hop_length * np.arange(frames)[:, None]
    window = np.zeros(config.n_fft)
    left = (config.n_fft - config.win_length) // 2
    window[left : left + config.win_length] = 0.5 - 0.5 * np.cos(
        2 * np.pi * np.arange(config.win_length) / config.win_length
    )
    power = np.abs(np.fft.rfft(padded[index] * window, axis=1)) ** 2  # [frames, bins]
    mel = mel_filterbank(config) @ power.T  # [n_mels, frames]
    db = 10.0 * np.log10(np.maximum(mel, 1e-10))
    db = np.maximum(db, db.max() - config.top_db)
    return _dct_matrix(config.n_mfcc, config.n_mels) @ db


def mfcc_statistics(wave: np.ndarray, config: MfccConfig = MfccConfig()) -> np.ndarray:
    """Mean and standard deviation over frames of each MFCC: float32 [2 * n_mfcc] (means first)."""
    coefficients = mfcc(wave, config)
    return np.concatenate([coefficients.mean(axis=1), coefficients.std(axis=1)]).astype(np.float32)
