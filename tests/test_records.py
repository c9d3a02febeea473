"""benchmarks/results/ is a record: every result JSON says what made it, and leaderboard.csv holds every evaluated
run of record (rebuilt by benchmarks/leaderboard.py, which finds new result folders by itself)."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

from slap_edge.provenance import missing_provenance

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("leaderboard", REPO / "benchmarks" / "leaderboard.py")
leaderboard = importlib.util.module_from_spec(spec)
spec.loader.exec_module(leaderboard)

RESULTS = REPO / "benchmarks" / "results"


def record_jsons() -> list[Path]:
    return [p for p in sorted(RESULTS.rglob("*.json")) if not leaderboard.is_recipe(p)]


def test_every_result_of_record_carries_commit_and_hashes() -> None:
    files = record_jsons()
    assert files, "benchmarks/results/ holds no result JSON"
    bad = {}
    for path in files:
        missing = missing_provenance(json.loads(path.read_text(encoding="utf-8")))
        if missing:
            bad[str(path.relative_to(REPO))] = missing
    assert not bad, (
        f"result JSONs without a complete provenance block (missing keys per file): {bad}; results written by "
        "`slap-edge eval` and `slap-edge bench` carry one; see slap_edge/provenance.py"
    )


def test_leaderboard_has_every_evaluated_run_of_record() -> None:
    with (RESULTS / "leaderboard.csv").open(encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == leaderboard.COLUMNS
        table = list(reader)
    by_file: dict[str, list[dict[str, str]]] = {}
    for row in table:
        by_file.setdefault(row["file"], []).append(row)
    stale = []
    for path in record_jsons():
        reports = leaderboard.eval_reports(json.loads(path.read_text(encoding="utf-8")))
        rows = by_file.get(str(path.relative_to(REPO)), [])
        scores = sorted(leaderboard.fmt(r["zero_shot"]["mean_macro_f1"]) for _, r in reports)
        if sorted(r["zero_shot"] for r in rows) != scores:
            stale.append(str(path.relative_to(REPO)))
    assert not stale, f"leaderboard.csv does not match {stale}: run python benchmarks/leaderboard.py"
    assert all(row["record"] in ("of record", "experiment") for row in table)
    assert all(row["zero_shot"] != "unknown" for row in table)


def test_leaderboard_reads_new_folders_and_both_layouts(tmp_path: Path, monkeypatch) -> None:
    report = {"suite": "s", "model": "m", "tasks": [], "zero_shot": {"mean_macro_f1": 0.5}, "linear_probe": None}
    chain = {"meta": {}, "rows": [{"stage": "a", "report": report}, {"stage": "b", "report": report}]}
    (tmp_path / "default-bundle").mkdir()
    (tmp_path / "default-bundle" / "eval.json").write_text(json.dumps({**report, "provenance": {"commit": "abc"}}))
    (tmp_path / "default-bundle" / "chain.json").write_text(json.dumps(chain))
    (tmp_path / "default-bundle" / "teacher-recipe.json").write_text(json.dumps({"model": "x"}))
    monkeypatch.setattr(leaderboard, "REPO", tmp_path)
    monkeypatch.setattr(leaderboard, "RESULT_DIRS", {"of record": tmp_path})
    table = leaderboard.rows()
    assert sorted(r["model"] for r in table) == ["a", "b", "m"]
    assert {r["commit"] for r in table} == {"abc", "unknown"} and {r["probe"] for r in table} == {"n/a"}
    assert leaderboard.render(table).splitlines()[0] == ",".join(leaderboard.COLUMNS)
