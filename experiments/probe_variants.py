"""The linear probe of `slap-edge eval` against variants of itself, on one model's clip embeddings of one suite.

Variants: the eval's probe (standardised embeddings, C chosen per outer fold from 0.001-1 by an inner grouped
cross-validation), the L2-normalised embeddings as they are with C from 0.1-100, the same with a wider grid, and
fixed C = 10 without the inner search. Zero-shot is printed alongside. Folds are the eval's (grouped by speaker).

    python experiments/probe_variants.py RUN_OR_BUNDLE SUITE [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from slap_edge.eval.embedders import load_embedding_source
from slap_edge.eval.metrics import macro_f1
from slap_edge.eval.runner import PROBE_CS, embed_suite, linear_probe_predict, zero_shot_predict
from slap_edge.eval.suite import load_suite

VARIANTS: dict[str, tuple[tuple[float, ...], bool]] = {
    "eval (standardised, C 0.001-1)": (PROBE_CS, True),
    "raw, C 0.1-100": ((0.1, 1.0, 10.0, 100.0), False),
    "raw, C 0.3-300": ((0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0), False),
    "raw, C = 10": ((10.0,), False),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="A run folder or a bundle.")
    parser.add_argument("suite", type=Path)
    parser.add_argument("--json", type=Path, default=None, help="Also write the per-task figures here.")
    args = parser.parse_args()

    suite = load_suite(args.suite)
    source = load_embedding_source(args.model)
    audio, row, unreadable, text = embed_suite(suite, source)
    if unreadable:
        raise SystemExit(f"{args.suite}: {len(unreadable)} clips cannot be read, e.g. {next(iter(unreadable.items()))}")

    rows = []
    for task in suite.tasks:
        clips = suite.clips_of(task.name)
        x = audio[[row[c.path] for c in clips]]
        y = [c.label for c in clips]
        speakers = [c.speaker for c in clips]
        prompt_labels = [label for label, ps in task.classes.items() for _ in ps]
        prompt_emb = np.stack([text[p] for ps in task.classes.values() for p in ps])
        zero_shot = zero_shot_predict(x, prompt_emb, prompt_labels)[0]
        entry = {"task": task.name, "zero-shot": macro_f1(y, zero_shot, task.labels)}
        for name, (cs, standardise) in VARIANTS.items():
            pred = linear_probe_predict(x, y, speakers, cs=cs, standardise=standardise)
            entry[name] = macro_f1(y, pred, task.labels)
        rows.append(entry)
        print(task.name, {k: round(v, 3) for k, v in entry.items() if k != "task"}, flush=True)
    means = {k: float(np.mean([r[k] for r in rows])) for k in rows[0] if k != "task"}
    print("mean", {k: round(v, 3) for k, v in means.items()})
    if args.json:
        result = {"model": source.name, "suite": str(args.suite), "date": time.strftime("%Y-%m-%d"), "tasks": rows}
        args.json.write_text(json.dumps({**result, "mean": means}, indent=2) + "\n")


if __name__ == "__main__":
    main()
