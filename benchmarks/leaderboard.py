"""Rebuild benchmarks/results/leaderboard.csv: one row per evaluated model and suite, from the result JSONs.

    python benchmarks/leaderboard.py            # rewrite the csv from benchmarks/results/ and experiments/results/
    python benchmarks/leaderboard.py --check    # exit 1 if the csv is not what the JSONs give

A result is any JSON holding an eval report (``zero_shot.mean_macro_f1``, as `slap-edge eval --json` writes), or a
list of them under ``rows[].report`` (benchmarks/bench_compression.py). Each row takes its provenance from the
JSON's ``"provenance"`` block (slap_edge/provenance.py); a result written before those blocks existed has none: its
date and machine come from what it recorded itself (a bench's ``machine``, a compression chain's ``meta``) and every
other field reads ``unknown``: nothing is guessed. ``committed_in`` is the commit that first added the file (git
history, following renames), so even those rows say when the result entered the record. ``record`` says where the
file lives: ``of record`` (benchmarks/results/) or ``experiment`` (experiments/results/: the history, kept as made).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULT_DIRS = {"of record": REPO / "benchmarks" / "results", "experiment": REPO / "experiments" / "results"}
CSV_PATH = REPO / "benchmarks" / "results" / "leaderboard.csv"
COLUMNS = [
    "date",
    "commit",
    "committed_in",
    "model",
    "suite",
    "suite_hash",
    "zero_shot",
    "probe",
    "recipe_hash",
    "model_config_hash",
    "corpus_fingerprint",
    "machine",
    "record",
    "file",
]
UNKNOWN = "unknown"


def is_recipe(path: Path) -> bool:
    """Recipes kept beside the results they made are inputs, not results."""
    return path.name.endswith("recipe.json") or path.name.startswith("recipe-") or path.name == "run-recipe.json"


def result_files() -> list[tuple[str, Path]]:
    out = []
    for record, root in RESULT_DIRS.items():
        if root.is_dir():
            out += [(record, p) for p in sorted(root.rglob("*.json")) if not is_recipe(p)]
    return out


def eval_reports(data: Any) -> list[tuple[str | None, dict[str, Any]]]:
    """(stage name or None, report) for every eval report a result JSON holds."""
    if not isinstance(data, dict):
        return []
    if isinstance(data.get("zero_shot"), dict) and "mean_macro_f1" in data["zero_shot"] and "tasks" in data:
        return [(None, data)]
    rows = data.get("rows")
    if isinstance(rows, list):
        return [
            (r.get("stage"), r["report"]) for r in rows if isinstance(r, dict) and isinstance(r.get("report"), dict)
        ]
    return []


def committed_in(path: Path) -> str:
    """The commit (12 hex digits) that first added ``path``, following renames; unknown if it is not committed."""
    log = subprocess.run(
        ["git", "log", "--follow", "--diff-filter=A", "--format=%H", "--", str(path.relative_to(REPO))],
        cwd=REPO,
        capture_output=True,
        text=True,
    ).stdout.split()
    return log[-1][:12] if log else UNKNOWN


def recorded_date_and_machine(data: dict[str, Any]) -> tuple[str, str]:
    """Date and machine where an older result recorded them itself (bench ``machine``, compression ``meta``)."""
    machine = data.get("machine") if isinstance(data.get("machine"), dict) else {}
    meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
    date = meta.get("date") or machine.get("date_utc") or UNKNOWN
    cpu, cores = meta.get("cpu") or machine.get("cpu_model"), meta.get("cores") or machine.get("cores")
    return str(date), f"{cpu}, {cores} cores" if cpu and cores else UNKNOWN


def fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else UNKNOWN


def rows() -> list[dict[str, str]]:
    out = []
    for record, path in result_files():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            sys.exit(f"{path}: not readable JSON ({exc}); every JSON under the results folders must parse")
        reports = eval_reports(data)
        if not reports:
            continue
        prov = data.get("provenance") if isinstance(data.get("provenance"), dict) else {}
        date, machine = recorded_date_and_machine(data)
        added = committed_in(path)
        for stage, report in reports:
            probe = report.get("linear_probe")
            suite = prov.get("suite") if prov.get("suite") not in (None, "n/a") else report.get("suite")
            out.append(
                {
                    "date": prov.get("date", date),
                    "commit": prov.get("commit", UNKNOWN),
                    "committed_in": added,
                    "model": str(stage or report.get("model") or UNKNOWN),
                    "suite": str(suite or UNKNOWN),
                    "suite_hash": prov.get("suite_hash", UNKNOWN),
                    "zero_shot": fmt(report["zero_shot"].get("mean_macro_f1")),
                    "probe": fmt(probe.get("mean_macro_f1")) if isinstance(probe, dict) else "n/a",
                    "recipe_hash": prov.get("recipe_hash", UNKNOWN),
                    "model_config_hash": prov.get("model_config_hash", UNKNOWN),
                    "corpus_fingerprint": prov.get("corpus_fingerprint", UNKNOWN),
                    "machine": prov.get("machine", machine),
                    "record": record,
                    "file": str(path.relative_to(REPO)),
                }
            )
    return out


def render(table: list[dict[str, str]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(table)
    return buf.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="compare with the committed csv instead of writing it")
    args = ap.parse_args()
    text = render(rows())
    if args.check:
        current = CSV_PATH.read_text(encoding="utf-8") if CSV_PATH.is_file() else ""
        if current != text:
            sys.exit(f"{CSV_PATH} is out of date: run python benchmarks/leaderboard.py")
        print(f"{CSV_PATH}: up to date ({text.count(chr(10)) - 1} rows)")
        return
    CSV_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {CSV_PATH}: {text.count(chr(10)) - 1} rows")


if __name__ == "__main__":
    main()
