"""Speech under mains hum: the fraction of speech hops the VAD gate keeps, with and without its noise check.

A hum of 50 or 60 Hz with its 2nd-4th harmonics (amplitudes 1, 1/2, 1/3, 1/4) is added to each speech clip at a
level relative to the clip's own RMS (-10, 0, +10, +20 dB), the mix scaled down only if it would clip; every hop of
the clip goes through the gate (the same windows as `listen`'s stream, as in bench_speech_gate.py).

    python benchmarks/bench_gate_hum.py --speech SUITE [--speech ...] --clips 100 \\
        --out benchmarks/results/speech-gate/hum-v3
"""

from __future__ import annotations

import argparse
import json
import shlex
import time
from pathlib import Path
from typing import Any

import numpy as np
from bench_speech_gate import _load, _machine, _rows, gate_decisions

from slap_edge.bundle_reader import load_bundle
from slap_edge.prompts import load_prompts
from slap_edge.provenance import provenance
from slap_edge.runtime import Engine, Listener
from slap_edge.runtime.text import resolve_bank

ROOT = Path(__file__).resolve().parent.parent
LEVELS_DB = (None, -10.0, 0.0, 10.0, 20.0)  # hum RMS relative to the clip's RMS; None: no hum
MAINS_HZ = (50.0, 60.0)
GATES = {"vad": {"kind": "vad", "vad_noise_check": True}, "vad-plain": {"kind": "vad", "vad_noise_check": False}}


def mains_hum(n: int, sr: int, f0: float) -> np.ndarray:
    t = np.arange(n) / sr
    return sum(np.sin(2 * np.pi * f0 * k * t + k) / k for k in (1, 2, 3, 4)).astype(np.float32)


def with_hum(x: np.ndarray, sr: int, f0: float, rel_db: float) -> np.ndarray:
    hum = mains_hum(x.shape[0], sr, f0)
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    y = x + hum * np.float32(rms / np.sqrt(np.mean(hum.astype(np.float64) ** 2)) * 10 ** (rel_db / 20))
    return (y / max(1.0, float(np.abs(y).max()))).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--speech", type=Path, action="append", required=True, help="corpus or eval suite (repeatable)")
    ap.add_argument("--clips", type=int, default=100, help="at most this many clips per speech folder")
    ap.add_argument("--out", type=Path, required=True, help="output stem: writes STEM.json and STEM.md")
    args = ap.parse_args()
    if args.clips < 1:
        ap.error(f"--clips must be at least 1, got {args.clips}")
    bundle = load_bundle(None)
    prompts = load_prompts(ROOT / "slap_edge/assets/prompts/demographics.txt")
    stream = Listener(Engine(bundle, resolve_bank(bundle, prompts, None))).stream  # the stream's window geometry
    sr, hop, window, min_window = bundle.sample_rate, stream.hop, stream.window, stream.min_window
    t0 = time.time()
    results: dict[str, Any] = {}
    for folder in args.speech:
        clips = [_load(folder / row["path"], sr) for row in _rows(folder, args.clips)]
        rows: dict[str, Any] = {}
        for f0 in MAINS_HZ:
            for rel in LEVELS_DB:
                if rel is None and f0 != MAINS_HZ[0]:
                    continue
                key = "no hum" if rel is None else f"{f0:g} Hz at {rel:+g} dB"
                mixes = clips if rel is None else [with_hum(x, sr, f0, rel) for x in clips]
                row = {}
                for g, gate_args in GATES.items():
                    kept = [gate_decisions(gate_args, y, sr, hop, window, min_window) for y in mixes]
                    row[g] = round(sum(map(sum, kept)) / max(1, sum(map(len, kept))), 4)
                rows[key] = row
                print(folder.name, key, row, flush=True)
        results[folder.name] = {"clips": len(clips), "fraction_kept": rows}
    command = (
        "python benchmarks/bench_gate_hum.py"
        + "".join(f" --speech {p}" for p in args.speech)
        + f" --clips {args.clips} --out {args.out}"
    )
    result = {
        "what": "speech hops kept by the VAD gate under mains hum, with and without its noise check",
        "command": command,
        "machine": _machine(),
        "gates": GATES,
        "hum": "f0 + 2nd-4th harmonics (1, 1/2, 1/3, 1/4), RMS relative to the clip's RMS",
        "elapsed_s": round(time.time() - t0, 1),
        "results": results,
        "provenance": provenance("default", None, made_by=shlex.split(command)),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [
        "# Speech hops kept by the VAD gate under mains hum (with the noise check / Silero alone)",
        "",
        f"Commit `{result['provenance']['commit']}`; made by `{command}` on {result['machine']}.",
        "",
        "| speech | clips | hum | vad (noise check) | vad-plain |",
        "|---|---|---|---|---|",
    ]
    for name, r in results.items():
        for key, row in r["fraction_kept"].items():
            lines.append(f"| {name} | {r['clips']} | {key} | {row['vad']:.4f} | {row['vad-plain']:.4f} |")
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
