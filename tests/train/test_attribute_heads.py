"""Attribute heads: config checks, the loss on hand-computed cases, targets from manifest attributes, and a training
run that uses them."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from slap_edge.config import ConfigError
from slap_edge.models import create_model, resolve_model_config
from slap_edge.train.checkpoint import load_run
from slap_edge.train.config import TrainRecipe
from slap_edge.train.losses import attribute_loss
from slap_edge.train.tasks import attribute_targets, create_task
from slap_edge.train.trainer import train

RECIPES = Path(__file__).resolve().parents[2] / "train" / "recipes"
HEADS = {"attributes": ["sex", "quality"], "languages": ["en", "de"]}


def test_attribute_loss_hand_computed() -> None:
    # Row 0: logits (0, 0), target 0 -> ln 2. Row 1 is unknown (-1) and left out.
    sex = torch.tensor([[0.0, 0.0], [math.log(3.0), 0.0]])
    # Both rows known: targets 0 and 1 of logits (ln 3, 0) -> -ln(3/4) and -ln(1/4).
    age = torch.tensor([[math.log(3.0), 0.0, -math.inf], [math.log(3.0), 0.0, -math.inf]])
    labels = {"sex": torch.tensor([0, -1]), "age": torch.tensor([0, 1])}
    expected_age = 0.5 * (-math.log(0.75) - math.log(0.25))
    loss = attribute_loss({"sex": sex, "age": age}, labels)
    assert loss.item() == pytest.approx(0.5 * (math.log(2.0) + expected_age), rel=1e-6)


def test_attribute_loss_skips_attributes_with_no_known_value() -> None:
    logits = {"sex": torch.zeros(2, 2, requires_grad=True), "rate": torch.zeros(2, 3, requires_grad=True)}
    loss = attribute_loss(logits, {"sex": torch.tensor([1, 0]), "rate": torch.tensor([-1, -1])})
    assert loss.item() == pytest.approx(math.log(2.0))
    none = attribute_loss(logits, {"sex": torch.tensor([-1, -1]), "rate": torch.tensor([-1, -1])})
    assert none.item() == 0.0 and none.requires_grad


def test_targets_map_unknown_and_unlisted_values_to_minus_one() -> None:
    classes = resolve_model_config("teacher-tiny", heads=HEADS).heads.classes()
    assert classes == {"sex": ("female", "male"), "quality": tuple(classes["quality"]), "language": ("en", "de")}
    attrs = [
        {"sex": "male", "quality": "tremor", "language": "de"},
        {"sex": None, "quality": "modal", "language": "fr"},
    ]
    out = attribute_targets(attrs, classes, torch.device("cpu"))
    assert out["sex"].tolist() == [1, -1]
    assert out["quality"].tolist() == [classes["quality"].index("tremor"), classes["quality"].index("modal")]
    assert out["language"].tolist() == [1, -1]


def test_head_config_errors_name_the_accepted_values() -> None:
    with pytest.raises(ConfigError, match="accepted: sex, age_group"):
        resolve_model_config("teacher-tiny", heads={"attributes": ["accent"]})
    with pytest.raises(ConfigError, match="two or more"):
        resolve_model_config("teacher-tiny", heads={"languages": ["en"]})


def test_model_outputs_one_logit_row_per_class() -> None:
    model = create_model("teacher-tiny", heads=HEADS).eval()
    with torch.no_grad():
        out = model(audio=torch.randn(3, model.config.window_samples) * 0.1)
    shapes = {k: tuple(v.shape) for k, v in out.items() if k.startswith("head_")}
    assert shapes == {"head_sex": (3, 2), "head_quality": (3, 6), "head_language": (3, 2)}
    assert not any(k.startswith("attribute_heads") for k in create_model("teacher-tiny").state_dict())


def test_weight_without_heads_is_refused() -> None:
    cfg = resolve_model_config("teacher-tiny")
    with pytest.raises(ConfigError, match="attribute heads"):
        create_task("contrastive_mae", {"attribute_weight": 0.5}, cfg, torch.device("cpu"))


def test_training_with_heads_lowers_their_loss(
    tone_corpus: Path, tmp_path: Path, short_recipe: Callable[..., TrainRecipe]
) -> None:
    recipe = short_recipe(
        "teacher-tiny",
        steps=30,
        batch_size=32,
        warmup_steps=5,
        checkpoint_every=30,
        model_overrides={"heads": {"attributes": ["sex", "quality"]}},
        task_options={"mae_weight": 0.25, "attribute_weight": 1.0},
    )
    run = tmp_path / "run"
    train(recipe, tone_corpus, run, cache_dir=tmp_path / "cache", progress=False)
    import csv

    with (run / "metrics.csv").open() as handle:
        rows = {int(r["step"]): float(r["attribute_loss"]) for r in csv.DictReader(handle)}
    assert sum(rows[s] for s in range(26, 31)) < sum(rows[s] for s in range(1, 6)), rows


def test_students_learn_the_teachers_head_distributions(
    tone_corpus: Path, tmp_path: Path, short_recipe: Callable[..., TrainRecipe]
) -> None:
    """`head_kd_weight` reads the student's embedding with the teacher's frozen heads; a teacher without heads is
    refused by name."""
    cache = tmp_path / "cache"
    teacher_recipe = short_recipe(
        "teacher-tiny",
        batch_size=32,
        model_overrides={"heads": {"attributes": ["sex", "quality"]}},
        task_options={"attribute_weight": 1.0},
    )
    train(teacher_recipe, tone_corpus, tmp_path / "teacher", cache_dir=cache, progress=False)
    student_recipe = short_recipe(
        "student-vit-tiny", task_options={"teacher": str(tmp_path / "teacher"), "head_kd_weight": 1.0}
    )
    train(student_recipe, tone_corpus, tmp_path / "student", cache_dir=cache, progress=False)
    import csv

    with (tmp_path / "student" / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert rows and all(float(r["head_kd_loss"]) > 0 for r in rows)
    teacher = load_run(tmp_path / "teacher")[0]
    student = load_run(tmp_path / "student")[0]
    assert len(teacher.attribute_heads) == 2 and not len(student.attribute_heads)  # the heads stay the teacher's

    plain = dataclasses.replace(teacher_recipe, model_overrides={}, task_options={})
    train(plain, tone_corpus, tmp_path / "plain", cache_dir=cache, progress=False)
    options = {"teacher": str(tmp_path / "plain"), "head_kd_weight": 1.0}
    refused = dataclasses.replace(student_recipe, task_options=options)
    with pytest.raises(ConfigError, match="head_kd_weight > 0 needs a teacher with attribute heads"):
        train(refused, tone_corpus, tmp_path / "refused", cache_dir=cache, progress=False)


def test_students_learn_the_teachers_answers_over_the_caption_bank(
    tone_corpus: Path, tmp_path: Path, short_recipe: Callable[..., TrainRecipe]
) -> None:
    """`bank_kd_weight` needs no heads: the bank is the teacher's text embeddings of the caption generator's
    single-attribute captions; the loss is logged and positive, and the student's text tower stays the teacher's."""
    cache = tmp_path / "cache"
    train(
        short_recipe("teacher-tiny", batch_size=32), tone_corpus, tmp_path / "teacher", cache_dir=cache, progress=False
    )
    options = {"teacher": str(tmp_path / "teacher"), "bank_kd_weight": 1.0, "bank_captions": 2}
    result = train(
        short_recipe("student-vit-tiny", task_options=options),
        tone_corpus,
        tmp_path / "student",
        cache_dir=cache,
        progress=False,
    )
    assert result.step == 2
    import csv

    with (tmp_path / "student" / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert rows and all(0 < float(r["bank_kd_loss"]) < 100 for r in rows)
    teacher, student = load_run(tmp_path / "teacher")[0], load_run(tmp_path / "student")[0]
    text = ["A hoarse voice.", "The voice of a man."]
    assert torch.allclose(teacher.encode_text(text), student.encode_text(text))
