"""Runtime figures of `slap-edge listen` (issue 6): per-hop processing, CPU use, peak memory, start to first score.

    python benchmarks/bench_runtime.py --bundle BUNDLE [--prompts PROMPTS.txt] [--seconds 60]
    python benchmarks/bench_runtime.py --make-student student-vit-tiny --int8    # exports a random student first

1. processing per hop: the stream over speech (one ONNX Runtime intra-op thread), percentiles of the time from a
   hop's samples being ready to its scores (window copy, speech gate, audio.onnx, scoring, smoothing);
2. CPU use of `slap-edge listen --input FILE` on a real-time paced file of ``--seconds`` (user+sys of the process
   over its wall time, in % of one core), and its peak RSS;
3. start to first score: launching `slap-edge listen` (real-time file input) to its first scores line on stdout,
   with the prompt-embedding cache warm (a kiosk restart) and cold.
Writes JSON to ``--out`` (and prints it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SR = 16000
TEXTS = [
    ("en+m3", 20, "the quick brown fox jumps over the lazy dog while the sun is shining on the hills"),
    ("en+f4", 85, "a kiosk listens to people who pass by and describes their voices in plain words"),
    ("de+m1", 40, "guten morgen, ich möchte eine fahrkarte nach berlin kaufen, bitte"),
    ("en+f2", 60, "please tell me where the nearest train station is and when the next train leaves"),
]


def make_speech(path: Path, seconds: float) -> None:
    """``seconds`` of espeak-ng speech by several voices with pauses (noise bursts when espeak-ng is absent)."""
    import soundfile as sf
    import soxr

    parts: list[np.ndarray] = []
    rng = np.random.default_rng(0)
    total = 0
    with tempfile.TemporaryDirectory() as d:
        i = 0
        while total < seconds * SR:
            if shutil.which("espeak-ng"):
                voice, pitch, text = TEXTS[i % len(TEXTS)]
                raw = Path(d) / "s.wav"
                subprocess.run(["espeak-ng", "-v", voice, "-p", str(pitch), "-w", str(raw), text], check=True)
                x, rate = sf.read(str(raw), dtype="float32")
                x = soxr.resample(x, rate, SR).astype(np.float32)
            else:
                x = (rng.normal(size=3 * SR) * np.sin(np.linspace(0, 30, 3 * SR)) ** 2 * 0.2).astype(np.float32)
            x = 0.5 * x / max(1e-6, float(np.abs(x).max()))
            pause = np.zeros(int(rng.uniform(0.3, 1.5) * SR), dtype=np.float32)
            parts += [x, pause]
            total += len(x) + len(pause)
            i += 1
    sf.write(str(path), np.concatenate(parts)[: int(seconds * SR)], SR, subtype="PCM_16")


def make_student(name: str, out: Path, int8: bool) -> Path:
    import torch

    from slap_edge.export.bundle_writer import export_bundle
    from slap_edge.models import create_model

    torch.manual_seed(0)
    model = create_model(name)
    rng = np.random.default_rng(0)
    cal = [(rng.normal(size=int(model.config.window_s * SR)) * 0.1).astype(np.float32) for _ in range(16)]
    export_bundle(model, out, int8=int8, calibration=cal if int8 else None, with_text=True, log=print)
    return out


def per_hop(
    bundle_path: Path, prompts: Path | None, bank: Path | None, wav: Path, threads: int, hop_s: float | None
) -> dict:
    from slap_edge.bundle_reader import load_bundle
    from slap_edge.runtime import create_listener
    from slap_edge.runtime.sources import read_audio

    bundle = load_bundle(bundle_path)
    listener = create_listener(bundle, prompts, bank=bank, threads=threads, hop_s=hop_s)
    x = read_audio(wav, bundle.sample_rate)
    listener.feed(x[: 5 * SR])  # warm-up: first runs of an ORT session allocate
    listener = create_listener(bundle, prompts, bank=bank, threads=threads, hop_s=hop_s)
    enc: list[float] = []
    totals: list[float] = []
    scored: list[float] = []
    gated = 0
    for start in range(0, len(x), SR // 10):
        for m in listener.feed(x[start : start + SR // 10]):
            if getattr(m, "latency_ms", None) is not None:
                totals.append(m.latency_ms["total"])
                if "features_and_encoder" in m.latency_ms:
                    enc.append(m.latency_ms["features_and_encoder"])
                    scored.append(m.latency_ms["total"])
                else:
                    gated += 1

    def pct(a: list[float]) -> dict:
        return {f"p{q}": round(float(np.percentile(a, q)), 3) for q in (50, 95, 99)} | {"n": len(a)} if a else {}

    return {
        "threads": threads,
        "hop_s": listener.stream.hop / bundle.sample_rate,
        "window_s": listener.stream.window / bundle.sample_rate,
        "hops": len(totals),
        "gated_hops": gated,
        "total_ms": pct(totals),
        "scored_total_ms": pct(scored),
        "encoder_ms": pct(enc),
    }


def _watch_hwm(pid: int, peak: list[int], done: threading.Event) -> None:
    """Peak RSS (VmHWM) of the exec'd process. wait4's ru_maxrss would also count the memory the child had between
    fork and exec, i.e. this benchmark's own footprint."""
    while not done.is_set():
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak[0] = max(peak[0], int(line.split()[1]))
        except OSError:
            return
        done.wait(0.05)


def run_listen(args: list[str], env: dict, timeout: float) -> dict:
    """Run `slap-edge listen`, timing the first scores line; CPU from wait4's rusage, peak RSS from VmHWM."""
    t0 = time.monotonic()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None
    peak = [0]
    done = threading.Event()
    watcher = threading.Thread(target=_watch_hwm, args=(proc.pid, peak, done), daemon=True)
    watcher.start()
    first = None
    lines = 0
    for line in proc.stdout:
        lines += 1
        if first is None and line.startswith(b'{"type": "scores"'):
            first = time.monotonic() - t0
    stderr_tail = proc.stderr.read() if proc.stderr else b""
    done.set()
    watcher.join()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t0
    stderr = stderr_tail.decode(errors="replace")
    if status != 0:
        raise RuntimeError(f"listen failed ({status}): {stderr[-2000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 3),
        "cpu_percent_of_one_core": round(100 * cpu / wall, 2),
        "peak_rss_mb": round(peak[0] / 1024, 1),
        "start_to_first_score_s": None if first is None else round(first, 3),
        "lines": lines,
        "summary": stderr.strip().splitlines()[-4:],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", type=Path)
    ap.add_argument("--make-student", metavar="MODEL", help="export this registry model (random weights) first")
    ap.add_argument("--int8", action="store_true", help="with --make-student: int8 audio.onnx")
    ap.add_argument("--prompts", type=Path, default=REPO / "slap_edge" / "assets" / "prompts" / "demographics.txt")
    ap.add_argument("--bank", type=Path)
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the real-time file for CPU use")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--hop", type=float, help="override the bundle's hop (seconds)")
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_runtime_"))
    try:
        bundle = a.bundle
        if a.make_student:
            bundle = make_student(a.make_student, work / "bundle", a.int8)
        if bundle is None:
            ap.error("give --bundle or --make-student")
        wav = work / "speech.wav"
        make_speech(wav, a.seconds)
        env = {**os.environ, "SLAP_EDGE_CACHE": str(work / "cache")}
        os.environ["SLAP_EDGE_CACHE"] = env["SLAP_EDGE_CACHE"]
        prompts = None if a.bank else a.prompts
        result: dict = {
            "machine": {
                "cpu": platform.processor() or platform.machine(),
                "cores": os.cpu_count(),
                "load_avg_at_start": os.getloadavg(),
                "python": platform.python_version(),
            },
            "bundle": str(bundle),
            "manifest_model": json.loads((Path(bundle) / "manifest.json").read_text())["model"]
            if Path(bundle).is_dir()
            else None,
            "prompts": str(prompts) if prompts else str(a.bank),
        }
        result["per_hop"] = per_hop(Path(bundle), prompts, a.bank, wav, a.threads, a.hop)
        exe = [sys.executable, "-m", "slap_edge.cli", "listen", "--bundle", str(bundle), "--format", "jsonl"]
        exe += ["--bank", str(a.bank)] if a.bank else ["--prompts", str(prompts)]
        exe += ["--hop", str(a.hop)] if a.hop else []
        short = work / "short.wav"
        import soundfile as sf

        x, _ = sf.read(str(wav), dtype="float32")
        sf.write(str(short), x[: 3 * SR], SR, subtype="PCM_16")
        cold_env = {**env, "SLAP_EDGE_CACHE": str(work / "cold-cache")}
        result["start_cold_cache"] = run_listen([*exe, "--input", str(short)], cold_env, 120)
        result["start_warm_cache"] = run_listen([*exe, "--input", str(short)], cold_env, 120)
        result["listen_realtime"] = run_listen([*exe, "--input", str(wav)], env, a.seconds + 60)
        result["listen_realtime"]["audio_s"] = a.seconds
        self_usage = resource.getrusage(resource.RUSAGE_SELF)
        result["bench_process_peak_rss_mb"] = round(self_usage.ru_maxrss / 1024, 1)
        text = json.dumps(result, indent=1, default=str)
        print(text)
        if a.out:
            a.out.parent.mkdir(parents=True, exist_ok=True)
            a.out.write_text(text + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
