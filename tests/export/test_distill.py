"""The distillation task: its loss maths (fast) and a whole teacher -> student -> bundle run (slow)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from slap_edge.config import ConfigError, from_dict
from slap_edge.data.manifest import ATTRIBUTE_VALUES
from slap_edge.train.distill import (
    BANK_ATTRIBUTES,
    DistillOptions,
    bank_kd_loss,
    caption_bank,
    distill_kd_loss,
    head_kd_loss,
)


def _unit(*shape: int, seed: int) -> torch.Tensor:
    return F.normalize(torch.randn(*shape, generator=torch.Generator().manual_seed(seed)), dim=-1)


def test_kd_loss_is_smallest_when_the_student_copies_the_teacher() -> None:
    teacher, text = _unit(6, 16, seed=0), _unit(4, 16, seed=1)
    scale, temperature = 20.0, 2.0
    at_teacher = distill_kd_loss(teacher, teacher, text, scale, temperature)
    # Cross-entropy against itself is the teacher's entropy (times T^2): the floor of the loss.
    p = F.softmax(scale / temperature * teacher @ text.T, dim=-1)
    entropy = -(p * p.log()).sum(-1).mean() * temperature**2
    assert math.isclose(at_teacher.item(), entropy.item(), rel_tol=1e-5)
    other = distill_kd_loss(_unit(6, 16, seed=2), teacher, text, scale, temperature)
    assert other.item() > at_teacher.item()


def test_kd_loss_gradient_moves_student_towards_teacher() -> None:
    teacher, text = _unit(4, 8, seed=3), _unit(5, 8, seed=4)
    student = _unit(4, 8, seed=5).requires_grad_(True)
    before = distill_kd_loss(student, teacher, text, 10.0, 1.0)
    before.backward()
    with torch.no_grad():
        stepped = F.normalize(student - 0.05 * student.grad, dim=-1)
    assert distill_kd_loss(stepped, teacher, text, 10.0, 1.0).item() < before.item()


def _heads(dim: int, seed: int) -> torch.nn.ModuleDict:
    torch.manual_seed(seed)
    heads = torch.nn.ModuleDict({"sex": torch.nn.Linear(dim, 2), "quality": torch.nn.Linear(dim, 6)})
    with torch.no_grad():  # logits of a few units, as a trained head gives on unit vectors
        for head in heads.values():
            head.weight.mul_(20.0)
    return heads.requires_grad_(False)


def test_head_kd_loss_is_smallest_at_the_teacher_and_pulls_the_student_there() -> None:
    heads = _heads(8, seed=6)
    teacher, temperature = _unit(5, 8, seed=7), 2.0
    at_teacher = head_kd_loss(teacher, teacher, heads, temperature)
    # At the teacher the loss is the mean entropy of the heads' distributions (times T^2).
    entropy = 0.0
    for head in heads.values():
        p = F.softmax(head(teacher) / temperature, dim=-1)
        entropy += -(p * p.log()).sum(-1).mean().item()
    assert math.isclose(at_teacher.item(), entropy / len(heads) * temperature**2, rel_tol=1e-5)
    student = _unit(5, 8, seed=8).requires_grad_(True)
    before = head_kd_loss(student, teacher, heads, temperature)
    assert before.item() > at_teacher.item()
    before.backward()
    assert all(p.grad is None for p in heads.parameters())  # the teacher's heads stay as they are
    with torch.no_grad():
        stepped = F.normalize(student - 0.01 * student.grad, dim=-1)
    assert head_kd_loss(stepped, teacher, heads, temperature).item() < before.item()
    with pytest.raises(ValueError, match="at least one head"):
        head_kd_loss(student, teacher, torch.nn.ModuleDict(), temperature)


def test_bank_kd_loss_is_smallest_at_the_teacher_and_pulls_the_student_there() -> None:
    bank = [_unit(2, 8, seed=9), _unit(6, 8, seed=10)]
    teacher, scale, temperature = _unit(5, 8, seed=11), 20.0, 2.0
    at_teacher = bank_kd_loss(teacher, teacher, bank, scale, temperature)
    # At the teacher: the mean over attributes of the entropy of its distribution over their values (times T^2).
    entropy = 0.0
    for values in bank:
        p = F.softmax(scale / temperature * teacher @ values.T, dim=-1)
        entropy += -(p * p.log()).sum(-1).mean().item()
    assert math.isclose(at_teacher.item(), entropy / len(bank) * temperature**2, rel_tol=1e-5)
    student = _unit(5, 8, seed=12).requires_grad_(True)
    before = bank_kd_loss(student, teacher, bank, scale, temperature)
    assert before.item() > at_teacher.item()
    before.backward()
    with torch.no_grad():
        stepped = F.normalize(student - 0.01 * student.grad, dim=-1)
    assert bank_kd_loss(stepped, teacher, bank, scale, temperature).item() < before.item()
    with pytest.raises(ValueError, match="at least one attribute"):
        bank_kd_loss(student, teacher, [], scale, temperature)


def test_caption_bank_names_each_value_alone_and_is_the_same_every_time() -> None:
    bank = caption_bank(("en", "de", "zz-unknown"), per_value=3)
    assert list(bank) == [*BANK_ATTRIBUTES, "language"]
    for attribute in BANK_ATTRIBUTES:
        assert tuple(bank[attribute]) == ATTRIBUTE_VALUES[attribute]
    assert list(bank["language"]) == ["en", "de"]  # a code the captions cannot name is left out
    assert all(len(c) == 3 and all(isinstance(x, str) and x for x in c) for v in bank.values() for c in v.values())
    assert "German" in " ".join(bank["language"]["de"]) and "English" not in " ".join(bank["language"]["de"])
    assert caption_bank(("en", "de", "zz-unknown"), per_value=3) == bank
    assert "language" not in caption_bank(("en",), per_value=1)  # one language is no decision
    assert "language" not in caption_bank((), per_value=1)


def test_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="temperature"):
        from_dict(DistillOptions, {"teacher": "x", "temperature": 0.0}, "task_options")
    with pytest.raises(ConfigError, match="unknown key"):
        from_dict(DistillOptions, {"teacher": "x", "tau": 2.0}, "task_options")
    with pytest.raises(ConfigError, match="not all 0"):
        from_dict(DistillOptions, {"teacher": "x", "cosine_weight": 0, "kd_weight": 0}, "task_options")
    assert from_dict(DistillOptions, {"teacher": "x", "head_kd_weight": 1.0}, "task_options").head_kd_weight == 1.0
    assert from_dict(DistillOptions, {"teacher": "x", "bank_kd_weight": 1.0}, "task_options").bank_kd_weight == 1.0
    with pytest.raises(ConfigError, match="bank_captions must be >= 1"):
        from_dict(DistillOptions, {"teacher": "x", "bank_kd_weight": 1.0, "bank_captions": 0}, "task_options")


@pytest.mark.slow
def test_teacher_to_student_to_bundle(tmp_path: Path, corpus: Path, suite: Path) -> None:
    """Train a teacher for two steps, distil a student from it through the CLI, export and verify the bundle."""
    from typer.testing import CliRunner

    from slap_edge.cli import app
    from slap_edge.train.config import TrainRecipe
    from slap_edge.train.trainer import train

    teacher = tmp_path / "teacher"
    recipe = TrainRecipe(model="teacher-tiny", batch_size=4, steps=2, warmup_steps=1, checkpoint_every=2, log_every=1)
    train(recipe, corpus, teacher, progress=False, cache_dir=tmp_path / "cache")
    student_recipe = tmp_path / "student.json"
    data = json.loads(Path("train/recipes/student-vit-tiny.json").read_text())
    data |= {"batch_size": 4, "steps": 2, "warmup_steps": 1, "checkpoint_every": 2, "log_every": 1}
    student_recipe.write_text(json.dumps(data))
    runner = CliRunner()
    student = tmp_path / "student"
    result = runner.invoke(
        app,
        ["distill", "--teacher", str(teacher), "--recipe", str(student_recipe), "--data", str(corpus),
         "--out", str(student), "--no-progress", "--device", "cpu"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    metrics = (student / "metrics.csv").read_text()
    assert "cosine_loss" in metrics and "kd_loss" in metrics and "contrastive_loss" in metrics

    from safetensors.torch import load_file

    teacher_w, student_w = load_file(teacher / "model.safetensors"), load_file(student / "model.safetensors")
    text_keys = [k for k in teacher_w if k.startswith("text_encoder.")]
    assert text_keys and all(torch.equal(teacher_w[k], student_w[k]) for k in text_keys)
    assert torch.equal(teacher_w["logit_scale"], student_w["logit_scale"])

    bundle = tmp_path / "bundle"
    result = runner.invoke(
        app,
        ["export", "--model", str(student), "--out", str(bundle), "--int8", "--calibration", str(corpus),
         "--suite", str(suite), "--with-text"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["model"]["teacher"] == "teacher-tiny (run teacher, 2 steps)"
    assert manifest["model"]["training_data"]["clips"] > 0
    assert {"audio.onnx", "text.onnx", "tokenizer.json", "MODEL_CARD.md"} == set(manifest["files"])
    # fp32 text.onnx matches PyTorch exactly; the int8 one that ships (--int8) stays above the export's 0.98 floor.
    assert "text ONNX vs PyTorch: cosine min 1.0000" in result.output or "text ONNX vs PyTorch: cosine min 0.999" in (
        result.output
    )
    assert "text int8:" in result.output
    assert runner.invoke(app, ["bundle", "verify", str(bundle)]).exit_code == 0
    assert runner.invoke(app, ["trt", "check", str(bundle)]).exit_code == 1  # ORT int8 ops are not TensorRT's
