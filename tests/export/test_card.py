"""The bundle's record: commit, hashes of recipes and model configs, corpus fingerprint, suites, licence terms."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from slap_edge.config import save_config
from slap_edge.data.engines import MBROLA_LICENCE
from slap_edge.data.manifest import read_manifest, write_manifest
from slap_edge.export.card import build_record, licence_terms, record_section, suite_fingerprint
from slap_edge.models.registry import resolve_model_config
from slap_edge.provenance import suite_hashes
from slap_edge.train.config import RunConfig, TrainRecipe


def _run(folder: Path, model: str, steps: int, done: int, data: Path) -> Path:
    folder.mkdir(parents=True)
    recipe = TrainRecipe(model=model, steps=steps)
    save_config(RunConfig(model=resolve_model_config(model), recipe=recipe, data=str(data)), folder / "config.json")
    (folder / "state.json").write_text(json.dumps({"step": done}))
    return folder


def _report(path: Path, suite: str, zero_shot: float, probe: float) -> Path:
    report = {"suite": suite, "n_clips": 6, "zero_shot": {"mean_macro_f1": zero_shot}}
    path.write_text(json.dumps(report | {"linear_probe": {"mean_macro_f1": probe}}))
    return path


def test_licence_terms_say_what_may_be_shipped() -> None:
    assert "non-commercial" in licence_terms(MBROLA_LICENCE) and "VOICES=espeak" in licence_terms(MBROLA_LICENCE)
    assert "commercial included" in licence_terms("GPL-3.0-or-later")
    assert "not assessed" in licence_terms("CC-BY-NC-4.0")
    # The real-voice training speech: copyleft on recordings, with the switch that builds without them.
    for licence in ("GPL-2+", "GFDL-1.3"):
        assert "not settled" in licence_terms(licence) and "STUDENT2_DATA=intonation`" in licence_terms(licence)


def test_record_hashes_everything_and_reports_the_gap(tmp_path: Path, corpus: Path, suite: Path) -> None:
    data = Path(shutil.copytree(corpus, tmp_path / "corpus"))
    records = [  # half MBROLA, half espeak-ng, as the default corpus
        dataclasses.replace(r, licence=MBROLA_LICENCE, engine="mbrola")
        if i % 2
        else dataclasses.replace(r, licence="GPL-3.0-or-later", engine="espeak-ng")
        for i, r in enumerate(read_manifest(data / "manifest.jsonl"))
    ]
    write_manifest(records, data / "manifest.jsonl")
    teacher = _run(tmp_path / "teacher", "teacher-tiny", 10, 10, data)
    student = _run(tmp_path / "student", "student-vit-nano", 5, 5, data)
    recipe = tmp_path / "recipe.json"
    recipe.write_text('{"model": "teacher-tiny"}\n')
    record = build_record(
        teacher,
        student,
        data,
        [recipe],
        [("Held-out speakers", suite, _report(tmp_path / "b.json", "tiny", 0.80, 0.85))],
        [_report(tmp_path / "t.json", "tiny", 0.86, 0.88)],
    )
    assert record["git_commit"]
    assert record["recipes"] == {str(recipe): hashlib.sha256(recipe.read_bytes()).hexdigest()}
    runs = record["runs"]
    assert runs["teacher"]["model_config_sha256"] != runs["student"]["model_config_sha256"]
    assert (runs["teacher"]["steps"], runs["teacher"]["recipe_steps"]) == (10, 10)
    assert record["corpus"]["manifest_sha256"] == hashlib.sha256((data / "manifest.jsonl").read_bytes()).hexdigest()
    assert set(record["licences"]) == {MBROLA_LICENCE, "GPL-3.0-or-later"}
    assert record["licences"][MBROLA_LICENCE]["clips"] == 4
    (entry,) = record["suites"]
    assert entry["suite_sha256"] == suite_fingerprint(suite) and entry["student_gap_zero_shot"] == pytest.approx(0.06)
    text = record_section(record)
    assert "non-commercial use only" in text and "| 0.800 | 0.850 | 0.860 | +0.060 |" in text
    # One suite fingerprint: the record's is a result's suite_hash, and the record says how each hash is made.
    assert entry["suite_sha256"] == suite_hashes(suite)["suite_hash"]
    assert set(record["hash_formats"]) >= {"recipes", "model_config_sha256", "manifest_sha256", "suite_sha256"}


def test_suite_fingerprint_changes_with_the_clips(tmp_path: Path, suite: Path) -> None:
    copy = Path(shutil.copytree(suite, tmp_path / "s"))
    before = suite_fingerprint(copy)
    with (copy / "clips.jsonl").open("a") as handle:
        handle.write("\n")
    assert suite_fingerprint(copy) != before


def test_a_second_stage_student_names_its_first_stage_and_its_extra_data(
    tmp_path: Path, corpus: Path, suite: Path
) -> None:
    from slap_edge.export.card import training_section

    data = Path(shutil.copytree(corpus, tmp_path / "corpus"))
    real = Path(shutil.copytree(corpus, tmp_path / "real"))
    records = read_manifest(real / "manifest.jsonl")
    real_records = [
        dataclasses.replace(r, id=f"real-{r.id}", licence="GPL-2+", source="klettres", engine=None, split=split)
        for r, split in zip(records, ["train", "test"] * len(records), strict=False)
    ]
    write_manifest(real_records, real / "manifest.jsonl")
    teacher = _run(tmp_path / "teacher", "teacher-tiny", 10, 10, data)
    first = _run(tmp_path / "student", "student-vit-nano", 5, 5, data)
    second = _run(tmp_path / "student2", "student-vit-nano", 4, 4, real)
    init = {"init_from": str(first), "step": 5, "weights": "model.safetensors", "sha256": "ab" * 32}
    (second / "init.json").write_text(json.dumps(init))
    record = build_record(teacher, second, data, [], [], [])
    runs = record["runs"]
    assert list(runs) == ["teacher", "student", "student (stage 2 back)"]
    assert runs["student"]["init"] == {"step": 5, "weights": "model.safetensors", "sha256": "ab" * 32, "run": "student"}
    assert runs["student"]["data"]["name"] == "real" and "data" not in runs["student (stage 2 back)"]
    n_train = sum(r.split == "train" for r in real_records)
    assert record["licences"]["GPL-2+"]["clips"] == n_train > 0  # the real clips' train split only
    assert record["licences"]["GPL-2+"]["engines"] == ["klettres"]
    text = training_section(teacher, second, data, None)
    assert "started from run `student` (5 steps" in text and f"trained on `real` (train split {n_train} clips" in text


def test_a_soup_student_names_its_inputs(tmp_path: Path, corpus: Path) -> None:
    from slap_edge.export.card import training_section

    data = Path(shutil.copytree(corpus, tmp_path / "corpus"))
    teacher = _run(tmp_path / "teacher", "teacher-tiny", 10, 10, data)
    a = _run(tmp_path / "builtin", "student-vit-nano", 5, 5, data)
    (a / "from_bundle.json").write_text(
        json.dumps({"model_id": "student-vit-nano-aaaa", "bundle": "default", "teacher": "teachers/old"})
    )
    b = _run(tmp_path / "student2", "student-vit-nano", 4, 4, data)
    soup = _run(tmp_path / "soup", "student-vit-nano", 5, 5, data)
    runs = [{"run": str(a), "weight": 0.75, "weights_sha256": "0" * 64}, {"run": str(b), "weight": 0.25}]
    (soup / "soup.json").write_text(json.dumps({"runs": runs}))
    record = build_record(teacher, soup, data, [], [], [])
    assert list(record["runs"]) == [
        "teacher",
        "student",
        "student (soup input 1, weight 0.75)",
        "student (soup input 2, weight 0.25)",
    ]
    text = training_section(teacher, soup, data, None)
    assert "weight-space average" in text and "student-vit-nano-aaaa rebuilt from `default`" in text
    assert "`student2` (weight 0.25)" in text
