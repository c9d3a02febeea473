"""Benchmark `slap-edge data synth`: clips per second and bytes on disk for N clips.

    python benchmarks/bench_synth.py --clips 300 --jobs 2 [--out DIR] [--voices all|espeak] [--save FILE]

Prints one JSON object: clips/s over the whole run (vocoder effects included, as the corpus uses them), CPU seconds
per clip and the rate that implies on idle cores, GB on disk, hours of audio, the share of clips that went through
the WORLD vocoder, and the machine's CPU count and load (a shared machine slows the wall-clock figure).
Without --out the corpus goes to a temp folder that is deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from slap_edge.data.synth import SynthConfig, plan_corpus, run_synth


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # finished workers and engine subprocesses
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=300)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--voices", default="all", choices=("all", "espeak"))
    parser.add_argument("--out", type=Path, default=None, help="Keep the corpus here (default: a temp folder).")
    parser.add_argument("--save", type=Path, default=None, help="Also write the JSON result to this file.")
    args = parser.parse_args(argv)

    keep = args.out is not None
    out = args.out if keep else Path(tempfile.mkdtemp(prefix="bench-synth-"))
    try:
        config = SynthConfig(out=out, clips=args.clips, seed=args.seed, jobs=args.jobs, voices=args.voices)
        plans = plan_corpus(config)
        vocoded = sum(p.speaker.needs_vocoder() for p in plans) / len(plans)
        load_before = os.getloadavg()[0]
        cpu_before = _cpu_seconds()
        start = time.monotonic()
        report = run_synth(config)
        wall = time.monotonic() - start
        cpu = _cpu_seconds() - cpu_before
        size = folder_bytes(out)
        result = {
            "clips": args.clips,
            "rendered": report.rendered,
            "skipped": report.skipped,
            "failed": len(report.failed),
            "jobs": args.jobs,
            "voices": args.voices,
            "mbrola_voices": report.mbrola_voices,
            "seconds": round(wall, 2),
            "clips_per_second": round(report.rendered / wall, 2) if wall > 0 else None,
            # CPU time (this process, its workers, espeak-ng and mbrola) does not depend on how busy the machine
            # is; jobs / cpu_per_clip is the rate the same run reaches on that many otherwise idle cores.
            "cpu_seconds_per_clip": round(cpu / max(1, report.rendered), 4),
            "clips_per_second_on_idle_cores": round(args.jobs * report.rendered / cpu, 2) if cpu > 0 else None,
            "gb_on_disk": round(size / 1e9, 4),
            "gb_per_20000_clips": round(size / max(1, args.clips) * 20000 / 1e9, 2),
            "audio_hours": round(report.audio_seconds / 3600, 3),
            "vocoded_share": round(vocoded, 3),
            "cpus": os.cpu_count(),
            "load_avg_1min_before": round(load_before, 2),
            "load_avg_1min_after": round(os.getloadavg()[0], 2),
            "python": platform.python_version(),
        }
    finally:
        if not keep:
            shutil.rmtree(out, ignore_errors=True)
    text = json.dumps(result, indent=2)
    print(text)
    if args.save is not None:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        args.save.write_text(text + "\n", encoding="utf-8")
    return 0 if result["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
