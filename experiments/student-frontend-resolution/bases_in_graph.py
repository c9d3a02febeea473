"""Can a bundle's audio graph generate its DFT bases from a formula instead of storing them (0.32 MB of float16 in
the built-in audio.onnx's 0.79 MB)? The Cast of the stored bases is replaced by a subgraph (Range, Mul, Mod, Cos, Sin
of constants, times the analysis window stored as float32) that ONNX Runtime folds to a constant when the session is
built, so what runs per hop is the same Conv. Prints the file sizes, the embeddings' agreement with the original
graph and of both with the same graph holding the bases in float32, and one-thread latency of both graphs, measured
alternately.

    python experiments/student-frontend-resolution/bases_in_graph.py BUNDLE_DIR [GRAPH]    (default audio.onnx)
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from slap_edge.bundle_reader import load_bundle
from slap_edge.config import FrontendConfig, from_dict
from slap_edge.export.onnx import speech_like_waveforms
from slap_edge.frontend import analysis_window

BASES = "frontend.stft_bases_fp16"


def with_generated_bases(model: onnx.ModelProto, n_fft: int, window: np.ndarray) -> onnx.ModelProto:
    g = model.graph
    cast = next(n for n in g.node if n.op_type == "Cast" and list(n.input) == [BASES])
    out = cast.output[0]
    n_bins = n_fft // 2 + 1
    c = lambda name, value: numpy_helper.from_array(np.asarray(value), name)  # noqa: E731
    inits = [
        c("gb.zero", np.int64(0)),
        c("gb.one", np.int64(1)),
        c("gb.n", np.int64(n_fft)),
        c("gb.f", np.int64(n_bins)),
        c("gb.ax0", np.array([0], dtype=np.int64)),
        c("gb.ax1", np.array([1], dtype=np.int64)),
        c("gb.step", np.float32(2.0 * np.pi / n_fft)),
        c("gb.window", window.astype(np.float32)),
    ]
    nodes = [
        helper.make_node("Range", ["gb.zero", "gb.n", "gb.one"], ["gb.k"]),
        helper.make_node("Range", ["gb.zero", "gb.f", "gb.one"], ["gb.fr"]),
        helper.make_node("Unsqueeze", ["gb.fr", "gb.ax1"], ["gb.fcol"]),
        helper.make_node("Unsqueeze", ["gb.k", "gb.ax0"], ["gb.krow"]),
        helper.make_node("Mul", ["gb.fcol", "gb.krow"], ["gb.fk"]),
        helper.make_node("Mod", ["gb.fk", "gb.n"], ["gb.fkmod"]),  # exact integer phase index, so float32 is enough
        helper.make_node("Cast", ["gb.fkmod"], ["gb.fkf"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["gb.fkf", "gb.step"], ["gb.angle"]),
        helper.make_node("Cos", ["gb.angle"], ["gb.cos"]),
        helper.make_node("Sin", ["gb.angle"], ["gb.sin"]),
        helper.make_node("Neg", ["gb.sin"], ["gb.nsin"]),
        helper.make_node("Concat", ["gb.cos", "gb.nsin"], ["gb.cs"], axis=0),
        helper.make_node("Mul", ["gb.cs", "gb.window"], ["gb.bases"]),
        helper.make_node("Unsqueeze", ["gb.bases", "gb.ax1"], [out]),
    ]
    at = list(g.node).index(cast)
    g.node.remove(cast)
    for i, node in enumerate(nodes):
        g.node.insert(at + i, node)
    g.initializer.extend(inits)
    keep = [t for t in g.initializer if t.name != BASES]
    del g.initializer[:]
    g.initializer.extend(keep)
    onnx.checker.check_model(model)
    return model


def with_float32_bases(model: onnx.ModelProto, n_fft: int, window: np.ndarray) -> onnx.ModelProto:
    """The same graph with the bases stored in float32 (computed in float64): the reference for both."""
    g = model.graph
    cast = next(n for n in g.node if n.op_type == "Cast" and list(n.input) == [BASES])
    n_bins = n_fft // 2 + 1
    angle = 2.0 * np.pi * np.outer(np.arange(n_bins), np.arange(n_fft)) / n_fft
    bases = np.concatenate([np.cos(angle) * window, -np.sin(angle) * window], axis=0)[:, None, :].astype(np.float32)
    g.node.remove(cast)
    keep = [t for t in g.initializer if t.name != BASES]
    del g.initializer[:]
    g.initializer.extend([*keep, numpy_helper.from_array(bases, cast.output[0])])
    return model


def session(path: Path) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def main() -> None:
    bundle = Path(sys.argv[1])
    graph = sys.argv[2] if len(sys.argv) > 2 else "audio.onnx"
    manifest = json.loads((bundle / "manifest.json").read_text())
    fe = from_dict(FrontendConfig, manifest["audio"]["frontend"], "front end")
    samples = int(round(manifest["audio"]["window_s"] * manifest["audio"]["sample_rate"]))
    load_bundle(bundle)  # checksums: the graph read is the bundle's
    src = bundle / graph
    model = with_generated_bases(onnx.load(str(src)), fe.n_fft, analysis_window(fe))
    with tempfile.TemporaryDirectory() as tmp:
        dst, ref = Path(tmp) / graph, Path(tmp) / f"f32-{graph}"
        onnx.save(model, str(dst))
        onnx.save(with_float32_bases(onnx.load(str(src)), fe.n_fft, analysis_window(fe)), str(ref))
        a, b, r = session(src), session(dst), session(ref)
        x = speech_like_waveforms(16, samples, seed=0).numpy()
        name = a.get_inputs()[0].name
        ea, eb, er = (s.run(None, {name: x})[0] for s in (a, b, r))
        print(f"{src}: {src.stat().st_size:,} bytes; with generated bases: {dst.stat().st_size:,} bytes")

        def agree(u: np.ndarray, v: np.ndarray) -> str:
            cos = (u * v).sum(-1) / np.linalg.norm(u, axis=-1) / np.linalg.norm(v, axis=-1)
            return f"cosine min {cos.min():.6f}, max |diff| {np.abs(u - v).max():.2e}"

        print(f"embeddings of 16 speech-like windows, generated vs stored float16: {agree(eb, ea)}")
        print(f"  against float32 bases: stored float16 {agree(ea, er)}; generated {agree(eb, er)}")
        one = x[:1]
        times = {"stored": [], "generated": []}
        for _ in range(20):
            a.run(None, {name: one}), b.run(None, {name: one})
        for _ in range(300):
            for key, s in (("stored", a), ("generated", b)):
                t = time.perf_counter()
                s.run(None, {name: one})
                times[key].append((time.perf_counter() - t) * 1000)
        for key, v in times.items():
            print(
                f"{key}: one window, one thread: p50 {np.percentile(v, 50):.3f} ms, p99 {np.percentile(v, 99):.3f} ms"
            )


if __name__ == "__main__":
    main()
