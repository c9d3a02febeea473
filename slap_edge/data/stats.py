"""`slap-edge data stats`: what a corpus holds — clips, hours, speakers, splits, every attribute, engines/licences."""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from slap_edge.data.manifest import ATTRIBUTE_VALUES, iter_manifest


@dataclasses.dataclass
class CorpusStats:
    clips: int = 0
    seconds: float = 0.0
    speakers: int = 0
    splits: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)  # split -> clips/speakers/hours
    attributes: dict[str, Counter[str]] = dataclasses.field(default_factory=dict)  # attribute -> value -> clips
    voices: dict[tuple[str, str, str], int] = dataclasses.field(default_factory=dict)  # (engine, voice, licence)
    licences: dict[str, int] = dataclasses.field(default_factory=dict)
    engines: dict[str, int] = dataclasses.field(default_factory=dict)
    duration_range: tuple[float, float] = (0.0, 0.0)

    @property
    def hours(self) -> float:
        return self.seconds / 3600.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "clips": self.clips,
            "hours": round(self.hours, 4),
            "speakers": self.speakers,
            "duration_range_s": list(self.duration_range),
            "splits": self.splits,
            "attributes": {k: dict(v) for k, v in self.attributes.items()},
            "engines": self.engines,
            "licences": self.licences,
            "voices": [
                {"engine": e, "voice": v, "licence": lic, "clips": n} for (e, v, lic), n in sorted(self.voices.items())
            ],
        }


def corpus_stats(path: str | Path) -> CorpusStats:
    """Count everything in the manifest at ``path`` (a corpus folder or a manifest file). Null counts as 'unknown'."""
    stats = CorpusStats(attributes={k: Counter() for k in ATTRIBUTE_VALUES})
    speakers: set[str] = set()
    split_clips: Counter[str] = Counter()
    split_seconds: Counter[str] = Counter()
    split_speakers: dict[str, set[str]] = defaultdict(set)
    voices: Counter[tuple[str, str, str]] = Counter()
    shortest, longest = float("inf"), 0.0
    for record in iter_manifest(path):
        stats.clips += 1
        stats.seconds += record.duration
        shortest, longest = min(shortest, record.duration), max(longest, record.duration)
        speakers.add(record.speaker)
        split_clips[record.split] += 1
        split_seconds[record.split] += record.duration
        split_speakers[record.split].add(record.speaker)
        for key in ATTRIBUTE_VALUES:
            value = record.attributes.get(key)
            stats.attributes[key]["unknown" if value is None else str(value)] += 1
        voices[(record.engine or "unknown", record.voice or "unknown", record.licence or "unknown")] += 1
    stats.speakers = len(speakers)
    stats.splits = {
        split: {
            "clips": split_clips[split],
            "speakers": len(split_speakers[split]),
            "hours": round(split_seconds[split] / 3600.0, 4),
        }
        for split in sorted(split_clips)
    }
    stats.voices = dict(voices)
    engines: Counter[str] = Counter()
    licences: Counter[str] = Counter()
    for (engine, _, licence), n in voices.items():
        engines[engine] += n
        licences[licence] += n
    stats.engines, stats.licences = dict(engines), dict(licences)
    stats.duration_range = (round(shortest, 3), round(longest, 3)) if stats.clips else (0.0, 0.0)
    return stats


def render_stats(stats: CorpusStats, console: Any) -> None:
    """Print ``stats`` as rich tables on ``console``."""
    from rich.table import Table

    console.print(
        f"[bold]{stats.clips}[/] clips, [bold]{stats.hours:.2f}[/] hours, [bold]{stats.speakers}[/] speakers, "
        f"clip length {stats.duration_range[0]:.2f}-{stats.duration_range[1]:.2f} s"
    )
    table = Table(title="splits (disjoint by speaker)")
    for col in ("split", "clips", "speakers", "hours"):
        table.add_column(col, justify="left" if col == "split" else "right")
    for split, row in stats.splits.items():
        table.add_row(split, str(row["clips"]), str(row["speakers"]), f"{row['hours']:.3f}")
    console.print(table)
    table = Table(title="attributes (share of clips)")
    table.add_column("attribute")
    table.add_column("values")
    for key, counts in stats.attributes.items():
        total = sum(counts.values()) or 1
        cells = ", ".join(f"{value} {n} ({100 * n / total:.0f}%)" for value, n in counts.most_common())
        table.add_row(key, cells)
    console.print(table)
    table = Table(title="engines and licences")
    for col in ("engine", "voices", "clips", "licence"):
        table.add_column(col, justify="right" if col in ("voices", "clips") else "left")
    by_engine: dict[tuple[str, str], list[int]] = defaultdict(list)
    for (engine, _, licence), n in stats.voices.items():
        by_engine[(engine, licence)].append(n)
    for (engine, licence), counts in sorted(by_engine.items()):
        table.add_row(engine, str(len(counts)), str(sum(counts)), licence)
    console.print(table)
    table = Table(title="voices")
    table.add_column("engine")
    table.add_column("voice")
    table.add_column("clips", justify="right")
    for (engine, voice, _), n in sorted(stats.voices.items(), key=lambda kv: (-kv[1], kv[0])):
        table.add_row(engine, voice, str(n))
    console.print(table)
