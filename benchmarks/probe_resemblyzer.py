"""How much of a voice does the embedding carry, against a speaker encoder trained on real speech?

The linear probe of `slap-edge eval` (logistic regression, speaker-grouped folds, regularisation by an inner grouped
cross-validation) fitted on three features of the same clips, on the same folds: Resemblyzer's 256-d utterance
embedding (a speaker encoder trained on real speech whose weights ship in the ``resemblyzer`` wheel), the bundle's
embedding, and 40 MFCC statistics. Per task macro-F1 and the means, as JSON with a provenance block.

    PYTHONPATH=. python benchmarks/probe_resemblyzer.py --bundle default \
        --suite held-out-voices=work-data/default/suite-holdout \
        --out benchmarks/results/probe-resemblyzer/probe-319e82097282.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from slap_edge.eval.embedders import load_embedding_source
from slap_edge.eval.runner import _scores, embed_suite, linear_probe_predict, mfcc_features
from slap_edge.eval.suite import load_suite, read_audio
from slap_edge.provenance import provenance


def resemblyzer_features(paths: list[Path]) -> np.ndarray:
    """Resemblyzer's utterance embeddings [N, 256] (its own preprocessing: normalisation and VAD trimming)."""
    try:
        import torch
        from resemblyzer import VoiceEncoder, preprocess_wav
    except ImportError as exc:
        raise SystemExit(f"this benchmark needs resemblyzer ({exc}): pip install 'slap-edge[bench]'") from exc
    torch.set_num_threads(1)
    encoder = VoiceEncoder("cpu", verbose=False)
    out = []
    for path in paths:
        wav = preprocess_wav(read_audio(path, 16000), source_sr=16000)
        if wav.shape[0] < 1600:  # VAD trimmed nearly everything: embed the clip as it is
            wav = read_audio(path, 16000)
        out.append(encoder.embed_utterance(wav))
    return np.stack(out).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", default="default", help="bundle (or model) whose embedding is probed beside")
    parser.add_argument("--suite", action="append", required=True, help="NAME=FOLDER (repeatable)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    source = load_embedding_source(args.bundle)
    result = {}
    for spec in args.suite:
        name, _, folder = spec.partition("=")
        if not folder:
            raise SystemExit(f"--suite {spec!r}: give NAME=FOLDER")
        suite = load_suite(folder)
        audio, row_of, unreadable, _ = embed_suite(suite, source)
        paths = list(row_of)
        t0 = time.perf_counter()
        features = {
            "bundle": audio,
            "resemblyzer": resemblyzer_features(paths),
            "mfcc_statistics": mfcc_features(paths),
        }
        seconds = time.perf_counter() - t0
        tasks = {}
        for task in suite.tasks:
            clips = [c for c in suite.clips_of(task.name) if c.path in row_of]
            y, speakers = [c.label for c in clips], [c.speaker for c in clips]
            if len(set(speakers)) < 2 or len(set(y)) != 2:
                continue
            rows = [row_of[c.path] for c in clips]
            tasks[task.name] = {
                kind: _scores(y, linear_probe_predict(x[rows], y, speakers), task.labels)["macro_f1"]
                for kind, x in features.items()
            }
        means = {kind: float(np.mean([t[kind] for t in tasks.values()])) for kind in features}
        result[name] = {"suite": folder, "unreadable": len(unreadable), "tasks": tasks, "mean_macro_f1": means}
        print(f"{name}: probe macro-F1 " + ", ".join(f"{k} {v:.3f}" for k, v in means.items()) + f" ({seconds:.0f} s)")
    record = {
        "what": "speaker-grouped linear probe on Resemblyzer, the bundle and 40 MFCC statistics, same folds",
        "model": source.name,
        "suites": result,
        "provenance": provenance(model=None),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
