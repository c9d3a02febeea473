"""Which way does each model answer the real-voice dev suite's language prompts, per recording source?

The suite's zero-shot macro-F1 moves with how one-sided the answers are (balanced accuracy sits near 0.5 for every
model). Per task and per source (asterisk: 8 kHz telephone prompts; hedgewars: game voice packs; klettres: letters
and syllables), this prints the share of clips each model calls the task's first class and its balanced accuracy
there, and the mean cosine margin (first class minus second), so a one-sided answer can be traced to a source.

    python experiments/real_dev_sidedness.py SUITE BUNDLE [BUNDLE ...] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from slap_edge.eval.embedders import load_embedding_source
from slap_edge.eval.metrics import balanced_accuracy
from slap_edge.eval.runner import embed_suite, zero_shot_predict
from slap_edge.eval.suite import load_suite


def sidedness(suite_dir: Path, bundle: str) -> dict[str, dict[str, dict[str, float]]]:
    suite = load_suite(suite_dir)
    source = load_embedding_source(bundle)
    audio, row_of, _, text_of = embed_suite(suite, source)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for task in suite.tasks:
        clips = [c for c in suite.clips_of(task.name) if c.path in row_of]
        first = task.labels[0]
        prompt_labels = [label for label, prompts in task.classes.items() for _ in prompts]
        prompt_emb = np.stack([text_of[p] for prompts in task.classes.values() for p in prompts])
        pred, cos = zero_shot_predict(audio[[row_of[c.path] for c in clips]], prompt_emb, prompt_labels)
        by_source: dict[str, dict[str, float]] = {}
        for name in sorted({c.speaker.split("-")[0] for c in clips}) + ["all"]:
            idx = [i for i, c in enumerate(clips) if name == "all" or c.speaker.startswith(name + "-")]
            accuracy = balanced_accuracy([clips[i].label for i in idx], [pred[i] for i in idx], task.labels)
            by_source[name] = {
                "clips": len(idx),
                f"share_{first}": round(sum(pred[i] == first for i in idx) / len(idx), 3),
                "balanced_accuracy": round(accuracy, 3),
                "margin": round(float(np.mean(cos[idx, 0] - cos[idx, 1])), 4),
            }
        out[task.name] = by_source
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", type=Path)
    parser.add_argument("bundles", nargs="+")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = {}
    for bundle in args.bundles:
        results[bundle] = sidedness(args.suite, bundle)
        for task, by_source in results[bundle].items():
            cells = "  ".join(
                f"{s}: {v[next(k for k in v if k.startswith('share_'))]:.2f}/{v['balanced_accuracy']:.2f}"
                for s, v in by_source.items()
            )
            print(f"{bundle} {task}  (share first class / bal. acc.)  {cells}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
