"""Speech engines: the espeak-ng and MBROLA base voices, finding which are installed, and running them.

MBROLA voices (Debian contrib/non-free, diphones recorded from real speakers) are used where installed. Their licence
allows non-commercial use only; every clip records engine, voice and licence. `synthesize_base` runs a speaker's
engine and returns 16 kHz float32 audio.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from slap_edge.data.speakers import Speaker

SAMPLE_RATE = 16000
ESPEAK_LICENCE = "GPL-3.0-or-later"
MBROLA_LICENCE = "MBROLA-voice-licence (non-commercial, no military use)"
MBROLA_DIR = Path("/usr/share/mbrola")
VARIANTS_DIR = Path(__file__).parent / "variants"
ESPEAK_INSTALL = "sudo apt-get install -y espeak-ng"
# MBROLA lives in Debian's contrib/non-free sections; `make mbrola-voices` adds them through a private sources
# folder (a copy of the system's Debian sources with those components), leaving the system's apt sources untouched.
MBROLA_INSTALL = "sudo make mbrola-voices  (in a slap-edge checkout)"


class VoiceError(RuntimeError):
    """A synthesis engine is missing or failed; the message says how to install or what failed."""


@dataclasses.dataclass(frozen=True)
class Variant:
    """An espeak-ng voice variant (a file under espeak-ng-data/voices/!v or our variants/ folder)."""

    name: str
    sex: str
    age_group: str
    quality: str  # the quality the variant itself produces


# The stock variants whose sex is clear by ear, plus our own files for child, elderly and voice qualities.
ESPEAK_VARIANTS: tuple[Variant, ...] = (
    *(Variant(f"m{i}", "male", "adult", "modal") for i in (1, 2, 3, 4, 5, 6, 7)),
    *(Variant(f"f{i}", "female", "adult", "modal") for i in (1, 2, 3, 4, 5)),
    Variant("whisper", "male", "adult", "whisper"),
    Variant("whisperf", "female", "adult", "whisper"),
    Variant("slap-child-f", "female", "child", "modal"),
    Variant("slap-child-m", "male", "child", "modal"),
    Variant("slap-elderly-f", "female", "elderly", "modal"),
    Variant("slap-elderly-m", "male", "elderly", "modal"),
    Variant("slap-breathy-f", "female", "adult", "breathy"),
    Variant("slap-breathy-m", "male", "adult", "breathy"),
    Variant("slap-rough-f", "female", "adult", "hoarse"),
    Variant("slap-rough-m", "male", "adult", "hoarse"),
    Variant("slap-tremor-f", "female", "adult", "tremor"),
    Variant("slap-tremor-m", "male", "adult", "tremor"),
)
VARIANT_BY_NAME = {v.name: v for v in ESPEAK_VARIANTS}


@dataclasses.dataclass(frozen=True)
class MbrolaVoice:
    name: str  # database name, e.g. "us1"; the espeak-ng voice is "mb-us1"
    language: str
    sex: str


# Voices whose language espeak-ng reads and whose speaker's sex Debian's package descriptions state. mb-cn1 is not
# listed: its espeak-ng voice file exists but the database does not work with it.
MBROLA_VOICES: tuple[MbrolaVoice, ...] = (
    MbrolaVoice("us1", "en", "female"),
    MbrolaVoice("us2", "en", "male"),
    MbrolaVoice("us3", "en", "male"),
    MbrolaVoice("en1", "en", "male"),
    MbrolaVoice("de1", "de", "female"),
    MbrolaVoice("de2", "de", "male"),
    MbrolaVoice("de3", "de", "female"),
    MbrolaVoice("de4", "de", "male"),
    MbrolaVoice("de5", "de", "female"),
    MbrolaVoice("de6", "de", "male"),
    MbrolaVoice("de7", "de", "female"),
    MbrolaVoice("fr1", "fr", "male"),
    MbrolaVoice("fr2", "fr", "female"),
    MbrolaVoice("fr3", "fr", "male"),
    MbrolaVoice("fr4", "fr", "female"),
    MbrolaVoice("es1", "es", "male"),
    MbrolaVoice("es2", "es", "male"),
    MbrolaVoice("es3", "es", "female"),
    MbrolaVoice("es4", "es", "male"),
    MbrolaVoice("mx1", "es", "male"),
    MbrolaVoice("mx2", "es", "male"),
    MbrolaVoice("vz1", "es", "male"),
    MbrolaVoice("it1", "it", "male"),
    MbrolaVoice("it2", "it", "female"),
    MbrolaVoice("it3", "it", "male"),
    MbrolaVoice("it4", "it", "female"),
    MbrolaVoice("nl2", "nl", "male"),
    MbrolaVoice("nl3", "nl", "female"),
    MbrolaVoice("br1", "pt", "male"),
    MbrolaVoice("br2", "pt", "female"),
    MbrolaVoice("br3", "pt", "male"),
    MbrolaVoice("br4", "pt", "female"),
    MbrolaVoice("pt1", "pt", "female"),
    MbrolaVoice("sw1", "sv", "male"),
    MbrolaVoice("sw2", "sv", "female"),
    MbrolaVoice("pl1", "pl", "female"),
    MbrolaVoice("cz1", "cs", "female"),
    MbrolaVoice("cz2", "cs", "male"),
    MbrolaVoice("tr1", "tr", "male"),
    MbrolaVoice("tr2", "tr", "female"),
    MbrolaVoice("ro1", "ro", "male"),
    MbrolaVoice("hu1", "hu", "male"),
    MbrolaVoice("gr1", "el", "male"),
    MbrolaVoice("gr2", "el", "male"),
    MbrolaVoice("in1", "hi", "male"),
    MbrolaVoice("in2", "hi", "female"),
)
# Voices that miss too many of the diphones espeak-ng asks for in their language: measured here on six Faker
# sentences each (share of diphones mbrola replaced by silence, after the renames below). Gaps that frequent would
# teach a model dropouts, so these stay out; every other installed voice measured 0-3.4%.
MBROLA_EXCLUDED: dict[str, str] = {
    "es3": "13.8% of diphones missing",
    "it1": "9.6% of diphones missing",
    "it4": "8.8% of diphones missing",
    "cz1": "19.1% of diphones missing",
    "tr1": "7.0% of diphones missing",
    "tr2": "7.0% of diphones missing",
    "in1": "19.8% of diphones missing",
    "in2": "20.5% of diphones missing",
    # Measured 2026-11-27 with experiments/mbrola_diphone_coverage.py (results/mbrola-diphone-coverage.json there), when
    # `make mbrola-voices-extra` was added. mbrola-nl1 (Dutch, male) is not listed at all: 69% of diphones missing.
    "es4": "11.3% of diphones missing",
    "it2": "9.8% of diphones missing",
    "gr1": "7.2% of diphones missing",
}
# espeak-ng writes phonemes some databases lack; these renames keep the vowel instead of a silent gap (the Spanish
# voices otherwise drop every unstressed "o" and "e").
MBROLA_RENAMES: dict[str, dict[str, str]] = {
    "es": {"o/": "o", "e/": "e", "a/": "a", "i/": "i", "u/": "u"},
}
_UNKNOWN_DIPHONE = re.compile(r"Warning: (\S+)-(\S+) unknown")


def require_espeak() -> str:
    path = shutil.which("espeak-ng")
    if path is None:
        raise VoiceError(f"espeak-ng is not installed; install it with: {ESPEAK_INSTALL}")
    return path


def require_sox() -> str:
    """sox is not needed by the numpy/scipy effects; this check serves callers that shell out to it."""
    path = shutil.which("sox")
    if path is None:
        raise VoiceError("sox is not installed; install it with: sudo apt-get install -y sox")
    return path


def installed_mbrola_voices() -> tuple[MbrolaVoice, ...]:
    """The MBROLA voices usable here: the mbrola binary and the database are installed, and the voice is not in
    `MBROLA_EXCLUDED`."""
    if shutil.which("mbrola") is None:
        return ()
    out = []
    for voice in MBROLA_VOICES:
        if voice.name not in MBROLA_EXCLUDED and (MBROLA_DIR / voice.name / voice.name).is_file():
            out.append(voice)
    return tuple(out)


def _system_espeak_data() -> Path:
    result = subprocess.run([require_espeak(), "--version"], capture_output=True, text=True, check=False)
    match = re.search(r"Data at:\s*(\S+)", result.stdout)
    if result.returncode != 0 or match is None:
        raise VoiceError(f"cannot find espeak-ng's data folder from 'espeak-ng --version': {result.stdout.strip()!r}")
    return Path(match.group(1))


@functools.lru_cache(maxsize=1)
def espeak_data_path() -> Path:
    """A private espeak-ng data folder: the system's, linked entry by entry, plus our variant files.

    espeak-ng only finds variants inside its data folder, and the system folder must not be edited, so the folder is
    rebuilt under the temp dir (cheap: symlinks) keyed by the content of our variants.
    """
    system = _system_espeak_data()
    digest = hashlib.sha1()
    for path in sorted(VARIANTS_DIR.glob("slap-*")):
        digest.update(path.name.encode() + path.read_bytes())
    root = Path(tempfile.gettempdir()) / f"slap-edge-espeak-{os.getuid()}-{digest.hexdigest()[:12]}"
    data = root / "espeak-ng-data"
    if (data / "voices" / "!v" / "slap-tremor-m").exists():
        return root
    staging = Path(tempfile.mkdtemp(prefix="espeak-", dir=root.parent))
    sdata = staging / "espeak-ng-data"
    (sdata / "voices" / "!v").mkdir(parents=True)
    for entry in system.iterdir():
        if entry.name != "voices":
            (sdata / entry.name).symlink_to(entry)
    for entry in (system / "voices").iterdir():
        if entry.name != "!v":
            (sdata / "voices" / entry.name).symlink_to(entry)
    for entry in (system / "voices" / "!v").iterdir():
        (sdata / "voices" / "!v" / entry.name).symlink_to(entry)
    for path in sorted(VARIANTS_DIR.glob("slap-*")):
        shutil.copyfile(path, sdata / "voices" / "!v" / path.name)
    try:
        staging.rename(root)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)  # another process won the race; its folder is identical
    return root


def decode_wav_bytes(data: bytes, where: str) -> tuple[np.ndarray, int]:
    """Decode a 16-bit PCM WAV whose header sizes may be placeholders (espeak-ng and mbrola stream to stdout)."""
    if len(data) < 44 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise VoiceError(f"{where}: not a WAV stream ({len(data)} bytes)")
    pos = 12
    sample_rate = 0
    while pos + 8 <= len(data):
        tag = data[pos : pos + 4]
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        if tag == b"fmt ":
            channels = int.from_bytes(data[pos + 10 : pos + 12], "little")
            sample_rate = int.from_bytes(data[pos + 12 : pos + 16], "little")
            bits = int.from_bytes(data[pos + 22 : pos + 24], "little")
            if channels != 1 or bits != 16:
                raise VoiceError(f"{where}: expected mono 16-bit audio, got {channels} channels of {bits} bits")
        elif tag == b"data":
            payload = data[pos + 8 :]
            payload = payload[: len(payload) // 2 * 2]
            wave = np.frombuffer(payload, dtype="<i2").astype(np.float32) / 32768.0
            return wave, sample_rate
        pos += 8 + size + (size & 1)
    raise VoiceError(f"{where}: WAV stream has no data chunk")


def _run(cmd: list[str], stdin: bytes | None, where: str) -> subprocess.CompletedProcess[bytes]:
    try:
        result = subprocess.run(cmd, input=stdin, capture_output=True, check=False, timeout=60)
    except FileNotFoundError as exc:
        raise VoiceError(f"{where}: {cmd[0]} is not installed; install it with: {ESPEAK_INSTALL}") from exc
    if result.returncode != 0:
        raise VoiceError(f"{where}: {' '.join(cmd[:4])} ... failed: {result.stderr.decode(errors='replace')[:300]}")
    return result


def _fix_phonemes(pho: str, renames: dict[str, str]) -> str:
    if not renames:
        return pho
    lines = []
    for line in pho.splitlines():
        parts = line.split("\t", 1)
        if parts and parts[0] in renames:
            parts[0] = renames[parts[0]]
        lines.append("\t".join(parts))
    return "\n".join(lines) + "\n"


def _mbrola(speaker: Speaker, text: str) -> tuple[np.ndarray, int]:
    """espeak-ng makes the phoneme stream, we repair phonemes the database lacks, mbrola renders it."""
    name = speaker.voice.removeprefix("mb-")
    where = f"mbrola voice {name}"
    if shutil.which("mbrola") is None or not (MBROLA_DIR / name / name).is_file():
        raise VoiceError(f"{where} is not installed; install it with: {MBROLA_INSTALL}")
    options = ("-p", str(speaker.espeak_pitch), "-s", str(speaker.words_per_minute))
    pho = espeak_phonemes(speaker.voice, text, where, options)
    result = render_mbrola(name, speaker.language, pho, where)
    return decode_wav_bytes(result.stdout, where)


def espeak_phonemes(voice: str, text: str, where: str, options: tuple[str, ...] = ()) -> str:
    """espeak-ng's phoneme stream (``--pho``) of ``text`` for an ``mb-*`` voice, with extra espeak-ng ``options``."""
    cmd = [require_espeak(), f"--path={espeak_data_path()}", "-q", "--pho", "-v", voice, *options, text]
    return _run(cmd, None, where).stdout.decode()


def render_mbrola(name: str, language: str, pho: str, where: str) -> subprocess.CompletedProcess[bytes]:
    """Render an espeak-ng phoneme stream with MBROLA database ``name``, repairing phonemes it lacks; the result's
    stderr holds mbrola's warnings for the diphones still missing (which it fills with silence)."""
    renames = dict(MBROLA_RENAMES.get(language, {}))
    database = str(MBROLA_DIR / name / name)
    result = _run(["mbrola", "-e", database, "-", "-.wav"], _fix_phonemes(pho, renames).encode(), where)
    unknown = {p for pair in _UNKNOWN_DIPHONE.findall(result.stderr.decode(errors="replace")) for p in pair}
    # A phoneme with a length or reduction mark the database lacks falls back to its plain vowel; only this text's
    # own warnings decide, so the output does not depend on what other clips a process made before.
    extra = {p: p.rstrip("/:;'") for p in unknown if p.rstrip("/:;'") and p.rstrip("/:;'") != p}
    if extra:
        renames.update(extra)
        result = _run(["mbrola", "-e", database, "-", "-.wav"], _fix_phonemes(pho, renames).encode(), where)
    return result


def synthesize_base(speaker: Speaker, text: str) -> Any:
    """Render ``text`` with the speaker's engine, pitch and speed; float32 mono at 16 kHz."""
    if speaker.engine == "mbrola":
        wave, rate = _mbrola(speaker, text)
    else:
        cmd = [require_espeak(), f"--path={espeak_data_path()}", "-v", speaker.voice, "-p", str(speaker.espeak_pitch)]
        cmd += ["-s", str(speaker.words_per_minute), "--stdout", text]
        wave, rate = decode_wav_bytes(_run(cmd, None, f"espeak-ng voice {speaker.voice}").stdout, speaker.voice)
    if rate != SAMPLE_RATE:
        import soxr

        wave = soxr.resample(wave, rate, SAMPLE_RATE)
    return np.asarray(wave, dtype=np.float32)


def write_wav_bytes(wave: np.ndarray, sample_rate: int) -> bytes:
    """16-bit PCM WAV bytes (clipped to [-1, 1])."""
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, np.clip(wave, -1.0, 1.0), sample_rate, subtype="PCM_16", format="WAV")
    return buffer.getvalue()
