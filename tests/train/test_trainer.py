"""The trainer end to end on the tiny tone corpus: it learns, resumes exactly, refuses bad resumes, skips and counts
unreadable clips, and stops cleanly on a non-finite loss."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from slap_edge.config import ConfigError, load_config
from slap_edge.data.manifest import read_manifest, write_manifest
from slap_edge.eval.embedders import run_source
from slap_edge.eval.runner import caption_retrieval, evaluate_suite
from slap_edge.eval.suite import load_suite
from slap_edge.train.checkpoint import CheckpointError, check_run_complete, load_run, read_state
from slap_edge.train.config import TrainRecipe
from slap_edge.train.data import CorpusError
from slap_edge.train.losses import contrastive_loss
from slap_edge.train.tasks import register_task
from slap_edge.train.trainer import TrainingError, cpu_has_native_bf16, lr_at, train, use_bf16_autocast

RECIPES = Path(__file__).resolve().parents[2] / "train" / "recipes"


def tiny_recipe(**changes: Any) -> TrainRecipe:
    return dataclasses.replace(load_config(TrainRecipe, RECIPES / "teacher-tiny.json"), **changes)


def losses(run: Path) -> dict[int, float]:
    with (run / "metrics.csv").open() as handle:
        return {int(r["step"]): float(r["loss"]) for r in csv.DictReader(handle)}


def test_recipes_parse() -> None:
    for path in RECIPES.glob("*.json"):
        load_config(TrainRecipe, path)


def test_lr_schedule() -> None:
    recipe = tiny_recipe(lr=1.0, warmup_steps=10, steps=110, min_lr_ratio=0.1)
    assert lr_at(5, recipe) == pytest.approx(0.5)
    assert lr_at(10, recipe) == pytest.approx(1.0)
    assert lr_at(60, recipe) == pytest.approx(0.1 + 0.9 * 0.5)
    assert lr_at(110, recipe) == pytest.approx(0.1)


def test_teacher_tiny_learns_and_beats_chance_zero_shot(tone_corpus: Path, tone_suite: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    result = train(tiny_recipe(steps=40), tone_corpus, run, cache_dir=tmp_path / "cache", progress=False)
    assert result.step == 40 and result.bad_clips == 0
    curve = losses(run)
    first, last = [curve[s] for s in range(1, 6)], [curve[s] for s in range(36, 41)]
    assert sum(last) / 5 < sum(first) / 5 - 0.2, curve
    report = evaluate_suite(load_suite(tone_suite), run_source(run), probe=False)
    assert report["unreadable"]["count"] == 0
    assert report["zero_shot"]["mean_macro_f1"] > 0.7, report
    retrieval = caption_retrieval(tone_corpus, run_source(run), split="val")
    assert retrieval["n_clips"] == 32 and not retrieval["unreadable"]
    # Captions describe the speaker; 4 attribute sets among 32 clips make chance at rank 1 about 1/4.
    assert retrieval["attribute_recall@1"] > 0.4 and retrieval["recall@5"] >= retrieval["recall@1"]
    model, config = load_run(run)
    assert config.recipe.steps == 40 and model.config.name == "teacher-tiny"


def test_resume_repeats_the_uninterrupted_losses(tone_corpus: Path, tmp_path: Path) -> None:
    recipe = tiny_recipe(steps=8, checkpoint_every=4, batch_size=8, warmup_steps=2)
    cache = tmp_path / "cache"
    train(recipe, tone_corpus, tmp_path / "whole", cache_dir=cache, progress=False)
    train(recipe, tone_corpus, tmp_path / "pieces", cache_dir=cache, progress=False, max_steps=4)
    assert read_state(tmp_path / "pieces")["step"] == 4
    result = train(recipe, tone_corpus, tmp_path / "pieces", cache_dir=cache, progress=False, resume=True)
    assert result.start_step == 4 and result.step == 8
    whole, pieces = losses(tmp_path / "whole"), losses(tmp_path / "pieces")
    assert sorted(pieces) == list(range(1, 9))
    for step in range(1, 9):
        # Equal up to float rounding (a cached text vector may come from a differently padded batch).
        assert pieces[step] == pytest.approx(whole[step], rel=1e-4, abs=1e-5), (step, whole, pieces)

    with pytest.raises(CheckpointError, match=r"lr \(0\.002 -> 0\.01\)"):
        train(
            dataclasses.replace(recipe, lr=0.01),
            tone_corpus,
            tmp_path / "pieces",
            cache_dir=cache,
            progress=False,
            resume=True,
        )
    with pytest.raises(CheckpointError, match="--resume"):
        train(recipe, tone_corpus, tmp_path / "pieces", cache_dir=cache, progress=False)


def test_max_minutes_stops_with_a_checkpoint_and_resumes(tone_corpus: Path, tmp_path: Path) -> None:
    recipe = tiny_recipe(steps=8, checkpoint_every=100, batch_size=8, warmup_steps=2)
    cache = tmp_path / "cache"
    # A budget any step overruns: the run stops after its first step, with a checkpoint there.
    result = train(recipe, tone_corpus, tmp_path / "run", cache_dir=cache, progress=False, max_minutes=1e-6)
    assert result.step == 1 and read_state(tmp_path / "run")["step"] == 1
    assert sorted(losses(tmp_path / "run")) == [1]
    # A run cut short is not the recipe's model: distill and export refuse it unless told otherwise.
    with pytest.raises(CheckpointError, match="trained 1 of its recipe's 8 steps"):
        check_run_complete(tmp_path / "run")
    assert check_run_complete(tmp_path / "run", allow_partial=True) == (1, 8)
    result = train(recipe, tone_corpus, tmp_path / "run", cache_dir=cache, progress=False, resume=True)
    assert result.start_step == 1 and result.step == 8
    assert check_run_complete(tmp_path / "run") == (8, 8)
    with pytest.raises(ValueError, match="max_minutes"):
        train(recipe, tone_corpus, tmp_path / "other", cache_dir=cache, progress=False, max_minutes=0)


def _corrupt(corpus: Path, dest: Path, n_bad: int) -> Path:
    shutil.copytree(corpus, dest, ignore=shutil.ignore_patterns(".cache"))
    records = read_manifest(dest)
    for record in [r for r in records if r.split == "train"][:n_bad]:
        (dest / record.path).write_bytes(b"not a wav file")
    write_manifest(records, dest / "manifest.jsonl")
    return dest


def test_unreadable_clips_are_skipped_and_counted(tone_corpus: Path, tmp_path: Path) -> None:
    data = _corrupt(tone_corpus, tmp_path / "one-bad", 1)  # 1 of 160: under the 1 % limit
    result = train(tiny_recipe(steps=2, batch_size=8), data, tmp_path / "run", progress=False)
    assert result.bad_clips == 1 and read_state(tmp_path / "run")["bad_clips"] == 1
    data = _corrupt(tone_corpus, tmp_path / "many-bad", 5)
    with pytest.raises(CorpusError, match=r"5 of 160 clips .* cannot be read.*not readable as audio"):
        train(tiny_recipe(steps=2, batch_size=8), data, tmp_path / "run2", progress=False)


@register_task("test_nan_after_3")
def _nan_task(options: dict, model_config: Any, device: torch.device) -> Any:
    calls = {"n": 0}

    def task(model: torch.nn.Module, batch: dict) -> dict[str, torch.Tensor]:
        calls["n"] += 1
        out = model(audio=batch["audio"], texts=batch["captions"])
        loss = contrastive_loss(out["audio_emb"], out["text_emb"], out["logit_scale"])
        return {"contrastive_loss": loss * (math.nan if calls["n"] > 3 else 1.0)}

    return task


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tone_corpus: Path, tmp_path: Path) -> None:
    recipe = tiny_recipe(task="test_nan_after_3", task_options={}, steps=10, checkpoint_every=2, batch_size=8)
    run = tmp_path / "run"
    with pytest.raises(TrainingError, match=r"non-finite loss at step 4 .*last good checkpoint \(step 2\)"):
        train(recipe, tone_corpus, run, cache_dir=tmp_path / "cache", progress=False)
    assert read_state(run)["step"] == 2
    load_run(run)  # still a whole, loadable checkpoint
    assert json.loads((run / "config.json").read_text())["recipe"]["task"] == "test_nan_after_3"


def test_cli_names_known_models_for_an_unknown_one(tone_corpus: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from slap_edge.cli import app

    recipe = json.loads((RECIPES / "teacher-tiny.json").read_text()) | {"model": "teacher-huge"}
    (tmp_path / "r.json").write_text(json.dumps(recipe))
    args = ["train", "--recipe", str(tmp_path / "r.json"), "--data", str(tone_corpus), "--out", str(tmp_path / "o")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert "unknown model 'teacher-huge'" in result.output and "teacher-small" in result.output


def test_bf16_autocast_path_trains(tone_corpus: Path, tmp_path: Path) -> None:
    # The default on CUDA and on CPUs with native bf16 (precision "auto"); the tiny recipes pin fp32 so that tests
    # behave the same on every CPU, so this runs the bf16 path (MAE scatter etc.) explicitly.
    recipe = tiny_recipe(steps=2, batch_size=4, precision="bf16", checkpoint_every=2)
    result = train(recipe, tone_corpus, tmp_path / "run", cache_dir=tmp_path / "cache", progress=False)
    assert result.step == 2 and math.isfinite(result.loss)


def test_auto_precision_follows_the_cpu_flags(tmp_path: Path) -> None:
    with_bf16 = tmp_path / "zen4"
    with_bf16.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16 avx512_vnni\n\n")
    with_amx = tmp_path / "sapphire"
    with_amx.write_text("flags\t\t: fpu avx512f amx_tile amx_bf16\n")
    without = tmp_path / "skylake"
    without.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512bw\n")
    assert cpu_has_native_bf16(with_bf16) and cpu_has_native_bf16(with_amx)
    assert not cpu_has_native_bf16(without) and not cpu_has_native_bf16(tmp_path / "missing")
    assert use_bf16_autocast("auto", "cpu", with_bf16) and not use_bf16_autocast("auto", "cpu", without)
    assert use_bf16_autocast("auto", "cuda", without)
    assert not use_bf16_autocast("fp32", "cuda", with_bf16) and use_bf16_autocast("bf16", "cpu", without)


def test_precomputed_log_mel_trains_resumes_and_is_recorded(tone_corpus: Path, tmp_path: Path) -> None:
    # Its frames equal the front end's (tests/train/test_data.py); here: the trainer runs on it, resumes exactly,
    # records the time it took, and refuses tasks that need the waveform.
    recipe = tiny_recipe(steps=6, batch_size=8, warmup_steps=2, checkpoint_every=3, precompute_log_mel=True)
    cache = tmp_path / "cache"
    result = train(recipe, tone_corpus, tmp_path / "whole", cache_dir=cache, progress=False)
    assert result.step == 6 and math.isfinite(result.loss)
    state = read_state(tmp_path / "whole")
    assert state["log_mel_s"] > 0
    train(recipe, tone_corpus, tmp_path / "pieces", cache_dir=cache, progress=False, max_steps=3)
    train(recipe, tone_corpus, tmp_path / "pieces", cache_dir=cache, progress=False, resume=True)
    whole, pieces = losses(tmp_path / "whole"), losses(tmp_path / "pieces")
    for step in range(1, 7):
        assert pieces[step] == pytest.approx(whole[step], rel=1e-4, abs=1e-5), (step, whole, pieces)
    with pytest.raises(ConfigError, match="precompute_log_mel works with task 'contrastive_mae' only"):
        train(dataclasses.replace(recipe, task="distill"), tone_corpus, tmp_path / "d", cache_dir=cache, progress=False)


def test_resuming_a_finished_run_returns_at_once(tone_corpus: Path, tmp_path: Path) -> None:
    recipe = tiny_recipe(steps=2, batch_size=4, checkpoint_every=2)
    run = tmp_path / "run"
    first = train(recipe, tone_corpus, run, cache_dir=tmp_path / "cache", progress=False)
    metrics = (run / "metrics.csv").read_text()
    shutil.rmtree(tmp_path / "cache")
    again = train(recipe, tone_corpus, run, cache_dir=tmp_path / "cache", progress=False, resume=True)
    assert (again.start_step, again.step, again.n_clips) == (2, 2, 0)
    assert again.loss == pytest.approx(first.loss)
    assert not (tmp_path / "cache").exists()  # nothing was decoded or computed
    assert (run / "metrics.csv").read_text() == metrics
