"""`SlapModel`: waveform -> log-mel -> audio tower -> projection, and text -> MiniLM -> projection, in one space."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from slap_edge.frontend import create_log_mel_module
from slap_edge.models.audio import CnnAudioEncoder, VitAudioEncoder, patchify
from slap_edge.models.config import ModelConfig
from slap_edge.models.mae import MaeDecoder
from slap_edge.models.text import TextEncoder

# Parameters that weight decay must not touch: decaying the logit scale pins it near its start (measured), and
# decaying norms, biases and position/special tokens only hurts.
NO_DECAY_NAMES = ("logit_scale", "pos_embed", "cls_token", "mask_token")


class SlapModel(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.frontend = create_log_mel_module(config.frontend)
        self.audio_encoder: nn.Module = (
            VitAudioEncoder(config) if config.audio.kind == "vit" else CnnAudioEncoder(config)
        )
        self.audio_proj = nn.Linear(self.audio_encoder.width, config.embed_dim)
        self.text_encoder = TextEncoder(config.text, config.embed_dim)
        self.logit_scale = nn.Parameter(torch.tensor(float(config.logit_scale_init)))
        self.mae_decoder: MaeDecoder | None = None
        if config.uses_mae:
            pf, pt = config.audio.patch_size
            self.mae_decoder = MaeDecoder(self.audio_encoder.width, pf * pt, config.mae)
        self.attribute_heads = nn.ModuleDict(
            {name: nn.Linear(config.embed_dim, len(values)) for name, values in config.heads.classes().items()}
        )

    # -- the shared space -------------------------------------------------------------------------------------
    def logit_scale_exp(self) -> torch.Tensor:
        """exp of the learnable log-scale, clamped so the softmax temperature cannot collapse."""
        return self.logit_scale.clamp(0.0, self.config.logit_scale_max).exp()

    def logit_scale_value(self) -> float:
        return float(self.logit_scale_exp().detach())

    def log_mel(self, wave: torch.Tensor) -> torch.Tensor:
        if wave.ndim != 2:
            raise ValueError(f"expected a waveform batch [B, T], got shape {tuple(wave.shape)}")
        return self.frontend(wave.float())

    def encode_audio(self, wave: torch.Tensor) -> torch.Tensor:
        """waveform [B, T] at ``config.frontend.sample_rate`` -> L2-normalised embeddings [B, D]."""
        return F.normalize(self.audio_proj(self.audio_encoder(self.log_mel(wave))), dim=-1)

    def encode_text(self, texts: list[str]) -> torch.Tensor:
        """texts -> L2-normalised embeddings [B, D]."""
        if isinstance(texts, str):
            raise TypeError("encode_text takes a list of strings, got one string")
        return F.normalize(self.text_encoder(list(texts)), dim=-1)

    # -- training ---------------------------------------------------------------------------------------------
    def forward(
        self,
        audio: torch.Tensor | None = None,
        texts: list[str] | None = None,
        mae: bool = False,
        mel: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Everything a training task needs, from one call (so DistributedDataParallel sees every parameter use).

        Keys: ``logit_scale``; with ``audio``: ``audio_emb`` [B, D] (normalised), ``mel``; with ``mae`` and a ViT
        with a decoder: ``mae_pred`` and ``mae_target`` [B, N, patch], ``mae_mask`` [B, N]; with ``texts``:
        ``text_emb`` [B, D] (normalised); with ``audio`` and attribute heads: ``head_<attribute>`` logits [B, C].
        ``mel``, the front end's output [B, n_mels, frames] computed ahead (training's log-mel cache), may stand in for
        ``audio``.
        """
        out: dict[str, torch.Tensor] = {"logit_scale": self.logit_scale_exp()}
        if audio is not None and mel is not None:
            raise ValueError("pass audio or its log-mel (mel), not both")
        if audio is not None:
            mel = self.log_mel(audio)
        if mel is not None:
            out["mel"] = mel
            out["audio_emb"] = F.normalize(self.audio_proj(self.audio_encoder(mel)), dim=-1)
            for name, head in self.attribute_heads.items():
                out[f"head_{name}"] = head(out["audio_emb"])
            if mae and self.mae_decoder is not None:
                encoder = self.audio_encoder
                visible, keep, mask = encoder.forward_masked(mel, self.config.mae.mask_ratio)
                out["mae_pred"] = self.mae_decoder(visible, keep, encoder.grid(mel))
                out["mae_target"] = patchify(mel, self.config.audio.patch_size)
                out["mae_mask"] = mask
        if texts is not None:
            out["text_emb"] = self.encode_text(texts)
        return out

    def param_groups(self, weight_decay: float, pretrained_lr_scale: float = 1.0) -> list[dict]:
        """Trainable parameters in optimiser groups: decayed matrices vs undecayed scales, biases, norms and tokens,
        each split again into pretrained MiniLM layers (learning rate times ``pretrained_lr_scale``, so fine-tuning
        does not wash out what they know) and the rest. Each group carries its ``lr_scale``."""
        pretrained = {id(p) for p in self.text_encoder.bert.parameters()}
        groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
        for name, param in self.named_parameters():
            if not param.requires_grad:
                continue
            no_decay = param.ndim <= 1 or any(key in name for key in NO_DECAY_NAMES)
            groups.setdefault((no_decay, id(param) in pretrained), []).append(param)
        return [
            {
                "params": params,
                "weight_decay": 0.0 if no_decay else weight_decay,
                "lr_scale": pretrained_lr_scale if is_pretrained else 1.0,
            }
            for (no_decay, is_pretrained), params in sorted(groups.items())
        ]

    # -- export -----------------------------------------------------------------------------------------------
    def audio_export_module(self) -> nn.Module:
        """``waveform [B, T] float32 -> embedding [B, D]`` (front end inside, normalised), for ONNX export."""
        return AudioExportModule(self).eval()

    def text_export_module(self) -> nn.Module:
        """``(input_ids [B, L] int64, attention_mask [B, L] int64) -> embedding [B, D]`` (normalised)."""
        return TextExportModule(self).eval()


class AudioExportModule(nn.Module):
    def __init__(self, model: SlapModel) -> None:
        super().__init__()
        self.frontend = model.frontend
        self.encoder = model.audio_encoder
        self.proj = model.audio_proj

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.proj(self.encoder(self.frontend(waveform))), dim=-1)


class TextExportModule(nn.Module):
    def __init__(self, model: SlapModel) -> None:
        super().__init__()
        self.text = model.text_encoder

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.text.proj(self.text.pooled_from_ids(input_ids, attention_mask)), dim=-1)
