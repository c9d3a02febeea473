"""Audio towers over the normalised log-mel image [B, n_mels, frames]: a timm ViT on patches, or a timm mobile CNN."""

from __future__ import annotations

import torch
from torch import nn

from slap_edge.models.config import ModelConfig


class VitAudioEncoder(nn.Module):
    """A timm VisionTransformer with one input channel whose "image" is the log-mel window.

    Position embeddings are learned for the training window's patch grid; other window lengths resample them
    (``dynamic_img_size``), which keeps the encoder usable on any length while training always sees one grid.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        from timm.models.vision_transformer import VisionTransformer

        a = config.audio
        self.patch_size = a.patch_size
        self.vit = VisionTransformer(
            img_size=(config.frontend.n_mels, config.num_frames),
            patch_size=a.patch_size,
            in_chans=1,
            num_classes=0,
            embed_dim=a.width,
            depth=a.depth,
            num_heads=a.heads,
            mlp_ratio=a.mlp_ratio,
            class_token=a.pool == "cls",
            no_embed_class=True,  # position embeddings cover patches only, so masking can drop them with the patches
            global_pool="token" if a.pool == "cls" else "avg",
            dynamic_img_size=True,
            drop_path_rate=a.drop_path,
        )
        self.width = a.width

    def grid(self, mel: torch.Tensor) -> tuple[int, int]:
        return mel.shape[-2] // self.patch_size[0], mel.shape[-1] // self.patch_size[1]

    def patch_tokens(self, mel: torch.Tensor) -> torch.Tensor:
        """Patch embeddings plus position [B, N, C], prefix token (if any) first."""
        # Frames past the last whole patch are dropped (as the MAE targets are), not padded.
        h, w = self.grid(mel)
        x = self.vit.patch_embed(mel[:, None, : h * self.patch_size[0], : w * self.patch_size[1]])
        return self.vit._pos_embed(x)

    def encode_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        # Attention as matmul + softmax on CPU: for these short sequences (72 tokens) it measured faster than
        # scaled_dot_product_attention's CPU kernel (batch 64, bf16, 2 cores: a training step 309-318 ms against
        # 341-388). Same maths; CUDA keeps the fused kernel.
        fused = tokens.device.type != "cpu"
        for block in self.vit.blocks:
            block.attn.fused_attn = fused
        x = self.vit.norm_pre(self.vit.patch_drop(tokens))
        return self.vit.norm(self.vit.blocks(x))

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """Pooled features [B, width]."""
        return self.vit.forward_head(self.encode_tokens(self.patch_tokens(mel)), pre_logits=True)

    def forward_masked(self, mel: torch.Tensor, mask_ratio: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encode a random ``1 - mask_ratio`` of the patches of each clip.

        Returns the encoded visible patch tokens [B, Nv, C] (prefix token removed), their patch indices [B, Nv] and
        the mask [B, N] (1 = hidden, to be reconstructed). Randomness comes from torch's global generator, which the
        trainer seeds per step.
        """
        tokens = self.patch_tokens(mel)
        n_prefix = self.vit.num_prefix_tokens
        prefix, patches = tokens[:, :n_prefix], tokens[:, n_prefix:]
        batch, n_patches, width = patches.shape
        n_keep = max(1, int(round(n_patches * (1.0 - mask_ratio))))
        noise = torch.rand(batch, n_patches, device=mel.device)
        keep = torch.argsort(noise, dim=1)[:, :n_keep].sort(dim=1).values
        visible = torch.gather(patches, 1, keep.unsqueeze(-1).expand(-1, -1, width))
        encoded = self.encode_tokens(torch.cat([prefix, visible], dim=1))[:, n_prefix:]
        mask = torch.ones(batch, n_patches, device=mel.device)
        mask.scatter_(1, keep, 0.0)
        return encoded, keep, mask


class CnnAudioEncoder(nn.Module):
    """A timm mobile CNN (MobileNetV3/EfficientNet family) with one input channel, globally average-pooled."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        import timm

        name = config.audio.cnn_model
        try:
            self.net = timm.create_model(name, pretrained=False, in_chans=1, features_only=True, out_indices=(-1,))
        except (RuntimeError, ValueError) as exc:
            raise ValueError(
                f"audio.cnn_model={name!r} is not a timm model that can extract features; "
                "try mobilenetv3_small_050, mobilenetv3_small_100 or mobilenetv4_conv_small_050"
            ) from exc
        self.width = int(self.net.feature_info.channels()[-1])

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        features = self.net(mel.unsqueeze(1))[-1]
        return features.mean(dim=(2, 3))


def patchify(mel: torch.Tensor, patch_size: tuple[int, int]) -> torch.Tensor:
    """[B, F, T] -> [B, N, pf*pt] in the ViT's patch order (row-major over the (freq, time) grid)."""
    pf, pt = patch_size
    batch, n_freq, n_time = mel.shape
    h, w = n_freq // pf, n_time // pt
    x = mel[:, : h * pf, : w * pt].reshape(batch, h, pf, w, pt)
    return x.permute(0, 1, 3, 2, 4).reshape(batch, h * w, pf * pt)
