"""What the tools that carry a finished ViT student to another architecture share (`inflate_mels`: more mel filters,
`deepen`: more blocks): opening the source run with the new recipe, checking what may differ, comparing embeddings,
and writing the carried run with its record."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from slap_edge.models.config import ModelConfig
    from slap_edge.models.slap import SlapModel
    from slap_edge.train.config import RunConfig, TrainRecipe


@dataclasses.dataclass
class Carry:
    """A finished student run opened for carrying: its model and run config, the new recipe (its teacher and text
    settings as `distill` sets them) and the new model config."""

    run: Path
    step: int
    model: SlapModel
    run_config: RunConfig
    recipe: TrainRecipe
    new_config: ModelConfig


def open_student(
    run: str | Path,
    recipe_path: str | Path,
    out: str | Path,
    allowed: tuple[str, ...],
    error: type[ValueError],
) -> Carry:
    """Open the finished distilled ViT student ``run`` for the recipe ``recipe_path``; ``error`` (naming the run or
    recipe) unless ``out`` is new or empty and the models differ only in the dotted config keys ``allowed``."""
    from slap_edge.config import load_config
    from slap_edge.models.registry import resolve_model_config
    from slap_edge.train.checkpoint import check_run_complete, config_differences, load_run
    from slap_edge.train.config import TrainRecipe
    from slap_edge.train.distill import recipe_with_teacher
    from slap_edge.train.tasks import trained_model_config

    run, out = Path(run), Path(out)
    if out.exists() and any(out.iterdir()):
        raise error(f"{out} exists and is not empty; choose a new folder")
    step, _ = check_run_complete(run)
    model, run_config = load_run(run)
    if "teacher" not in run_config.recipe.task_options:
        raise error(f"{run}: not a distilled student (its recipe names no teacher)")
    # As `distill` sets it: the source's teacher, and its text settings (a student's text tower is its teacher's).
    recipe = recipe_with_teacher(
        load_config(TrainRecipe, recipe_path), Path(run_config.recipe.task_options["teacher"]), run_config.model
    )
    new_config = trained_model_config(
        recipe.task, recipe.task_options, resolve_model_config(recipe.model, **recipe.model_overrides)
    )
    if run_config.model.audio.kind != "vit":
        raise error(f"{run}: audio kind {run_config.model.audio.kind!r}; only a ViT student is carried")
    diff = [d for d in config_differences(run_config.model, new_config) if not d.startswith(("name ", *allowed))]
    if diff:
        raise error(
            f"{recipe_path}: the model differs from {run}'s in {', '.join(diff[:6])}; only the name and "
            f"{' and '.join(allowed)} may change"
        )
    return Carry(run, step, model, run_config, recipe, new_config)


def embedding_agreement(old: torch.nn.Module, new: torch.nn.Module, x: Any) -> tuple[float, float]:
    """Mean cosine and largest absolute difference of the two models' audio embeddings of the waveforms ``x``."""
    import torch

    old.eval()
    new.eval()
    x = torch.as_tensor(x)
    with torch.no_grad():
        a, b = old.audio_export_module()(x), new.audio_export_module()(x)
    return float(torch.nn.functional.cosine_similarity(a, b, dim=-1).mean()), float((a - b).abs().max())


def write_carried(carry: Carry, model: SlapModel, out: str | Path, how: str, record_name: str, record: dict) -> dict:
    """Write ``model`` as a finished run of the carry's recipe into ``out`` (data ``how:SOURCE``) with ``record``
    (the source run, its step and weights' sha256 first) as ``record_name``; returns the full record."""
    from slap_edge.fingerprints import sha256_file
    from slap_edge.train.checkpoint import save_finished_run, weights_file
    from slap_edge.train.config import RunConfig

    out = Path(out)
    config = RunConfig(model=carry.new_config, recipe=carry.recipe, data=f"{how}:{carry.run.resolve()}")
    save_finished_run(out, model, config)
    full = {
        "source_run": str(carry.run),
        "source_step": carry.step,
        "source_weights_sha256": sha256_file(weights_file(carry.run)),
        **record,
    }
    (out / record_name).write_text(json.dumps(full, indent=2) + "\n")
    return full
