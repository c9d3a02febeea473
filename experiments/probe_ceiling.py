"""How much of a suite's linear-probe gap is the embedding and how much is the few clips a probe learns from.

For every task of a suite built from a corpus (`slap-edge data suite`), the eval's probe (logistic regression on
standardised embeddings, C from 0.001-1 chosen by a speaker-grouped inner cross-validation on the probe's own
training clips) is fitted three ways:

- ``suite``: the eval's own figure, 5 folds grouped by speaker inside the suite (what `slap-edge eval` reports);
- ``large``: on ``--per-class`` clips a class from the corpus's training split (speakers the model trained on, none
  of them in the suite), tested on the suite's clips: what the embedding separates given plenty of labels;
- ``heard``: on ``--per-class`` clips a class from half of the training split's speakers, tested on clips of the
  other half: how well the embedding separates a task on speakers the model was trained on.

``heard`` well above ``large`` means the model fits its training speakers and does not carry that to new ones; both
near ``suite`` means the labels, not the embedding, limit the probe. Tasks are matched to the corpus by the rules of
`slap_edge.data.suite_tasks` (its controls and strata too), so only suites of those task names are accepted.

    python experiments/probe_ceiling.py RUN_OR_BUNDLE CORPUS SUITE [--exclude-holdout HOLDOUT.json] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

from slap_edge.data.holdout import read_holdout
from slap_edge.data.manifest import read_manifest, resolve_audio
from slap_edge.data.suite_builder import _build_task
from slap_edge.data.suite_tasks import TASKS, TaskSpec, language_task
from slap_edge.eval.embedders import load_embedding_source
from slap_edge.eval.metrics import macro_f1
from slap_edge.eval.runner import embed_suite, fit_probe, linear_probe_predict
from slap_edge.eval.suite import load_suite, read_audio

SPECS = {spec.name: spec for spec in TASKS}


def task_spec(name: str) -> TaskSpec:
    if name in SPECS:
        return SPECS[name]
    parts = name.split("_")
    if len(parts) == 4 and parts[0] == "language" and parts[2] == "vs":
        return language_task(parts[1], parts[3])
    known = ", ".join(SPECS)
    raise SystemExit(f"task {name!r} is not one the suite builder makes; known: {known}, language_A_vs_B")


def fit_predict(x: np.ndarray, y: list[str], groups: list[str], x_test: np.ndarray, seed: int) -> list[str]:
    clf = fit_probe(x, np.asarray(y, dtype=object), np.asarray(groups, dtype=object), seed)
    return list(clf.predict(x_test))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="A run folder or a bundle.")
    parser.add_argument("corpus", type=Path, help="The corpus folder the suite was built from (manifest.jsonl).")
    parser.add_argument("suite", type=Path)
    parser.add_argument("--exclude-holdout", default=None, help="holdout.json of voices the model never heard.")
    parser.add_argument("--per-class", type=int, default=200, help="Training clips a class for 'large' and 'heard'.")
    parser.add_argument("--test-per-class", type=int, default=60, help="Test clips a class for 'heard'.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    manifest = args.corpus / "manifest.jsonl"
    records = read_manifest(manifest)
    if args.exclude_holdout:
        holdout = read_holdout(args.exclude_holdout)
        records = [r for r in records if not holdout.matches(r)]
    suite = load_suite(args.suite)
    suite_speakers = {clip.speaker for clip in suite.clips}
    train = [r for r in records if r.split == "train" and r.speaker not in suite_speakers]
    speakers = sorted({r.speaker for r in train})
    random.Random(args.seed).shuffle(speakers)
    half = set(speakers[: len(speakers) // 2])

    plans = {}
    for task in suite.tasks:
        spec = task_spec(task.name)
        large, why = _build_task(spec, train, args.per_class, 2, args.seed)
        fit, why_fit = _build_task(spec, [r for r in train if r.speaker in half], args.per_class, 2, args.seed)
        held, why_held = _build_task(
            spec, [r for r in train if r.speaker not in half], args.test_per_class, 2, args.seed + 1
        )
        if large is None or fit is None or held is None:
            raise SystemExit(f"task {task.name}: the corpus cannot supply it ({why or why_fit or why_held})")
        plans[task.name] = (large, fit, held)

    source = load_embedding_source(args.model)
    started = time.time()
    audio, row_of, unreadable, _ = embed_suite(suite, source)
    if unreadable:
        raise SystemExit(f"{len(unreadable)} suite clips unreadable, e.g. {next(iter(unreadable.items()))}")
    paths = sorted({r.path for plan in plans.values() for built in plan for v in built.clips.values() for r in v})
    by_path = {r.path: r for r in train}
    corpus_emb: dict[str, np.ndarray] = {}
    for i in range(0, len(paths), 256):
        chunk = paths[i : i + 256]
        waves = [read_audio(resolve_audio(manifest, by_path[p]), source.sample_rate) for p in chunk]
        corpus_emb.update(zip(chunk, source.embed_audio(waves), strict=True))
    took = time.time() - started
    print(f"embedded {len(row_of)} suite and {len(paths)} corpus clips in {took:.0f} s", file=sys.stderr)

    def xy(built):
        rows = [(r, label) for label, v in built.clips.items() for r in v]
        return (
            np.stack([corpus_emb[r.path] for r, _ in rows]),
            [label for _, label in rows],
            [r.speaker for r, _ in rows],
        )

    table = []
    for task in suite.tasks:
        clips = [c for c in suite.clips if c.task == task.name]
        x_suite = audio[[row_of[c.path] for c in clips]]
        y_suite = [c.label for c in clips]
        labels = sorted(task.classes)
        suite_pred = linear_probe_predict(x_suite, y_suite, [c.speaker for c in clips], seed=args.seed)
        large, fit, held = plans[task.name]
        x, y, g = xy(large)
        large_pred = fit_predict(x, y, g, x_suite, args.seed)
        x, y, g = xy(fit)
        x_held, y_held, _ = xy(held)
        heard_pred = fit_predict(x, y, g, x_held, args.seed)
        row = {
            "task": task.name,
            "suite": macro_f1(y_suite, suite_pred, labels),
            "large": macro_f1(y_suite, large_pred, labels),
            "heard": macro_f1(y_held, heard_pred, labels),
            "suite_clips": len(clips),
            "large_clips": len(y),
            "heard_test_clips": len(y_held),
        }
        table.append(row)
        print(f"{task.name:24s} suite {row['suite']:.3f}  large {row['large']:.3f}  heard {row['heard']:.3f}")
    means = {k: float(np.mean([r[k] for r in table])) for k in ("suite", "large", "heard")}
    print(f"{'mean':24s} suite {means['suite']:.3f}  large {means['large']:.3f}  heard {means['heard']:.3f}")
    if args.json:
        out = {
            "model": str(args.model),
            "corpus": str(args.corpus),
            "suite": str(args.suite),
            "per_class": args.per_class,
            "test_per_class": args.test_per_class,
            "date": time.strftime("%Y-%m-%d"),
            "tasks": table,
            "mean": means,
        }
        args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
