"""Recipes (what to train and how) and the run config saved as ``RUN/config.json``. Torch-free."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from slap_edge.models.config import ModelConfig

DEFAULT_BALANCE_ATTRIBUTES = ("sex", "age_group", "language", "pitch", "rate", "quality", "loudness", "channel")


@dataclasses.dataclass(frozen=True)
class TrainRecipe:
    """One JSON file under ``train/recipes/``. Sizes are per process: the global batch is ``batch_size * world``."""

    model: str
    model_overrides: dict[str, Any] = dataclasses.field(default_factory=dict)
    task: str = "contrastive_mae"
    task_options: dict[str, Any] = dataclasses.field(default_factory=dict)
    batch_size: int = 64
    steps: int = 1000
    lr: float = 5e-4
    min_lr_ratio: float = 0.05
    warmup_steps: int = 100
    weight_decay: float = 0.05
    pretrained_lr_scale: float = 0.1  # learning-rate factor for the trainable pretrained MiniLM layers
    betas: tuple[float, float] = (0.9, 0.98)
    grad_clip: float = 1.0
    seed: int = 0
    checkpoint_every: int = 500
    log_every: int = 10
    num_workers: int = 0
    balance: float = 0.5  # sampler: 0 draws clips uniformly, 1 draws each attribute value equally often
    balance_attributes: tuple[str, ...] = DEFAULT_BALANCE_ATTRIBUTES
    # Attributes drawn per speaker independently of the base voice (age_group on MBROLA voices: any voice speaks at
    # any age, with the vocoder's age markers). Chance leaves one voice with many more speakers of a value than
    # another, and a model then learns the voice as the value. The sampler reweights the clips of every voice that
    # has two or more values of such an attribute so that, within that voice, the values are drawn in the pooled
    # proportions of those voices; a voice's total weight is unchanged, voices with one value are left alone.
    # Left out of config.json while empty: runs of the recipes from before it keep their recipe hash.
    voice_independent: tuple[str, ...] = dataclasses.field(default=(), metadata={"omit_default": True})
    split: str = "train"
    max_bad_fraction: float = 0.01
    precision: Literal["auto", "fp32", "bf16"] = "auto"  # auto: bf16 autocast on CUDA and bf16-capable CPUs
    # Compute every clip's log-mel once before the first step and cut windows from it (contrastive_mae only): the
    # front end then costs nothing per step, and windows start at whole hops, where its frames are exact.
    precompute_log_mel: bool = False
    # A finished run folder (or packed run) whose trained weights start this run, with a fresh optimiser and this
    # recipe's schedule (a second stage: e.g. distilling on for more steps, or on more data). Its model config must be
    # this run's. `train`/`distill --init-from RUN` fill it in; a relative path is taken from the working directory.
    init_from: str = ""

    def __post_init__(self) -> None:
        positive = {"batch_size": self.batch_size, "steps": self.steps, "checkpoint_every": self.checkpoint_every}
        positive |= {"log_every": self.log_every, "lr": self.lr}
        for key, value in positive.items():
            if value <= 0:
                raise ValueError(f"{key} must be positive, got {value}")
        non_negative = (self.warmup_steps, self.num_workers, self.weight_decay, self.grad_clip)
        if min(*non_negative, self.pretrained_lr_scale) < 0:
            raise ValueError("warmup_steps, num_workers, weight_decay, grad_clip and pretrained_lr_scale must be >= 0")
        if not 0 <= self.min_lr_ratio <= 1 or not 0 <= self.balance <= 1:
            raise ValueError("min_lr_ratio and balance must be in [0, 1]")
        if not 0 <= self.max_bad_fraction < 1:
            raise ValueError(f"max_bad_fraction must be in [0, 1), got {self.max_bad_fraction}")
        unknown = [a for a in self.voice_independent if a not in self.balance_attributes]
        if unknown:
            raise ValueError(
                f"voice_independent names {unknown[0]!r}, not one of balance_attributes "
                f"({', '.join(self.balance_attributes)})"
            )
        if self.split not in ("train", "val", "test"):
            raise ValueError(f"split must be train, val or test, got {self.split!r}")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run; ``--resume`` refuses to continue under a different one."""

    model: ModelConfig
    recipe: TrainRecipe
    data: str  # the corpus folder, absolute
    world_size: int = 1
    # Clips whose engine/voice match these patterns (a suite's holdout.json) never reach training.
    exclude: tuple[str, ...] = ()
