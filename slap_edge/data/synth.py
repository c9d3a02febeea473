"""`slap-edge data synth`: a deterministic, resumable, parallel corpus of synthetic described speech.

The corpus is a pure function of (seed, clips, voices, speakers): speaker k and clip i draw from their own random
streams (``default_rng([seed, 1, k])`` and ``[seed, 2, i]``), so the result does not depend on the number of jobs or
on the order in which clips finish. A clip is rendered as

    sentence (Faker) -> engine (espeak-ng or MBROLA) -> silence trim and length fit -> vocoder voice quality/timbre
    -> measured median F0 (the pitch label) -> silence padding -> channel -> loudness -> WAV (temp file + rename)

and `DIR/manifest.jsonl` is rewritten atomically every few seconds and at the end. A re-run with the same settings
skips clips that are in the manifest with their WAV present, renders the rest and deletes stray partial files.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from slap_edge.data import effects, vocoder
from slap_edge.data.engines import (
    SAMPLE_RATE,
    VoiceError,
    installed_mbrola_voices,
    require_espeak,
    synthesize_base,
    write_wav_bytes,
)
from slap_edge.data.languages import LANGUAGE_BY_CODE
from slap_edge.data.manifest import MANIFEST_NAME, ClipRecord, ManifestError, iter_manifest, write_manifest
from slap_edge.data.sentences import make_sentence
from slap_edge.data.speakers import INTONATION_SETS, TIMBRE_SETS, VOICE_SETS, Speaker, create_speaker

PLAN_NAME = "synth.json"
# Bumped whenever the generator's output for the same settings changes, so a resume never mixes two generators.
# 3: deeper vocoder tremor (also on espeak-ng's tremor variants, instead of a loudness-only tremolo) and markers of
#    age on elderly MBROLA speakers.
PLAN_VERSION = 3
CHANNEL_WEIGHTS = {"clean": 0.55, "telephone": 0.15, "noise": 0.15, "reverberant": 0.15}
LOUDNESS_WEIGHTS = {"normal": 0.7, "quiet": 0.15, "loud": 0.15}
# Median-F0 bands (Hz) that name a pitch level within a speaker group: below the first is low, at or above the
# second is high. Set from this generator's measured F0 per group (espeak-ng -p 12..90 on each base voice) so that
# the three levels are about equally common; they also sit inside the ranges of real speech of each group.
PITCH_BANDS: dict[tuple[str, str], tuple[float, float]] = {
    ("adult", "male"): (95.0, 122.0),
    ("adult", "female"): (165.0, 210.0),
    ("elderly", "male"): (102.0, 128.0),
    ("elderly", "female"): (155.0, 205.0),
    ("child", "male"): (240.0, 300.0),
    ("child", "female"): (240.0, 300.0),
}


class SynthError(RuntimeError):
    """Synthesis cannot start or finish; the message says why and what to do."""


@dataclasses.dataclass(frozen=True)
class SynthConfig:
    out: Path
    clips: int
    seed: int = 0
    jobs: int = 1
    voices: str = "all"  # "all" (espeak-ng + MBROLA where installed) or "espeak"
    speakers: int | None = None  # None: max(30, clips // 10), at most one per clip
    timbre: str = "some"  # which speakers get a vocal-tract-length change: one of speakers.TIMBRE_SETS
    intonation: str = "off"  # whether speakers get a monotone/neutral/expressive intonation: speakers.INTONATION_SETS
    min_seconds: float = 2.0
    max_seconds: float = 6.0

    def __post_init__(self) -> None:
        if self.clips < 1:
            raise SynthError(f"--clips must be at least 1, got {self.clips}")
        if self.jobs < 1:
            raise SynthError(f"--jobs must be at least 1, got {self.jobs}")
        if self.voices not in VOICE_SETS:
            raise SynthError(f"--voices {self.voices!r} is not accepted; use one of {', '.join(VOICE_SETS)}")
        if self.timbre not in TIMBRE_SETS:
            raise SynthError(f"--timbre {self.timbre!r} is not accepted; use one of {', '.join(TIMBRE_SETS)}")
        if self.intonation not in INTONATION_SETS:
            raise SynthError(
                f"--intonation {self.intonation!r} is not accepted; use one of {', '.join(INTONATION_SETS)}"
            )
        if self.speakers is not None and not self.speakers >= 1:
            raise SynthError(f"--speakers must be at least 1, got {self.speakers}")
        if not 0.5 <= self.min_seconds < self.max_seconds:
            raise SynthError(f"clip length range {self.min_seconds}..{self.max_seconds} s is not valid")

    def speaker_count(self) -> int:
        if self.speakers is not None:
            return min(self.speakers, self.clips)
        return min(self.clips, max(30, self.clips // 10))


@dataclasses.dataclass(frozen=True)
class ClipPlan:
    index: int
    id: str
    path: str  # relative to the corpus folder
    speaker: Speaker
    channel: str
    loudness: str
    target_seconds: float


@dataclasses.dataclass
class SynthReport:
    out: Path
    planned: int
    skipped: int
    rendered: int
    failed: list[tuple[str, str]]
    seconds: float
    audio_seconds: float
    mbrola_voices: int

    @property
    def clips_per_second(self) -> float:
        return self.rendered / self.seconds if self.seconds > 0 else 0.0


def _weighted(rng: np.random.Generator, weights: dict[str, float]) -> str:
    keys = list(weights)
    p = np.asarray([weights[k] for k in keys], dtype=np.float64)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def clip_id(index: int) -> str:
    return f"syn-{index:06d}"


def plan_corpus(config: SynthConfig, mbrola: tuple[Any, ...] | None = None) -> list[ClipPlan]:
    """Every clip's speaker and settings; pure given the config and the installed MBROLA voices."""
    voices = installed_mbrola_voices() if mbrola is None else mbrola
    n_speakers = config.speaker_count()
    speakers = []
    seen: set[str] = set()
    for k in range(n_speakers):
        speaker = create_speaker(config.seed, k, config.voices, voices, config.timbre, config.intonation)
        if speaker.id in seen:
            # Identical settings drawn twice (vanishingly rare): keep the two apart so splits stay disjoint.
            speaker = dataclasses.replace(speaker, id=f"{speaker.id}-{k}")
        seen.add(speaker.id)
        speakers.append(speaker)
    plans = []
    for index in range(config.clips):
        rng = np.random.default_rng([config.seed, 2, index])
        ident = clip_id(index)
        plans.append(
            ClipPlan(
                index=index,
                id=ident,
                path=f"audio/{index // 1000:03d}/{ident}.wav",
                speaker=speakers[index % n_speakers],
                channel=_weighted(rng, CHANNEL_WEIGHTS),
                loudness=_weighted(rng, LOUDNESS_WEIGHTS),
                target_seconds=float(rng.uniform(config.min_seconds + 0.3, config.max_seconds - 0.6)),
            )
        )
    return plans


def pitch_label(f0_hz: float | None, age_group: str, sex: str) -> str | None:
    """low/mid/high from the measured median F0 within the speaker's age group and sex; None if unvoiced."""
    if f0_hz is None:
        return None
    low, high = PITCH_BANDS[(age_group, sex)]
    return "low" if f0_hz < low else "high" if f0_hz >= high else "mid"


MAX_SENTENCE_RETRIES = 3


def _fit_length(plan: ClipPlan, config: SynthConfig, rng: np.random.Generator) -> tuple[np.ndarray, str | None]:
    """Synthesise a sentence whose speech lasts about ``target_seconds`` and stays within the length limits."""
    speaker = plan.speaker
    locale = LANGUAGE_BY_CODE[speaker.language].faker_locale
    words_per_second = speaker.words_per_minute / 60.0
    n_words = max(2, round(plan.target_seconds * words_per_second))
    words = make_sentence(locale, n_words + 8, rng).rstrip(".").split()
    limit = config.max_seconds - 0.15
    speech = np.zeros(0, dtype=np.float32)
    text: str | None = None
    failures = 0
    for _ in range(3 + MAX_SENTENCE_RETRIES):
        text = " ".join(words[:n_words]) + "."
        try:
            speech = effects.trim_silence(synthesize_base(speaker, text), SAMPLE_RATE)
        except VoiceError:
            # Some engine/variant pairs produce no audio for a particular word sequence (seen: pl+slap-elderly-m).
            # Draw another sentence from the same generator, so the clip stays deterministic for its seed.
            failures += 1
            if failures > MAX_SENTENCE_RETRIES:
                raise
            words = make_sentence(locale, n_words + 8, rng).rstrip(".").split()
            continue
        seconds = len(speech) / SAMPLE_RATE
        if seconds > limit:
            n_words = max(1, min(n_words - 1, int(n_words * (limit - 0.3) / seconds)))
        elif seconds < config.min_seconds - 0.4 and n_words < len(words):
            n_words = min(len(words), max(n_words + 1, int(np.ceil(n_words * plan.target_seconds / max(seconds, 0.2)))))
        else:
            break
    if len(speech) > limit * SAMPLE_RATE:
        # Still too long (one long word): cut with a short fade; the text no longer matches, so drop it.
        speech = speech[: int(limit * SAMPLE_RATE)].copy()
        fade = int(0.05 * SAMPLE_RATE)
        speech[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
        text = None
    return speech, text


def render_clip(plan: ClipPlan, config: SynthConfig) -> ClipRecord:
    """Render one clip, write its WAV atomically under ``config.out`` and return its manifest record."""
    rng = np.random.default_rng([config.seed, 3, plan.index])
    speaker = plan.speaker
    speech, text = _fit_length(plan, config, rng)
    if speaker.needs_vocoder():
        transform = vocoder.VoiceTransform(
            f0_scale=speaker.f0_scale,
            formant_scale=speaker.formant_scale,
            f0_range=speaker.f0_range,
            f0_spread_st=speaker.f0_spread,
            quality=speaker.quality if speaker.quality_by in ("vocoder", "vocoder+variant") else "modal",
            tremor_hz=speaker.tremor_hz,
            strength=speaker.strength,
            age_markers=speaker.age_markers,
        )
        speech, f0 = vocoder.transform_voice(speech, SAMPLE_RATE, transform, rng)
    else:
        f0 = vocoder.median_f0(speech, SAMPLE_RATE)
    if speaker.quality == "whisper":
        f0 = None  # a whisper has no pitch, whatever a tracker finds in espeak-ng's residual voicing

    before = int(rng.uniform(0.05, 0.3) * SAMPLE_RATE)
    after = int(rng.uniform(0.05, 0.3) * SAMPLE_RATE)
    room = int(config.max_seconds * SAMPLE_RATE) - len(speech)
    before, after = min(before, max(0, room // 2)), min(after, max(0, room - room // 2))
    short = int(config.min_seconds * SAMPLE_RATE) - (len(speech) + before + after)
    if short > 0:
        before += short // 2
        after += short - short // 2
    wave = np.concatenate([np.zeros(before, np.float32), speech, np.zeros(after, np.float32)])
    wave, _ = effects.apply_channel(wave, SAMPLE_RATE, plan.channel, rng)
    target = effects.LOUDNESS_DBFS[plan.loudness] + float(rng.uniform(-2.0, 2.0))
    wave = effects.normalize_loudness(wave, target)

    path = config.out / plan.path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    tmp.write_bytes(write_wav_bytes(wave, SAMPLE_RATE))
    tmp.replace(path)
    attributes = {
        "sex": speaker.sex,
        "age_group": speaker.age_group,
        "age": None,
        "language": speaker.language,
        "accent": None,
        "pitch": pitch_label(f0, speaker.age_group, speaker.sex),
        "rate": speaker.rate,
        "quality": speaker.quality,
        "loudness": plan.loudness,
        "channel": plan.channel,
        "health": None,
    }
    if speaker.intonation is not None:
        attributes["intonation"] = speaker.intonation
    return ClipRecord(
        id=plan.id,
        path=plan.path,
        duration=round(len(wave) / SAMPLE_RATE, 4),
        sample_rate=SAMPLE_RATE,
        speaker=speaker.id,
        source="synth",
        split=speaker.split,
        attributes=attributes,
        engine=speaker.engine,
        voice=speaker.voice,
        licence=speaker.licence,
        text=text,
    )


_WORKER_CONFIG: SynthConfig | None = None


def _init_worker(config: SynthConfig) -> None:
    global _WORKER_CONFIG
    _WORKER_CONFIG = config


def _render_task(plan: ClipPlan) -> tuple[int, str | None, str | None]:
    if _WORKER_CONFIG is None:
        raise SynthError("worker used before initialisation")
    try:
        return plan.index, render_clip(plan, _WORKER_CONFIG).to_json(), None
    except Exception as exc:  # a failed clip is reported and retried on the next run, not fatal to the others
        return plan.index, None, f"{type(exc).__name__}: {exc}"


def _plan_fingerprint(config: SynthConfig, mbrola: tuple[Any, ...]) -> dict[str, Any]:
    return {
        "version": PLAN_VERSION,
        "seed": config.seed,
        "clips": config.clips,
        "voices": config.voices,
        "speakers": config.speaker_count(),
        "min_seconds": config.min_seconds,
        "max_seconds": config.max_seconds,
        "mbrola_voices": sorted(v.name for v in mbrola),
        # Only a non-default timbre is recorded, so corpora made before the option resume as they are.
        **({"timbre": config.timbre} if config.timbre != "some" else {}),
        **({"intonation": config.intonation} if config.intonation != "off" else {}),
    }


def _check_plan(out: Path, fingerprint: dict[str, Any]) -> None:
    plan_path = out / PLAN_NAME
    if plan_path.exists():
        try:
            previous = json.loads(plan_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise SynthError(f"{plan_path}: unreadable ({exc}); delete it to start this corpus afresh") from exc
        if previous != fingerprint:
            changed = sorted(k for k in fingerprint if previous.get(k) != fingerprint[k])
            raise SynthError(
                f"{out} holds a corpus made with other settings ({', '.join(changed)} differ: "
                f"{ {k: previous.get(k) for k in changed} } vs { {k: fingerprint[k] for k in changed} }); "
                "use a new --out folder or the same settings to resume"
            )
        return
    tmp = plan_path.with_name(PLAN_NAME + ".partial")
    tmp.write_text(json.dumps(fingerprint, indent=2) + "\n", encoding="utf-8")
    tmp.replace(plan_path)


def _existing_records(out: Path, plans: list[ClipPlan]) -> dict[int, ClipRecord]:
    """Records of the previous run whose WAV is complete (renamed into place, so never half-written)."""
    manifest = out / MANIFEST_NAME
    if not manifest.exists():
        return {}
    by_id = {p.id: p for p in plans}
    done: dict[int, ClipRecord] = {}
    try:
        for record in iter_manifest(manifest):
            plan = by_id.get(record.id)
            if plan is not None and record.path == plan.path and (out / record.path).is_file():
                done[plan.index] = record
    except ManifestError as exc:
        raise SynthError(f"{exc}; delete {manifest} to rebuild it (finished WAVs are rendered again)") from exc
    return done


def _remove_partials(out: Path) -> int:
    count = 0
    for path in (out / "audio").glob("*/*.partial"):
        path.unlink(missing_ok=True)
        count += 1
    return count


def run_synth(
    config: SynthConfig,
    on_progress: Callable[[int, int], None] | None = None,
    flush_seconds: float = 10.0,
) -> SynthReport:
    """Make (or finish) the corpus in ``config.out``; ``on_progress(done, total)`` is called as clips finish."""
    require_espeak()
    mbrola = installed_mbrola_voices() if config.voices == "all" else ()
    config.out.mkdir(parents=True, exist_ok=True)
    plans = plan_corpus(config, mbrola)
    _check_plan(config.out, _plan_fingerprint(config, mbrola))
    _remove_partials(config.out)
    records = _existing_records(config.out, plans)
    todo = [p for p in plans if p.index not in records]
    skipped = len(records)
    failed: list[tuple[str, str]] = []
    start = time.monotonic()
    last_flush = start
    total = len(plans)
    if on_progress is not None:
        on_progress(skipped, total)

    def flush() -> None:
        write_manifest((records[i] for i in sorted(records)), config.out / MANIFEST_NAME)

    def collect(result: tuple[int, str | None, str | None]) -> None:
        nonlocal last_flush
        index, line, error = result
        if line is None:
            failed.append((clip_id(index), error or "unknown error"))
        else:
            records[index] = ClipRecord(**json.loads(line))
        if on_progress is not None:
            on_progress(len(records) + len(failed), total)
        if time.monotonic() - last_flush > flush_seconds:
            flush()
            last_flush = time.monotonic()

    try:
        if config.jobs == 1 or len(todo) < 2:
            _init_worker(config)
            for plan in todo:
                collect(_render_task(plan))
        else:
            context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
            with context.Pool(config.jobs, initializer=_init_worker, initargs=(config,)) as pool:
                for result in pool.imap_unordered(_render_task, todo, chunksize=2):
                    collect(result)
    finally:
        # Interrupted or not, the manifest lists exactly the clips whose audio is complete.
        flush()
    audio_seconds = sum(r.duration for r in records.values())
    return SynthReport(
        out=config.out,
        planned=total,
        skipped=skipped,
        rendered=len(todo) - len(failed),
        failed=failed,
        seconds=time.monotonic() - start,
        audio_seconds=audio_seconds,
        mbrola_voices=len(mbrola),
    )
