"""Log-mel frames kept from hop to hop: each hop runs the front end on its new audio only.

audio.onnx takes a window of samples and computes its log-mel frames inside the graph (spec/bundle.md). Frames are
not centred and each depends only on its own samples (`FrontendConfig`: frame ``i`` of a clip covers samples
``[i*hop_length, i*hop_length + n_fft)``), so successive windows of a stream share all but their newest frames: with
the built-in 3 s window and 0.5 s hop, 124 of 149. The STFT is the front end's costliest part (a convolution over
the whole window), so recomputing it every hop spends most of the encoder's time on frames computed before.

`cut_audio_graph` cuts audio.onnx in two at its normalised log-mel (the tensor after the mel projection, log and
normalisation, found from the mel bank's MatMul): a front-end graph (waveform -> log-mel) and an encoder graph
(log-mel -> embedding; it also takes the waveform, of which it reads only the shape), refusing, with the reason, a
graph it cannot cut that way. `open_split` opens the two halves (cut here, or shipped in a bundle) and checks them on
a test window against the whole graph (they run the same operators on the same values, so they agree exactly);
`split_audio_graph` does both, for the exporter. A `FrameCache` (one per stream) holds frames by their absolute index
in the stream; `Engine.timed_embed` computes the frames a window lacks from just the samples they cover, and runs the
encoder on the window's frames.

A frame computed from a short segment can differ from the same frame computed within a whole window in the last bit
(the convolution's kernel differs by length: up to 5e-7 here); where the int8 graph quantizes the log-mel, such a
difference can move one input value by a quantization step, which changed the built-in bundle's embedding by at most
cosine 4e-5 on the demo recording (4 hops of 78). The stream stays independent of how its audio is chunked (frames
are computed per hop, at positions that depend only on the sample count); only the offline whole-window path
(`Engine.embed`, `slap-edge eval`) can differ by that much. `Engine(frame_cache=False)` or `listen --no-frame-cache`
runs the whole graph every hop.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from slap_edge.config import FrontendConfig

NORMALISING_OPS = ("Add", "Log", "Sub", "Div", "Mul", "Max", "Clip")


class SplitError(ValueError):
    """audio.onnx cannot be cut at its log-mel; the message says why (the engine then runs the whole graph)."""


@dataclasses.dataclass
class SplitGraph:
    """The two halves of audio.onnx (serialised ONNX models, or the paths of a bundle's files) and the names of the
    tensors that join them."""

    frontend: bytes | str
    encoder: bytes | str
    logmel: str
    waveform: str
    embedding: str


def find_logmel(graph: Any) -> str:
    """The name of the normalised log-mel tensor: the end of the single-consumer chain of element-wise ops (floor,
    log, normalisation) after the MatMul that applies the mel bank."""
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    banks = [n.output[0] for n in graph.node if n.op_type == "Cast" and "mel_bank" in n.input[0]]
    banks += [i.name for i in graph.initializer if "mel_bank" in i.name]
    matmuls = [n for b in banks for n in consumers.get(b, []) if n.op_type == "MatMul"]
    if len(matmuls) != 1:
        raise SplitError(f"found {len(matmuls)} MatMul nodes applying a mel bank, not one")
    name = matmuls[0].output[0]
    steps = 0
    while len(consumers.get(name, [])) == 1 and consumers[name][0].op_type in NORMALISING_OPS:
        name = consumers[name][0].output[0]
        steps += 1
    if steps == 0:
        raise SplitError("the mel projection is not followed by a log")
    return name


def cut_audio_graph(path: str | Path) -> SplitGraph:
    """audio.onnx cut at its log-mel (see the module's doc), unchecked (`open_split` checks); `SplitError` if it
    cannot be cut that way."""
    try:
        import onnx
        from onnx import helper
        from onnx.utils import Extractor
    except ImportError as exc:
        raise SplitError("cutting a graph needs the onnx package, which is not installed") from exc

    model = onnx.load(str(path))
    graph = model.graph
    if len(graph.input) != 1 or len(graph.output) != 1:
        raise SplitError(f"{len(graph.input)} inputs and {len(graph.output)} outputs, not one each")
    waveform, embedding = graph.input[0].name, graph.output[0].name
    logmel = find_logmel(graph)
    if logmel not in {v.name for v in graph.value_info}:
        graph.value_info.append(helper.make_tensor_value_info(logmel, onnx.TensorProto.FLOAT, None))
    try:
        front = Extractor(model).extract_model([waveform], [logmel])
        encoder = Extractor(model).extract_model([logmel, waveform], [embedding])
    except Exception as exc:  # onnx raises plain exceptions for tensors it cannot reach
        raise SplitError(f"cannot extract the halves at {logmel!r}: {exc}") from exc
    readers = [n.op_type for n in encoder.graph.node if waveform in n.input]
    if any(op != "Shape" for op in readers):
        raise SplitError(f"the encoder half reads the waveform's values ({sorted(set(readers))}), not only its shape")
    for half in (front, encoder):
        # The whole graph's metadata (model id, front end): a stray half still says what it belongs to.
        del half.metadata_props[:]
        half.metadata_props.extend(model.metadata_props)
        del half.opset_import[:]
        half.opset_import.extend(model.opset_import)
        half.ir_version = model.ir_version
    return SplitGraph(front.SerializeToString(), encoder.SerializeToString(), logmel, waveform, embedding)


def split_audio_graph(path: str | Path, frontend: FrontendConfig, window_samples: int) -> SplitGraph:
    """audio.onnx cut at its log-mel and checked against the whole graph (what the exporter ships); `SplitError` if
    it cannot be cut or the halves do not reproduce the whole graph on a test window."""
    from slap_edge.runtime.engine import create_session

    split = cut_audio_graph(path)
    open_split(split, create_session(str(path)), frontend, window_samples)
    return split


def open_split(
    split: SplitGraph, whole: Any, frontend: FrontendConfig, window_samples: int, threads: int = 1
) -> tuple[Any, Any]:
    """ONNX Runtime sessions of the front-end and encoder halves (the engine's settings), checked on a test window
    (speech-like noise) against the session ``whole`` of audio.onnx: frames of the right shape and the whole graph's
    embedding; `SplitError` naming the difference otherwise."""
    from slap_edge.runtime.engine import create_session

    front, encoder = create_session(split.frontend, threads), create_session(split.encoder, threads)
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal((1, window_samples))).astype(np.float32)
    frames = front.run(None, {split.waveform: x})[0]
    want = (1, frontend.n_mels, frontend.num_frames(window_samples))
    if tuple(frames.shape) != want:
        raise SplitError(f"the front-end half gives frames {tuple(frames.shape)}, expected {want}")
    halves = encoder.run(None, {split.logmel: frames, split.waveform: x})[0]
    diff = float(np.abs(halves - whole.run(None, {split.waveform: x})[0]).max())
    if diff > 1e-5:
        raise SplitError(f"the two halves differ from the whole graph by {diff:.2e} on a test window")
    return front, encoder


class FrameCache:
    """A stream's log-mel frames by absolute frame index (frame ``k`` covers samples ``[anchor + k*hop_length,
    ... + n_fft)``), the newest ``capacity`` of them; frames at another anchor (after a gap that is not a whole
    number of frames) replace them all."""

    def __init__(self, frontend: FrontendConfig, capacity: int) -> None:
        self.frontend = frontend
        self.hop = frontend.hop_length
        self.n_fft = frontend.n_fft
        self._frames = np.zeros((frontend.n_mels, capacity), dtype=np.float32)
        self.anchor = -1
        self.first = 0  # absolute index of the oldest frame held
        self.end = 0  # one past the newest
        self.computed = 0  # frames computed (for tests and the bench)

    @property
    def capacity(self) -> int:
        return self._frames.shape[1]

    def window_frames(self, window: np.ndarray, start: int, compute: Any) -> np.ndarray:
        """The log-mel [n_mels, F] of ``window`` (the samples ``[start, start + len)`` of the stream): frames held
        are reused, the rest computed by ``compute(samples) -> [n_mels, frames]`` from just the samples they cover."""
        count = self.frontend.num_frames(window.shape[0])
        anchor = start % self.hop
        k0 = (start - anchor) // self.hop
        k_end = k0 + count
        if count > self.capacity:
            raise ValueError(f"a window of {count} frames does not fit the frame cache's {self.capacity}")
        if anchor != self.anchor or k0 < self.first or k0 > self.end:
            self.anchor, self.first, self.end = anchor, k0, k0  # nothing held is usable: start afresh
        if k_end > self.end:
            j = self.end - k0  # the window's first frame not held
            new = compute(window[j * self.hop : (count - 1) * self.hop + self.n_fft])
            if new.shape != (self._frames.shape[0], count - j):
                want = (self._frames.shape[0], count - j)
                raise ValueError(f"the front end gave frames {new.shape}, expected {want}")
            self._frames[:, np.arange(self.end, k_end) % self.capacity] = new
            self.end = k_end
            self.computed += count - j
            self.first = max(self.first, self.end - self.capacity)
        cols = np.arange(k0, k_end) % self.capacity
        return self._frames[:, cols]
