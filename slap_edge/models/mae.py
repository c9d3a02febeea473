"""A light masked-autoencoder decoder: from the visible patch tokens, predict the mel values of the hidden patches."""

from __future__ import annotations

import math

import torch
from torch import nn

from slap_edge.models.config import MaeConfig


def sincos_2d(height: int, width: int, dim: int, device: torch.device | None = None) -> torch.Tensor:
    """Fixed 2-D sine-cosine position embeddings [height*width, dim] (row-major), for any grid size."""
    if dim % 4:
        raise ValueError(f"sine-cosine embeddings need a width divisible by 4, got {dim}")
    quarter = dim // 4
    omega = 1.0 / (10000 ** (torch.arange(quarter, dtype=torch.float32, device=device) / quarter))
    ys, xs = torch.meshgrid(
        torch.arange(height, dtype=torch.float32, device=device),
        torch.arange(width, dtype=torch.float32, device=device),
        indexing="ij",
    )
    y = ys.reshape(-1, 1) * omega
    x = xs.reshape(-1, 1) * omega
    return torch.cat([y.sin(), y.cos(), x.sin(), x.cos()], dim=1)


class MaeDecoder(nn.Module):
    def __init__(self, encoder_width: int, patch_dim: int, cfg: MaeConfig) -> None:
        super().__init__()
        from timm.models.vision_transformer import Block

        self.embed = nn.Linear(encoder_width, cfg.decoder_width)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, cfg.decoder_width))
        nn.init.trunc_normal_(self.mask_token, std=0.02)
        self.blocks = nn.Sequential(*[Block(cfg.decoder_width, cfg.decoder_heads) for _ in range(cfg.decoder_depth)])
        self.norm = nn.LayerNorm(cfg.decoder_width)
        self.pred = nn.Linear(cfg.decoder_width, patch_dim)
        self.width = cfg.decoder_width

    def forward(self, visible: torch.Tensor, keep: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        """visible [B, Nv, C] at patch indices ``keep`` [B, Nv] -> predicted patches [B, N, patch_dim]."""
        batch = visible.shape[0]
        n_patches = math.prod(grid)
        x = self.embed(visible)
        # Under autocast the embedded tokens are bf16 while the mask token is a float32 parameter.
        full = self.mask_token.to(x.dtype).expand(batch, n_patches, self.width).clone()
        full = full.scatter(1, keep.unsqueeze(-1).expand(-1, -1, self.width), x)
        full = full + sincos_2d(*grid, self.width, device=visible.device)
        return self.pred(self.norm(self.blocks(full)))
