"""The compression chain on one suite: teacher -> student fp32 (PyTorch) -> student fp32 (ONNX) -> student int8 (ONNX)
-> student int8 (torchao), with zero-shot and linear-probe macro-F1, parameters, file size and single-thread latency
per window. Every row is measured in this one run, on this machine.

    python benchmarks/bench_compression.py --teacher RUN --student RUN2 --bundle-int8 B --suite SUITE \
        [--bundle-fp32 B32] [--name compression-chain]

Writes benchmarks/results/NAME.json and NAME.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from slap_edge.bench.stats import percentile
from slap_edge.provenance import provenance

RESULTS = Path(__file__).resolve().parent / "results"


def time_per_window(run_once, repeats: int = 100, warmup: int = 10) -> dict[str, float]:
    for _ in range(warmup):
        run_once()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run_once()
        times.append((time.perf_counter() - start) * 1e3)
    return {"p50_ms": percentile(times, 50), "p95_ms": percentile(times, 95)}


def torch_row(name: str, run_dir: Path, suite, window: np.ndarray, torchao: bool = False) -> dict:
    import torch

    from slap_edge.eval.embedders import EmbeddingSource, pool_windows
    from slap_edge.eval.runner import evaluate_suite
    from slap_edge.train.checkpoint import load_run

    model, config = load_run(run_dir)
    audio = model.audio_export_module()
    params = sum(p.numel() for p in audio.parameters())
    if torchao:
        from slap_edge.export.quantize import quantize_torchao

        audio = quantize_torchao(audio)

    def embed_windows(batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return audio(torch.from_numpy(batch)).float().numpy()

    def embed_text(texts: list[str]) -> np.ndarray:
        with torch.inference_mode():
            return model.encode_text(list(texts)).float().numpy()

    source = EmbeddingSource(
        name=name,
        sample_rate=config.model.frontend.sample_rate,
        embed_audio=lambda waves: pool_windows(embed_windows, waves, config.model.window_samples),
        embed_text=embed_text,
    )
    report = evaluate_suite(suite, source, probe=True)
    x = torch.from_numpy(window[None])
    with torch.inference_mode():
        latency = time_per_window(lambda: audio(x))
    size = params * (1 if torchao else 4)
    return {"stage": name, "params": int(params), "size_mb": size / 1e6, "report": report, "latency": latency}


def onnx_row(name: str, bundle_path: Path, suite, window: np.ndarray) -> dict:
    from slap_edge.bundle_reader import load_bundle
    from slap_edge.eval.embedders import bundle_source
    from slap_edge.eval.runner import evaluate_suite
    from slap_edge.export.onnx import create_session

    bundle = load_bundle(bundle_path)
    report = evaluate_suite(suite, bundle_source(bundle_path), probe=True)
    session = create_session(bundle.audio_path, threads=1)
    feed = {session.get_inputs()[0].name: window[None]}
    latency = time_per_window(lambda: session.run(None, feed))
    import onnx

    params = sum(int(np.prod(t.dims)) for t in onnx.load(str(bundle.audio_path)).graph.initializer)
    return {
        "stage": name,
        "params": params,
        "size_mb": bundle.audio_path.stat().st_size / 1e6,
        "report": report,
        "latency": latency,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teacher", type=Path, required=True)
    parser.add_argument("--student", type=Path, required=True)
    parser.add_argument("--bundle-int8", type=Path, required=True)
    parser.add_argument("--bundle-fp32", type=Path, help="fp32 bundle of the student (exported here when absent)")
    parser.add_argument("--suite", type=Path, required=True)
    parser.add_argument("--name", default="compression-chain")
    args = parser.parse_args(argv)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(1)
    from slap_edge.bench.machine import cpu_model, usable_cores
    from slap_edge.eval.suite import load_suite

    suite = load_suite(args.suite)
    bundle_fp32 = args.bundle_fp32
    if bundle_fp32 is None:
        import tempfile

        from slap_edge.export.bundle_writer import export_bundle

        # A fresh export of this --student every time: a cached one could belong to another student.
        bundle_fp32 = Path(tempfile.mkdtemp(prefix="slap-edge-compression-")) / "fp32"
        export_bundle(args.student, bundle_fp32, int8=False, with_text=True)
    window = np.random.default_rng(0).uniform(-0.3, 0.3, 48000).astype(np.float32)
    rows = [
        torch_row("teacher fp32 (PyTorch)", args.teacher, suite, window),
        torch_row("student fp32 (PyTorch)", args.student, suite, window),
        onnx_row("student fp32 (ONNX)", bundle_fp32, suite, window),
        onnx_row("student int8 (ONNX)", args.bundle_int8, suite, window),
        torch_row("student int8 (torchao)", args.student, suite, window, torchao=True),
    ]
    meta = {
        "cpu": cpu_model(),
        "cores": usable_cores(),
        "threads": 1,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "suite": str(args.suite),
        "window_s": 3.0,
        "command": " ".join([sys.executable.rsplit("/", 1)[-1], *sys.argv]),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    prov = provenance(args.student, args.suite, made_by=["python", "benchmarks/bench_compression.py", *sys.argv[1:]])
    record = {"meta": meta, "rows": rows, "provenance": prov}
    (RESULTS / f"{args.name}.json").write_text(json.dumps(record, indent=1) + "\n")
    teacher_ms = rows[0]["latency"]["p50_ms"]
    lines = [
        f"# Compression chain on `{Path(args.suite).name}`",
        "",
        f"{meta['cpu']}, {meta['cores']} cores, 1 thread, {meta['date']}. Latency: one 3 s window, p50 of 100 runs.",
        "",
        "| stage | zero-shot F1 | probe F1 | params | file MB | latency ms (p50) | x faster than teacher |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        rep = row["report"]
        zs, pr = rep["zero_shot"]["mean_macro_f1"], rep["linear_probe"]["mean_macro_f1"]
        ms = row["latency"]["p50_ms"]
        lines.append(
            f"| {row['stage']} | {zs:.3f} | {pr:.3f} | {row['params'] / 1e6:.2f} M | {row['size_mb']:.2f} | "
            f"{ms:.2f} | {teacher_ms / ms:.1f} |"
        )
    (RESULTS / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
