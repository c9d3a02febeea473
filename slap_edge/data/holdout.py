"""Held-out voices: the selection of voices a suite holds out, and the ``holdout.json`` that keeps them out of training.

A suite built with ``--holdout-voices`` holds every clip of a family of voices (an engine, or voices matching a
glob) from all splits, so transfer to unheard voices is measured. `slap_edge.data.suite_builder` writes
``SUITE/holdout.json``::

    {"patterns": ["engine=mbrola"], "exclude_voices": ["mb-de4", ...], "exclude_engines": ["mbrola"], ...}

and :func:`read_holdout` turns it (or a pattern string) into a :class:`HoldoutSelector` whose ``matches(record)``
is True for every clip the trainer must drop. A trainer that only reads JSON drops clips whose ``voice`` is in
``exclude_voices`` or whose ``engine`` is in ``exclude_engines``.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from slap_edge.data.manifest import ClipRecord
from slap_edge.data.suite_tasks import SuiteBuildError

HOLDOUT_JSON = "holdout.json"


@dataclasses.dataclass(frozen=True)
class HoldoutSelector:
    """Clips whose engine or voice match any pattern: ``engine=GLOB``, ``voice=GLOB`` or a bare ``GLOB`` that may
    match either (case-insensitive shell globs, e.g. ``mbrola``, ``voice=mb-*``, ``*+whisper``)."""

    patterns: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> HoldoutSelector:
        terms = tuple(t.strip() for t in text.split(",") if t.strip())
        if not terms:
            raise SuiteBuildError(
                f"holdout pattern {text!r} is empty; use e.g. 'mbrola', 'engine=mbrola', 'voice=mb-*'"
            )
        for term in terms:
            key, sep, value = term.partition("=")
            if sep and (key.strip() not in ("engine", "voice") or not value.strip()):
                raise SuiteBuildError(f"holdout pattern {term!r}: use engine=GLOB, voice=GLOB or a bare GLOB")
        return cls(terms)

    def matches(self, record: ClipRecord) -> bool:
        engine, voice = (record.engine or "").lower(), (record.voice or "").lower()
        for term in self.patterns:
            key, sep, value = term.partition("=")
            glob = (value if sep else term).strip().lower()
            fields = (
                {"engine": [engine], "voice": [voice]}.get(key.strip(), [engine, voice]) if sep else [engine, voice]
            )
            if any(field and fnmatch.fnmatchcase(field, glob) for field in fields):
                return True
        return False


def read_holdout(source: str | Path) -> HoldoutSelector:
    """A selector from a suite's holdout.json (or a suite folder holding one)."""
    path = Path(source)
    if path.is_dir():
        path = path / HOLDOUT_JSON
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SuiteBuildError(f"{path}: cannot read holdout file ({exc})") from exc
    patterns = data.get("patterns") if isinstance(data, dict) else None
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise SuiteBuildError(f"{path}: 'patterns' must be a list of strings, got {patterns!r}")
    return HoldoutSelector.parse(",".join(patterns))


def holdout_patterns(source: str | None) -> tuple[str, ...]:
    """Patterns from an ``--exclude-holdout`` option: a holdout.json, a suite folder holding one, or a pattern
    string such as ``voice=mb-us1,engine=mbrola``; () for none."""
    if not source:
        return ()
    path = Path(source)
    if path.exists():
        return read_holdout(path).patterns
    if source.endswith(".json"):
        raise SuiteBuildError(
            f"{source}: no such holdout file (a suite built with --holdout-voices writes holdout.json)"
        )
    return HoldoutSelector.parse(source).patterns


def whole_engines(records: Sequence[ClipRecord], holdout: HoldoutSelector) -> list[str]:
    """Engines all of whose clips are held out (then a trainer may drop the whole engine)."""
    matched: dict[str, bool] = {}
    for record in records:
        if record.engine:
            matched[record.engine] = matched.get(record.engine, True) and holdout.matches(record)
    return sorted(engine for engine, whole in matched.items() if whole)


def holdout_record(
    records: Sequence[ClipRecord], pool: Sequence[ClipRecord], holdout: HoldoutSelector
) -> dict[str, Any]:
    """The content of ``holdout.json`` for the held-out ``pool`` drawn from ``records`` by ``holdout``."""
    return {
        "patterns": list(holdout.patterns),
        "exclude_voices": sorted({r.voice for r in pool if r.voice}),
        "exclude_engines": whole_engines(records, holdout),
        "clips": len(pool),
        "speakers": len({r.speaker for r in pool}),
        "how_to_exclude": "drop every training clip whose voice is in exclude_voices or whose engine is in "
        "exclude_engines (slap_edge.data.holdout.read_holdout(path).matches(record) does the same)",
    }
