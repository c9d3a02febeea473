"""Read and check evaluation suites in the format of ``spec/eval-suite.md``, and read their audio.

A suite may come from any tool, so this module reads exactly the spec: ``suite.json`` (name, version, binary
tasks with a category and prompts per class) and ``clips.jsonl`` (path, task, label, speaker; extra keys are
ignored). :func:`load_suite` raises :class:`SuiteError` on the first structural problem; :func:`validate_suite`
collects every problem, including unreadable audio, without raising. Torch-free: numpy, soundfile, soxr.
"""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

SUITE_JSON = "suite.json"
CLIPS_JSONL = "clips.jsonl"
SUPPORTED_VERSIONS = (1,)
# "Several speakers per class" (spec): fewer than this makes speaker-grouped probing meaningless.
MIN_SPEAKERS_PER_CLASS = 2


class SuiteError(ValueError):
    """A suite folder that does not follow spec/eval-suite.md; the message names the file (and line)."""


class AudioReadError(OSError):
    """An audio file that cannot be read; the message names the file and the reason."""


@dataclasses.dataclass(frozen=True)
class Task:
    name: str
    category: str
    classes: dict[str, list[str]]  # label -> prompts, in file order

    @property
    def labels(self) -> list[str]:
        return list(self.classes)


@dataclasses.dataclass(frozen=True)
class Clip:
    path: Path  # absolute, resolved against the suite folder
    task: str
    label: str
    speaker: str


@dataclasses.dataclass(frozen=True)
class Suite:
    name: str
    version: int
    tasks: list[Task]
    clips: list[Clip]
    root: Path

    def task(self, name: str) -> Task:
        for task in self.tasks:
            if task.name == name:
                return task
        raise KeyError(f"suite {self.name!r} has no task {name!r}; tasks: {', '.join(t.name for t in self.tasks)}")

    def clips_of(self, task: str) -> list[Clip]:
        return [clip for clip in self.clips if clip.task == task]


def _parse_suite_json(path: Path, problems: list[str]) -> tuple[str, int, list[Task]]:
    """Parse suite.json, appending every problem found; returns what could be read."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.append(f"{path}: missing (a suite folder holds suite.json, clips.jsonl and audio/)")
        return "", 0, []
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{path}: cannot read ({exc})")
        return "", 0, []
    except json.JSONDecodeError as exc:
        problems.append(f"{path}:{exc.lineno}: invalid JSON ({exc.msg})")
        return "", 0, []
    if not isinstance(data, dict):
        problems.append(f"{path}: expected a JSON object, got {type(data).__name__}")
        return "", 0, []
    name = data.get("name")
    if not isinstance(name, str) or not name:
        problems.append(f"{path}: 'name' must be a non-empty string, got {name!r}")
        name = ""
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version not in SUPPORTED_VERSIONS:
        problems.append(f"{path}: 'version' must be one of {SUPPORTED_VERSIONS}, got {version!r}")
        version = 0
    raw_tasks = data.get("tasks")
    if not isinstance(raw_tasks, list) or not raw_tasks:
        problems.append(f"{path}: 'tasks' must be a non-empty list of task objects, got {raw_tasks!r}")
        return name, version, []
    tasks: list[Task] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_tasks):
        where = f"{path}: tasks[{index}]"
        if not isinstance(raw, dict):
            problems.append(f"{where}: expected an object, got {type(raw).__name__}")
            continue
        task_name = raw.get("name")
        if not isinstance(task_name, str) or not task_name:
            problems.append(f"{where}: 'name' must be a non-empty string, got {task_name!r}")
            continue
        where = f"{path}: task {task_name!r}"
        if task_name in seen:
            problems.append(f"{where}: duplicate task name")
            continue
        seen.add(task_name)
        category = raw.get("category", "")
        if not isinstance(category, str):
            problems.append(f"{where}: 'category' must be a string, got {category!r}")
            category = ""
        classes = raw.get("classes")
        if not isinstance(classes, dict):
            problems.append(f"{where}: 'classes' must be an object of label -> list of prompts, got {classes!r}")
            continue
        if len(classes) != 2:
            problems.append(f"{where}: every task is binary; found {len(classes)} classes ({', '.join(classes)})")
        good = True
        for label, prompts in classes.items():
            if not label:
                problems.append(f"{where}: a class label is empty")
                good = False
            elif (
                not isinstance(prompts, list)
                or not prompts
                or not all(isinstance(p, str) and p.strip() for p in prompts)
            ):
                problems.append(
                    f"{where}: class {label!r} needs a non-empty list of non-empty prompts, got {prompts!r}"
                )
                good = False
        if good:
            tasks.append(Task(task_name, category or "uncategorised", {k: list(v) for k, v in classes.items()}))
    return name, version, tasks


def _parse_clips(path: Path, root: Path, tasks: list[Task], problems: list[str]) -> list[Clip]:
    labels = {task.name: list(task.classes) for task in tasks}
    clips: list[Clip] = []
    seen: dict[tuple[str, str], int] = {}
    try:
        handle = path.open(encoding="utf-8")
    except FileNotFoundError:
        problems.append(f"{path}: missing (one JSON object per line: path, task, label, speaker)")
        return []
    except OSError as exc:
        problems.append(f"{path}: cannot read ({exc})")
        return []
    with handle:
        try:
            lines = list(handle)
        except UnicodeDecodeError as exc:
            problems.append(f"{path}: not UTF-8 text ({exc})")
            return []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            data: Any = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{where}: invalid JSON ({exc.msg})")
            continue
        if not isinstance(data, dict):
            problems.append(f"{where}: expected a JSON object, got {type(data).__name__}")
            continue
        bad = [k for k in ("path", "task", "label", "speaker") if not isinstance(data.get(k), str) or not data[k]]
        if bad:
            problems.append(f"{where}: {bad[0]!r} must be a non-empty string, got {data.get(bad[0])!r}")
            continue
        rel = Path(data["path"])
        if rel.is_absolute():
            problems.append(f"{where}: path {data['path']!r} must be relative to the suite folder")
            continue
        # `..` and symlinks that lead out of the folder would let a suite make eval read any file on the machine.
        if ".." in rel.parts or not (root / rel).resolve().is_relative_to(root.resolve()):
            problems.append(
                f"{where}: path {data['path']!r} leads outside the suite folder {root}; clips live inside it"
            )
            continue
        task, label = data["task"], data["label"]
        if task not in labels:
            if labels:  # without readable tasks every line would repeat the suite.json problem
                problems.append(f"{where}: task {task!r} is not in suite.json; tasks: {', '.join(labels)}")
            continue
        if label not in labels[task]:
            problems.append(
                f"{where}: label {label!r} is not a class of task {task!r}; use {' or '.join(labels[task])}"
            )
            continue
        key = (data["path"], task)
        if key in seen:
            problems.append(
                f"{where}: clip {data['path']!r} is listed twice for task {task!r} (first on line {seen[key]})"
            )
            continue
        seen[key] = lineno
        clips.append(Clip(path=root / rel, task=task, label=label, speaker=data["speaker"]))
    return clips


def _check_balance(tasks: list[Task], clips: list[Clip], min_speakers: int, problems: list[str], where: Path) -> None:
    speakers: dict[tuple[str, str], set[str]] = defaultdict(set)
    for clip in clips:
        speakers[(clip.task, clip.label)].add(clip.speaker)
    for task in tasks:
        for label in task.classes:
            found = len(speakers.get((task.name, label), ()))
            if found < min_speakers:
                problems.append(
                    f"{where}: task {task.name!r} class {label!r} has {found} speaker(s); "
                    f"need at least {min_speakers} (linear probes split folds by speaker)"
                )


def _read(root: Path) -> tuple[Suite, list[str]]:
    root = Path(root)
    problems: list[str] = []
    if not root.is_dir():
        raise SuiteError(f"{root}: not a folder (a suite folder holds suite.json, clips.jsonl and audio/)")
    name, version, tasks = _parse_suite_json(root / SUITE_JSON, problems)
    clips = _parse_clips(root / CLIPS_JSONL, root.resolve(), tasks, problems)
    return Suite(name=name, version=version, tasks=tasks, clips=clips, root=root.resolve()), problems


def load_suite(root: str | Path) -> Suite:
    """Read a suite folder; raises :class:`SuiteError` listing the structural problems (not unreadable audio,
    which the evaluation counts and names per clip)."""
    suite, problems = _read(Path(root))
    if problems:
        shown = "\n  ".join(problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise SuiteError(f"{root}: not a valid suite ({len(problems)} problem(s)):\n  {shown}{more}")
    return suite


def validate_suite(root: str | Path, min_speakers: int = MIN_SPEAKERS_PER_CLASS, check_audio: bool = True) -> list[str]:
    """Every problem of a suite folder against the spec, as readable lines; empty when the suite is valid.

    Checks: suite.json and clips.jsonl parse (malformed lines named by number), tasks have exactly two classes with
    prompts, every clip's task and label exist, every class has clips from ``min_speakers`` speakers, and (with
    ``check_audio``) every audio file opens as sound.
    """
    try:
        suite, problems = _read(Path(root))
    except SuiteError as exc:
        return [str(exc)]
    if suite.tasks:
        _check_balance(suite.tasks, suite.clips, min_speakers, problems, suite.root / CLIPS_JSONL)
    if check_audio:
        for path in sorted({clip.path for clip in suite.clips}):
            reason = audio_problem(path)
            if reason:
                problems.append(f"{path}: {reason}")
    return problems


def audio_problem(path: str | Path) -> str | None:
    """Why ``path`` cannot be used as a clip (missing, not sound, no samples), or None when it can."""
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        return "audio file is missing"
    try:
        info = sf.info(str(path))
    except (RuntimeError, OSError) as exc:  # soundfile's LibsndfileError is a RuntimeError
        return f"not readable as audio ({exc})"
    if info.frames <= 0:
        return "audio file has no samples"
    return None


def read_audio(path: str | Path, sample_rate: int = 16000) -> np.ndarray:
    """Read a sound file as float32 mono at ``sample_rate`` (channels averaged, resampled with soxr).

    Raises :class:`AudioReadError` naming the file when it is missing, not sound, or empty.
    """
    import soundfile as sf
    import soxr

    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive number of Hz, got {sample_rate}")
    path = Path(path)
    if not path.is_file():
        raise AudioReadError(f"{path}: audio file is missing")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, OSError) as exc:  # soundfile's LibsndfileError is a RuntimeError
        raise AudioReadError(f"{path}: not readable as audio ({exc}); accepted: WAV (PCM 16-bit or float)") from exc
    if data.shape[0] == 0:
        raise AudioReadError(f"{path}: audio file has no samples")
    nonfinite = data.size - int(np.count_nonzero(np.isfinite(data)))
    if nonfinite:
        # A float WAV can hold NaN/inf; its embedding would be NaN and every score computed from it meaningless.
        raise AudioReadError(f"{path}: {nonfinite} of {data.size} samples are NaN or inf; not usable as a clip")
    wave = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if rate != sample_rate:
        wave = soxr.resample(wave, rate, sample_rate, quality="HQ")
    return np.ascontiguousarray(wave, dtype=np.float32)
