"""Can a front end tell hoarse, tremor, breathy and creaky voices apart? A speaker-grouped linear probe (the eval's) on
log-mel statistics of each suite clip, for several front ends: the student's (64 mels, 25 ms window, 20 ms hop), the
teacher's (128 mels, 40 ms window, 10 ms hop) and the two in between.

Features per clip: per mel bin the mean and standard deviation over time of the log-mel, and the standard deviation of
its frame-to-frame change (a tremor modulates energy and pitch at 4-8 Hz). The figure is a ceiling of what time-pooled
spectra carry, not of what an encoder can learn, but a front end whose statistics cannot separate a task makes the
encoder's job harder.

    python experiments/student-frontend-resolution/probe.py SUITE [SUITE ...]
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

from slap_edge.config import FrontendConfig
from slap_edge.eval.metrics import macro_f1
from slap_edge.eval.runner import linear_probe_predict
from slap_edge.eval.suite import read_audio
from slap_edge.frontend import log_mel_numpy

TASKS = ("hoarse_vs_clear", "tremor_vs_steady", "breathy_vs_modal", "creaky_vs_modal", "elderly_vs_adult",
         "pitch_within_sex")
BASE = FrontendConfig()
FRONTENDS = {
    "student 64 mels, 25 ms, hop 20 ms": dict(n_mels=64, n_fft=400, win_length=400, hop_length=320),
    "128 mels, 25 ms, hop 20 ms": dict(n_mels=128, n_fft=400, win_length=400, hop_length=320),
    "64 mels, 40 ms, hop 20 ms": dict(n_mels=64, n_fft=1024, win_length=640, hop_length=320),
    "128 mels, 40 ms, hop 20 ms": dict(n_mels=128, n_fft=1024, win_length=640, hop_length=320),
    "teacher 128 mels, 40 ms, hop 10 ms": dict(n_mels=128, n_fft=1024, win_length=640, hop_length=160),
}


def features(wave: np.ndarray, cfg: FrontendConfig) -> np.ndarray:
    m = log_mel_numpy(wave, cfg)  # [frames, mels] or [mels, frames]
    if m.shape[0] == cfg.n_mels and m.shape[1] != cfg.n_mels:
        m = m.T
    d = np.diff(m, axis=0)
    return np.concatenate([m.mean(0), m.std(0), d.std(0)])


def main(suites: list[str]) -> None:
    out = {}
    for suite in suites:
        root = Path(suite)
        rows = [json.loads(line) for line in (root / "clips.jsonl").read_text().splitlines() if line.strip()]
        rows = [r for r in rows if r["task"] in TASKS]
        waves = {r["path"]: read_audio(root / r["path"], 16000) for r in rows}
        for name, over in FRONTENDS.items():
            cfg = dataclasses.replace(BASE, **over)
            feats = {p: features(w, cfg) for p, w in waves.items()}
            scores = {}
            for task in TASKS:
                sel = [r for r in rows if r["task"] == task]
                if not sel:
                    continue
                x = np.stack([feats[r["path"]] for r in sel])
                y = [r["label"] for r in sel]
                pred = linear_probe_predict(x, y, [r["speaker"] for r in sel])
                scores[task] = round(macro_f1(y, pred, sorted(set(y))), 3)
            out[f"{root.name} | {name}"] = scores
            print(f"{root.name:14s} {name:36s}", " ".join(f"{t.split('_')[0]} {s:.3f}" for t, s in scores.items()),
                  flush=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
