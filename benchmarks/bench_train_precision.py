"""Benchmark a training recipe's step time in float32 and under bf16 autocast on this machine.

    python benchmarks/bench_train_precision.py --recipe train/recipes/teacher-small.json --data CORPUS \
        [--steps 60] [--skip 20] [--exclude-holdout HOLDOUT.json] [--save FILE]

Runs the recipe for ``--steps`` steps once per precision (each in a temp folder; the corpus' decoded-audio cache is
shared), and prints one JSON object: clips/s and seconds per step over the steps after the first ``--skip`` (start-up
and allocator warm-up excluded), the loss at the last step of each run (same seed and data order, so the two should
agree to about two decimals), what ``precision: auto`` picks here, the CPU model, its bf16 flags and the thread count.
Run it on an otherwise idle machine: the figure is wall-clock.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

import torch

from slap_edge.bench.machine import cpu_model
from slap_edge.config import load_config
from slap_edge.train.cli import holdout_patterns
from slap_edge.train.config import TrainRecipe
from slap_edge.train.trainer import cpu_has_native_bf16, train, use_bf16_autocast


def timed_run(recipe: TrainRecipe, data: Path, steps: int, skip: int, exclude: tuple[str, ...]) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        run = Path(tmp) / "run"
        train(recipe, data, run, max_steps=steps, progress=False, exclude=exclude)
        with (run / "metrics.csv").open() as handle:
            rows = {int(r["step"]): r for r in csv.DictReader(handle)}
    first, last = rows[skip], rows[steps]
    seconds = float(last["elapsed_s"]) - float(first["elapsed_s"])
    return {
        "s_per_step": round(seconds / (steps - skip), 4),
        "clips_per_s": round((steps - skip) * recipe.batch_size / seconds, 1),
        "loss_at_last_step": round(float(last["loss"]), 4),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--skip", type=int, default=20, help="Steps left out of the timing (start-up, warm-up).")
    parser.add_argument("--exclude-holdout", default=None, help="As for slap-edge train: a holdout.json or patterns.")
    parser.add_argument("--save", type=Path, default=None, help="Also write the JSON result to this file.")
    args = parser.parse_args(argv)
    if not 0 < args.skip < args.steps:
        parser.error(f"--skip must be between 1 and --steps - 1 ({args.steps - 1}), got {args.skip}")

    base = load_config(TrainRecipe, args.recipe)
    # Every step is logged so that the timing window starts exactly at --skip.
    common = {"log_every": 1, "checkpoint_every": args.steps, "steps": max(base.steps, args.steps)}
    exclude = holdout_patterns(args.exclude_holdout)
    result: dict[str, object] = {
        "recipe": str(args.recipe),
        "batch_size": base.batch_size,
        "steps_timed": args.steps - args.skip,
        "cpu": cpu_model(),
        "cpu_native_bf16": cpu_has_native_bf16(),
        "auto_picks": "bf16" if use_bf16_autocast("auto", "cpu") else "fp32",
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    for precision in ("fp32", "bf16"):
        recipe = dataclasses.replace(base, precision=precision, **common)
        result[precision] = timed_run(recipe, args.data, args.steps, args.skip, exclude)
    result["bf16_speedup"] = round(result["bf16"]["clips_per_s"] / result["fp32"]["clips_per_s"], 2)  # type: ignore[index]
    text = json.dumps(result, indent=2)
    print(text)
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        args.save.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
