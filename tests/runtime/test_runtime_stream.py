"""The stream: chunking never changes scores, scores equal offline scoring, events follow a change of speaker."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from runtime_testlib import HOP_S, SR, WINDOW_S

from slap_edge.bundle_reader import load_bundle
from slap_edge.prompts import PromptBank, parse_prompts
from slap_edge.runtime import Engine, Event, Listener, Scores
from slap_edge.runtime.text import TextEncoder, resolve_bank


def _run(listener: Listener, x: np.ndarray, chunk: int) -> list:
    out = []
    for start in range(0, len(x), chunk):
        out.extend(listener.feed(x[start : start + chunk]))
    return out


@pytest.fixture(scope="module")
def engine(test_bundle: Path, speaker_bank: PromptBank) -> Engine:
    return Engine(load_bundle(test_bundle), speaker_bank)


def test_chunk_sizes_give_the_same_scores(engine: Engine, voices: dict) -> None:
    x = voices["two"]
    hop = int(HOP_S * SR)
    runs = {}
    for chunk in (hop, 2 * hop, 1234, len(x)):
        msgs = _run(Listener(engine), x, chunk)
        runs[chunk] = msgs
    ref = [m for m in runs[hop] if isinstance(m, Scores)]
    assert len(ref) > 30
    for chunk, msgs in runs.items():
        scores = [m for m in msgs if isinstance(m, Scores)]
        assert [m.seq for m in scores] == [m.seq for m in ref], chunk
        for a, b in zip(scores, ref, strict=True):
            assert a.window == b.window and a.speech == b.speech
            np.testing.assert_allclose(a.probs["speaker"], b.probs["speaker"], atol=1e-5)
        events = [(m.t, m.label) for m in msgs if isinstance(m, Event)]
        assert events == [(m.t, m.label) for m in runs[hop] if isinstance(m, Event)]


def test_each_window_equals_offline_scoring(engine: Engine, voices: dict) -> None:
    x = voices["two"]
    msgs = [m for m in _run(Listener(engine), x, 1234) if isinstance(m, Scores) and m.probs is not None]
    assert len(msgs) > 30
    for m in msgs:
        a, b = (int(round(v * SR)) for v in m.window)
        offline = engine.score_window(x[a:b])
        np.testing.assert_allclose(m.probs["speaker"], offline["speaker"], atol=1e-5)
    full = [m for m in msgs if m.window[1] - m.window[0] == pytest.approx(WINDOW_S)]
    assert full, "after the first window fills, windows have the manifest's length"


def test_events_follow_the_change_of_speaker(engine: Engine, voices: dict) -> None:
    msgs = Listener(engine).feed(voices["two"])
    events = [m for m in msgs if isinstance(m, Event)]
    change = voices["change_s"]
    assert [e.label for e in events] == ["low", "high"], [e.to_json() for e in events]
    assert events[0].previous is None and events[1].previous == "low"
    assert events[0].t < change
    # The new voice is announced after it starts, within a window plus smoothing and dwell.
    assert change < events[1].t < change + WINDOW_S + 2.0


def test_silence_skips_the_encoder_and_says_so(engine: Engine) -> None:
    x = np.zeros(int(3 * SR), dtype=np.float32)
    x += np.random.default_rng(0).normal(scale=1e-4, size=x.shape).astype(np.float32)
    listener = Listener(engine)
    msgs = listener.feed(x)
    assert msgs and all(isinstance(m, Scores) and m.sections is None and m.speech < 0.1 for m in msgs)
    assert "features_and_encoder" not in msgs[0].latency_ms
    assert listener.stream.gated == listener.stream.hops == len(msgs)


def test_nan_inf_and_clipping_are_guarded(engine: Engine, voices: dict) -> None:
    x = voices["two"][: 3 * SR].copy()
    x[100:110] = np.nan
    x[200] = np.inf
    x[300:310] = 7.0
    listener = Listener(engine)
    msgs = [m for m in listener.feed(x) if isinstance(m, Scores) and m.probs is not None]
    assert msgs and all(np.all(np.isfinite(m.probs["speaker"])) for m in msgs)
    assert listener.stream.guard.nonfinite == 11 and listener.stream.guard.clipped == 10


def test_hop_override_and_json_lines(engine: Engine, voices: dict) -> None:
    msgs = Listener(engine, hop_s=0.5).feed(voices["two"][: 4 * SR])
    scores = [m.to_json() for m in msgs if isinstance(m, Scores)]
    assert [s["t"] for s in scores] == [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0]
    s = scores[-1]
    assert set(s) == {"type", "seq", "t", "window", "speech", "sections", "latency_ms", "dropped"}
    assert set(s["sections"]["speaker"]) == {"top", "probs"}
    assert abs(sum(s["sections"]["speaker"]["probs"].values()) - 1) < 1e-4


def test_prompts_embedded_with_text_onnx_and_cached(test_bundle: Path, tmp_path: Path) -> None:
    bundle = load_bundle(test_bundle)
    prompts = parse_prompts("[g]\nf = a woman is speaking\nm = a man is speaking\n[a]\nc = a child\nd = an adult\n")
    bank = resolve_bank(bundle, prompts, cache_dir=tmp_path / "cache")
    assert bank.embeddings.shape == (4, 32) and bank.model_id == bundle.model_id
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 4
    direct = TextEncoder(bundle).encode(prompts.texts)
    np.testing.assert_allclose(bank.embeddings, direct, atol=1e-6)
    # A second resolution is served from the cache, even without the text model.
    cached = resolve_bank(bundle, prompts, cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(cached.embeddings, bank.embeddings)
    bank.save(tmp_path / "bank.npz")
    assert resolve_bank(bundle, prompts, bank=tmp_path / "bank.npz").matches(prompts)
    other = parse_prompts("x = a man\ny = a woman\n")
    with pytest.raises(ValueError, match="does not hold the prompts"):
        resolve_bank(bundle, other, bank=tmp_path / "bank.npz")


def test_bundle_without_text_model_uses_bundled_or_given_banks(
    test_bundle: Path, speaker_bank: PromptBank, tmp_path: Path
) -> None:
    import shutil

    from runtime_testlib import write_manifest

    from slap_edge.prompts import PromptsError

    folder = Path(shutil.copytree(test_bundle, tmp_path / "small"))
    (folder / "text.onnx").unlink()
    (folder / "tokenizer.json").unlink()
    speaker_bank.save(folder / "prompts" / "speaker.npz")
    write_manifest(folder)
    bundle = load_bundle(folder)
    assert bundle.text_path is None and set(bundle.prompt_banks) == {"speaker"}
    by_name = resolve_bank(bundle, bank="speaker")
    assert by_name.matches(speaker_bank.prompts)
    # A prompts file whose prompts a bundled bank holds needs no text model ...
    assert resolve_bank(bundle, speaker_bank.prompts).matches(speaker_bank.prompts)
    # ... other prompts do, and the error says how to precompute them.
    with pytest.raises(PromptsError, match="slap-edge prompts embed"):
        resolve_bank(bundle, parse_prompts("x = a man\ny = a woman\n"), cache_dir=tmp_path / "empty-cache")
