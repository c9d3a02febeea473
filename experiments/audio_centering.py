"""Zero-shot with the audio embeddings' mean removed: is the one-sided answer on real voices a shared offset?

Every model answers the real-voice dev suite's language prompts with one class for most clips (balanced accuracy
near 0.5; `real_dev_sidedness.py`). If real recordings sit, as a group, off to one side of the synthetic corpus in
embedding space, removing a mean audio embedding before the cosine to the prompts takes that side away without any
label. Three scorings, per suite, zero-shot macro-F1 and balanced accuracy (class vectors as `slap-edge eval`):

- `plain`: the eval's own (cosine of the L2-normalised audio embedding to each class vector);
- `corpus`: the audio embedding minus the mean over CALIBRATION clips (synthetic training-corpus clips of a split no
  suite uses), renormalised;
- `suite`: minus the mean over the suite's own clips (label-free, transductive: what a kiosk could learn from its
  own microphone's audio).

    python experiments/audio_centering.py --calibration CORPUS [--split val] [--clips 600] \
      --suite NAME=DIR ... BUNDLE [BUNDLE ...] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from slap_edge.data.manifest import read_manifest, resolve_audio
from slap_edge.eval.embedders import load_embedding_source
from slap_edge.eval.metrics import balanced_accuracy, macro_f1
from slap_edge.eval.runner import embed_suite
from slap_edge.eval.suite import load_suite, read_audio
from slap_edge.scoring import class_vectors, l2_normalize


def score(audio: np.ndarray, suite, row_of, text_of, mean: np.ndarray | None) -> dict[str, float]:
    x_all = audio if mean is None else audio - mean
    x_all = l2_normalize(x_all)
    f1s, accs = [], []
    for task in suite.tasks:
        clips = [c for c in suite.clips_of(task.name) if c.path in row_of]
        prompt_labels = [label for label, prompts in task.classes.items() for _ in prompts]
        prompt_emb = np.stack([text_of[p] for prompts in task.classes.values() for p in prompts])
        labels, vectors = class_vectors(prompt_emb, prompt_labels)
        cos = x_all[[row_of[c.path] for c in clips]] @ vectors.T
        pred = [labels[i] for i in np.argmax(cos, axis=1)]
        y = [c.label for c in clips]
        f1s.append(macro_f1(y, pred, task.labels))
        accs.append(balanced_accuracy(y, pred, task.labels))
    return {"macro_f1": round(float(np.mean(f1s)), 4), "balanced_accuracy": round(float(np.mean(accs)), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundles", nargs="+")
    parser.add_argument("--calibration", type=Path, required=True, help="a corpus folder (manifest.jsonl)")
    parser.add_argument("--split", default="val")
    parser.add_argument("--clips", type=int, default=600)
    parser.add_argument("--suite", action="append", required=True, help="NAME=DIR")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    records = [r for r in read_manifest(args.calibration / "manifest.jsonl") if r.split == args.split]
    if not records:
        raise SystemExit(f"{args.calibration}: no clips with split={args.split!r}")
    pick = np.random.default_rng(0).choice(len(records), size=min(args.clips, len(records)), replace=False)
    calibration = [resolve_audio(args.calibration / "manifest.jsonl", records[i]) for i in sorted(pick)]
    suites = {name: load_suite(path) for name, path in (s.split("=", 1) for s in args.suite)}
    results: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for bundle in args.bundles:
        source = load_embedding_source(bundle)
        corpus_mean = source.embed_audio([read_audio(p, source.sample_rate) for p in calibration]).mean(axis=0)
        results[bundle] = {}
        for name, suite in suites.items():
            audio, row_of, _, text_of = embed_suite(suite, source)
            results[bundle][name] = {
                "plain": score(audio, suite, row_of, text_of, None),
                "corpus": score(audio, suite, row_of, text_of, corpus_mean),
                "suite": score(audio, suite, row_of, text_of, audio.mean(axis=0)),
            }
            r = results[bundle][name]
            print(
                f"{bundle} {name}: "
                + "  ".join(f"{k} {v['macro_f1']:.3f} (bal. acc. {v['balanced_accuracy']:.3f})" for k, v in r.items()),
                flush=True,
            )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "calibration": str(args.calibration),
                    "split": args.split,
                    "clips": len(calibration),
                    "results": results,
                },
                indent=1,
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
