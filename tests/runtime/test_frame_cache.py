"""Log-mel frames kept from hop to hop (slap_edge.runtime.frames): the cache computes each frame once, from just the
samples it covers, and gives every window the frames the whole graph would; the split graph's halves reproduce
audio.onnx; a stream with the cache scores as one without it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from runtime_testlib import SR

from slap_edge.config import FrontendConfig
from slap_edge.frontend import log_mel_numpy
from slap_edge.runtime.frames import FrameCache, SplitError, find_logmel, split_audio_graph


def _stream_windows(cfg: FrontendConfig, window: int, hop: int, total: int, start_at: int = 0):
    """(start, end) of a stream's windows as `Stream` makes them: ending at each hop, never before ``start_at``."""
    for end in range(start_at + hop, total + 1, hop):
        start = max(start_at, end - window)
        if end - start >= cfg.n_fft:
            yield start, end


def test_the_cache_computes_each_frame_once_and_gives_the_whole_window_frames() -> None:
    cfg = FrontendConfig(hop_length=320)
    rng = np.random.default_rng(1)
    audio = (0.1 * rng.standard_normal(SR * 8)).astype(np.float32)
    window, hop = 3 * SR, SR // 2
    cache = FrameCache(cfg, cfg.num_frames(window) + 8)
    calls: list[int] = []

    def compute(samples: np.ndarray) -> np.ndarray:
        calls.append(samples.shape[0])
        return log_mel_numpy(samples, cfg)

    windows = list(_stream_windows(cfg, window, hop, audio.shape[0]))
    for start, end in windows:
        got = cache.window_frames(audio[start:end], start, compute)
        np.testing.assert_allclose(got, log_mel_numpy(audio[start:end], cfg), atol=1e-5)
    # Each frame of the stream computed once: as many as the last window's end allows.
    assert cache.computed == cfg.num_frames(windows[-1][1])
    # After the first window, each hop computes its 25 new frames from 24 * 320 + 400 samples.
    assert calls[0] == (cfg.num_frames(windows[0][1]) - 1) * 320 + 400
    assert set(calls[1:]) == {24 * 320 + 400}


def test_a_gap_off_the_frame_grid_starts_the_cache_afresh() -> None:
    cfg = FrontendConfig(hop_length=320)
    rng = np.random.default_rng(2)
    audio = (0.1 * rng.standard_normal(SR * 6)).astype(np.float32)
    cache = FrameCache(cfg, cfg.num_frames(3 * SR) + 8)

    def compute(samples: np.ndarray) -> np.ndarray:
        return log_mel_numpy(samples, cfg)

    cache.window_frames(audio[: 2 * SR], 0, compute)
    held = cache.computed
    # A window starting 1,001 samples later (a gap of no whole number of frames): nothing held is on its grid.
    start = 2 * SR + 1001
    got = cache.window_frames(audio[start : start + SR], start, compute)
    np.testing.assert_allclose(got, log_mel_numpy(audio[start : start + SR], cfg), atol=1e-5)
    assert cache.computed == held + cfg.num_frames(SR) and cache.anchor == start % 320
    with pytest.raises(ValueError, match="does not fit"):
        cache.window_frames(audio, 0, compute)


def test_the_halves_of_the_graph_reproduce_it(test_bundle: Path) -> None:
    pytest.importorskip("onnx")
    import onnx

    from slap_edge.bundle_reader import load_bundle
    from slap_edge.runtime.engine import create_session
    from slap_edge.runtime.frames import open_split

    bundle = load_bundle(test_bundle)
    cfg = FrontendConfig(**bundle.frontend)
    split = split_audio_graph(bundle.audio_path, cfg, bundle.window_samples)
    front, encoder = open_split(split, create_session(str(bundle.audio_path)), cfg, bundle.window_samples)
    x = (0.1 * np.random.default_rng(3).standard_normal((1, bundle.window_samples))).astype(np.float32)
    frames = front.run(None, {split.waveform: x})[0]
    np.testing.assert_allclose(frames[0], log_mel_numpy(x[0], cfg), atol=1e-4)
    whole = create_session(str(bundle.audio_path)).run(None, {split.waveform: x})[0]
    np.testing.assert_array_equal(encoder.run(None, {split.logmel: frames, split.waveform: x})[0], whole)
    # A graph with no mel bank is refused by name (the engine then runs the whole graph every hop).
    graph = onnx.load(str(bundle.audio_path)).graph
    for init in graph.initializer:
        init.name = init.name.replace("mel_bank", "bank")
    for node in graph.node:
        node.input[:] = [n.replace("mel_bank", "bank") for n in node.input]
    with pytest.raises(SplitError, match="mel bank"):
        find_logmel(graph)


def test_a_stream_with_the_frame_cache_scores_as_without(test_bundle: Path, speaker_bank, voices: dict) -> None:
    from slap_edge.bundle_reader import load_bundle
    from slap_edge.runtime import Engine, Listener, Scores

    bundle = load_bundle(test_bundle)
    x = voices["two"]
    runs = {}
    for cached in (True, False):
        engine = Engine(bundle, speaker_bank, frame_cache=cached)
        listener = Listener(engine)
        msgs = [m for s in range(0, len(x), 1234) for m in listener.feed(x[s : s + 1234])]
        runs[cached] = [m for m in msgs if isinstance(m, Scores) and m.embedding is not None]
        assert (listener.stream._frames is not None) == (cached and engine.frame_cache_note.startswith("on"))
    assert runs[True] and len(runs[True]) == len(runs[False])
    for a, b in zip(runs[True], runs[False], strict=True):
        assert a.window == b.window
        np.testing.assert_allclose(a.embedding, b.embedding, atol=1e-5)
        np.testing.assert_allclose(a.probs["speaker"], b.probs["speaker"], atol=1e-5)
