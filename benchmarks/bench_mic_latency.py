"""Mic-to-event latency of `slap-edge listen` through a virtual microphone (a private PulseAudio daemon).

    python benchmarks/bench_mic_latency.py --bundle BUNDLE [--trials 5] [--out benchmarks/results/bench-mic-latency]
    python benchmarks/bench_mic_latency.py --random-student student-vit-tiny

Writes OUT.json and OUT.md. Needs pulseaudio, pulseaudio-utils, libasound2-plugins and libportaudio2 (Debian), and
espeak-ng for the played speech. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from slap_edge.bench.mic_latency import measure_mic_latency
from slap_edge.bench.report import write_json
from slap_edge.bench.vmic import VirtualMicError
from slap_edge.provenance import provenance


def to_markdown(r: dict) -> str:
    m = r["machine"]
    lines = [
        "# Mic-to-event latency",
        "",
        f"- machine: {m['cpu_model']}, {m['cores']} usable core(s), {m['os']}, {m['date_utc']}",
        f"- bundle: {r['bundle']['model']} ({r['bundle']['path']}), window {r['bundle']['window_s']:g} s, "
        f"hop {r['bundle']['hop_s']:g} s",
        f"- method: {r['method']}",
        f"- trials: {r['trials']} ({len(r['failures'])} failed)",
        "",
    ]
    s = r["mic_to_event_ms"]
    if s:
        lines += [
            "| | p50 ms | p95 ms | max ms | min ms |",
            "|---|---:|---:|---:|---:|",
            f"| onset -> event line (wall) | {s['p50']:.0f} | {s['p95']:.0f} | {s['max']:.0f} | {s['min']:.0f} |",
        ]
    if r["algorithmic_ms"] is not None:
        lines += [
            "",
            "Of which algorithmic (the same file offline through the Listener, onset at 8 phases of the hop: "
            f"hop, speech gate, smoothing, dwell): mean {r['algorithmic_ms']['mean']:.0f} ms "
            f"(min {r['algorithmic_ms']['min']:.0f}, max {r['algorithmic_ms']['max']:.0f}). "
            "The rest is capture buffering, processing, the pipe and paplay's start.",
        ]
    lines += ["", "Per trial (ms): " + ", ".join(f"{x:.0f}" for x in r["per_trial_ms"])]
    for f in r["failures"]:
        lines.append(f"- failed trial: {f}")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--bundle", help="bundle folder or .tar.gz")
    src.add_argument("--random-student", metavar="MODEL", help="export this registry student, randomly initialised")
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--lead", type=float, default=1.5, help="seconds of silence before the onset")
    ap.add_argument("--out", default="benchmarks/results/bench-mic-latency", help="output path without suffix")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="slap-miclat-bundle-") as tmp:
        if a.random_student:
            from bench_latency import export_random_student  # this folder is on sys.path when run as a script

            bundle = str(export_random_student(a.random_student, Path(tmp), 20.0))
        else:
            bundle = a.bundle
        try:
            r = measure_mic_latency(bundle, trials=a.trials, lead_s=a.lead)
            r["provenance"] = provenance(bundle, made_by=["python", "benchmarks/bench_mic_latency.py", *sys.argv[1:]])
        except VirtualMicError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if a.random_student:
        r["bundle"]["path"] = f"{a.random_student} randomly initialised, exported int8 by slap_edge.export"
    out = Path(a.out)
    write_json(r, out.with_suffix(".json"))
    out.with_suffix(".md").write_text(to_markdown(r), encoding="utf-8")
    print(to_markdown(r))
    print(json.dumps(r["mic_to_event_ms"]), file=sys.stderr)
    return 0 if r["mic_to_event_ms"] else 1


if __name__ == "__main__":
    sys.exit(main())
