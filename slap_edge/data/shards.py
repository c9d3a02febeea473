"""Tar shards of a corpus (webdataset layout) and their index, ``shards.json``.

A shard holds, for each clip, its audio file's bytes unchanged (``KEY.wav``, ``KEY.flac``, ...) and its manifest
record (``KEY.json``). The key is ``SPLIT/NNNNNNNNN``: the clip's position among the clips of its split in manifest
order, which the training loader uses as the clip's number (as the folder loader uses its cache index). Shards hold
one split each, clips in manifest order, and are named ``SPLIT-000000.tar``.

Writing is deterministic (the same corpus and ``shard_size`` give the same bytes: fixed member times and owners),
resumable (a shard already listed in the index with the same clips and checksum is not written again) and verified:
each shard is written to a temporary file, read back with webdataset and compared member by member with what was
meant to be in it, and only then renamed into place and entered in the index.

``shards.json`` lists every shard with its split, clips, hours, bytes, sha256, first clip number and the clip count
of each (engine, voice), so a loader can split clips exactly across ranks and workers, also after held-out voices
are excluded, without reading the shards first.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from slap_edge.data.manifest import MANIFEST_NAME, SPLITS, ClipRecord, parse_record, read_manifest, resolve_audio

INDEX_NAME = "shards.json"
INDEX_FORMAT = 1
# Tar overhead per member: a 512-byte header and padding to 512 bytes; two members per clip.
_TAR_OVERHEAD = 2 * 1024
_SIZE_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30}
_SHARD_NAME = re.compile(r"([A-Za-z0-9_.-]+\.tar)")


class ShardError(ValueError):
    """A shard folder, index or source that cannot be used; the message names it and what would be accepted."""


def parse_size(text: str) -> int:
    """Bytes in ``text``: an integer with an optional unit (B, KB, MB, GB, KiB, MiB, GiB), e.g. ``1GB``, ``256MiB``."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", text)
    unit = match.group(2).upper() if match else ""
    if not match or unit not in _SIZE_UNITS:
        raise ShardError(f"shard size {text!r} is not a size; use e.g. 1GB, 500MB, 256MiB or a number of bytes")
    size = int(float(match.group(1)) * _SIZE_UNITS[unit])
    if size < 4096:
        raise ShardError(f"shard size {text!r} is {size} bytes; use at least 4096 bytes (1GB is usual)")
    return size


def clip_key(split: str, number: int) -> str:
    return f"{split}/{number:09d}"


def key_number(key: str, where: str) -> int:
    """The clip number in a sample key ``SPLIT/NNNNNNNNN``."""
    _, _, number = key.rpartition("/")
    if not number.isdigit():
        raise ShardError(f"{where}: sample key {key!r} is not SPLIT/NUMBER as slap-edge data shard writes it")
    return int(number)


def voice_key(engine: str | None, voice: str | None) -> str:
    return f"{engine or ''}\t{voice or ''}"


@dataclasses.dataclass(frozen=True)
class ShardEntry:
    """One shard in the index."""

    name: str
    split: str
    clips: int
    seconds: float
    bytes: int
    sha256: str
    first: int  # clip number of the shard's first clip (numbers rise through a shard, in manifest order)
    voices: dict[str, int]  # "engine<TAB>voice" -> clips
    ids_sha256: str  # of the clip ids in order: what resuming compares with the plan

    @property
    def hours(self) -> float:
        return self.seconds / 3600.0


@dataclasses.dataclass
class ShardIndex:
    source: str
    shard_size: int
    shards: list[ShardEntry]
    skipped: dict[str, str]  # clip id -> why it is not in any shard

    def to_json(self) -> dict[str, Any]:
        splits: dict[str, dict[str, Any]] = {}
        for s in self.shards:
            agg = splits.setdefault(s.split, {"shards": 0, "clips": 0, "hours": 0.0})
            agg["shards"] += 1
            agg["clips"] += s.clips
            agg["hours"] += s.hours
        for agg in splits.values():
            agg["hours"] = round(agg["hours"], 4)
        return {
            "format": INDEX_FORMAT,
            "source": self.source,
            "shard_size": self.shard_size,
            "splits": splits,
            "shards": [dataclasses.asdict(s) | {"hours": round(s.hours, 4)} for s in self.shards],
            "skipped": self.skipped,
        }

    def split_shards(self, split: str) -> list[ShardEntry]:
        return [s for s in self.shards if s.split == split]


def parse_index(data: Any, where: str) -> ShardIndex:
    if not isinstance(data, dict) or data.get("format") != INDEX_FORMAT:
        raise ShardError(f"{where}: not a slap-edge shard index (format {INDEX_FORMAT}); make one with `data shard`")
    fields = {f.name for f in dataclasses.fields(ShardEntry)}
    try:
        shards = [ShardEntry(**{k: v for k, v in s.items() if k in fields}) for s in data["shards"]]
        return ShardIndex(str(data["source"]), int(data["shard_size"]), shards, dict(data.get("skipped", {})))
    except (KeyError, TypeError) as exc:
        raise ShardError(f"{where}: malformed shard index ({exc})") from exc


def read_index(path: str | Path) -> ShardIndex:
    """The index in ``path`` (a ``shards.json`` or the folder holding one)."""
    path = Path(path)
    if path.is_dir():
        path = path / INDEX_NAME
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ShardError(f"{path}: cannot read the shard index ({exc})") from exc
    return parse_index(data, str(path))


def _write_index(index: ShardIndex, out: Path) -> None:
    tmp = out / (INDEX_NAME + ".partial")
    tmp.write_text(json.dumps(index.to_json(), indent=1) + "\n")
    tmp.replace(out / INDEX_NAME)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_audio_bytes(data: bytes, where: str) -> None:
    """Raise ShardError unless ``data`` is a sound file with samples (reads the header only)."""
    import soundfile as sf

    try:
        info = sf.info(io.BytesIO(data))
    except (RuntimeError, OSError) as exc:
        raise ShardError(f"{where}: not readable as audio ({exc})") from exc
    if info.frames <= 0:
        raise ShardError(f"{where}: audio has no samples")


@dataclasses.dataclass(frozen=True)
class _Planned:
    name: str
    split: str
    first: int
    members: list[tuple[int, ClipRecord, Path]]  # (clip number, record, audio file)

    @property
    def ids_sha256(self) -> str:
        return hashlib.sha256("\n".join(r.id for _, r, _ in self.members).encode()).hexdigest()


@dataclasses.dataclass
class ShardReport:
    out: Path
    written: int
    kept: int  # shards found complete from an earlier run
    index: ShardIndex


def _plan(corpus: Path, records: Sequence[ClipRecord], shard_size: int, skipped: dict[str, str]) -> list[_Planned]:
    manifest = corpus / MANIFEST_NAME
    plan: list[_Planned] = []
    for split in SPLITS:
        members: list[tuple[int, ClipRecord, Path]] = []
        size = 0
        shard_no = 0
        number = -1
        for record in records:
            if record.split != split:
                continue
            number += 1  # numbered over every clip of the split, so numbers do not move when a file is missing
            path = resolve_audio(manifest, record)
            try:
                item = path.stat().st_size + len(record.to_json().encode()) + _TAR_OVERHEAD
            except OSError as exc:
                skipped[record.id] = f"{path}: audio file is missing ({exc.strerror})"
                continue
            if members and size + item > shard_size:
                plan.append(_Planned(f"{split}-{shard_no:06d}.tar", split, members[0][0], members))
                shard_no, members, size = shard_no + 1, [], 0
            members.append((number, record, path))
            size += item
        if members:
            plan.append(_Planned(f"{split}-{shard_no:06d}.tar", split, members[0][0], members))
    return plan


def _write_one(planned: _Planned, out: Path, skipped: dict[str, str]) -> ShardEntry | None:
    import webdataset as wds

    final = out / planned.name
    tmp = out / (planned.name + ".partial")
    expected: dict[str, bytes] = {}
    voices: Counter[str] = Counter()
    seconds = 0.0
    clips = 0
    with tmp.open("wb") as handle:
        # Fixed mtime and owner: the same clips give the same bytes, so a shard's checksum identifies its contents.
        writer = wds.TarWriter(handle, encoder=False, mtime=0.0, user="slap-edge", group="slap-edge", mode=0o444)
        for number, record, path in planned.members:
            try:
                audio = path.read_bytes()
                check_audio_bytes(audio, str(path))
            except (OSError, ShardError) as exc:
                skipped[record.id] = str(exc)
                continue
            key = clip_key(planned.split, number)
            ext = path.suffix.lstrip(".").lower() or "wav"
            meta = record.to_json().encode()
            writer.write({"__key__": key, ext: audio, "json": meta})
            expected[f"{key}.{ext}"] = audio
            expected[f"{key}.json"] = meta
            voices[voice_key(record.engine, record.voice)] += 1
            seconds += record.duration
            clips += 1
        writer.close()
        handle.flush()
        os.fsync(handle.fileno())
    if not clips:
        tmp.unlink()
        return None
    _verify(tmp, expected)
    tmp.replace(final)
    return ShardEntry(
        name=planned.name,
        split=planned.split,
        clips=clips,
        seconds=round(seconds, 3),
        bytes=final.stat().st_size,
        sha256=_sha256(final),
        first=planned.first,
        voices=dict(sorted(voices.items())),
        ids_sha256=planned.ids_sha256,
    )


def _verify(path: Path, expected: dict[str, bytes]) -> None:
    """Read ``path`` back as webdataset does and compare every member; remove it and raise if anything differs."""
    from webdataset.tariterators import tar_file_iterator

    seen: dict[str, bytes] = {}
    try:
        with path.open("rb") as handle:
            for member in tar_file_iterator(handle):
                seen[member["fname"]] = member["data"]
    except Exception as exc:  # a tar that does not read back at all, whatever the reason
        path.unlink(missing_ok=True)
        raise ShardError(f"{path}: the shard just written does not read back ({exc}); it was removed") from exc
    bad = sorted(k for k in expected if seen.get(k) != expected[k]) + sorted(set(seen) - set(expected))
    if bad:
        path.unlink(missing_ok=True)
        raise ShardError(f"{path}: members {bad[:3]} do not read back as written; the shard was removed")


def write_shards(
    corpus: str | Path,
    out: str | Path,
    shard_size: int = 10**9,
    progress: Callable[[int, int], None] | None = None,
) -> ShardReport:
    """Shard the corpus folder ``corpus`` (manifest.jsonl + audio) into ``out``; see the module docstring.

    Clips whose audio is missing or unreadable are left out and listed in the index's ``skipped``. Running again
    after an interruption writes only the shards that are missing or differ from the plan.
    """
    corpus, out = Path(corpus).resolve(), Path(out)
    if shard_size < 4096:
        raise ShardError(f"shard_size {shard_size} is too small; use at least 4096 bytes (1GB is usual)")
    records = read_manifest(corpus)
    out.mkdir(parents=True, exist_ok=True)
    skipped: dict[str, str] = {}
    plan = _plan(corpus, records, shard_size, skipped)
    previous: dict[str, ShardEntry] = {}
    if (out / INDEX_NAME).is_file():
        old = read_index(out)
        if old.shard_size == shard_size and old.source == str(corpus):
            previous = {s.name: s for s in old.shards}
            skipped |= {k: v for k, v in old.skipped.items() if k not in skipped}
    index = ShardIndex(str(corpus), shard_size, [], skipped)
    written = kept = 0
    for i, planned in enumerate(plan):
        done = previous.get(planned.name)
        final = out / planned.name
        if (
            done is not None
            and done.ids_sha256 == planned.ids_sha256
            and final.is_file()
            and final.stat().st_size == done.bytes
            and _sha256(final) == done.sha256
        ):
            index.shards.append(done)
            kept += 1
        else:
            entry = _write_one(planned, out, skipped)
            if entry is not None:
                index.shards.append(entry)
                written += 1
        _write_index(index, out)  # after every shard: an interrupted run resumes from here
        if progress is not None:
            progress(i + 1, len(plan))
    # Shards of an earlier plan that this one no longer has would be read by a pattern like train-*.tar; remove them.
    planned_names = {p.name for p in plan}
    for stale in out.glob("*.tar"):
        if stale.name not in planned_names:
            stale.unlink()
    for partial in out.glob("*.tar.partial"):
        partial.unlink()
    _write_index(index, out)
    return ShardReport(out, written, kept, index)


@dataclasses.dataclass(frozen=True)
class ShardSource:
    """Where a loader reads shards from: URLs (paths, ``pipe:`` commands, ...) and the index entry of each."""

    spec: str
    urls: list[str]
    entries: list[ShardEntry]


def is_shard_source(data: str | Path) -> bool:
    """True for a folder holding ``shards.json``, a brace pattern, a ``::`` list or a URL (``pipe:``, ``file:`` ...)."""
    text = str(data)
    if Path(text).is_dir():
        return (Path(text) / INDEX_NAME).is_file()
    return text.startswith("pipe:") or "://" in text or "::" in text or ("{" in text and ".tar" in text)


def _shard_name(url: str, where: str) -> str:
    names = _SHARD_NAME.findall(url)
    if not names:
        raise ShardError(f"{where}: {url!r} names no .tar shard; accepted: a URL or command holding SPLIT-NNNNNN.tar")
    return names[-1].rsplit("/", 1)[-1]


def _read_remote_index(url: str, name: str) -> ShardIndex:
    """The ``shards.json`` beside shard ``name``: the same URL or command with the shard's name replaced."""
    import webdataset as wds

    pos = url.rfind(name)
    index_url = url[:pos] + INDEX_NAME + url[pos + len(name) :]
    try:
        with wds.gopen(index_url, "rb") as handle:
            data = json.loads(handle.read())
    except Exception as exc:  # gopen raises whatever the scheme's tool does
        raise ShardError(
            f"cannot read the shard index {index_url!r} ({exc}); it must lie beside the shards, as `data shard` "
            "writes it"
        ) from exc
    return parse_index(data, index_url)


def resolve_shard_source(data: str | Path, split: str) -> ShardSource:
    """The shards of ``split`` in ``data``: a shard folder, or a brace pattern / ``::`` list / ``pipe:`` command.

    For a pattern, the index is read from beside the first shard (the same URL or command with ``shards.json`` in
    place of the shard's name) and every URL must name a shard it lists; shards of other splits are left out.
    """
    import webdataset as wds

    spec = str(data)
    if Path(spec).is_dir():
        folder = Path(spec).resolve()
        index = read_index(folder)
        entries = index.split_shards(split)
        urls = [str(folder / e.name) for e in entries]
    else:
        urls_all = wds.shardlists.expand_urls(spec)
        if not urls_all:
            raise ShardError(f"{spec!r}: the pattern expands to no shards")
        names = [_shard_name(u, spec) for u in urls_all]
        first = urls_all[0]
        index = read_index(Path(first).parent) if Path(first).is_file() else _read_remote_index(first, names[0])
        by_name = {e.name: e for e in index.shards}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise ShardError(f"{spec!r}: shard {unknown[0]} is not in its index ({len(by_name)} shards listed)")
        pairs = [(u, by_name[n]) for u, n in zip(urls_all, names, strict=True) if by_name[n].split == split]
        urls, entries = [u for u, _ in pairs], [e for _, e in pairs]
    if not entries:
        raise ShardError(
            f"{spec}: no shards of split {split!r}; the index has {sorted({s.split for s in index.shards})}"
        )
    return ShardSource(spec, urls, entries)


def read_shard_records(path: str | Path) -> list[tuple[str, ClipRecord, str, bytes]]:
    """Every sample of one local shard as (key, record, audio extension, audio bytes); for checks and tests."""
    from webdataset.tariterators import group_by_keys, tar_file_expander, url_opener

    out = []
    for sample in group_by_keys(tar_file_expander(url_opener([{"url": str(path)}]))):
        ext = next(k for k in sample if not k.startswith("__") and k != "json")
        record = parse_record(json.loads(sample["json"]), f"{path}:{sample['__key__']}")
        out.append((sample["__key__"], record, ext, sample[ext]))
    return out
