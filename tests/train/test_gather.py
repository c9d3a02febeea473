"""Data-parallel contrastive loss: two gloo processes that gather their batches compute the loss of one process
holding the global batch, with identical captions across processes as positives, and gradients reach only the
rows each process computed."""

from __future__ import annotations

import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from slap_edge.train.losses import caption_ids, caption_positive_mask, contrastive_loss
from slap_edge.train.tasks import gather_batch

CAPTIONS = ["a man", "a woman", "a child", "a man", "an old man", "a woman"]


def _inputs() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    audio = torch.nn.functional.normalize(torch.randn(6, 8, generator=g), dim=1)
    text = torch.nn.functional.normalize(torch.randn(6, 8, generator=g), dim=1)
    return audio, text


def _worker(rank: int, port: int, out: dict) -> None:
    os.environ |= {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
    dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        audio, text = _inputs()
        rows = slice(3 * rank, 3 * rank + 3)
        a = audio[rows].clone().requires_grad_(True)
        t = text[rows].clone().requires_grad_(True)
        ga, gt, positives = gather_batch(a, t, CAPTIONS[rows])
        loss = contrastive_loss(ga, gt, torch.tensor(5.0), positives)
        loss.backward()
        out[rank] = (loss.item(), positives.clone(), a.grad.clone(), t.grad.clone())
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_gathered_loss_equals_the_global_batch_loss() -> None:
    audio, text = _inputs()
    a, t = audio.clone().requires_grad_(True), text.clone().requires_grad_(True)
    reference = contrastive_loss(a, t, torch.tensor(5.0), caption_positive_mask(CAPTIONS))
    reference.backward()

    out = mp.Manager().dict()
    mp.spawn(_worker, args=(_free_port(), out), nprocs=2, join=True)
    for rank in (0, 1):
        loss, positives, grad_a, grad_t = out[rank]
        assert abs(loss - reference.item()) < 1e-6
        assert torch.equal(positives, caption_positive_mask(CAPTIONS))
        rows = slice(3 * rank, 3 * rank + 3)
        # Each process's own rows receive the global loss's gradient; DDP then averages parameters' gradients.
        assert torch.allclose(grad_a, a.grad[rows], atol=1e-6)
        assert torch.allclose(grad_t, t.grad[rows], atol=1e-6)


def test_caption_ids_are_stable_and_separate_texts() -> None:
    ids = caption_ids(CAPTIONS)
    assert ids.dtype == torch.int64 and bool((ids >= 0).all())
    assert ids[0] == ids[3] and ids[1] == ids[5] and len(set(ids.tolist())) == 4
    assert caption_ids(["a man"]).item() == ids[0].item()  # no per-process salt
