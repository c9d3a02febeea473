"""Build an evaluation suite (``spec/eval-suite.md``) from a corpus manifest.

The suite holds the binary tasks of the catalogue (`slap_edge.data.suite_tasks`) over speakers the model never
trained on: the test split, or, with a holdout selection (`slap_edge.data.holdout`, ``--holdout-voices``), every clip
of a family of voices from all splits, so transfer to unheard voices is measured. Each class is balanced in clip
count, drawn round-robin across speakers so no speaker dominates. A task whose classes lack clips or speakers is
skipped with the reason. Training must leave a holdout out: the builder writes ``SUITE/holdout.json``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import re
import shutil
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from slap_edge.data.holdout import HOLDOUT_JSON, HoldoutSelector, holdout_record
from slap_edge.data.manifest import ClipRecord, read_manifest, resolve_audio
from slap_edge.data.suite_tasks import (
    PREFERRED_LANGUAGE_PAIRS,
    TASKS,
    SuiteBuildError,
    TaskSpec,
    language_candidates,
    language_task,
)
from slap_edge.eval.suite import CLIPS_JSONL, SUITE_JSON, audio_problem

BUILD_JSON = "build.json"
DEFAULT_CLIPS_PER_CLASS = 40
DEFAULT_MIN_SPEAKERS = 3


@dataclasses.dataclass
class BuiltTask:
    spec: TaskSpec
    clips: dict[str, list[ClipRecord]]  # label -> records
    note: str = ""

    def speakers(self, label: str) -> int:
        return len({r.speaker for r in self.clips[label]})


@dataclasses.dataclass
class SuiteBuildResult:
    out: Path
    tasks: list[BuiltTask]
    skipped: list[tuple[str, str]]  # (task, reason)
    unreadable: list[str]  # "path: reason"
    audio_files: int
    holdout: dict[str, Any] | None = None
    excluded: int = 0  # clips left out by ``exclude``


def _round_robin(records: Sequence[ClipRecord], n: int, rng: random.Random) -> list[ClipRecord]:
    """``n`` records taken one speaker at a time, so the class holds as many speakers as it can."""
    by_speaker: dict[str, list[ClipRecord]] = defaultdict(list)
    for record in records:
        by_speaker[record.speaker].append(record)
    queues = [list(v) for _, v in sorted(by_speaker.items())]
    for queue in queues:
        rng.shuffle(queue)
    rng.shuffle(queues)
    chosen: list[ClipRecord] = []
    while len(chosen) < n and any(queues):
        for queue in queues:
            if queue and len(chosen) < n:
                chosen.append(queue.pop())
    return chosen


def _select(
    spec: TaskSpec, records: Sequence[ClipRecord], per_class: int, min_speakers: int, seed: int
) -> tuple[dict[str, list[ClipRecord]] | None, str]:
    """Balanced clips per class, or None and the reason."""
    rng = random.Random(f"{seed}:{spec.name}")
    pool = [r for r in records if spec.base is None or spec.base(r.attributes)]
    strata: dict[Any, list[ClipRecord]] = defaultdict(list)
    for record in pool:
        strata[record.attributes.get(spec.stratify) if spec.stratify else None].append(record)
    labels = [c.label for c in spec.classes]
    chosen: dict[str, list[ClipRecord]] = {label: [] for label in labels}
    quota = per_class // max(1, len(strata))
    for _, group in sorted(strata.items(), key=lambda kv: str(kv[0])):
        members = {c.label: [r for r in group if c.where(r.attributes)] for c in spec.classes}
        n = min(quota, *(len(v) for v in members.values()))
        for label in labels:
            chosen[label] += _round_robin(members[label], n, rng)
    counts = {label: len(v) for label, v in chosen.items()}
    speakers = {label: len({r.speaker for r in v}) for label, v in chosen.items()}
    if min(counts.values()) == 0:
        empty = [c.label for c in spec.classes if not any(c.where(r.attributes) for r in pool)]
        if empty:
            return None, "no clips for class " + " and ".join(repr(label) for label in empty)
        return None, f"the two classes never occur within one {spec.stratify} value"
    few = [label for label in labels if speakers[label] < min_speakers]
    if few:
        available = {c.label: len({r.speaker for r in pool if c.where(r.attributes)}) for c in spec.classes}
        detail = ", ".join(f"{label!r}: {speakers[label]} chosen of {available[label]}" for label in few)
        return None, f"too few speakers ({detail}; need {min_speakers})"
    return chosen, ""


def _controlled(spec: TaskSpec, records: Sequence[ClipRecord]) -> list[ClipRecord]:
    return [r for r in records if all(r.attributes.get(k) in v for k, v in spec.control.items())]


def _build_task(
    spec: TaskSpec, records: Sequence[ClipRecord], per_class: int, min_speakers: int, seed: int
) -> tuple[BuiltTask | None, str]:
    if spec.control:
        chosen, reason = _select(spec, _controlled(spec, records), per_class, min_speakers, seed)
        if chosen is not None:
            fixed = ", ".join(f"{k}={'/'.join(str(x) for x in v if x)}" for k, v in spec.control.items())
            return BuiltTask(spec, chosen, note=f"controlled: {fixed}"), ""
    chosen, reason = _select(spec, records, per_class, min_speakers, seed)
    if chosen is None:
        return None, reason
    note = "uncontrolled: too few clips with the nuisance attributes fixed" if spec.control else ""
    return BuiltTask(spec, chosen, note=note), ""


def _link_or_convert(src: Path, dst: Path) -> None:
    """Put ``src`` at ``dst`` as WAV: a hard link or copy when it is WAV already, else PCM16 at its own rate."""
    import soundfile as sf

    if sf.info(str(src)).format == "WAV":
        try:
            os.link(src, dst)
        except OSError:  # another file system, or links not allowed
            shutil.copy2(src, dst)
        return
    data, rate = sf.read(str(src), dtype="float32", always_2d=True)
    sf.write(str(dst), data, rate, subtype="PCM_16", format="WAV")


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "clip"


def build_suite(
    corpus: str | Path,
    out: str | Path,
    *,
    holdout: HoldoutSelector | None = None,
    exclude: HoldoutSelector | None = None,
    clips_per_class: int = DEFAULT_CLIPS_PER_CLASS,
    min_speakers: int = DEFAULT_MIN_SPEAKERS,
    language_pairs: Sequence[tuple[str, str]] | None = None,
    n_language_pairs: int = 2,
    seed: int = 0,
    name: str | None = None,
    overwrite: bool = False,
    speakers_by_voice: bool = False,
    tasks: Iterable[TaskSpec] = TASKS,
) -> SuiteBuildResult:
    """Build a suite folder at ``out`` from the manifest in ``corpus`` (see the module docstring).

    ``exclude`` leaves out every clip of the voices it matches (the holdout.json a model was trained without, as
    ``train --exclude-holdout`` reads it), so a suite of held-out speakers holds only voices the model has heard
    and the held-out voice families are measured by their own suite alone.
    ``speakers_by_voice`` writes the base voice (engine/voice) as the clip's speaker: identities derived from one
    recorded voice (an MBROLA voice warped several ways) then share a probe fold, so a linear probe cannot score
    by recognising the voice. The folder is assembled next to ``out`` and renamed into place, so an interrupted
    build leaves no half suite.
    """
    if clips_per_class < 2:
        raise SuiteBuildError(f"clips_per_class must be >= 2, got {clips_per_class}")
    if min_speakers < 1:
        raise SuiteBuildError(f"min_speakers must be >= 1, got {min_speakers}")
    corpus, out = Path(corpus), Path(out)
    manifest = corpus / "manifest.jsonl" if corpus.is_dir() else corpus
    if manifest.resolve().is_relative_to(out.resolve()):
        raise SuiteBuildError(f"{out}: the suite folder would hold the corpus {manifest}; choose another folder")
    if out.exists() and not out.is_dir():
        raise SuiteBuildError(f"{out}: exists and is not a folder")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise SuiteBuildError(f"{out}: exists and is not empty; choose another folder or pass overwrite")
    records = read_manifest(manifest)
    if holdout is not None:
        pool = [r for r in records if holdout.matches(r)]
        if not pool:
            engines = sorted({f"{r.engine}/{r.voice}" for r in records})[:20]
            raise SuiteBuildError(
                f"holdout {','.join(holdout.patterns)!r} matches no clip of {manifest}; engine/voice seen: {engines}"
            )
    else:
        pool = [r for r in records if r.split == "test"]
        if not pool:
            raise SuiteBuildError(f"{manifest}: no clips in the test split")
    n_excluded = 0
    if exclude is not None:
        kept = [r for r in pool if not exclude.matches(r)]
        n_excluded = len(pool) - len(kept)
        if not kept:
            raise SuiteBuildError(
                f"excluding {','.join(exclude.patterns)!r} leaves no clip of {manifest} to build from "
                f"({len(pool)} clips were eligible)"
            )
        pool = kept
    pool.sort(key=lambda r: r.id)
    if speakers_by_voice:
        pool = [dataclasses.replace(r, speaker=f"{r.engine}/{r.voice}") if r.voice else r for r in pool]

    unreadable: list[str] = []
    readable: list[ClipRecord] = []
    for record in pool:
        path = resolve_audio(manifest, record)
        reason = audio_problem(path)
        if reason:
            unreadable.append(f"{path}: {reason}")
        else:
            readable.append(record)

    built: list[BuiltTask] = []
    skipped: list[tuple[str, str]] = []
    for spec in tasks:
        task, reason = _build_task(spec, readable, clips_per_class, min_speakers, seed)
        if task is None:
            skipped.append((spec.name, reason))
        else:
            built.append(task)
    used: set[str] = set()
    n_lang = 0
    preferred = {language_task(a, b).name for a, b in PREFERRED_LANGUAGE_PAIRS}
    for spec in language_candidates(readable, language_pairs):
        if n_lang >= n_language_pairs:
            break
        langs = {c.label for c in spec.classes}
        if language_pairs is None and langs & used:
            continue  # prefer pairs over distinct languages, so two tasks measure more than one language
        task, reason = _build_task(spec, readable, clips_per_class, min_speakers, seed)
        if task is None:
            if language_pairs is not None or spec.name in preferred:
                skipped.append((spec.name, reason))  # other pairs are only candidates, tried in turn
            continue
        built.append(task)
        used |= langs
        n_lang += 1
    if n_lang < n_language_pairs:
        skipped.append(
            ("language pairs", f"built {n_lang} of {n_language_pairs}: too few languages with enough speakers")
        )
    if not built:
        raise SuiteBuildError(f"{manifest}: no task has enough clips; " + "; ".join(f"{n}: {r}" for n, r in skipped))

    tmp = out.with_name(f".{out.name}.partial-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "audio").mkdir(parents=True)
    try:
        files, holdout_info = _write_suite(tmp, name or out.name, manifest, records, pool, built, holdout)
        (tmp / BUILD_JSON).write_text(
            json.dumps(
                {
                    "corpus": str(manifest.resolve()),
                    "selection": f"holdout {','.join(holdout.patterns)}" if holdout else "test split",
                    "excluded": {"patterns": list(exclude.patterns), "clips": n_excluded} if exclude else None,
                    "speakers": "engine/voice" if speakers_by_voice else "speaker",
                    "seed": seed,
                    "clips_per_class": clips_per_class,
                    "min_speakers": min_speakers,
                    "tasks": {
                        t.spec.name: {
                            "clips": {label: len(v) for label, v in t.clips.items()},
                            "speakers": {label: t.speakers(label) for label in t.clips},
                            "note": t.note,
                        }
                        for t in built
                    },
                    "skipped": dict(skipped),
                    "unreadable": unreadable,
                },
                indent=1,
                ensure_ascii=False,
            )
            + "\n",
            encoding="utf-8",
        )
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return SuiteBuildResult(out, built, skipped, unreadable, files, holdout_info, n_excluded)


def _write_suite(
    tmp: Path,
    name: str,
    manifest: Path,
    records: Sequence[ClipRecord],
    pool: Sequence[ClipRecord],
    built: Sequence[BuiltTask],
    holdout: HoldoutSelector | None,
) -> tuple[int, dict[str, Any] | None]:
    """Write audio/, suite.json, clips.jsonl and holdout.json into ``tmp``; returns (audio files, holdout info)."""
    names: dict[str, str] = {}
    lines: list[str] = []
    for task in built:
        for label, clips in task.clips.items():
            for record in clips:
                if record.id not in names:
                    rel = f"audio/{_safe_name(record.id)}.wav"
                    _link_or_convert(resolve_audio(manifest, record), tmp / rel)
                    names[record.id] = rel
                line = {"path": names[record.id], "task": task.spec.name, "label": label, "speaker": record.speaker}
                line.update({"id": record.id, "engine": record.engine, "voice": record.voice})  # ignored by readers
                lines.append(json.dumps(line, ensure_ascii=False))
    suite = {
        "name": name,
        "version": 1,
        "tasks": [
            {
                "name": t.spec.name,
                "category": t.spec.category,
                "classes": {c.label: list(c.prompts) for c in t.spec.classes},
            }
            for t in built
        ],
    }
    (tmp / SUITE_JSON).write_text(json.dumps(suite, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (tmp / CLIPS_JSONL).write_text("\n".join(lines) + "\n", encoding="utf-8")
    holdout_info = None
    if holdout is not None:
        holdout_info = holdout_record(records, pool, holdout)
        (tmp / HOLDOUT_JSON).write_text(json.dumps(holdout_info, indent=1) + "\n", encoding="utf-8")
    return len(names), holdout_info
