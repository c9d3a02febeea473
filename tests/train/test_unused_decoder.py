"""Names keep their meaning: a run builds no MAE decoder its task never uses (``mae_weight`` 0, distillation), while
the registry name still means the config with one; run folders written before this (which hold the unused decoder's
weights) still load, resume, distil and export as they did; and no recipe changes a registry name's architecture."""

from __future__ import annotations

import csv
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors import safe_open

import slap_edge.train.trainer as trainer_module
from slap_edge.config import load_config
from slap_edge.models.config import ModelConfig
from slap_edge.models.registry import get_model_config, resolve_model_config
from slap_edge.train.checkpoint import load_run, read_run_config, read_state
from slap_edge.train.config import TrainRecipe
from slap_edge.train.tasks import drops_only_the_unused_decoder, trained_model_config
from slap_edge.train.trainer import train

RECIPES = Path(__file__).resolve().parents[2] / "train" / "recipes"


def tiny_recipe(**changes: Any) -> TrainRecipe:
    return dataclasses.replace(load_config(TrainRecipe, RECIPES / "teacher-tiny.json"), **changes)


def weight_names(run: Path) -> list[str]:
    with safe_open(str(run / "model.safetensors"), framework="pt") as handle:
        return list(handle.keys())


def losses(run: Path) -> dict[int, float]:
    with (run / "metrics.csv").open() as handle:
        return {int(r["step"]): float(r["loss"]) for r in csv.DictReader(handle)}


def test_the_task_decides_whether_the_decoder_is_built() -> None:
    registry = get_model_config("teacher-small-v16")
    assert registry.mae.enabled  # the registry name means what it meant: the config with a decoder
    without = trained_model_config("contrastive_mae", {"mae_weight": 0.0, "attribute_weight": 0.5}, registry)
    assert without.name == registry.name and not without.mae.enabled and not without.uses_mae
    assert dataclasses.replace(without, mae=registry.mae) == registry  # nothing else differs
    assert trained_model_config("contrastive_mae", {"mae_weight": 0.25}, registry) == registry
    assert trained_model_config("contrastive_mae", {}, registry) == registry  # the default weight is 0.25
    assert not trained_model_config("distill", {"teacher": "t"}, get_model_config("teacher-tiny")).mae.enabled
    assert trained_model_config("my_task", {}, registry) == registry  # tasks it does not know keep the config
    assert drops_only_the_unused_decoder(registry, without)
    assert not drops_only_the_unused_decoder(registry, registry)
    other = dataclasses.replace(without, embed_dim=128)
    assert not drops_only_the_unused_decoder(registry, other)


def test_mae_weight_zero_trains_and_saves_no_decoder(tone_corpus: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    recipe = tiny_recipe(steps=2, batch_size=8, warmup_steps=1, task_options={"mae_weight": 0.0})
    train(recipe, tone_corpus, run, cache_dir=tmp_path / "cache", progress=False)
    recorded = json.loads((run / "config.json").read_text())["model"]
    assert recorded["name"] == "teacher-tiny" and recorded["mae"]["enabled"] is False
    names = weight_names(run)
    assert names and not [n for n in names if n.startswith("mae_decoder")]
    model, _ = load_run(run)
    assert model.mae_decoder is None and model.config.name == "teacher-tiny"


def test_a_run_written_before_the_change_loads_resumes_distils_and_exports(
    tone_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, short_recipe: Callable[..., TrainRecipe]
) -> None:
    """The trainer before `trained_model_config` built the registry config as it is: the same trainer with that one
    step left out writes such a run folder (decoder weights saved, ``mae.enabled: true`` with ``mae_weight`` 0)."""
    recipe = tiny_recipe(steps=4, batch_size=8, warmup_steps=1, checkpoint_every=2, task_options={"mae_weight": 0.0})
    cache = tmp_path / "cache"

    def as_before(task: str, options: dict[str, Any], config: ModelConfig) -> ModelConfig:
        return config

    with monkeypatch.context() as patch:
        patch.setattr(trainer_module, "trained_model_config", as_before)
        train(recipe, tone_corpus, tmp_path / "whole", cache_dir=cache, progress=False)
        train(recipe, tone_corpus, tmp_path / "old", cache_dir=cache, progress=False, max_steps=2)
    old = tmp_path / "old"
    assert read_run_config(old).model.mae.enabled
    assert [n for n in weight_names(old) if n.startswith("mae_decoder")]

    # Loads with its decoder, as before.
    model, config = load_run(old)
    assert model.mae_decoder is not None and config.model == get_model_config("teacher-tiny")
    # Resumes under today's code with its recorded config, and trains on exactly as the old code would have.
    result = train(recipe, tone_corpus, old, cache_dir=cache, progress=False, resume=True)
    assert result.start_step == 2 and result.step == 4
    assert read_run_config(old).model.mae.enabled and read_state(old)["step"] == 4
    whole, pieces = losses(tmp_path / "whole"), losses(old)
    for step in range(1, 5):
        assert pieces[step] == pytest.approx(whole[step], rel=1e-4, abs=1e-5), (step, whole, pieces)

    # Distils: the student (no decoder either way) learns from the old teacher.
    student_recipe = short_recipe(
        "student-vit-tiny",
        task_options={"teacher": str(old), "cosine_weight": 1.0, "kd_weight": 1.0, "temperature": 2.0},
    )
    result = train(student_recipe, tone_corpus, tmp_path / "student", cache_dir=cache, progress=False)
    assert result.step == 2 and torch.isfinite(torch.tensor(result.loss))

    # Exports: the bundle's audio tower is the run's, checked against PyTorch by the writer itself.
    from slap_edge.bundle_reader import load_bundle
    from slap_edge.export.bundle_writer import export_bundle

    report = export_bundle(old, tmp_path / "bundle")
    assert report.audio_fp32.min_cosine > 0.999
    assert load_bundle(tmp_path / "bundle").model_name == "teacher-tiny"


def test_recipes_name_registry_configs_without_changing_their_architecture() -> None:
    """A recipe of train/recipes/ names a registry config and trains it as it is: a variant (attribute heads, other
    sizes) is a new registry name, never an override of an existing one, so a name in a result or a bundle keeps
    its meaning. (`slap-edge distill` alone sets the student's text settings to the teacher's, because the student
    takes over the teacher's text tower, weights included: that tower is the teacher's, whatever the name says.)"""
    overridden = {}
    for path in sorted(RECIPES.glob("*.json")):
        recipe = load_config(TrainRecipe, path)
        if recipe.model_overrides or resolve_model_config(recipe.model) != get_model_config(recipe.model):
            overridden[path.name] = recipe.model_overrides
    assert not overridden, (
        f"recipes overriding the architecture of a registry name: {overridden}; add a model config under "
        "slap_edge/models/configs/ with a new name and name it in the recipe instead"
    )
