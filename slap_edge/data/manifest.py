"""The corpus manifest: one JSON object per line, one clip per object.

```
{"id": "syn-000123", "path": "audio/00/syn-000123.wav", "duration": 3.41, "sample_rate": 16000,
 "speaker": "espeak-de-m3-17", "source": "synth", "engine": "espeak-ng", "voice": "de+m3",
 "licence": "GPL-3.0-or-later", "split": "train", "text": "Guten Morgen ...",
 "attributes": {"sex": "male", "age_group": "adult", "age": null, "language": "de", "accent": null,
                "pitch": "low", "rate": "normal", "quality": "modal", "loudness": "normal",
                "channel": "clean", "health": null}}
```
``path`` is relative to the manifest's folder. Every attribute is either one of the values below or null, which
means unknown: unknown is never guessed and never mentioned in a caption.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

# The closed vocabularies of the typed attributes. Free-text attributes (language, accent, health) are open.
ATTRIBUTE_VALUES: dict[str, tuple[str, ...] | None] = {
    "sex": ("female", "male"),
    "age_group": ("child", "adult", "elderly"),
    "age": None,  # years, a number
    "language": None,  # ISO 639-1/3 code, e.g. "en", "de", "yue"
    "accent": None,  # free text, e.g. "scottish"
    "pitch": ("low", "mid", "high"),
    "rate": ("slow", "normal", "fast"),
    "quality": ("modal", "breathy", "whisper", "creaky", "hoarse", "tremor"),
    "loudness": ("quiet", "normal", "loud"),
    "channel": ("clean", "telephone", "noise", "reverberant"),
    "health": None,  # free text label from a real corpus, e.g. "dysphonia"
    "intonation": ("monotone", "neutral", "expressive"),  # F0 excursion: flat, ordinary, lively
}
# Attributes added to the format later; written to a manifest line only when not null (see ClipRecord.to_json).
LATER_ATTRIBUTES = ("intonation",)
SPLITS = ("train", "val", "test")
MANIFEST_NAME = "manifest.jsonl"


class ManifestError(ValueError):
    """A manifest line that does not follow the format; the message names the file and line."""


@dataclasses.dataclass(frozen=True)
class ClipRecord:
    id: str
    path: str
    duration: float
    sample_rate: int
    speaker: str
    source: str
    split: str
    attributes: dict[str, Any]
    engine: str | None = None
    voice: str | None = None
    licence: str | None = None
    text: str | None = None

    def to_json(self) -> str:
        data = dataclasses.asdict(self)
        # Attributes added after the first format are written only when known, so a manifest of clips that do not
        # have them stays byte for byte what it was (and so do the hashes that name corpora and suites).
        attrs = data["attributes"]
        data["attributes"] = {k: v for k, v in attrs.items() if v is not None or k not in LATER_ATTRIBUTES}
        return json.dumps(data, ensure_ascii=False, sort_keys=False)


def validate_attributes(attributes: dict[str, Any], where: str) -> dict[str, Any]:
    """Return a full attribute dict (missing keys -> None) or raise naming the bad key or value."""
    if not isinstance(attributes, dict):
        raise ManifestError(f"{where}: 'attributes' must be an object, got {type(attributes).__name__}")
    unknown = sorted(set(attributes) - set(ATTRIBUTE_VALUES))
    if unknown:
        raise ManifestError(f"{where}: unknown attribute {unknown[0]!r}; accepted: {', '.join(ATTRIBUTE_VALUES)}")
    out: dict[str, Any] = {}
    for key, allowed in ATTRIBUTE_VALUES.items():
        value = attributes.get(key)
        if value is not None:
            if key == "age":
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 120:
                    raise ManifestError(f"{where}: age must be a number of years in [0, 120] or null, got {value!r}")
            elif not isinstance(value, str) or (allowed is not None and value not in allowed):
                accepted = ", ".join(allowed) if allowed else "a string"
                raise ManifestError(f"{where}: attribute {key}={value!r} is not accepted; use {accepted} or null")
        out[key] = value
    return out


def parse_record(data: Any, where: str) -> ClipRecord:
    if not isinstance(data, dict):
        raise ManifestError(f"{where}: expected a JSON object, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(ClipRecord)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ManifestError(f"{where}: unknown key {unknown[0]!r}; accepted: {', '.join(fields)}")
    required = [n for n, f in fields.items() if f.default is dataclasses.MISSING]
    missing = [n for n in required if n not in data]
    if missing:
        raise ManifestError(f"{where}: missing key {missing[0]!r}")
    if data["split"] not in SPLITS:
        raise ManifestError(f"{where}: split={data['split']!r} is not accepted; use one of {', '.join(SPLITS)}")
    for key in ("id", "path", "speaker", "source"):
        if not isinstance(data[key], str) or not data[key]:
            raise ManifestError(f"{where}: {key!r} must be a non-empty string, got {data[key]!r}")
    if not isinstance(data["duration"], (int, float)) or data["duration"] <= 0:
        raise ManifestError(f"{where}: duration must be a positive number of seconds, got {data['duration']!r}")
    if not isinstance(data["sample_rate"], int) or data["sample_rate"] <= 0:
        raise ManifestError(f"{where}: sample_rate must be a positive integer, got {data['sample_rate']!r}")
    attrs = validate_attributes(data["attributes"], where)
    return ClipRecord(**{**data, "attributes": attrs, "duration": float(data["duration"])})


def iter_manifest(path: str | Path) -> Iterator[ClipRecord]:
    """Yield records of a manifest file (or of DIR/manifest.jsonl); errors name the file and line."""
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read manifest ({exc.strerror or exc})") from exc
    with handle:
        for lineno, line in enumerate(handle, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ManifestError(f"{where}: invalid JSON ({exc.msg})") from exc
            yield parse_record(data, where)


def read_manifest(path: str | Path) -> list[ClipRecord]:
    return list(iter_manifest(path))


def write_manifest(records: Iterable[ClipRecord], path: str | Path) -> int:
    """Write all records atomically (temp file + fsync + rename): an interrupted write leaves the old file."""
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    tmp = path.with_name(path.name + ".partial")
    count = 0
    with tmp.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(record.to_json() + "\n")
            count += 1
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)
    return count


def resolve_audio(manifest_path: str | Path, record: ClipRecord) -> Path:
    """The absolute audio path of ``record`` (``path`` is relative to the manifest's folder)."""
    base = Path(manifest_path)
    if base.is_file() or base.suffix == ".jsonl":
        base = base.parent
    return (base / record.path).resolve()
