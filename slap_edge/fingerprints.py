"""Every hash slap-edge writes into a record, in one place (torch-free, standard library only).

- `sha256_file`: sha256 of a file's bytes, 64 hex digits: a bundle's file checksums (spec/bundle.md), the recipe
  files and corpus manifest named in a bundle's record.
- `sha256_json`: sha256 of the canonical JSON of an object (sorted keys, no spaces, UTF-8), 64 hex digits: a run's
  model config and recipe in a bundle's record. (Records written before this module escaped non-ASCII characters;
  every committed config and recipe is ASCII, where both forms are the same bytes.)
- `json_hash`, `files_hash`: the short forms of the provenance block (slap_edge/provenance.py), the first
  `HASH_CHARS` hex digits; `files_hash` covers each file's name, a NUL byte, then its bytes, in the order given.
- `suite_fingerprint`: the one fingerprint of an evaluation suite: `files_hash` of its suite.json and clips.jsonl
  (what it asks and which clips; audio by path). A result's ``suite_hash`` and a bundle record's ``suite_sha256``
  are this value. Bundle records made before it (without ``hash_formats``) hold the full sha256 of the two files'
  bytes, one after the other, under ``suite_sha256``; they keep those values.
- `corpus_fingerprint`: `files_hash` of a corpus's manifest.jsonl (a result's ``corpus_fingerprint``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

HASH_CHARS = 16
SUITE_FILES = ("suite.json", "clips.jsonl")
# What a bundle record states about its hashes (`slap_edge.export.card.build_record`), so it reads without this code.
HASH_FORMATS = {
    "recipes": "sha256 of the file's bytes (64 hex digits)",
    "model_config_sha256": "sha256 of the config's canonical JSON: sorted keys, no spaces, UTF-8 (64 hex digits)",
    "recipe_sha256": "sha256 of the recipe's canonical JSON: sorted keys, no spaces, UTF-8 (64 hex digits)",
    "manifest_sha256": "sha256 of the corpus manifest.jsonl's bytes (64 hex digits)",
    "synth_sha256": "sha256 of the corpus synth.json's bytes (64 hex digits)",
    "suite_sha256": f"the suite fingerprint of slap_edge.fingerprints: sha256 over {' and '.join(SUITE_FILES)}, each "
    f"as its name, a NUL byte and its bytes; first {HASH_CHARS} hex digits (a result's suite_hash)",
}


def _canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_json(obj: Any) -> str:
    """Hex sha256 of the canonical JSON of ``obj``, so formatting never changes it."""
    return hashlib.sha256(_canonical_json(obj)).hexdigest()


def short_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:HASH_CHARS]


def json_hash(obj: Any) -> str:
    """`sha256_json` shortened to `HASH_CHARS` hex digits (the provenance block's form)."""
    return sha256_json(obj)[:HASH_CHARS]


def files_hash(paths: list[Path]) -> str:
    """sha256 over each file's name, a NUL byte and its bytes, in order; `HASH_CHARS` hex digits."""
    h = hashlib.sha256()
    for path in paths:
        h.update(path.name.encode() + b"\0")
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:HASH_CHARS]


def suite_fingerprint(suite: str | Path) -> str:
    """The fingerprint of a suite folder: `files_hash` of its suite.json and clips.jsonl."""
    return files_hash([Path(suite) / name for name in SUITE_FILES])


def corpus_fingerprint(corpus: str | Path) -> str:
    """The fingerprint of a corpus folder: `files_hash` of its manifest.jsonl."""
    return files_hash([Path(corpus) / "manifest.jsonl"])
