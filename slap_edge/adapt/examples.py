"""Labelled site examples for `slap-edge adapt`: where they come from, and every way they can be unusable.

Three layouts are accepted:

- a folder ``DIR/<section>/<label>/*.wav``, or ``DIR/<section>/<label>/<speaker>/*.wav`` to say who speaks
  (without a speaker folder each clip counts as its own speaker);
- a CSV file with a header and the columns ``path,section,label,speaker`` (``speaker`` optional; paths relative to
  the CSV's folder);
- an evaluation suite (spec/eval-suite.md): its tasks are the sections, and its prompts are the prior.

Problems are named, never silently dropped: unreadable or too-short clips are errors (or, with ``skip_bad``, warnings
that list each clip left out); a section with one class is an error; one speaker only, and files that are not audio,
are warnings.
"""

from __future__ import annotations

import csv
import dataclasses
from collections import defaultdict
from pathlib import Path

import numpy as np

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
MIN_CLIP_S = 0.5  # the runtime scores no window shorter than this (Stream's min_window_s)
_CSV_COLUMNS = ("path", "section", "label")


class ExamplesError(ValueError):
    """Examples that cannot be used; the message names the file (and line) or section and what is accepted."""


@dataclasses.dataclass(frozen=True)
class Example:
    path: Path
    section: str
    label: str
    speaker: str


@dataclasses.dataclass
class Examples:
    """The labelled clips, the prompts that came with them (suites only) and what was found wrong but tolerated."""

    items: list[Example]
    source: str
    prompts: dict[str, dict[str, list[str]]] = dataclasses.field(default_factory=dict)
    warnings: list[str] = dataclasses.field(default_factory=list)

    @property
    def sections(self) -> dict[str, list[str]]:
        """Section -> labels, in order of first appearance (labels sorted within a section for a stable order)."""
        out: dict[str, set[str]] = {}
        for e in self.items:
            out.setdefault(e.section, set()).add(e.label)
        return {name: sorted(labels) for name, labels in out.items()}

    def of(self, section: str) -> list[Example]:
        return [e for e in self.items if e.section == section]


def _from_folder(root: Path) -> Examples:
    items: list[Example] = []
    warnings: list[str] = []
    no_speaker = 0
    for section_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for label_dir in sorted(p for p in section_dir.iterdir() if p.is_dir()):
            for entry in sorted(label_dir.iterdir()):
                if entry.is_dir():
                    files = sorted(f for f in entry.rglob("*") if f.is_file())
                    speaker = f"{section_dir.name}/{entry.name}"
                else:
                    files, speaker = [entry], ""
                for f in files:
                    if f.suffix.lower() not in AUDIO_SUFFIXES:
                        warnings.append(f"{f}: not audio ({', '.join(AUDIO_SUFFIXES)}); ignored")
                        continue
                    if not speaker:
                        no_speaker += 1
                    items.append(Example(f, section_dir.name, label_dir.name, speaker or f"clip:{f}"))
    loose = [p for p in root.iterdir() if p.is_file()]
    if loose:
        warnings.append(f"{root}: files outside DIR/<section>/<label>/ ignored: {', '.join(p.name for p in loose[:5])}")
    if no_speaker:
        warnings.append(
            f"{root}: {no_speaker} clip(s) sit directly in a label folder, so each counts as its own speaker; put "
            "them in DIR/<section>/<label>/<speaker>/ so cross-validation never splits one person's clips"
        )
    if not items:
        raise ExamplesError(
            f"{root}: no audio clips found; expected DIR/<section>/<label>/*.wav "
            "(or DIR/<section>/<label>/<speaker>/*.wav), a CSV of path,section,label,speaker, or a suite folder"
        )
    return Examples(items, str(root), warnings=warnings)


def _from_csv(path: Path) -> Examples:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ExamplesError(f"{path}: cannot read the examples CSV ({exc})") from exc
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in _CSV_COLUMNS if c not in header]
    if missing:
        raise ExamplesError(
            f"{path}:1: header {header} lacks column(s) {missing}; expected path,section,label[,speaker]"
        )
    items: list[Example] = []
    for lineno, row in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        bad = [c for c in _CSV_COLUMNS if not row.get(c)]
        if bad:
            raise ExamplesError(f"{path}:{lineno}: empty {bad[0]!r}; every row needs path, section and label")
        clip = Path(row["path"])
        clip = clip if clip.is_absolute() else path.parent / clip
        items.append(Example(clip, row["section"], row["label"], row.get("speaker") or f"clip:{clip}"))
    if not items:
        raise ExamplesError(f"{path}: no rows after the header")
    warnings = []
    if "speaker" not in header:
        warnings.append(f"{path}: no speaker column, so each clip counts as its own speaker")
    return Examples(items, str(path), warnings=warnings)


def _from_suite(root: Path) -> Examples:
    from slap_edge.eval.suite import SuiteError, load_suite

    try:
        suite = load_suite(root)
    except SuiteError as exc:
        raise ExamplesError(str(exc)) from exc
    items = [Example(c.path, c.task, c.label, c.speaker) for c in suite.clips]
    prompts = {t.name: {label: list(p) for label, p in t.classes.items()} for t in suite.tasks}
    return Examples(items, str(root), prompts=prompts)


def read_examples(source: str | Path) -> Examples:
    """The examples at ``source`` (folder, CSV or suite), with structural checks (audio is read later)."""
    path = Path(source)
    if not path.exists():
        raise ExamplesError(f"{path}: no such folder or file")
    if path.is_file():
        if path.suffix.lower() != ".csv":
            raise ExamplesError(f"{path}: a file must be a CSV (path,section,label,speaker); or give a folder")
        examples = _from_csv(path)
    elif (path / "clips.jsonl").is_file() and (path / "suite.json").is_file():
        examples = _from_suite(path)
    else:
        examples = _from_folder(path)
    check_examples(examples)
    return examples


def _warn(examples: Examples, message: str) -> None:
    if message not in examples.warnings:
        examples.warnings.append(message)


def check_examples(examples: Examples) -> None:
    """Errors for sections that cannot be fitted; warnings for what weakens the fit."""
    from slap_edge.prompts import _NAME_RE

    for name, labels in examples.sections.items():
        if not _NAME_RE.match(name):
            raise ExamplesError(f"{examples.source}: bad section name {name!r}; use letters, digits, '_', '-', '.'")
        if len(labels) < 2:
            n = len(examples.of(name))
            raise ExamplesError(
                f"{examples.source}: section {name!r} has examples of one class only ({labels[0]!r}, {n} clip(s)); "
                "a section needs clips of at least two labels"
            )
        speakers = {e.speaker for e in examples.of(name)}
        if len(speakers) == 1:
            _warn(
                examples,
                f"{examples.source}: section {name!r} has one speaker only ({next(iter(speakers))}); the heads will "
                "learn that voice, and cross-validation cannot say how they do on other people",
            )
        per_label: dict[str, set[str]] = defaultdict(set)
        for e in examples.of(name):
            per_label[e.label].add(e.speaker)
        for label, spk in per_label.items():
            if len(spk) == 1 and len(speakers) > 1:
                _warn(examples, f"{examples.source}: section {name!r} label {label!r} has one speaker only")


def load_example_audio(
    examples: Examples, sample_rate: int, skip_bad: bool = False, min_clip_s: float = MIN_CLIP_S
) -> tuple[Examples, list[np.ndarray]]:
    """Read every clip (mono float32 at ``sample_rate``). Unreadable or shorter than ``min_clip_s`` seconds: an
    `ExamplesError` listing all of them, or with ``skip_bad`` a warning per clip and examples without them."""
    from slap_edge.eval.suite import AudioReadError, read_audio

    cache: dict[Path, np.ndarray | str] = {}
    for e in examples.items:
        if e.path in cache:
            continue
        try:
            wave = read_audio(e.path, sample_rate)
        except AudioReadError as exc:
            cache[e.path] = str(exc)
            continue
        if wave.shape[0] < min_clip_s * sample_rate:
            cache[e.path] = f"{e.path}: too short ({wave.shape[0] / sample_rate:.2f} s); clips need >= {min_clip_s} s"
        else:
            cache[e.path] = wave
    bad = {str(p): v for p, v in cache.items() if isinstance(v, str)}
    if bad and not skip_bad:
        shown = "\n  ".join(list(bad.values())[:20])
        more = f"\n  ... and {len(bad) - 20} more" if len(bad) > 20 else ""
        raise ExamplesError(
            f"{examples.source}: {len(bad)} clip(s) cannot be used (fix or remove them, or pass --skip-bad to leave "
            f"them out with a warning each):\n  {shown}{more}"
        )
    kept = [e for e in examples.items if not isinstance(cache[e.path], str)]
    out = Examples(kept, examples.source, examples.prompts, list(examples.warnings))
    out.warnings += [f"left out: {reason}" for reason in bad.values()]
    if bad:
        check_examples(out)  # leaving clips out may leave a section with one class
    waves = [cache[e.path] for e in kept]
    return out, waves  # type: ignore[return-value]
