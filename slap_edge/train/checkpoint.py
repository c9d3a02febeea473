"""Run folders: ``config.json``, ``model.safetensors``, ``optimizer.pt``, ``state.json``, ``metrics.csv``.

A checkpoint is first written completely into a temporary folder inside the run, then each file is moved into
place with an atomic rename, ``state.json`` last. The weights carry their step in the safetensors metadata, so a
reader can tell a checkpoint torn by a crash between two renames from a whole one.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch

from slap_edge.config import ConfigError, load_config, save_config, to_dict
from slap_edge.models.slap import SlapModel
from slap_edge.train.config import RunConfig

CONFIG_NAME = "config.json"
MODEL_NAME = "model.safetensors"
OPTIMIZER_NAME = "optimizer.pt"
STATE_NAME = "state.json"
METRICS_NAME = "metrics.csv"


class CheckpointError(ValueError):
    """A run folder that cannot be loaded or resumed; the message names the folder and the problem."""


def _fsync_file(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def save_checkpoint(
    run_dir: Path, model: SlapModel, optimizer: torch.optim.Optimizer, state: dict[str, Any], config: RunConfig
) -> None:
    from safetensors.torch import save_model

    run_dir = Path(run_dir)
    tmp = run_dir / f".checkpoint-{state['step']}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_model(model, str(tmp / MODEL_NAME), metadata={"step": str(state["step"]), "format": "slap-edge-1"})
    torch.save(optimizer.state_dict(), tmp / OPTIMIZER_NAME)
    save_config(config, tmp / CONFIG_NAME)
    (tmp / STATE_NAME).write_text(json.dumps(state, indent=2) + "\n")
    for name in (CONFIG_NAME, MODEL_NAME, OPTIMIZER_NAME, STATE_NAME):
        _fsync_file(tmp / name)
    for name in (CONFIG_NAME, MODEL_NAME, OPTIMIZER_NAME, STATE_NAME):
        os.replace(tmp / name, run_dir / name)
    tmp.rmdir()


def save_finished_run(run_dir: Path, model: SlapModel, config: RunConfig) -> None:
    """Write ``model`` as a finished run of ``config.recipe`` made without training (weights rebuilt from a bundle,
    or carried to another front end): the weights, the run config and a state at the recipe's last step, no optimizer
    state, so ``load_run`` reads it and ``--init-from`` trains on from it (``--resume`` has nothing to resume)."""
    from safetensors.torch import save_model

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    steps = config.recipe.steps
    save_model(model, str(run_dir / MODEL_NAME), metadata={"step": str(steps), "format": "slap-edge-1"})
    save_config(config, run_dir / CONFIG_NAME)
    state = {"step": steps, "epoch": 0, "seed": config.recipe.seed, "world_size": 1}
    (run_dir / STATE_NAME).write_text(json.dumps(state, indent=2) + "\n")


def has_checkpoint(run_dir: Path) -> bool:
    return (Path(run_dir) / STATE_NAME).is_file()


def read_state(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / STATE_NAME
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: cannot read the checkpoint state ({exc})") from exc


def read_run_config(run_dir: Path) -> RunConfig:
    path = Path(run_dir) / CONFIG_NAME
    if not path.is_file():
        raise CheckpointError(f"{run_dir}: not a run folder (no {CONFIG_NAME})")
    return load_config(RunConfig, path)


def load_weights(model: SlapModel, run_dir: Path, expected_step: int | None = None) -> None:
    from safetensors import safe_open
    from safetensors.torch import load_model

    from slap_edge.train.pack import PackError, is_packed, load_packed_weights

    path = Path(run_dir) / MODEL_NAME
    if not path.is_file() and is_packed(run_dir):
        try:
            load_packed_weights(model, run_dir, expected_step=expected_step)
        except PackError as exc:
            raise CheckpointError(str(exc)) from exc
        return
    if not path.is_file():
        raise CheckpointError(f"{run_dir}: no {MODEL_NAME}; the run has not written a checkpoint yet")
    with safe_open(str(path), framework="pt") as handle:
        step = int((handle.metadata() or {}).get("step", -1))
    if expected_step is not None and step != expected_step:
        raise CheckpointError(
            f"{run_dir}: {MODEL_NAME} is from step {step} but {STATE_NAME} says step {expected_step}; the last "
            "checkpoint write was interrupted. Restore the folder from a copy or start a new run."
        )
    missing, unexpected = load_model(model, str(path), strict=False)
    if missing or unexpected:
        raise CheckpointError(
            f"{path}: weights do not fit the model in {CONFIG_NAME} (missing {sorted(missing)[:5]}, "
            f"unexpected {sorted(unexpected)[:5]})"
        )


def check_run_complete(run_dir: str | Path, allow_partial: bool = False) -> tuple[int, int]:
    """``(step, recipe steps)`` of a run; a run stopped before its recipe's last step is refused.

    A run cut short (``--max-minutes``, ``--max-steps``, a crash) has a learning rate that never decayed: a model
    distilled or exported from it is not the recipe's model. With ``allow_partial`` it is accepted (for experiments),
    and the caller says so.
    """
    run_dir = Path(run_dir)
    step, steps = int(read_state(run_dir)["step"]), read_run_config(run_dir).recipe.steps
    if step < steps and not allow_partial:
        raise CheckpointError(
            f"{run_dir}: trained {step} of its recipe's {steps} steps (stopped by --max-minutes, --max-steps or an "
            "interruption); finish it with `slap-edge train ... --resume` (or `distill ... --resume`), or pass "
            "--allow-partial to use the unfinished run anyway"
        )
    return step, steps


def load_run(run_dir: str | Path, device: str | torch.device = "cpu") -> tuple[SlapModel, RunConfig]:
    """The trained model of a run folder (in eval mode) and its run config."""
    run_dir = Path(run_dir)
    config = read_run_config(run_dir)
    state = read_state(run_dir)
    model = SlapModel(config.model)
    load_weights(model, run_dir, expected_step=int(state["step"]))
    return model.to(device).eval(), config


def config_differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two configs (dataclasses or dicts)."""
    a = to_dict(old) if not isinstance(old, dict) else old
    b = to_dict(new) if not isinstance(new, dict) else new
    keys: list[str] = []
    for key in sorted(set(a) | set(b)):
        where = f"{prefix}{key}"
        va, vb = a.get(key, "<absent>"), b.get(key, "<absent>")
        if isinstance(va, dict) and isinstance(vb, dict):
            keys.extend(config_differences(va, vb, where + "."))
        elif va != vb:
            keys.append(f"{where} ({va!r} -> {vb!r})")
    return keys


INIT_NAME = "init.json"


def weights_file(run_dir: str | Path) -> Path:
    """A run folder's weights: ``model.safetensors``, or a packed run's ``trained.safetensors`` (whichever it has;
    the latter path when neither exists, so the caller's error names what a packed run would hold)."""
    from slap_edge.train.pack import PACKED_NAME

    run_dir = Path(run_dir)
    return run_dir / MODEL_NAME if (run_dir / MODEL_NAME).is_file() else run_dir / PACKED_NAME


def init_from_run(model: SlapModel, run_dir: str | Path) -> dict[str, Any]:
    """Load a finished run's trained weights into ``model`` (a new run's start, see ``TrainRecipe.init_from``).

    The run must be complete (its recipe's last step) and its model config must be ``model``'s, else a
    ``CheckpointError`` names what differs. Returns what the new run records in ``init.json``: the folder, its step
    and the sha256 of its weights file, so the starting point of a second stage is pinned.
    """
    from slap_edge.fingerprints import sha256_file

    run_dir = Path(run_dir)
    if not (run_dir / CONFIG_NAME).is_file():
        raise CheckpointError(
            f"init_from {run_dir}: not a run folder (no {CONFIG_NAME}); give a finished run of slap-edge train or "
            "distill, or a packed run"
        )
    step, _ = check_run_complete(run_dir)
    diff = config_differences(read_run_config(run_dir).model, model.config)
    if diff:
        raise CheckpointError(
            f"init_from {run_dir}: its model config differs from this recipe's in {', '.join(diff[:6])}; a run can "
            "only start from the weights of the same model"
        )
    load_weights(model, run_dir, expected_step=step)
    weights = weights_file(run_dir)
    return {"init_from": str(run_dir.resolve()), "step": step, "weights": weights.name, "sha256": sha256_file(weights)}


def check_resume_config(run_dir: Path, new: RunConfig) -> None:
    try:
        old = read_run_config(run_dir)
    except ConfigError as exc:
        raise CheckpointError(f"cannot resume {run_dir}: {exc}") from exc
    diff = config_differences(old, new)
    if diff:
        raise CheckpointError(
            f"cannot resume {run_dir}: the config differs from the checkpoint's in {', '.join(diff)}. "
            "Resume with the same recipe, data and number of processes, or start a new run with another --out."
        )
