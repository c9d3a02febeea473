"""A first-stage student grown by a block (slap_edge.train.deepen): the deeper run embeds exactly as its source does,
its new block learns from the first steps, `distill --init-from` accepts it, and what cannot be grown is refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from slap_edge.train.checkpoint import check_run_complete, init_from_run, load_run
from slap_edge.train.deepen import DEEPEN_NAME, DeepenError, deepen_run, main

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / "train" / "recipes"
DEMO = ROOT / "slap_edge" / "assets" / "demo" / "two_speakers.wav"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, rebuilt_first_stage_student: Path) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("deepen")
    deepen_run(rebuilt_first_stage_student, RECIPES / "default-student-v3-d4.json", base / "d4", DEMO)
    return rebuilt_first_stage_student, base / "d4"


def test_the_deeper_student_embeds_as_its_source_and_trains_on(runs: tuple[Path, Path]) -> None:
    import torch

    from slap_edge.eval.suite import read_audio
    from slap_edge.models.slap import SlapModel

    d3, d4 = runs
    assert check_run_complete(d4) == (6000, 6000)
    old, old_config = load_run(d3)
    new, new_config = load_run(d4)
    assert (old_config.model.audio.depth, new_config.model.audio.depth) == (3, 4)
    record = json.loads((d4 / DEEPEN_NAME).read_text())
    assert record["depth"] == [3, 4] and len(record["zeroed"]) == 4
    assert all(v["mean_cosine"] > 0.9999 for v in record["embedding_agreement"].values())
    # The demo recording, window by window: the same embeddings (the new block adds exactly zero).
    wave = read_audio(DEMO, 16000)
    n = new_config.model.window_samples
    x = torch.from_numpy(np.stack([wave[i : i + n] for i in range(0, len(wave) - n, n)]).astype(np.float32))
    with torch.no_grad():
        assert torch.allclose(old.audio_export_module()(x), new.audio_export_module()(x), atol=1e-5)
    # Every source weight is copied bit for bit; the new block's branch outputs are zero, its other weights are not.
    old_state, new_state = old.state_dict(), new.state_dict()
    assert all(torch.equal(v, new_state[k]) for k, v in old_state.items())
    added = {k: v for k, v in new_state.items() if k not in old_state}
    assert added and all(".blocks.3." in k for k in added)
    assert all(not v.any() for k, v in added.items() if k.endswith(("attn.proj.weight", "mlp.fc2.weight")))
    assert added["audio_encoder.vit.blocks.3.attn.qkv.weight"].abs().sum() > 0
    # One gradient step moves the new block's branch output (it is not a dead block).
    new.train()
    loss = new.audio_export_module()(x[:2]).pow(2).sum()
    loss.backward()
    grad = new.audio_encoder.vit.blocks[3].mlp.fc2.weight.grad
    assert grad is not None and grad.abs().sum() > 0
    # A second stage can start from it (what `distill --init-from` calls).
    assert init_from_run(SlapModel(new_config.model), d4)["step"] == 6000


def test_what_cannot_be_grown_is_refused(runs: tuple[Path, Path], tmp_path: Path) -> None:
    d3, d4 = runs
    with pytest.raises(DeepenError, match="exists and is not empty"):
        deepen_run(d3, RECIPES / "default-student-v3-d4.json", d4)
    wide = json.loads((RECIPES / "default-student-v3-d4.json").read_text())
    wide["model_overrides"] = {"audio": {"width": 128}}
    (tmp_path / "wide.json").write_text(json.dumps(wide))
    with pytest.raises(DeepenError, match=r"only the name and audio\.depth may change"):
        deepen_run(d3, tmp_path / "wide.json", tmp_path / "a")
    with pytest.raises(DeepenError, match="must exceed"):
        deepen_run(d4, RECIPES / "default-student-v3-d4.json", tmp_path / "b")
    assert main([str(d3), "--recipe", str(tmp_path / "wide.json"), "--out", str(tmp_path / "c")]) == 1
    assert not (tmp_path / "c").exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="--check-data .*a folder without manifest.jsonl"):
        deepen_run(d3, RECIPES / "default-student-v3-d4.json", tmp_path / "d", tmp_path / "empty")
    assert not (tmp_path / "d").exists()
