"""Training tasks: ``task(model, batch) -> {name_loss: tensor}``; the trainer sums the values.

A task is built by a factory registered under a name; a recipe picks it with ``"task"`` and configures it with
``"task_options"`` (checked strictly by the task's own options dataclass). Tasks call the model through its
``forward`` so that DistributedDataParallel synchronises every gradient.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from typing import Any, Protocol

import torch

from slap_edge.config import ConfigError, from_dict
from slap_edge.models.config import ModelConfig
from slap_edge.train.losses import attribute_loss, caption_ids, caption_positive_mask, contrastive_loss, mae_loss


class Task(Protocol):
    def __call__(self, model: torch.nn.Module, batch: dict[str, Any]) -> dict[str, torch.Tensor]: ...


TaskFactory = Callable[[dict[str, Any], ModelConfig, torch.device], Task]
_TASKS: dict[str, TaskFactory] = {}
# Tasks defined outside this module, imported on first use so this module does not depend on them.
_TASK_MODULES = {"distill": "slap_edge.train.distill"}


def register_task(name: str) -> Callable[[TaskFactory], TaskFactory]:
    def decorate(factory: TaskFactory) -> TaskFactory:
        _TASKS[name] = factory
        return factory

    return decorate


def task_names() -> list[str]:
    return sorted(set(_TASKS) | set(_TASK_MODULES))


def create_task(name: str, options: dict[str, Any], model_config: ModelConfig, device: torch.device) -> Task:
    if name not in _TASKS and name in _TASK_MODULES:
        importlib.import_module(_TASK_MODULES[name])
    if name not in _TASKS:
        raise ConfigError(f"unknown task {name!r}; known tasks: {', '.join(task_names())}")
    return _TASKS[name](options, model_config, device)


def _world_size() -> int:
    dist = torch.distributed
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def gather_batch(
    audio_emb: torch.Tensor, text_emb: torch.Tensor, captions: list[str]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The global batch of a data-parallel step: every process's audio and text embeddings and a [N, N] mask of
    identical captions, so each clip has the negatives of all processes (as one process with the global batch).

    Other processes' rows are gathered without gradient and this process's own rows are put back with theirs, so
    gradients flow only into what this process computed; averaging the gradients over processes (DDP) then gives
    the global loss's gradient divided by the number of processes, a constant factor AdamW normalises away. Local
    batches must be equally sized (the sampler draws ``batch_size`` clips for every process).
    """
    dist = torch.distributed
    world, rank = dist.get_world_size(), dist.get_rank()
    ids = caption_ids(captions, device=audio_emb.device)

    def gather(x: torch.Tensor) -> list[torch.Tensor]:
        parts = [torch.empty_like(x) for _ in range(world)]
        dist.all_gather(parts, x.detach().contiguous())
        return parts

    audio_parts, text_parts, id_parts = gather(audio_emb), gather(text_emb), gather(ids)
    audio_parts[rank], text_parts[rank] = audio_emb, text_emb
    all_ids = torch.cat(id_parts)
    return torch.cat(audio_parts), torch.cat(text_parts), all_ids[:, None] == all_ids[None, :]


@dataclasses.dataclass(frozen=True)
class ContrastiveMaeOptions:
    mae_weight: float = 0.25  # lambda of the MAE reconstruction loss (0 skips the masked pass entirely)
    attribute_weight: float = 0.0  # weight of the attribute heads' cross-entropy (the model config names the heads)

    def __post_init__(self) -> None:
        if self.mae_weight < 0:
            raise ValueError(f"mae_weight must be >= 0, got {self.mae_weight}")
        if self.attribute_weight < 0:
            raise ValueError(f"attribute_weight must be >= 0, got {self.attribute_weight}")


def attribute_targets(
    attributes: list[dict[str, Any]], classes: dict[str, tuple[str, ...]], device: torch.device
) -> dict[str, torch.Tensor]:
    """Class indices [B] per attribute head from the clips' manifest attributes; -1 where a value is unknown (null)
    or outside the head's classes (e.g. a language the head was not given)."""
    out = {}
    for name, values in classes.items():
        index = {v: i for i, v in enumerate(values)}
        out[name] = torch.tensor([index.get(a.get(name), -1) for a in attributes], dtype=torch.int64, device=device)
    return out


class ContrastiveMaeTask:
    """Symmetric InfoNCE between clips and their captions (identical captions are positives of each other), plus
    ``mae_weight`` times the masked-patch reconstruction loss."""

    def __init__(self, options: ContrastiveMaeOptions, model_config: ModelConfig) -> None:
        self.options = options
        self.use_mae = options.mae_weight > 0 and model_config.uses_mae
        self.norm_target = model_config.mae.norm_target
        self.head_classes = model_config.heads.classes()
        if options.attribute_weight > 0 and not self.head_classes:
            raise ConfigError(
                "task_options.attribute_weight > 0 needs attribute heads in the model config "
                '(model_overrides: {"heads": {"attributes": [...], "languages": [...]}})'
            )
        self.use_heads = options.attribute_weight > 0

    def __call__(self, model: torch.nn.Module, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        out = model(audio=batch.get("audio"), mel=batch.get("mel"), texts=batch["captions"], mae=self.use_mae)
        audio_emb, text_emb = out["audio_emb"].float(), out["text_emb"].float()
        if _world_size() > 1:
            audio_emb, text_emb, positives = gather_batch(audio_emb, text_emb, batch["captions"])
        else:
            positives = caption_positive_mask(batch["captions"], device=audio_emb.device)
        losses = {"contrastive_loss": contrastive_loss(audio_emb, text_emb, out["logit_scale"].float(), positives)}
        if self.use_mae:
            recon = mae_loss(out["mae_pred"].float(), out["mae_target"].float(), out["mae_mask"], self.norm_target)
            losses["mae_loss"] = self.options.mae_weight * recon
        if self.use_heads:
            targets = attribute_targets(batch["attributes"], self.head_classes, audio_emb.device)
            logits = {name: out[f"head_{name}"].float() for name in self.head_classes}
            losses["attribute_loss"] = self.options.attribute_weight * attribute_loss(logits, targets)
        return losses


def trained_model_config(task: str, options: dict[str, Any], model_config: ModelConfig) -> ModelConfig:
    """The model config a run of ``task`` builds: ``model_config`` without the MAE decoder when the task never runs
    the masked pass (``contrastive_mae`` with ``mae_weight`` 0, and ``distill``), so no unused weights are built,
    trained or saved. The name keeps its meaning: the decoder is a training-only part that no export contains, and
    the run's config.json records ``mae.enabled: false``. Other tasks get ``model_config`` as it is."""
    if not model_config.mae.enabled:
        return model_config
    if task == "contrastive_mae":
        uses_mae = from_dict(ContrastiveMaeOptions, options, "task_options").mae_weight > 0
    elif task == "distill":
        uses_mae = False  # the student learns from the teacher's embeddings; it has no masked pass
    else:
        return model_config
    if uses_mae:
        return model_config
    return dataclasses.replace(model_config, mae=dataclasses.replace(model_config.mae, enabled=False))


def drops_only_the_unused_decoder(recorded: ModelConfig, resolved: ModelConfig) -> bool:
    """True when a run folder's recorded model config differs from ``resolved`` only in building the MAE decoder:
    a run written before `trained_model_config` existed, whose decoder its task never used. Resuming such a run
    keeps its recorded config, so its checkpoint loads and it trains on exactly as it started."""
    return (
        recorded.mae.enabled
        and not resolved.mae.enabled
        and dataclasses.replace(recorded, mae=dataclasses.replace(recorded.mae, enabled=False)) == resolved
    )


@register_task("contrastive_mae")
def create_contrastive_mae_task(options: dict[str, Any], model_config: ModelConfig, device: torch.device) -> Task:
    return ContrastiveMaeTask(from_dict(ContrastiveMaeOptions, options, "task_options"), model_config)
