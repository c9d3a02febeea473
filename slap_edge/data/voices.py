"""Synthetic voices: the languages, the espeak-ng and MBROLA base voices, and the speaker identities made from them.

A speaker identity is a base voice (engine + voice + variant) plus stable settings: espeak-ng pitch and speed, a
vocoder F0 shift and vocal-tract-length warp, an F0 range and a voice quality. Its id is derived from those settings,
so the same settings always give the same id. `synthesize_base` runs the engine and returns 16 kHz float32 audio.

MBROLA voices (Debian contrib/non-free, diphones recorded from real speakers) are used where installed. Their licence
allows non-commercial use only; every clip records engine, voice and licence, and ``voices="espeak"`` leaves them out.
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
from typing import Any

import numpy as np

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
class Language:
    code: str  # ISO 639-1, the manifest's language attribute
    faker_locale: str  # where the sentences come from
    espeak_voice: str  # espeak-ng voice name


LANGUAGES: tuple[Language, ...] = (
    Language("en", "en_US", "en-us"),
    Language("de", "de_DE", "de"),
    Language("fr", "fr_FR", "fr"),
    Language("es", "es_ES", "es"),
    Language("it", "it_IT", "it"),
    Language("nl", "nl_NL", "nl"),
    Language("pt", "pt_BR", "pt-br"),
    Language("sv", "sv_SE", "sv"),
    Language("pl", "pl_PL", "pl"),
    Language("cs", "cs_CZ", "cs"),
    Language("tr", "tr_TR", "tr"),
    Language("ro", "ro_RO", "ro"),
    Language("hu", "hu_HU", "hu"),
    Language("el", "el_GR", "el"),
    Language("hi", "hi_IN", "hi"),
    Language("ru", "ru_RU", "ru"),
    Language("da", "da_DK", "da"),
    Language("uk", "uk_UA", "uk"),
    Language("fa", "fa_IR", "fa"),
    Language("vi", "vi_VN", "vi"),
)
LANGUAGE_BY_CODE = {lang.code: lang for lang in LANGUAGES}


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


@dataclasses.dataclass(frozen=True)
class Speaker:
    """A stable synthetic speaker identity; every clip of a speaker uses exactly these settings."""

    id: str
    engine: str  # "espeak-ng" or "mbrola"
    voice: str  # the espeak-ng -v argument, e.g. "de+slap-child-f" or "mb-de2"
    language: str
    sex: str
    age_group: str
    licence: str
    espeak_pitch: int  # espeak-ng -p, 0..99
    words_per_minute: int  # espeak-ng -s
    rate: str  # slow, normal, fast
    f0_scale: float  # vocoder F0 shift
    formant_scale: float  # vocoder vocal-tract-length warp
    f0_range: float  # vocoder F0 excursion scale
    quality: str
    quality_by: str  # "variant" (the engine makes it), "vocoder", "vocoder+variant" (both) or "none"
    tremor_hz: float
    strength: float
    age_markers: float  # vocoder markers of an aged voice (0 none); espeak-ng's elderly variants carry their own
    split: str

    def needs_vocoder(self) -> bool:
        return (
            self.quality_by in ("vocoder", "vocoder+variant")
            or self.age_markers > 0.0
            or abs(self.f0_scale - 1.0) > 1e-6
            or abs(self.formant_scale - 1.0) > 1e-6
            or abs(self.f0_range - 1.0) > 1e-6
        )


VOICE_SETS = ("all", "espeak")
# Which speakers get a vocal-tract-length (formant) change on top of their base voice:
# - "some": a third of them, 0.92-1.08 (the corpus generator's original behaviour);
# - "every": all of them, TIMBRE_FORMANT_RANGE, so each recorded MBROLA voice yields a spread of vocal tracts and its
#   timbre no longer marks its language;
# - "mbrola": every MBROLA speaker, TIMBRE_FORMANT_RANGE, and espeak-ng speakers as in "some". The recorded voices are
#   where timbre and language go together, and warping everyone blurred sex and age
#   (experiments/results/teacher-v9-train.md).
TIMBRE_SETS = ("some", "every", "mbrola")
TIMBRE_FORMANT_RANGE = (0.90, 1.10)
RATE_WPM = {"slow": (100, 125), "normal": (150, 175), "fast": (215, 255)}
QUALITY_WEIGHTS = {"modal": 0.45, "breathy": 0.11, "whisper": 0.11, "creaky": 0.11, "hoarse": 0.11, "tremor": 0.11}


def _choice(rng: np.random.Generator, items: list[Any] | tuple[Any, ...], weights: list[float] | None = None) -> Any:
    if weights is None:
        return items[int(rng.integers(len(items)))]
    p = np.asarray(weights, dtype=np.float64)
    return items[int(rng.choice(len(items), p=p / p.sum()))]


def split_for(index: int) -> str:
    """Speakers 0..9 of every ten go 8 train, 1 val, 1 test: disjoint by speaker and balanced at any count."""
    slot = index % 10
    return "val" if slot == 7 else "test" if slot == 3 else "train"


def create_speaker(
    seed: int, index: int, voices: str, mbrola: tuple[MbrolaVoice, ...], timbre: str = "some"
) -> Speaker:
    """Speaker ``index`` of the corpus made with ``seed``: a pure function of its arguments."""
    if voices not in VOICE_SETS:
        raise ValueError(f"voices={voices!r} is not accepted; use one of {', '.join(VOICE_SETS)}")
    if timbre not in TIMBRE_SETS:
        raise ValueError(f"timbre={timbre!r} is not accepted; use one of {', '.join(TIMBRE_SETS)}")
    rng = np.random.default_rng([seed, 1, index])
    use_mbrola = voices == "all" and bool(mbrola) and rng.random() < 0.5
    age_group = _choice(rng, ["adult", "child", "elderly"], [0.64, 0.2, 0.16])
    quality = _choice(rng, list(QUALITY_WEIGHTS), list(QUALITY_WEIGHTS.values()))
    rate = _choice(rng, list(RATE_WPM), [1.0, 1.0, 1.0])
    wpm = int(rng.integers(*RATE_WPM[rate]))
    if age_group == "elderly" and rate == "fast":
        wpm = int(wpm * 0.92)
    # espeak-ng -p scales F0 by about 0.75 at 20, 1.0 at 50 and 1.35 at 80 around the voice's own base.
    level = _choice(rng, ["low", "mid", "high"])
    espeak_pitch = int({"low": rng.integers(12, 32), "mid": rng.integers(42, 58), "high": rng.integers(68, 90)}[level])
    if age_group == "child":
        # Keep children above adults: the low end of -p would take a child variant into the adult female range.
        espeak_pitch = max(espeak_pitch, 40)
    f0_scale, formant_scale = 1.0, 1.0
    f0_range = 1.0
    age_markers = 0.0
    # About a third of speakers also get a timbre change: one base voice yields several identities (larger, smaller).
    if rng.random() < 0.3:
        formant_scale = float(rng.uniform(0.92, 1.08))
        f0_range = float(rng.uniform(0.6, 1.5))
    tremor_hz = float(rng.uniform(4.0, 7.0))
    strength = float(rng.uniform(0.8, 1.2))

    if use_mbrola:
        # Sex first, then a voice of that sex: the installed voices are mostly male and the corpus should not be.
        wanted = _choice(rng, ["female", "male"])
        base = _choice(rng, [v for v in mbrola if v.sex == wanted] or list(mbrola))
        engine, voice, language, sex = "mbrola", f"mb-{base.name}", base.language, base.sex
        licence = MBROLA_LICENCE
        if age_group == "child":
            # A child's shorter vocal tract and higher F0, made from an adult recording.
            f0_scale = float(rng.uniform(1.85, 2.3) if sex == "male" else rng.uniform(1.45, 1.75))
            formant_scale = float(rng.uniform(1.14, 1.24) if sex == "male" else rng.uniform(1.08, 1.16))
        elif age_group == "elderly":
            # With age, men's F0 rises and women's falls; the range narrows.
            f0_scale = float(rng.uniform(1.05, 1.2) if sex == "male" else rng.uniform(0.78, 0.9))
            f0_range = float(rng.uniform(0.6, 0.85))
            # An F0 shift alone made an old MBROLA voice an adult one with another pitch: add jitter, shimmer and
            # breath as espeak-ng's elderly variants have.
            age_markers = strength
        quality_by = "none" if quality == "modal" else "vocoder"
    else:
        language = _choice(rng, [lang.code for lang in LANGUAGES])
        sex = _choice(rng, ["female", "male"])
        suffix = "f" if sex == "female" else "m"
        engine, licence = "espeak-ng", ESPEAK_LICENCE
        quality_by = "none" if quality == "modal" else "vocoder"
        if age_group == "child":
            variant = f"slap-child-{suffix}"
        elif age_group == "elderly":
            variant = f"slap-elderly-{suffix}"
        elif quality in ("breathy", "hoarse", "tremor", "whisper") and rng.random() < 0.5:
            named = {"breathy": "slap-breathy-", "hoarse": "slap-rough-", "tremor": "slap-tremor-"}
            variant = (
                ("whisperf" if sex == "female" else "whisper") if quality == "whisper" else named[quality] + suffix
            )
            # espeak-ng's flutter is irregular, not a 4-7 Hz tremor: the vocoder adds the F0 and loudness modulation.
            quality_by = "vocoder+variant" if quality == "tremor" else "variant"
        else:
            pool = [v.name for v in ESPEAK_VARIANTS if v.sex == sex and v.age_group == "adult" and v.quality == "modal"]
            variant = _choice(rng, pool)
        voice = f"{LANGUAGE_BY_CODE[language].espeak_voice}+{variant}"
    if timbre != "some":
        # Drawn after everything else, so a "some" corpus stays exactly what it was and the other settings change
        # nothing but the vocal tract; an MBROLA child keeps its own, shorter one.
        warp = float(rng.uniform(*TIMBRE_FORMANT_RANGE))
        warped = timbre == "every" or engine == "mbrola"
        if warped and not (engine == "mbrola" and age_group == "child"):
            formant_scale = warp
    settings = (
        engine, voice, language, sex, age_group, espeak_pitch, wpm, round(f0_scale, 3), round(formant_scale, 3),
        round(f0_range, 3), quality, quality_by, round(tremor_hz, 2), round(strength, 2), round(age_markers, 2),
    )  # fmt: skip
    digest = hashlib.sha1(repr(settings).encode()).hexdigest()[:8]
    short = "mb" if engine == "mbrola" else "es"
    return Speaker(
        id=f"{short}-{language}-{voice.split('+')[-1]}-{digest}",
        engine=engine,
        voice=voice,
        language=language,
        sex=sex,
        age_group=age_group,
        licence=licence,
        espeak_pitch=espeak_pitch,
        words_per_minute=wpm,
        rate=rate,
        f0_scale=round(f0_scale, 3),
        formant_scale=round(formant_scale, 3),
        f0_range=round(f0_range, 3),
        quality=quality,
        quality_by=quality_by,
        tremor_hz=round(tremor_hz, 2),
        strength=round(strength, 2),
        age_markers=round(age_markers, 2),
        split=split_for(index),
    )


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
