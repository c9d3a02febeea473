"""A student's run folder rebuilt from a bundle's float32 graph (the third build's, committed as the chain's first-stage
student, train/checkpoints/default-student-v3): exact, trainable on, and refused when the recipe or the teacher is not
the bundle's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from slap_edge.train.checkpoint import check_run_complete, load_run
from slap_edge.train.from_bundle import FROM_BUNDLE_NAME, FromBundleError, main, rebuild_student

ROOT = Path(__file__).resolve().parents[2]
TEACHER = ROOT / "train" / "checkpoints" / "default-teacher-merged"
STUDENT_V3 = ROOT / "train" / "checkpoints" / "default-student-v3"
RECIPES = ROOT / "train" / "recipes"


@pytest.fixture(scope="module")
def rebuilt(rebuilt_first_stage_student: Path) -> Path:
    return rebuilt_first_stage_student  # tests/train/conftest.py: rebuild_student of STUDENT_V3 with TEACHER


def test_the_rebuilt_student_embeds_exactly_as_the_bundle_and_is_a_finished_run(rebuilt: Path) -> None:
    import onnxruntime as ort
    import torch

    step, steps = check_run_complete(rebuilt)  # `distill --init-from` accepts it
    assert step == steps == 6000
    model, config = load_run(rebuilt)
    assert config.recipe.task == "distill" and (rebuilt / FROM_BUNDLE_NAME).is_file()
    rng = np.random.default_rng(1)
    wave = (0.1 * rng.standard_normal((2, config.model.window_samples))).astype(np.float32)
    with torch.no_grad():
        ours = model.audio_export_module()(torch.from_numpy(wave)).numpy()
    session = ort.InferenceSession(str(STUDENT_V3 / "audio_fp32.onnx"), providers=["CPUExecutionProvider"])
    theirs = session.run(None, {session.get_inputs()[0].name: wave})[0]
    assert np.abs(ours - theirs).max() < 1e-5
    # The text tower is the teacher's, as distillation leaves it, with its settings (as `distill` records them).
    teacher, teacher_config = load_run(TEACHER)
    assert config.model.text == teacher_config.model.text
    with torch.no_grad():
        assert torch.allclose(model.encode_text(["a child speaking"]), teacher.encode_text(["a child speaking"]))


def test_another_recipe_or_a_used_folder_is_refused(rebuilt: Path, tmp_path: Path) -> None:
    bundle = STUDENT_V3
    with pytest.raises(FromBundleError, match="only a distilled student can be rebuilt"):
        rebuild_student(bundle, TEACHER, RECIPES / "teacher-small.json", tmp_path / "a")
    with pytest.raises(
        FromBundleError, match=r"audio_fp32\.onnx: .*(the recipe's model has|expected one|not this model's)"
    ):
        rebuild_student(bundle, TEACHER, RECIPES / "student-vit-tiny.json", tmp_path / "b")
    with pytest.raises(FromBundleError, match="exists and is not empty"):
        rebuild_student(bundle, TEACHER, RECIPES / "default-student-v3.json", rebuilt)
    with pytest.raises(FromBundleError, match="not a bundle with a float32 audio graph"):
        rebuild_student(tmp_path, TEACHER, RECIPES / "default-student-v3.json", tmp_path / "c")
    assert main([str(tmp_path), "--teacher", str(TEACHER), "--recipe", "x.json", "--out", str(tmp_path / "d")]) == 1
