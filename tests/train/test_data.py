"""Training data pieces: balancing weights, the resumable rank-sliced sampler, windows and captions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from slap_edge.data.manifest import read_manifest
from slap_edge.train.config import TrainRecipe
from slap_edge.train.data import (
    BalancedBatchSampler,
    ClipDataset,
    balance_weights,
    build_audio_cache,
    voice_independent_weights,
)


def test_balance_weights_by_hand() -> None:
    attrs = [{"sex": "male"}] * 3 + [{"sex": "female"}] + [{"sex": None}]
    # 4 known: male 3, female 1, K=2 -> factors 4/(2*3) = 2/3 and 4/(2*1) = 2; unknown -> 1.
    w = balance_weights(attrs, ["sex"], 1.0)
    raw = np.array([2 / 3, 2 / 3, 2 / 3, 2, 1])
    assert np.allclose(w, raw / raw.sum())
    assert np.allclose(balance_weights(attrs, ["sex"], 0.0), 0.2)


def test_voice_independent_weights_make_age_independent_of_voice() -> None:
    # Voice A: 3 elderly + 1 adult speakers' clips, voice B: 1 elderly + 3 adult; voice C is always elderly (an
    # age-specific variant: one value, left alone); one clip has no voice, one no age.
    voices = ["A"] * 4 + ["B"] * 4 + ["C"] * 2 + [None, "A"]
    ages = ["elderly"] * 3 + ["adult"] + ["elderly"] + ["adult"] * 3 + ["elderly"] * 2 + ["adult", None]
    attrs = [{"age_group": a} for a in ages]
    w = voice_independent_weights(np.ones(len(attrs)), attrs, voices, ["age_group"])
    raw = w * len(attrs)  # total weight 12 before and after
    pooled_elderly = 4 / 8  # over A and B, the voices where age is drawn
    for v in "AB":
        idx = [i for i, x in enumerate(voices) if x == v and ages[i] is not None]
        elderly = sum(raw[i] for i in idx if ages[i] == "elderly")
        assert elderly / sum(raw[i] for i in idx) == pytest.approx(pooled_elderly)
    assert sum(raw[:4]) == pytest.approx(4) and sum(raw[4:8]) == pytest.approx(4)  # each voice keeps its weight
    assert np.allclose(raw[8:], 1)  # single-valued voice C, the voiceless clip and the ageless clip are untouched
    assert raw[3] == pytest.approx(2) and raw[0] == pytest.approx(2 / 3)  # A: adult x 2, elderly x 2/3
    assert np.allclose(voice_independent_weights(np.ones(4), attrs[:4], voices[:4], []), 0.25)


def test_voice_independent_is_saved_only_when_set() -> None:
    from slap_edge.config import to_dict

    assert "voice_independent" not in to_dict(TrainRecipe(model="teacher-tiny"))
    assert to_dict(TrainRecipe(model="teacher-tiny", voice_independent=("age_group",)))["voice_independent"] == [
        "age_group"
    ]


def test_voice_independent_must_name_a_balanced_attribute() -> None:
    with pytest.raises(ValueError, match="voice_independent names 'voice'.*age_group"):
        TrainRecipe(model="teacher-tiny", voice_independent=("voice",))


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


def test_log_mel_cache_windows_are_the_front_ends_frames(tone_corpus: Path, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from slap_edge.config import FrontendConfig
    from slap_edge.frontend import create_log_mel_module
    from slap_edge.train.data import build_log_mel_cache

    records = [r for r in read_manifest(tone_corpus) if r.split == "train"]
    cache = build_audio_cache(tone_corpus, records, 16000, tmp_path, progress=False)
    frontend = create_log_mel_module(FrontendConfig(n_fft=512, win_length=400, hop_length=160, n_mels=40))
    mel = build_log_mel_cache(cache, frontend, progress=False)
    assert mel.pad_hops * mel.hop >= 512 and len(mel.mels) == len(cache.ids)
    i = 5
    length = int(cache.lengths[i])
    for window in (8000, length + 3000):  # shorter than the clip (cut), longer (the clip placed in silence)
        frames = frontend.cfg.num_frames(window)
        ds = ClipDataset(cache, records, window, seed=0, mel=mel, mel_frames=frames)
        wave_ds = ClipDataset(cache, records, window, seed=0)
        assert "audio" not in ds[(0, i)] and ds[(0, i)]["mel"].shape == (40, frames)
        windows = [ds[(e, i)]["mel"] for e in range(8)]
        offsets = {(w != mel.silence).argmax() if window > length else w[0, 0] for w in windows}
        assert len(offsets) > 1  # windows move between epochs
        # Every hop-aligned placement the dataset can draw: the cached frames equal the front end on that window.
        pcm = cache.clip(i).astype(np.float32) / 32767.0
        top = (length - window) // 160 if window <= length else -((window - length) // 160)
        for offset in sorted({0, top, top // 2}):
            wave = np.zeros(window, dtype=np.float32)
            if window <= length:
                wave[:] = pcm[offset * 160 : offset * 160 + window]
            else:
                wave[-offset * 160 : -offset * 160 + length] = pcm
            with torch.inference_mode():
                expected = frontend(torch.from_numpy(wave)[None])[0].numpy()
            got = mel.window(i, offset, frames)
            np.testing.assert_allclose(got, expected, atol=4e-3, rtol=2e-3)  # float16 storage
        assert wave_ds[(0, i)]["audio"].shape == (window,)
    with pytest.raises(ValueError, match="mel_frames"):
        ClipDataset(cache, records, 8000, seed=0, mel=mel)
