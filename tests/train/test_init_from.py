"""A second stage starts from a finished run's weights (`init_from`): fresh optimiser, its own schedule, pinned."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from slap_edge.config import load_config
from slap_edge.train.checkpoint import CheckpointError, load_run
from slap_edge.train.config import TrainRecipe
from slap_edge.train.trainer import train

RECIPES = Path(__file__).resolve().parents[2] / "train" / "recipes"


def _recipe(**changes: object) -> TrainRecipe:
    base = load_config(TrainRecipe, RECIPES / "teacher-tiny.json")
    return dataclasses.replace(base, steps=2, batch_size=8, warmup_steps=1, checkpoint_every=2, **changes)


@pytest.fixture(scope="module")
def first_stage(tone_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("init")
    train(_recipe(), tone_corpus, root / "first", cache_dir=root / "cache", progress=False)
    return root / "first", root / "cache"


def test_second_stage_starts_from_the_first_stage_weights(
    first_stage: tuple[Path, Path], tone_corpus: Path, tmp_path: Path
) -> None:
    first, cache = first_stage
    # lr 1e-12: the second stage's two steps barely move the weights, so they must be the first stage's, not a
    # fresh initialisation (which differs everywhere by far more).
    recipe = _recipe(init_from=str(first), lr=1e-12)
    result = train(recipe, tone_corpus, tmp_path / "second", cache_dir=cache, progress=False)
    assert result.start_step == 0 and result.step == 2
    a, _ = load_run(first)
    b, config = load_run(tmp_path / "second")
    assert config.recipe.init_from == str(first)
    sa, sb = a.state_dict(), b.state_dict()
    trained = [k for k in sa if k.startswith("audio_encoder.") and sa[k].is_floating_point()]
    assert trained and max(float((sa[k] - sb[k]).abs().max()) for k in trained) < 1e-6
    fresh = _recipe(lr=1e-12)
    train(fresh, tone_corpus, tmp_path / "fresh", cache_dir=cache, progress=False)
    sc = load_run(tmp_path / "fresh")[0].state_dict()
    assert max(float((sa[k] - sc[k]).abs().max()) for k in trained) > 1e-3
    init = json.loads((tmp_path / "second" / "init.json").read_text())
    assert init["step"] == 2 and init["init_from"] == str(first.resolve()) and len(init["sha256"]) == 64


def test_init_from_refuses_an_unfinished_run_or_another_model(
    first_stage: tuple[Path, Path], tone_corpus: Path, tmp_path: Path
) -> None:
    first, cache = first_stage
    with pytest.raises(CheckpointError, match="not a run folder"):
        train(_recipe(init_from=str(tmp_path)), tone_corpus, tmp_path / "a", cache_dir=cache, progress=False)
    cut = tmp_path / "cut"
    shutil.copytree(first, cut)
    state = json.loads((cut / "state.json").read_text())
    (cut / "state.json").write_text(json.dumps(state | {"step": 1}))
    with pytest.raises(CheckpointError, match="trained 1 of its recipe's 2 steps"):
        train(_recipe(init_from=str(cut)), tone_corpus, tmp_path / "b", cache_dir=cache, progress=False)
    other = _recipe(init_from=str(first), model_overrides={"audio": {"depth": 1}})
    with pytest.raises(CheckpointError, match="model config differs from this recipe's in audio.depth"):
        train(other, tone_corpus, tmp_path / "c", cache_dir=cache, progress=False)
