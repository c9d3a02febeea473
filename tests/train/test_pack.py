"""Packed runs: only the trained weights are stored, and the packed run loads to the same model, bit for bit."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from slap_edge.train.checkpoint import CheckpointError, load_run
from slap_edge.train.config import TrainRecipe
from slap_edge.train.pack import PACK_INFO_NAME, PACKED_NAME, PackError, main, pack_run
from slap_edge.train.trainer import train


@pytest.fixture(scope="module")
def finished_run(
    tone_corpus: Path, tmp_path_factory: pytest.TempPathFactory, short_recipe: Callable[..., TrainRecipe]
) -> Path:
    # The top MiniLM layer trains, as in teacher-small: the pack must store it and leave the frozen ones out.
    recipe = short_recipe("teacher-tiny", steps=3, model_overrides={"text": {"trainable_layers": 1}})
    root = tmp_path_factory.mktemp("pack")
    train(recipe, tone_corpus, root / "run", cache_dir=root / "cache", progress=False)
    return root / "run"


def test_packed_run_loads_to_the_same_weights(finished_run: Path, tmp_path: Path) -> None:
    info = pack_run(finished_run, tmp_path / "packed")
    packed = tmp_path / "packed"
    assert not (packed / "model.safetensors").exists() and (packed / PACKED_NAME).is_file()
    # The frozen MiniLM (about 22 M parameters) is left out; the trained top layer is kept.
    assert info["left_out"] > 0 and info["stored_parameters"] < 5_000_000
    assert (packed / PACKED_NAME).stat().st_size < (finished_run / "model.safetensors").stat().st_size / 4
    original, _ = load_run(finished_run)
    restored, config = load_run(packed)
    assert config.recipe.steps == 3
    a, b = original.state_dict(), restored.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    with torch.no_grad():
        assert torch.equal(original.encode_text(["a child speaking"]), restored.encode_text(["a child speaking"]))
    from safetensors.torch import load_file

    stored = load_file(str(packed / PACKED_NAME))
    layers = {k.split(".")[4] for k in stored if k.startswith("text_encoder.bert.encoder.layer.")}
    assert layers == {"5"}, layers  # MiniLM's top layer (of 6) trained; the other five come from the package


def test_pack_refuses_what_it_cannot_pack(finished_run: Path, tmp_path: Path) -> None:
    with pytest.raises(PackError, match="no model.safetensors"):
        pack_run(tmp_path, tmp_path / "x")
    (tmp_path / "exists").mkdir()
    with pytest.raises(PackError, match="exists; pack into a new folder"):
        pack_run(finished_run, tmp_path / "exists")
    cut = tmp_path / "cut"
    shutil.copytree(finished_run, cut)
    state = json.loads((cut / "state.json").read_text())
    (cut / "state.json").write_text(json.dumps(state | {"step": 2}))
    with pytest.raises(CheckpointError, match="trained 2 of its recipe's 3 steps"):
        pack_run(cut, tmp_path / "cut-packed")
    assert main([str(cut), str(tmp_path / "cut-packed")]) == 2


def test_packed_run_with_other_frozen_weights_is_refused(finished_run: Path, tmp_path: Path) -> None:
    packed = tmp_path / "packed"
    pack_run(finished_run, packed)
    info = json.loads((packed / PACK_INFO_NAME).read_text())
    (packed / PACK_INFO_NAME).write_text(json.dumps(info | {"left_out_sha256": "0" * 64}))
    with pytest.raises(CheckpointError, match="differ from the ones it was packed with"):
        load_run(packed)


def test_eval_takes_a_packed_run(finished_run: Path, tmp_path: Path) -> None:
    # `slap-edge eval --model train/checkpoints/default-teacher` scores the committed packed teacher as it is.
    import numpy as np

    from slap_edge.eval.embedders import load_embedding_source

    pack_run(finished_run, tmp_path / "packed")
    wave = np.random.default_rng(0).standard_normal((1, 16000)).astype(np.float32) * 0.1
    original, packed = load_embedding_source(finished_run), load_embedding_source(tmp_path / "packed")
    np.testing.assert_array_equal(original.embed_audio(wave), packed.embed_audio(wave))
    np.testing.assert_array_equal(original.embed_text(["a child speaking"]), packed.embed_text(["a child speaking"]))
    with pytest.raises(ValueError, match=r"a packed run \(state.json and trained.safetensors"):
        load_embedding_source(tmp_path)


def test_a_second_stage_keeps_its_start_when_packed(
    finished_run: Path,
    tone_corpus: Path,
    tmp_path: Path,
    short_recipe: Callable[..., TrainRecipe],
) -> None:
    # A run trained on from another keeps init.json in its packed form (a model card names the first stage from it);
    # --init-from restates the start as a folder with the same weights, and refuses one with other weights.
    recipe = short_recipe(
        "teacher-tiny", steps=2, model_overrides={"text": {"trainable_layers": 1}}, init_from=str(finished_run)
    )
    train(recipe, tone_corpus, tmp_path / "stage2", cache_dir=tmp_path / "cache", progress=False)
    original = json.loads((tmp_path / "stage2" / "init.json").read_text())
    pack_run(tmp_path / "stage2", tmp_path / "p-plain")
    assert json.loads((tmp_path / "p-plain" / "init.json").read_text()) == original
    pack_run(finished_run, tmp_path / "p-start")
    with pytest.raises(PackError, match="sha256"):  # a packed start stores other bytes than the run it came from
        pack_run(tmp_path / "stage2", tmp_path / "p-wrong", init_from=tmp_path / "p-start")
    assert not (tmp_path / "p-wrong").exists()
    copy = tmp_path / "start-copy"
    shutil.copytree(finished_run, copy)
    assert main([str(tmp_path / "stage2"), str(tmp_path / "p-moved"), "--init-from", str(copy)]) == 0
    moved = json.loads((tmp_path / "p-moved" / "init.json").read_text())
    assert moved["init_from"] == str(copy) and moved["restated_from"] == original["init_from"]
    assert moved["sha256"] == original["sha256"]
    with pytest.raises(PackError, match="no init.json"):
        pack_run(finished_run, tmp_path / "p-none", init_from=copy)
