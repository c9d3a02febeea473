"""Shard loader against folder loader: data loader clips/s alone, and training clips/s feeding a recipe.

    python benchmarks/bench_shards.py --corpus CORPUS --shards SHARDS [--recipe train/recipes/teacher-small.json]
        [--loader-batches 30] [--train-steps 12] [--skip 4] [--save-json FILE] [--save-md FILE]

1. Loader alone: batches of the recipe's size, window and seed, from ``SHARDS`` (ShardStream: decode + window +
   caption per clip) and from the corpus folder (the decoded-audio cache + ClipDataset, with and without the
   precomputed log-mel), through a DataLoader with 0, 1 and 2 workers; clips/s over ``--loader-batches`` batches
   after the first (worker start-up excluded).
2. Feeding the model: the recipe trained for ``--train-steps`` steps from the folder (as the recipe says, and with
   ``precompute_log_mel`` false: features in the step) and from the shards (features in the step); clips/s over the
   steps after ``--skip``.

Prints one JSON object and optionally writes it and a Markdown table. The figures are wall-clock: on a machine shared
with other jobs they are lower bounds.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from slap_edge.bench.machine import cpu_model
from slap_edge.config import load_config
from slap_edge.data.shards import resolve_shard_source
from slap_edge.frontend import create_log_mel_module
from slap_edge.models.registry import resolve_model_config
from slap_edge.train.config import TrainRecipe
from slap_edge.train.data import (
    BalancedBatchSampler,
    ClipDataset,
    balance_weights,
    build_audio_cache,
    build_log_mel_cache,
    collate,
    load_split,
)
from slap_edge.train.shards import ShardStream
from slap_edge.train.trainer import train


def _rate(loader: torch.utils.data.DataLoader, batches: int, batch_size: int) -> tuple[float, float]:
    """Clips/s of wall-clock time, and clips per CPU-second of this process (meaningful without workers: the rate
    of one core, whatever else the machine runs)."""
    it = iter(loader)
    next(it)  # workers started, first batch made
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(batches):
        next(it)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return round(batches * batch_size / wall, 1), round(batches * batch_size / max(cpu, 1e-9), 1)


def loader_rates(recipe: TrainRecipe, corpus: Path, shards: str, batches: int, cache_dir: Path) -> dict[str, Any]:
    model = resolve_model_config(recipe.model, **recipe.model_overrides)
    sr, window, b = model.frontend.sample_rate, model.window_samples, recipe.batch_size
    records = load_split(corpus, recipe.split)
    cache = build_audio_cache(corpus, records, sr, cache_dir, progress=False)
    t0 = time.perf_counter()
    mel = build_log_mel_cache(cache, create_log_mel_module(model.frontend), progress=False)
    mel_s = time.perf_counter() - t0
    source = resolve_shard_source(shards, recipe.split)
    out: dict[str, Any] = {"log_mel_precompute_s": round(mel_s, 2), "clips": len(records)}
    for workers in (0, 1, 2):
        stream = ShardStream(source, recipe.split, sr, window, recipe.seed, b, readers=max(1, workers))
        dl = torch.utils.data.DataLoader(stream, batch_size=None, num_workers=workers)
        out[f"shards_{workers}w"], cpu_rate = _rate(dl, batches, b)
        if workers == 0:
            out["shards_per_cpu_s"] = cpu_rate
        print(f"shards {workers} workers: {out[f'shards_{workers}w']} clips/s", file=sys.stderr, flush=True)
        for name, m in (("folder_audio", None), ("folder_logmel", mel)):
            ds = ClipDataset(cache, records, window, recipe.seed, mel=m, mel_frames=model.num_frames)
            weights = balance_weights([r.attributes for r in ds.records], recipe.balance_attributes, recipe.balance)
            sampler = BalancedBatchSampler(weights, b, recipe.seed)
            dl = torch.utils.data.DataLoader(ds, batch_sampler=sampler, collate_fn=collate, num_workers=workers)
            out[f"{name}_{workers}w"], cpu_rate = _rate(dl, batches, b)
            if workers == 0:
                out[f"{name}_per_cpu_s"] = cpu_rate
            print(f"{name} {workers} workers: {out[f'{name}_{workers}w']} clips/s", file=sys.stderr, flush=True)
    return out


def train_rate(recipe: TrainRecipe, data: str | Path, steps: int, skip: int, cache_dir: Path) -> dict[str, Any]:
    recipe = dataclasses.replace(recipe, log_every=1)  # every step logged: the timing starts exactly at skip
    with tempfile.TemporaryDirectory(prefix="bench-shards-") as tmp:
        run = Path(tmp) / "run"
        result = train(recipe, data, run, max_steps=steps, progress=False, cache_dir=cache_dir, device="cpu")
        with (run / "metrics.csv").open() as handle:
            rows = {int(r["step"]): r for r in csv.DictReader(handle)}
        state = json.loads((run / "state.json").read_text())
    seconds = float(rows[steps]["elapsed_s"]) - float(rows[skip]["elapsed_s"])
    return {
        "clips_per_s": round((steps - skip) * recipe.batch_size / seconds, 1),
        "s_per_step": round(seconds / (steps - skip), 3),
        "loss_at_last_step": round(result.loss, 4),
        "log_mel_s": round(state.get("log_mel_s", 0.0), 2),
    }


def to_markdown(res: dict[str, Any]) -> str:
    lo = res["loader"]
    lines = [
        f"# Shard loader vs folder loader ({res['recipe']})",
        "",
        f"Machine: {res['machine']['cpu']}, {res['machine']['cores']} cores, no GPU; shared with other jobs, so every "
        "figure is a lower bound. Commit " + res["commit"] + ". Command: `" + res["command"] + "`.",
        "",
        f"Corpus: {lo['clips']} training clips; batch {res['batch_size']}, window {res['window_s']} s.",
        "",
        "## Data loader alone (clips/s)",
        "",
        "| loader | 0 workers | 1 worker | 2 workers | per CPU-second (0 workers) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, label in (
        ("shards", "shards: decode + window + caption"),
        ("folder_audio", "folder: cache + window + caption"),
        ("folder_logmel", "folder: precomputed log-mel window + caption"),
    ):
        row = f"| {label} | {lo[f'{name}_0w']} | {lo[f'{name}_1w']} | {lo[f'{name}_2w']} | {lo[f'{name}_per_cpu_s']} |"
        lines.append(row)
    lines += [
        "",
        f"The folder loader first decodes the corpus into its cache and (precompute_log_mel) computes every clip's "
        f"log-mel: {lo['log_mel_precompute_s']} s here for {lo['clips']} clips.",
    ]
    if "train" not in res:
        return "\n".join(lines) + "\n"
    lines += [
        "",
        "## Feeding the model (training clips/s, one process, recipe's num_workers)",
        "",
        "| data | features | clips/s | s/step | loss at last step |",
        "|---|---|---:|---:|---:|",
    ]
    for key, data, feats in (
        ("folder_logmel", "folder", "precomputed log-mel"),
        ("folder_onthefly", "folder", "log-mel in the step"),
        ("shards_onthefly", "shards", "log-mel in the step"),
    ):
        t = res["train"][key]
        lines.append(f"| {data} | {feats} | {t['clips_per_s']} | {t['s_per_step']} | {t['loss_at_last_step']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--shards", required=True, help="The same corpus sharded: folder, pattern or pipe:.")
    parser.add_argument("--recipe", type=Path, default=Path("train/recipes/teacher-small.json"))
    parser.add_argument("--loader-batches", type=int, default=30)
    parser.add_argument("--train-steps", type=int, default=12)
    parser.add_argument("--skip", type=int, default=4)
    parser.add_argument("--loader-only", action="store_true", help="Measure the data loaders alone, not training.")
    parser.add_argument("--save-json", type=Path, default=None)
    parser.add_argument("--save-md", type=Path, default=None)
    args = parser.parse_args(argv)
    if not 0 < args.skip < args.train_steps:
        parser.error(f"--skip must be between 1 and --train-steps - 1, got {args.skip}")
    recipe = load_config(TrainRecipe, args.recipe)
    model = resolve_model_config(recipe.model, **recipe.model_overrides)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    res: dict[str, Any] = {
        "recipe": str(args.recipe),
        "batch_size": recipe.batch_size,
        "window_s": model.window_samples / model.frontend.sample_rate,
        "commit": commit,
        "command": "python " + " ".join([Path(sys.argv[0]).as_posix(), *(argv or sys.argv[1:])]),
        "machine": {
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(),
            "torch": torch.__version__,
        },
    }
    with tempfile.TemporaryDirectory(prefix="bench-shards-cache-") as cache:
        cache_dir = Path(cache)
        res["loader"] = loader_rates(recipe, args.corpus, args.shards, args.loader_batches, cache_dir)
        on_the_fly = dataclasses.replace(recipe, precompute_log_mel=False)
        if not args.loader_only:
            res["train"] = {
                "folder_logmel": train_rate(recipe, args.corpus, args.train_steps, args.skip, cache_dir),
                "folder_onthefly": train_rate(on_the_fly, args.corpus, args.train_steps, args.skip, cache_dir),
                "shards_onthefly": train_rate(on_the_fly, args.shards, args.train_steps, args.skip, cache_dir),
            }
    text = json.dumps(res, indent=1)
    print(text)
    if args.save_json:
        args.save_json.parent.mkdir(parents=True, exist_ok=True)
        args.save_json.write_text(text + "\n")
    if args.save_md:
        args.save_md.parent.mkdir(parents=True, exist_ok=True)
        args.save_md.write_text(to_markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
