"""How much storing the front end's DFT bases in int8 (one scale per basis row, weight-only) or float16 (as the
bundles do) moves the normalised log-mels, against float64 bases, on corpus clips; and what the bases cost in bytes.

    python experiments/student-frontend-resolution/int8_bases.py CORPUS [N_CLIPS]

Frames, window, mel filters, log floor and normalisation are the front end's (slap_edge.frontend); only the bases'
precision differs. Prints, per window length, the rms and largest error in normalised log-mel units (the inflate
fit's held-out rms of 0.05-0.06 kept embeddings at cosine 0.99) and the bases' bytes.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np

from slap_edge.data.manifest import read_manifest, resolve_audio
from slap_edge.eval.suite import read_audio
from slap_edge.frontend import _frames, analysis_window, mel_filterbank
from slap_edge.models.registry import resolve_model_config


def bases(cfg) -> np.ndarray:
    n_bins = cfg.n_fft // 2 + 1
    angle = 2.0 * np.pi * np.outer(np.arange(n_bins), np.arange(cfg.n_fft)) / cfg.n_fft
    win = analysis_window(cfg)
    return np.concatenate([np.cos(angle) * win, -np.sin(angle) * win], axis=0)  # [2F, n_fft]


def int8_rows(b: np.ndarray) -> np.ndarray:
    scale = np.abs(b).max(axis=1, keepdims=True) / 127.0
    scale[scale == 0] = 1.0
    return np.clip(np.round(b / scale), -127, 127) * scale


def logmel(frames: np.ndarray, b: np.ndarray, cfg) -> np.ndarray:
    spec = frames @ b.T
    n = cfg.n_fft // 2 + 1
    power = spec[..., :n] ** 2 + spec[..., n:] ** 2
    mel = power @ mel_filterbank(cfg).T
    return (np.log(mel + cfg.log_floor) - cfg.norm_mean) / cfg.norm_std


def main() -> None:
    corpus = Path(sys.argv[1])
    n_clips = int(sys.argv[2]) if len(sys.argv) > 2 else 64
    base = resolve_model_config("student-vit-nano").frontend
    records = sorted(read_manifest(corpus), key=lambda r: r.id)[:n_clips]
    waves = [read_audio(resolve_audio(corpus, r), base.sample_rate) for r in records]
    print(f"{len(waves)} clips of {corpus}")
    print("| window | n_fft | bases | bytes | rms error | max error | rms 99.9th pct |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for n_fft in (400, 512, 640):
        cfg = dataclasses.replace(base, n_fft=n_fft, win_length=n_fft)
        b = bases(cfg)
        frames = np.concatenate([_frames(w.astype(np.float64), cfg) for w in waves])
        ref = logmel(frames, b, cfg)
        for name, q, nbytes in (
            ("float16", b.astype(np.float16).astype(np.float64), b.size * 2),
            ("int8 per row", int8_rows(b), b.size + b.shape[0] * 4),
        ):
            err = logmel(frames, q, cfg) - ref
            print(
                f"| {1000 * n_fft / cfg.sample_rate:.0f} ms | {n_fft} | {name} | {nbytes:,} "
                f"| {np.sqrt((err**2).mean()):.5f} | {np.abs(err).max():.4f} | {np.percentile(np.abs(err), 99.9):.4f} |"
            )


if __name__ == "__main__":
    main()
