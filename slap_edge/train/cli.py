"""CLI commands of the train stage (registered on the root app by slap_edge.cli)."""

from __future__ import annotations

from pathlib import Path

import typer


def train_command(
    recipe: Path = typer.Option(..., "--recipe", help="Recipe JSON, e.g. train/recipes/teacher-small.json."),
    data: str = typer.Option(
        ...,
        "--data",
        help="Corpus folder holding manifest.jsonl, or shards: a folder holding shards.json, a brace pattern "
        "('shards/train-{000000..000009}.tar') or a pipe: command ('pipe:aws s3 cp s3://b/train-{0..9}.tar -').",
    ),
    out: Path = typer.Option(..., "--out", help="Run folder for checkpoints, config and metrics.csv."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its last checkpoint."),
    max_steps: int | None = typer.Option(
        None, "--max-steps", min=1, help="Stop at this step (the LR schedule still spans the recipe's steps)."
    ),
    max_minutes: float | None = typer.Option(
        None,
        "--max-minutes",
        help="Stop (with a checkpoint) at the first step past this much training time; the LR schedule is unchanged.",
    ),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="Where decoded audio is cached (DATA/.cache)."),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when present), cpu, cuda or cuda:N."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show the progress bar."),
    exclude_holdout: str | None = typer.Option(
        None,
        "--exclude-holdout",
        help="Drop held-out voices: a suite's holdout.json (or its folder) or patterns like 'voice=mb-us1,engine=x'.",
    ),
    record_order: bool = typer.Option(
        False, "--record-order", help="Write the clip numbers of every step to OUT/order-rank{R}.jsonl."
    ),
    init_from: Path | None = typer.Option(
        None,
        "--init-from",
        help="Start from a finished run's weights (same model; fresh optimiser, this recipe's schedule); recorded "
        "in the recipe and OUT/init.json.",
    ),
) -> None:
    """Train a model from a recipe (one process; use torchrun for several, see train/launch_torchrun.sh)."""
    import dataclasses
    import logging

    from rich.console import Console

    from slap_edge.config import ConfigError, load_config
    from slap_edge.data.holdout import holdout_patterns
    from slap_edge.data.shards import ShardError
    from slap_edge.train.checkpoint import CheckpointError
    from slap_edge.train.config import TrainRecipe
    from slap_edge.train.data import CorpusError
    from slap_edge.train.trainer import TrainingError, train

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    console = Console(stderr=True)
    try:
        cfg = load_config(TrainRecipe, recipe)
        if init_from is not None:
            cfg = dataclasses.replace(cfg, init_from=str(init_from.resolve()))
        exclude = holdout_patterns(exclude_holdout)
        result = train(
            cfg,
            data,
            out,
            resume=resume,
            max_steps=max_steps,
            cache_dir=cache_dir,
            device=device,
            progress=progress,
            exclude=exclude,
            max_minutes=max_minutes,
            record_order=record_order,
        )
    except (ConfigError, CheckpointError, CorpusError, ShardError, TrainingError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
        raise typer.Exit(1) from exc
    import os

    if int(os.environ.get("RANK", "0")) == 0:
        typer.echo(
            f"trained {result.start_step} -> {result.step} steps into {result.run_dir}: loss {result.loss:.4f}, "
            f"{result.steps_per_s:.3f} steps/s, {result.clips_per_s:.1f} clips/s; "
            f"{result.bad_clips} of {result.n_clips} clips unreadable"
        )
        if result.step < cfg.steps:
            console.print(
                f"[yellow]warning:[/yellow] the run stopped at step {result.step} of the recipe's {cfg.steps}: it is "
                f"unfinished, and distill/export refuse it; continue with the same command plus --resume",
                markup=True,
                highlight=False,
            )


def register(app: typer.Typer) -> None:
    """Add this stage's commands to `app`."""
    app.command("train")(train_command)
