"""Synthetic speaker identities: a base voice (engine + voice + variant) plus stable settings.

A speaker is an espeak-ng or MBROLA voice with espeak-ng pitch and speed, a vocoder F0 shift and vocal-tract-length
warp, an F0 range and a voice quality. Its id is derived from those settings, so the same settings always give the
same id; `create_speaker` draws speaker ``index`` of a corpus as a pure function of the seed and the index.
``voices="espeak"`` leaves the MBROLA voices (non-commercial licence) out.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import numpy as np

from slap_edge.data.engines import ESPEAK_LICENCE, ESPEAK_VARIANTS, MBROLA_LICENCE, MbrolaVoice
from slap_edge.data.languages import LANGUAGE_BY_CODE, LANGUAGES


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
    # monotone / neutral / expressive where the corpus draws an intonation (``intonation="vocoder"``), else None
    intonation: str | None = None
    # The F0 spread the vocoder gives every clip of the speaker, in semitones (``intonation="spread"``); 0 = none
    f0_spread: float = 0.0

    def needs_vocoder(self) -> bool:
        return (
            self.quality_by in ("vocoder", "vocoder+variant")
            or self.age_markers > 0.0
            or abs(self.f0_scale - 1.0) > 1e-6
            or abs(self.formant_scale - 1.0) > 1e-6
            or abs(self.f0_range - 1.0) > 1e-6
            or self.f0_spread > 0.0
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
# Whether speakers get an intonation attribute (caption "a flat, monotone voice" / "lively, expressive speech"):
# - "off": none (every corpus made before the option);
# - "vocoder": a share of speakers get the F0 excursion around their median (in log F0) squeezed to INTONATION_RANGE
#   ["monotone"] or stretched to it ["expressive"] by the WORLD vocoder, on whatever engine and voice they have; the
#   rest keep their engine's own intonation and are "neutral". Whispered and creaky speakers have no usable F0
#   contour and get no label.
# - "spread": the same labels and shares, but every labelled speaker (neutral ones too) is resynthesised by WORLD with
#   its F0 contour scaled, clip by clip, to a spread drawn for the speaker from INTONATION_SPREAD_ST: semitones of
#   robust standard deviation of F0 over the voiced frames, on the scale of human speech (read speech about 2-3
#   semitones, flat below 1, lively above 4), not a factor on whatever contour the engine made. In "vocoder" an
#   engine's flat contour stretched 2.0-2.8 times reached a median of 2.9 semitones, a neutral human's, and only the
#   labelled speakers went through the vocoder, whose sound itself told them from the neutral ones.
INTONATION_SETS = ("off", "vocoder", "spread")
INTONATION_WEIGHTS = {"monotone": 0.3, "expressive": 0.3, "neutral": 0.4}
INTONATION_RANGE = {"monotone": (0.05, 0.25), "expressive": (2.0, 2.8)}
INTONATION_SPREAD_ST = {"monotone": (0.3, 0.9), "neutral": (1.6, 2.6), "expressive": (4.5, 7.0)}
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
    seed: int,
    index: int,
    voices: str,
    mbrola: tuple[MbrolaVoice, ...],
    timbre: str = "some",
    intonation: str = "off",
) -> Speaker:
    """Speaker ``index`` of the corpus made with ``seed``: a pure function of its arguments."""
    if voices not in VOICE_SETS:
        raise ValueError(f"voices={voices!r} is not accepted; use one of {', '.join(VOICE_SETS)}")
    if timbre not in TIMBRE_SETS:
        raise ValueError(f"timbre={timbre!r} is not accepted; use one of {', '.join(TIMBRE_SETS)}")
    if intonation not in INTONATION_SETS:
        raise ValueError(f"intonation={intonation!r} is not accepted; use one of {', '.join(INTONATION_SETS)}")
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
    intonation_label: str | None = None
    f0_spread = 0.0
    if intonation != "off":
        # Drawn last, like the timbre, so the other settings of a speaker do not depend on it.
        drawn = _choice(rng, list(INTONATION_WEIGHTS), list(INTONATION_WEIGHTS.values()))
        squeeze = float(rng.uniform(*INTONATION_RANGE["monotone"]))
        stretch = float(rng.uniform(*INTONATION_RANGE["expressive"]))
        spread = float(rng.uniform(*INTONATION_SPREAD_ST[drawn])) if intonation == "spread" else 0.0
        if quality not in ("whisper", "creaky"):
            intonation_label = drawn
            if intonation == "spread":
                f0_spread = spread  # the vocoder sets the spread; f0_range is not used
            elif drawn == "monotone":
                f0_range = squeeze
            elif drawn == "expressive":
                f0_range = stretch
    settings = (
        engine, voice, language, sex, age_group, espeak_pitch, wpm, round(f0_scale, 3), round(formant_scale, 3),
        round(f0_range, 3), quality, quality_by, round(tremor_hz, 2), round(strength, 2), round(age_markers, 2),
    )  # fmt: skip
    if intonation_label is not None:
        settings += (intonation_label,)
    if f0_spread > 0.0:
        settings += (round(f0_spread, 2),)
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
        intonation=intonation_label,
        f0_spread=round(f0_spread, 2),
    )
