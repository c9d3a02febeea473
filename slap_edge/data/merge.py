"""`slap-edge data merge`: one corpus manifest over several corpora, e.g. the synthetic corpus and imported speech.

The merged folder holds only ``manifest.jsonl`` (and ``merge.json``): each record's ``path`` is rewritten relative
to the merged folder, so the audio stays where it is and the corpora keep their own files. Every record keeps its
split, speaker, source, licence and attributes. An id that occurs in two corpora is an error naming both, and so is
a path that does not exist: nothing is dropped silently. Corpora that number their clips alike (two `data synth`
corpora both start at ``syn-000000``) are merged with an id prefix per corpus (``id_prefixes``, `--id-prefix`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from collections import Counter
from pathlib import Path

from slap_edge.data.manifest import MANIFEST_NAME, ManifestError, read_manifest, resolve_audio, write_manifest

MERGE_INFO_NAME = "merge.json"
ID_PREFIX_PATTERN = re.compile(r"[A-Za-z0-9_-]*")


def merge_corpora(
    sources: list[Path], out: Path, overwrite: bool = False, id_prefixes: list[str] | None = None
) -> dict[str, object]:
    """Write ``out/manifest.jsonl`` holding every record of ``sources`` (corpus folders); returns ``merge.json``.

    ``id_prefixes``: one per source, in order (``""`` for none), put before each of its clip ids."""
    if len(sources) < 2:
        raise ManifestError(f"data merge needs two or more corpus folders, got {len(sources)}")
    if id_prefixes is not None:
        if len(id_prefixes) != len(sources):
            raise ManifestError(
                f"{len(id_prefixes)} id prefixes for {len(sources)} corpora: give one per corpus, in order "
                "('' for none)"
            )
        for prefix in id_prefixes:
            if not ID_PREFIX_PATTERN.fullmatch(prefix):
                raise ManifestError(f"id prefix {prefix!r}: use letters, digits, '_' and '-' only (or '' for none)")
    out = Path(out)
    if (out / MANIFEST_NAME).exists() and not overwrite:
        raise ManifestError(f"{out / MANIFEST_NAME} exists; pass --overwrite to replace it")
    out.mkdir(parents=True, exist_ok=True)
    base = out.resolve()
    seen: dict[str, Path] = {}
    merged = []
    parts = []
    for src, prefix in zip(sources, id_prefixes if id_prefixes is not None else [""] * len(sources), strict=True):
        src = Path(src)
        manifest = src / MANIFEST_NAME
        if not manifest.is_file():
            raise ManifestError(f"{src}: not a corpus folder (no {MANIFEST_NAME})")
        if src.resolve() == base:
            raise ManifestError(f"{src}: the merged folder cannot be one of its sources")
        records = read_manifest(manifest)
        for number, record in enumerate(records, 1):
            ident = prefix + record.id
            if ident in seen:
                raise ManifestError(
                    f"{manifest} line {number}: clip id {ident!r} is also in {seen[ident]}; ids must be unique "
                    "across the merged corpora (give each corpus its own --id-prefix)"
                )
            seen[ident] = manifest
            audio = resolve_audio(manifest, record)
            if not audio.is_file():
                raise ManifestError(f"{manifest} line {number}: audio {audio} does not exist")
            merged.append(dataclasses.replace(record, id=ident, path=os.path.relpath(audio, base)))
        part: dict[str, object] = {
            "corpus": str(src),
            "manifest_sha256": hashlib.sha256(manifest.read_bytes()).hexdigest(),
            "clips": len(records),
            "hours": round(sum(r.duration for r in records) / 3600, 3),
            "splits": dict(Counter(r.split for r in records)),
        }
        if id_prefixes is not None:
            part["id_prefix"] = prefix
        parts.append(part)
    write_manifest(merged, out / MANIFEST_NAME)
    info: dict[str, object] = {"clips": len(merged), "sources": parts}
    (out / MERGE_INFO_NAME).write_text(json.dumps(info, indent=2) + "\n")
    return info
