"""What made a result: the code's commit and hashes of the recipe, model config, corpus and suite.

`slap-edge eval` and `slap-edge bench` put this block, under the key ``"provenance"``, into every JSON they write,
and `benchmarks/leaderboard.py` builds `benchmarks/results/leaderboard.csv` from it. Every value is a string:

- ``commit``: ``git rev-parse HEAD`` of the checkout the code ran from, with ``-dirty`` when tracked files had
  uncommitted changes; ``unknown`` when the package is not in a git checkout (an installed wheel).
- ``recipe_hash``, ``model_config_hash``: sha256 (first 16 hex digits) of the canonical JSON (sorted keys, no
  spaces) of the run's training recipe and model config (a run folder's config.json). For a bundle the model config
  hash covers its manifest's ``model`` and ``audio`` sections; a bundle records no recipe (``unknown``).
- ``corpus_fingerprint``: sha256 of the training corpus's manifest.jsonl, where the run's config.json names a corpus
  that is present here; else ``unknown``.
- ``suite``, ``suite_hash``: the suite's name and the sha256 of its suite.json and clips.jsonl (``n/a`` without one).

The hashes are computed by `slap_edge.fingerprints` (``json_hash``, ``corpus_fingerprint``, ``suite_fingerprint``),
which says exactly what each covers; a bundle's record uses the same suite fingerprint.
- ``machine``: CPU model and usable cores, with the GPU when one was used.

``unknown`` means it was not recorded or cannot be read here; ``n/a`` means it does not apply. Nothing is guessed.
"""

from __future__ import annotations

import datetime
import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from slap_edge.fingerprints import corpus_fingerprint, json_hash, suite_fingerprint

UNKNOWN = "unknown"
NOT_APPLICABLE = "n/a"
PROVENANCE_KEYS = (
    "date",
    "commit",
    "made_by",
    "recipe_hash",
    "model_config_hash",
    "corpus_fingerprint",
    "suite",
    "suite_hash",
    "machine",
)


def git_commit(where: Path | None = None) -> str:
    """HEAD of the git checkout holding ``where`` (default: this package), ``-dirty`` if tracked files changed."""
    where = where or Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return UNKNOWN
    return f"{head}-dirty" if dirty else head


def machine_label(device: str | None = None) -> str:
    from slap_edge.bench.machine import cpu_model, usable_cores

    label = f"{cpu_model()}, {usable_cores()} cores"
    if device and device.startswith("cuda"):
        try:
            import torch

            label += f", GPU {torch.cuda.get_device_name(torch.device(device))}"
        except Exception:  # noqa: BLE001 - a label must never fail the run it describes
            label += f", GPU ({device})"
    return label


def command_line() -> list[str]:
    """The command this process runs: ``slap-edge ARGS`` for the CLI (also as ``python -m slap_edge.cli``), else
    the program and its arguments as they are."""
    program = Path(sys.argv[0])
    if program.name == "slap-edge" or program.parts[-2:] == ("slap_edge", "cli.py"):
        return ["slap-edge", *sys.argv[1:]]
    return [program.name, *sys.argv[1:]]


def model_hashes(model: str | Path | None) -> dict[str, str]:
    """recipe_hash, model_config_hash and corpus_fingerprint of a run folder or bundle (see the module docstring)."""
    out = {"recipe_hash": UNKNOWN, "model_config_hash": UNKNOWN, "corpus_fingerprint": UNKNOWN}
    if model is None:
        return {k: NOT_APPLICABLE for k in out}
    path = Path(model)
    if str(model) == "default":
        from slap_edge.bundle_reader import default_bundle_path

        path = default_bundle_path()
    config_path = path / "config.json"
    manifest_path = path / "manifest.json"
    try:
        if config_path.is_file():
            config = json.loads(config_path.read_text(encoding="utf-8"))
            if isinstance(config.get("recipe"), dict):
                out["recipe_hash"] = json_hash(config["recipe"])
            if isinstance(config.get("model"), dict):
                out["model_config_hash"] = json_hash(config["model"])
            corpus = Path(str(config.get("data", "")))
            if config.get("data") and (corpus / "manifest.jsonl").is_file():
                out["corpus_fingerprint"] = corpus_fingerprint(corpus)
        elif manifest_path.is_file():
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            out["model_config_hash"] = json_hash({"model": manifest.get("model"), "audio": manifest.get("audio")})
    except (OSError, ValueError):
        pass
    return out


def suite_hashes(suite: str | Path | None) -> dict[str, str]:
    if suite is None:
        return {"suite": NOT_APPLICABLE, "suite_hash": NOT_APPLICABLE}
    path = Path(suite)
    name = path.name
    try:
        name = str(json.loads((path / "suite.json").read_text(encoding="utf-8")).get("name") or name)
        return {"suite": name, "suite_hash": suite_fingerprint(path)}
    except (OSError, ValueError):
        return {"suite": name, "suite_hash": UNKNOWN}


def provenance(
    model: str | Path | None = None,
    suite: str | Path | None = None,
    device: str | None = None,
    made_by: list[str] | None = None,
) -> dict[str, str]:
    """The provenance block of a result made now from ``model`` on ``suite`` (either may be ``None``)."""
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": git_commit(),
        "made_by": shlex.join(command_line() if made_by is None else made_by),
        **model_hashes(model),
        **suite_hashes(suite),
        "machine": machine_label(device),
    }


def missing_provenance(record: Any) -> list[str]:
    """Keys of the provenance block that a result JSON lacks or leaves empty (empty list: complete)."""
    block = record.get("provenance") if isinstance(record, dict) else None
    if not isinstance(block, dict):
        return ["provenance"]
    return [k for k in PROVENANCE_KEYS if not isinstance(block.get(k), str) or not block[k].strip()]
