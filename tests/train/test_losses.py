"""Losses on cases small enough to compute by hand."""

from __future__ import annotations

import math

import pytest
import torch

from slap_edge.train.losses import caption_positive_mask, contrastive_loss, mae_loss


def test_caption_positive_mask() -> None:
    mask = caption_positive_mask(["a", "b", "a"])
    assert mask.tolist() == [[True, False, True], [False, True, False], [True, False, True]]


def test_contrastive_loss_diagonal() -> None:
    eye = torch.eye(2)
    # logits = I: each row's softmax gives the match e / (e + 1), in both directions.
    loss = contrastive_loss(eye, eye, torch.tensor(1.0))
    assert loss.item() == pytest.approx(math.log(1 + math.exp(-1)), rel=1e-6)


def test_contrastive_loss_scale() -> None:
    eye = torch.eye(2)
    loss = contrastive_loss(eye, eye, torch.tensor(3.0))
    assert loss.item() == pytest.approx(math.log(1 + math.exp(-3)), rel=1e-6)


def test_identical_captions_share_the_target() -> None:
    eye = torch.eye(2)
    both = torch.ones(2, 2, dtype=torch.bool)
    # Target [0.5, 0.5] on a row of logits [1, 0]: -(0.5 log(e/(e+1)) + 0.5 log(1/(e+1))) = log(1 + e) - 0.5.
    loss = contrastive_loss(eye, eye, torch.tensor(1.0), both)
    assert loss.item() == pytest.approx(math.log(1 + math.e) - 0.5, rel=1e-6)


def test_asymmetric_case_averages_both_directions() -> None:
    audio = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    text = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    # logits = [[1, 0], [1, 0]]. audio->text rows: -log(e/(e+1)) and -log(1/(e+1)).
    a2t = 0.5 * (math.log(1 + math.exp(-1)) + math.log(1 + math.e))
    # text->audio rows (columns of logits): [1, 1] -> log 2; [0, 0] -> log 2.
    t2a = math.log(2)
    loss = contrastive_loss(audio, text, torch.tensor(1.0))
    assert loss.item() == pytest.approx(0.5 * (a2t + t2a), rel=1e-6)


def test_mae_loss_counts_hidden_patches_only() -> None:
    pred = torch.zeros(1, 2, 3)
    target = torch.tensor([[[1.0, 2.0, 3.0], [10.0, 10.0, 10.0]]])
    mask = torch.tensor([[1.0, 0.0]])
    assert mae_loss(pred, target, mask, norm_target=False).item() == pytest.approx((1 + 4 + 9) / 3)
    # Normalised target of [1, 2, 3]: mean 2, variance 2/3 -> [-1.2247, 0, 1.2247]; squared mean = 1 (up to eps).
    assert mae_loss(pred, target, mask, norm_target=True).item() == pytest.approx(1.0, rel=1e-5)


def test_mae_loss_gradient_flows() -> None:
    pred = torch.zeros(2, 4, 5, requires_grad=True)
    mae_loss(pred, torch.randn(2, 4, 5), torch.ones(2, 4)).backward()
    assert pred.grad.abs().sum() > 0
