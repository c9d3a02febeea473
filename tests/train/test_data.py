"""Training data pieces: balancing weights, the resumable rank-sliced sampler, windows and captions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from slap_edge.data.manifest import read_manifest
from slap_edge.train.data import BalancedBatchSampler, ClipDataset, balance_weights, build_audio_cache


def test_balance_weights_by_hand() -> None:
    attrs = [{"sex": "male"}] * 3 + [{"sex": "female"}] + [{"sex": None}]
    # 4 known: male 3, female 1, K=2 -> factors 4/(2*3) = 2/3 and 4/(2*1) = 2; unknown -> 1.
    w = balance_weights(attrs, ["sex"], 1.0)
    raw = np.array([2 / 3, 2 / 3, 2 / 3, 2, 1])
    assert np.allclose(w, raw / raw.sum())
    assert np.allclose(balance_weights(attrs, ["sex"], 0.0), 0.2)


def test_sampler_is_resumable_and_ranks_are_disjoint() -> None:
    weights = np.full(40, 1 / 40)
    whole = BalancedBatchSampler(weights, 4, seed=3)
    it = iter(whole)
    batches = [next(it) for _ in range(25)]  # crosses two epoch boundaries (10 steps per epoch)
    resumed = iter(BalancedBatchSampler(weights, 4, seed=3, start_step=13))
    assert [next(resumed) for _ in range(12)] == batches[13:]
    assert batches[12][0][0] == 1 and batches[21][0][0] == 2  # (epoch, index) pairs
    r0 = iter(BalancedBatchSampler(weights, 2, seed=3, rank=0, world=2))
    r1 = iter(BalancedBatchSampler(weights, 2, seed=3, rank=1, world=2))
    for step in range(10):
        assert next(r0) + next(r1) == batches[step]


def test_windows_are_cropped_or_padded_and_captions_change_per_epoch(tone_corpus: Path, tmp_path: Path) -> None:
    records = [r for r in read_manifest(tone_corpus) if r.split == "train"]
    cache = build_audio_cache(tone_corpus, records, 16000, tmp_path, progress=False)
    again = build_audio_cache(tone_corpus, records, 16000, tmp_path, progress=False)  # reused, not rebuilt
    assert again.data_path == cache.data_path and len(list(tmp_path.iterdir())) == 2
    for window in (8000, 40000):
        ds = ClipDataset(cache, records, window, seed=0)
        item = ds[(0, 5)]
        assert item["audio"].shape == (window,) and item["audio"].dtype == np.float32
        assert np.array_equal(ds[(0, 5)]["audio"], item["audio"])  # fixed by (seed, epoch, index)
        assert 0 < np.abs(item["audio"]).max() <= 1.0
    ds = ClipDataset(cache, records, 8000, seed=0)
    captions = {ds[(epoch, 5)]["caption"] for epoch in range(6)}
    assert len(captions) > 1
    assert pytest.approx(len(ds)) == len(records)
