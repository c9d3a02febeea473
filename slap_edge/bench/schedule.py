"""The fixed audio schedule every backend and peer is measured on.

Generated speech (espeak-ng: several voices, languages and pitches, with short pauses) is the default, so the gate
opens as it would on a person talking; files can be given instead. Where espeak-ng is missing, a deterministic
speech-like signal (voiced tones with harmonics and syllable-rate bursts over faint noise) stands in, and the
schedule says so in its ``note``.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

# (voice, words per minute, pitch 0-99, text): fixed, so two runs and two machines hear the same audio.
_UTTERANCES: tuple[tuple[str, int, int, str], ...] = (
    ("en-us+m3", 165, 40, "The quick brown fox jumps over the lazy dog near the river bank."),
    ("en-gb+f3", 155, 65, "Please tell me where the nearest train station is, and how long the walk takes."),
    ("de+m1", 150, 35, "Guten Morgen, ich hätte gern einen Kaffee und ein Stück Kuchen, bitte."),
    ("fr+f2", 160, 70, "Bonjour, je voudrais réserver une table pour deux personnes ce soir."),
    ("es+m2", 170, 50, "El tiempo de hoy es soleado con algunas nubes por la tarde."),
    ("en-us+f4", 140, 85, "Can you help me find my mother? She was standing by the big blue door."),
)
_PAUSE_S = 0.3


class ScheduleError(ValueError):
    """An audio file that cannot be read, or a schedule request that makes no sense."""


@dataclasses.dataclass(frozen=True)
class AudioSchedule:
    """Mono float32 audio in [-1, 1] at ``sample_rate``, with what it is made of."""

    wave: np.ndarray
    sample_rate: int
    source: str  # "espeak-ng", "tones" or "files"
    description: str
    note: str = ""

    @property
    def seconds(self) -> float:
        return self.wave.shape[0] / self.sample_rate


def _resample(x: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    if from_rate == to_rate:
        return x.astype(np.float32, copy=False)
    import soxr

    return soxr.resample(x.astype(np.float32, copy=False), from_rate, to_rate, quality="HQ").astype(np.float32)


def _fill(pieces: Sequence[np.ndarray], n: int, pause: int) -> np.ndarray:
    """Concatenate ``pieces`` (with ``pause`` zeros after each), cycling through them, to exactly ``n`` samples."""
    out = np.zeros(n, dtype=np.float32)
    pos, i = 0, 0
    while pos < n:
        piece = pieces[i % len(pieces)]
        take = min(piece.shape[0], n - pos)
        out[pos : pos + take] = piece[:take]
        pos += take + pause
        i += 1
    return out


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def _espeak(voice: str, wpm: int, pitch: int, text: str, workdir: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    path = workdir / "utt.wav"
    proc = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(wpm), "-p", str(pitch), "-w", str(path), text],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if proc.returncode != 0 or not path.is_file():
        raise ScheduleError(f"espeak-ng failed for voice {voice!r}: {proc.stderr.strip() or proc.returncode}")
    x, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return x.mean(axis=1), int(rate)


def speech_schedule(seconds: float, sample_rate: int) -> AudioSchedule:
    """``seconds`` of espeak-ng speech (six voices in five languages, 0.3 s pauses) at ``sample_rate``."""
    if seconds <= 0:
        raise ScheduleError(f"--seconds must be positive, got {seconds}")
    pieces = []
    with tempfile.TemporaryDirectory(prefix="slap-bench-") as tmp:
        for voice, wpm, pitch, text in _UTTERANCES:
            x, rate = _espeak(voice, wpm, pitch, text, Path(tmp))
            x = _resample(x, rate, sample_rate)
            peak = float(np.max(np.abs(x))) or 1.0
            pieces.append((0.5 / peak * x).astype(np.float32))
    n = int(round(seconds * sample_rate))
    voices = ", ".join(u[0] for u in _UTTERANCES)
    return AudioSchedule(
        wave=_fill(pieces, n, int(_PAUSE_S * sample_rate)),
        sample_rate=sample_rate,
        source="espeak-ng",
        description=f"{seconds:g} s of espeak-ng speech ({voices}; {_PAUSE_S} s pauses)",
    )


def tone_schedule(seconds: float, sample_rate: int, seed: int = 0) -> AudioSchedule:
    """A deterministic speech-like stand-in: voiced harmonic tones gliding in pitch, in 4 Hz syllable bursts."""
    if seconds <= 0:
        raise ScheduleError(f"--seconds must be positive, got {seconds}")
    n = int(round(seconds * sample_rate))
    t = np.arange(n, dtype=np.float64) / sample_rate
    rng = np.random.default_rng(seed)
    f0 = 110.0 + 90.0 * (0.5 + 0.5 * np.sin(2 * np.pi * 0.17 * t))  # 110-200 Hz, a slow intonation contour
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 9))
    syllables = np.clip(np.sin(2 * np.pi * 4.0 * t), 0.0, None) ** 0.5  # bursts with short gaps, like syllables
    x = 0.3 * voiced * syllables / 2.7 + 0.003 * rng.standard_normal(n)
    return AudioSchedule(
        wave=x.astype(np.float32),
        sample_rate=sample_rate,
        source="tones",
        description=f"{seconds:g} s of harmonic tones (110-200 Hz, 4 Hz syllable bursts) over faint noise, seed {seed}",
        note="espeak-ng was not found, so the schedule is synthetic tones, not speech (apt-get install espeak-ng)",
    )


def file_schedule(paths: Sequence[str | Path], seconds: float, sample_rate: int) -> AudioSchedule:
    """The given audio files (any rate, mixed to mono), concatenated and repeated to ``seconds``."""
    import soundfile as sf

    if seconds <= 0:
        raise ScheduleError(f"--seconds must be positive, got {seconds}")
    pieces = []
    for p in paths:
        try:
            x, rate = sf.read(str(p), dtype="float32", always_2d=True)
        except (RuntimeError, OSError) as exc:  # soundfile raises LibsndfileError (a RuntimeError)
            raise ScheduleError(f"{p}: cannot read audio ({exc}); give WAV/FLAC/OGG files") from exc
        if x.shape[0] == 0:
            raise ScheduleError(f"{p}: the file holds no samples")
        x = np.nan_to_num(x.mean(axis=1), nan=0.0, posinf=1.0, neginf=-1.0)
        pieces.append(np.clip(_resample(x, int(rate), sample_rate), -1.0, 1.0))
    if not pieces:
        raise ScheduleError("no audio files given")
    n = int(round(seconds * sample_rate))
    names = ", ".join(Path(p).name for p in paths)
    return AudioSchedule(
        wave=_fill(pieces, n, 0),
        sample_rate=sample_rate,
        source="files",
        description=f"{seconds:g} s from {names} (repeated as needed)",
    )


def make_schedule(seconds: float, sample_rate: int, files: Sequence[str | Path] = ()) -> AudioSchedule:
    """Files when given, else espeak-ng speech, else the tone stand-in (with a note saying so)."""
    if files:
        return file_schedule(files, seconds, sample_rate)
    if espeak_available():
        return speech_schedule(seconds, sample_rate)
    return tone_schedule(seconds, sample_rate)
