"""A first-stage student carried from 64 to 128 mel filters, and to a 40 ms window (slap_edge.train.inflate_mels): the
carried run embeds as its source does, `distill --init-from` accepts it, and runs or recipes it cannot carry are
refused by name."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from slap_edge.train.checkpoint import check_run_complete, init_from_run, load_run
from slap_edge.train.inflate_mels import INFLATE_NAME, InflateError, check_carry, inflate_run, main, mel_mixing

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / "train" / "recipes"
DEMO = ROOT / "slap_edge" / "assets" / "demo" / "two_speakers.wav"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, rebuilt_first_stage_student: Path) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("carry")
    inflate_run(rebuilt_first_stage_student, RECIPES / "default-student-v3-128mel.json", base / "s128", DEMO)
    return rebuilt_first_stage_student, base / "s128"


def test_the_filter_shape_prior_mixes_new_filters_into_each_old_one() -> None:
    from slap_edge.models.registry import resolve_model_config

    old = resolve_model_config("student-vit-nano").frontend
    a, c, worst = mel_mixing(old, dataclasses.replace(old, n_mels=128))
    assert a.shape == (64, 128) and np.all(a >= 0)
    assert np.allclose(a.sum(axis=1), 1.0)
    # Each old filter draws on the new filters around its own centre (the mixing is local, in order).
    centres = (a * np.arange(128)).sum(axis=1)
    assert np.all(np.diff(centres) > 0) and np.all(np.abs(centres - (2 * np.arange(64) + 0.5)) < 3)
    assert worst < 0.2 and np.abs(c).max() < 0.2


def test_the_prior_compares_filters_across_window_lengths_on_a_frequency_grid() -> None:
    from slap_edge.frontend import analysis_window
    from slap_edge.models.registry import resolve_model_config

    old = resolve_model_config("student-vit-nano").frontend
    new = resolve_model_config("student-vit-nano-w40").frontend
    assert (new.win_length, new.n_fft, new.n_mels) == (640, 640, 128)
    a, c, worst = mel_mixing(old, new)
    assert a.shape == (64, 128) and np.all(a >= 0) and np.allclose(a.sum(axis=1), 1.0)
    centres = (a * np.arange(128)).sum(axis=1)
    assert np.all(np.diff(centres) > 0) and np.all(np.abs(centres - (2 * np.arange(64) + 0.5)) < 3)
    assert worst < 0.2
    # A flat spectrum's power per filter weight falls with the longer window (more energy, finer bins): the offset
    # carries it, about log(400 * 150 / (640 * 240)) / 4 = -0.235, where the same window's offsets stay near 0.
    gain = (analysis_window(old) ** 2).sum() * 400 / ((analysis_window(new) ** 2).sum() * 640)
    assert np.allclose(c.mean(), np.log(gain) / old.norm_std, atol=0.05)


def test_a_front_end_that_cannot_be_carried_is_named() -> None:
    from slap_edge.models.registry import resolve_model_config

    old = resolve_model_config("student-vit-nano").frontend
    new = resolve_model_config("student-vit-nano-w40").frontend
    check_carry(old, new, 48000)
    with pytest.raises(InflateError, match="hop_length"):
        check_carry(old, dataclasses.replace(new, hop_length=160))
    with pytest.raises(InflateError, match="must be at least"):
        check_carry(new, old)
    with pytest.raises(InflateError, match="the run's own"):
        check_carry(old, old)
    # A 1,024-point FFT gives 147 frames of a 3 s window where 400 points give 149: the position embeddings differ.
    with pytest.raises(InflateError, match="147 frames"):
        check_carry(old, dataclasses.replace(new, n_fft=1024), 48000)


@pytest.mark.slow  # the default run is near its 10 minutes; the prior and the refusals above are checked there
def test_a_student_carried_to_a_longer_window_embeds_as_its_source(
    rebuilt_first_stage_student: Path, tmp_path: Path
) -> None:
    from slap_edge.train.checkpoint import load_run

    out = tmp_path / "w40"
    record = inflate_run(rebuilt_first_stage_student, RECIPES / "default-student-v3-w40.json", out, DEMO)
    assert record["win_length"] == [400, 640] and record["n_fft"] == [400, 640] and record["n_mels"] == [64, 128]
    assert record["embedding_mean_cosine"] >= 0.95
    assert record["residuals"]["fit_rms_held_out"] < record["residuals"]["prior_rms_held_out"]
    _, config = load_run(out)
    assert config.model.frontend.win_length == 640 and config.model.audio.patch_size == (128, 4)


def test_the_carried_student_embeds_as_its_source_and_trains_on(runs: tuple[Path, Path]) -> None:
    import torch

    from slap_edge.eval.suite import read_audio
    from slap_edge.models.slap import SlapModel

    s64, s128 = runs
    step, steps = check_run_complete(s128)
    assert step == steps == 6000
    old, old_config = load_run(s64)
    new, new_config = load_run(s128)
    assert new_config.model.frontend.n_mels == 128 and new_config.model.audio.patch_size == (128, 4)
    assert old_config.model.frontend.n_mels == 64
    record = json.loads((s128 / INFLATE_NAME).read_text())
    assert record["embedding_mean_cosine"] >= 0.95
    assert record["residuals"]["fit_rms_held_out"] < record["residuals"]["prior_rms_held_out"]
    # The demo recording's last window (held out of the fit): both students hear it alike.
    wave = read_audio(DEMO, 16000)[-new_config.model.window_samples :]
    with torch.no_grad():
        x = torch.from_numpy(wave[None].astype(np.float32))
        e_old = torch.nn.functional.normalize(old.audio_export_module()(x), dim=-1)
        e_new = torch.nn.functional.normalize(new.audio_export_module()(x), dim=-1)
    assert float((e_old * e_new).sum()) > 0.95
    # Everything but the patch embedding is the source's, bit for bit.
    old_state, new_state = old.state_dict(), new.state_dict()
    changed = [k for k in old_state if k in new_state and not torch.equal(old_state[k], new_state[k])]
    assert changed and all("patch_embed" in k or "frontend" in k or "mel" in k for k in changed)
    # A second stage can start from it (what `distill --init-from` calls).
    init = init_from_run(SlapModel(new_config.model), s128)
    assert init["step"] == 6000


def test_what_cannot_be_carried_is_refused(runs: tuple[Path, Path], tmp_path: Path) -> None:
    s64, s128 = runs
    with pytest.raises(InflateError, match="exists and is not empty"):
        inflate_run(s64, RECIPES / "default-student-v3-128mel.json", s128, DEMO)
    wide = json.loads((RECIPES / "default-student-v3-128mel.json").read_text())
    wide["model_overrides"] = {"audio": {"width": 128}}
    (tmp_path / "wide.json").write_text(json.dumps(wide))
    with pytest.raises(InflateError, match=r"frontend\.n_mels and audio\.patch_size and .* may change"):
        inflate_run(s64, tmp_path / "wide.json", tmp_path / "a", DEMO)
    same = json.loads((RECIPES / "default-student-v3.json").read_text())
    (tmp_path / "same.json").write_text(json.dumps(same))
    with pytest.raises(InflateError, match="the run's own"):
        inflate_run(s64, tmp_path / "same.json", tmp_path / "b", DEMO)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InflateError, match="a folder without manifest.jsonl"):
        inflate_run(s64, RECIPES / "default-student-v3-128mel.json", tmp_path / "c", tmp_path / "empty")
    args = [
        str(s64),
        "--recipe",
        str(RECIPES / "default-student-v3-128mel.json"),
        "--fit-data",
        str(tmp_path / "empty"),
    ]
    assert main([*args, "--out", str(tmp_path / "d")]) == 1
