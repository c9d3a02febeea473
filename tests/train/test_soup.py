"""Model soups: the average of finished runs of one model is a finished run with the averaged weights."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from slap_edge.train.checkpoint import load_run
from slap_edge.train.config import TrainRecipe
from slap_edge.train.soup import SOUP_NAME, SoupError, main, soup
from slap_edge.train.trainer import train


@pytest.fixture(scope="module")
def two_runs(
    tone_corpus: Path, tmp_path_factory: pytest.TempPathFactory, short_recipe: Callable[..., TrainRecipe]
) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("soup")
    for seed in (1, 2):
        recipe = short_recipe("teacher-tiny", steps=2, seed=seed)
        train(recipe, tone_corpus, root / f"run{seed}", cache_dir=root / "cache", progress=False)
    return root / "run1", root / "run2"


def test_soup_averages_every_float_weight(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = two_runs
    info = soup([a, b], [0.25, 0.75], tmp_path / "soup")
    averaged, config = load_run(tmp_path / "soup")
    sa, sb, ss = load_run(a)[0].state_dict(), load_run(b)[0].state_dict(), averaged.state_dict()
    differing = [k for k in sa if sa[k].is_floating_point() and not torch.equal(sa[k], sb[k])]
    assert differing, "the two seeds should train different weights"
    for k in sa:
        if sa[k].is_floating_point():
            expected = (0.25 * sa[k].double() + 0.75 * sb[k].double()).to(sa[k].dtype)
            assert torch.allclose(ss[k], expected, atol=1e-7), k
        else:
            assert torch.equal(ss[k], sa[k]), k
    assert config.recipe.steps == 2
    recorded = json.loads((tmp_path / "soup" / SOUP_NAME).read_text())
    assert recorded == info and [r["weight"] for r in recorded["runs"]] == [0.25, 0.75]
    assert all(len(r["weights_sha256"]) == 64 for r in recorded["runs"])


def test_soup_refuses_what_it_cannot_average(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = two_runs
    with pytest.raises(SoupError, match="sum to 1"):
        soup([a, b], [0.5, 0.6], tmp_path / "x")
    with pytest.raises(SoupError, match="two or more runs"):
        soup([a], [1.0], tmp_path / "x")
    cut = tmp_path / "cut"
    shutil.copytree(b, cut)
    state = json.loads((cut / "state.json").read_text())
    (cut / "state.json").write_text(json.dumps(state | {"step": 1}))
    with pytest.raises(SoupError, match="trained 1 of its recipe's 2 steps"):
        soup([a, cut], [0.5, 0.5], tmp_path / "x")
    (tmp_path / "exists").mkdir()
    with pytest.raises(SoupError, match="exists; choose another --out"):
        soup([a, b], [0.5, 0.5], tmp_path / "exists")
    assert not (tmp_path / "x").exists()
    assert main([str(a), str(cut), "--out", str(tmp_path / "y")]) == 2
