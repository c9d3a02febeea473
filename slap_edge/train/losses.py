"""Training losses as pure functions of tensors (no modules, no state), unit-tested on hand-computed cases."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import torch
import torch.nn.functional as F


def caption_positive_mask(captions: Sequence[str], device: torch.device | None = None) -> torch.Tensor:
    """[B, B] bool: True where two clips of the batch carry the same caption (so each is a positive of the other)."""
    ids = caption_ids(captions, device=device)
    return ids[:, None] == ids[None, :]


def caption_ids(captions: Sequence[str], device: torch.device | None = None) -> torch.Tensor:
    """[B] int64: a stable 63-bit hash of each caption, equal for equal texts in every process (Python's ``hash`` of a
    string differs between processes), so positives can be found across a batch gathered from several."""
    digests = (hashlib.blake2b(c.encode("utf-8"), digest_size=8).digest() for c in captions)
    values = [int.from_bytes(d, "little") >> 1 for d in digests]
    return torch.tensor(values, dtype=torch.int64, device=device)


def _soft_cross_entropy(logits: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of each row against a target spread evenly over its positives, averaged over rows."""
    target = positives.to(logits.dtype)
    target = target / target.sum(dim=1, keepdim=True)
    return -(target * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


def contrastive_loss(
    audio_emb: torch.Tensor, text_emb: torch.Tensor, logit_scale: torch.Tensor, positives: torch.Tensor | None = None
) -> torch.Tensor:
    """Symmetric InfoNCE between L2-normalised audio [B, D] and text [B, D] embeddings.

    ``positives`` [B, B] marks the pairs that count as matches (default: the diagonal). With repeated captions every
    clip of a caption is a positive of that caption's text and the target probability is shared evenly among them,
    instead of pushing identical texts apart as negatives.
    """
    logits = logit_scale * audio_emb @ text_emb.T
    if positives is None:
        positives = torch.eye(logits.shape[0], dtype=torch.bool, device=logits.device)
    audio_to_text = _soft_cross_entropy(logits, positives)
    text_to_audio = _soft_cross_entropy(logits.T, positives.T)
    return 0.5 * (audio_to_text + text_to_audio)


def mae_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, norm_target: bool = True) -> torch.Tensor:
    """Mean squared error over the hidden patches only (``mask`` [B, N]: 1 = hidden); pred/target [B, N, P].

    With ``norm_target`` each target patch is standardised by its own mean and variance (as in MAE), so the loss
    asks for spectral shape rather than loudness.
    """
    if norm_target:
        mean = target.mean(dim=-1, keepdim=True)
        var = target.var(dim=-1, keepdim=True, unbiased=False)
        target = (target - mean) / (var + 1e-6).sqrt()
    per_patch = ((pred - target) ** 2).mean(dim=-1)
    return (per_patch * mask).sum() / mask.sum().clamp_min(1.0)


def attribute_loss(logits: dict[str, torch.Tensor], labels: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean over attributes of the cross-entropy of each head's logits [B, C] against class indices [B] (-1 where
    the clip's value is unknown: those rows are left out). Attributes with no known value in the batch are skipped;
    with none at all the loss is 0 (still attached to the graph)."""
    terms = []
    for name, head_logits in logits.items():
        target = labels[name]
        if bool((target >= 0).any()):
            terms.append(F.cross_entropy(head_logits, target, ignore_index=-1))
    if not terms:
        return sum((x.sum() * 0.0 for x in logits.values()), torch.zeros(()))
    return torch.stack(terms).mean()
