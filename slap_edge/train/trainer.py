"""The training loop, top to bottom: distributed setup, data, model, task, optimiser, steps, checkpoints.

One process per device; launched plainly for one CPU/GPU, or by torchrun for several GPUs or nodes (the process
group comes from torchrun's environment; gloo on CPU, NCCL on GPUs). Each process draws its own slice of every global
batch, so the global batch is ``batch_size * world_size``. Contrastive negatives are those of the global batch
(embeddings are gathered from every process, `slap_edge.train.tasks.gather_batch`).

Exact resumption: the batches of step s depend only on (seed, s), torch's generator is reseeded from (seed, step,
rank) before every step (MAE masks, dropout), and the optimiser state is restored, so a resumed run repeats the
losses of an uninterrupted one (to float rounding: a frozen text encoder's cached vectors may have been computed in
a differently padded batch).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import math
import os
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch

from slap_edge.config import ConfigError, save_config
from slap_edge.frontend import create_log_mel_module
from slap_edge.models.config import ModelConfig
from slap_edge.models.registry import resolve_model_config
from slap_edge.models.slap import SlapModel
from slap_edge.train.checkpoint import (
    CONFIG_NAME,
    INIT_NAME,
    METRICS_NAME,
    OPTIMIZER_NAME,
    CheckpointError,
    check_resume_config,
    check_run_complete,
    has_checkpoint,
    init_from_run,
    load_weights,
    read_run_config,
    read_state,
    save_checkpoint,
)
from slap_edge.train.config import RunConfig, TrainRecipe
from slap_edge.train.data import (
    BalancedBatchSampler,
    ClipDataset,
    CorpusError,
    ReplayBatchSampler,
    balance_weights,
    build_audio_cache,
    build_log_mel_cache,
    check_bad_fraction,
    collate,
    default_cache_dir,
    load_split,
    voice_independent_weights,
)
from slap_edge.train.tasks import create_task, drops_only_the_unused_decoder, trained_model_config

log = logging.getLogger(__name__)


class TrainingError(RuntimeError):
    """Training stopped; the message says why and what was kept."""


@dataclasses.dataclass
class TrainResult:
    run_dir: Path
    start_step: int
    step: int
    loss: float
    steps_per_s: float
    clips_per_s: float
    bad_clips: int
    n_clips: int


def lr_at(step: int, recipe: TrainRecipe) -> float:
    """Learning rate of 1-based ``step``: linear warm-up, then cosine decay to ``min_lr_ratio * lr``."""
    if step <= recipe.warmup_steps:
        return recipe.lr * step / max(1, recipe.warmup_steps)
    progress = min(1.0, (step - recipe.warmup_steps) / max(1, recipe.steps - recipe.warmup_steps))
    return recipe.lr * (recipe.min_lr_ratio + (1 - recipe.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


@dataclasses.dataclass
class _Dist:
    rank: int
    world: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _init_distributed(device: str) -> _Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device == "auto":
        device = f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    return _Dist(rank, world, local_rank, dev)


def _step_seed(seed: int, step: int, rank: int) -> int:
    return int(np.random.SeedSequence([seed, step, rank]).generate_state(1)[0])


class _MetricsLog:
    """``metrics.csv`` (and TensorBoard events when tensorboard is installed), written by rank 0 only."""

    def __init__(self, run_dir: Path, resume_step: int) -> None:
        self.path = run_dir / METRICS_NAME
        self.fields: list[str] | None = None
        if resume_step and self.path.is_file():
            # Rows past the checkpoint are repeated by the resumed run; keep the file free of duplicates.
            with self.path.open(newline="") as handle:
                rows = list(csv.DictReader(handle))
            self.fields = list(rows[0]) if rows else None
            kept = [r for r in rows if int(r["step"]) <= resume_step]
            with self.path.open("w", newline="") as handle:
                if self.fields:
                    writer = csv.DictWriter(handle, fieldnames=self.fields)
                    writer.writeheader()
                    writer.writerows(kept)
        elif self.path.exists():
            self.path.unlink()
        self.tensorboard = None
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tensorboard = SummaryWriter(str(run_dir / "tensorboard"))
        except ImportError:
            pass

    def write(self, row: dict[str, Any]) -> None:
        if self.fields is None:
            self.fields = list(row)
        new = not self.path.is_file()
        with self.path.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=self.fields, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow(row)
        if self.tensorboard is not None:
            for key, value in row.items():
                if key != "step" and isinstance(value, float):
                    self.tensorboard.add_scalar(key, value, row["step"])

    def close(self) -> None:
        if self.tensorboard is not None:
            self.tensorboard.close()


def _progress_bar(enabled: bool, total: int, done: int) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    progress = Progress(
        TextColumn("[bold]train"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}"),
        TextColumn("{task.fields[cps]:.1f} clips/s"),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        disable=not enabled,
    )
    task = progress.add_task("train", total=total, completed=done, loss=float("nan"), cps=0.0)
    return progress, task


def cpu_has_native_bf16(cpuinfo: str | Path = "/proc/cpuinfo") -> bool:
    """True when the CPU has bf16 dot-product instructions (AVX512-BF16 or AMX-BF16), read from the Linux CPU flags;
    False where they are missing or cannot be read."""
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        return False
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return "avx512_bf16" in flags or "amx_bf16" in flags


def use_bf16_autocast(precision: str, device_type: str, cpuinfo: str | Path = "/proc/cpuinfo") -> bool:
    """Whether a step runs under bf16 autocast. ``auto`` means yes on CUDA and on CPUs with native bf16 dot products
    (measured on a 2-core AMD EPYC with AVX512-BF16: teacher-small 110 against 65 clips/s in float32), and float32 on
    other CPUs, where bf16 is emulated and slower than float32."""
    if precision == "bf16":
        return True
    if precision == "fp32":
        return False
    return device_type == "cuda" or (device_type == "cpu" and cpu_has_native_bf16(cpuinfo))


@dataclasses.dataclass
class _TrainData:
    """What the loop needs of the data, whether a corpus folder or shards."""

    sampler: Any  # has epoch_of(step); shards also position(step)
    loader: torch.utils.data.DataLoader
    n_clips: int
    bad: dict[str, str]  # unreadable clips known before the first step (clip or sample -> why)
    streaming: bool  # shards: unreadable samples are found while training, counted at each checkpoint
    state_extra: dict[str, Any]


def _folder_data(
    recipe: TrainRecipe,
    model_config: Any,
    data_dir: Path,
    run_dir: Path,
    dist: _Dist,
    start_step: int,
    exclude: tuple[str, ...],
    cache_dir: str | Path | None,
    progress: bool,
    replay_order: Path | None,
) -> _TrainData:
    """The corpus folder decoded once (rank 0 first, the others reuse its cache), sampled by balance weights."""
    state_extra: dict[str, Any] = {}
    records = load_split(data_dir, recipe.split, exclude)
    cache_path = Path(cache_dir) if cache_dir else default_cache_dir(data_dir, run_dir)
    sample_rate = model_config.frontend.sample_rate
    if dist.is_main:
        cache = build_audio_cache(data_dir, records, sample_rate, cache_path, progress=progress)
    if dist.world > 1:
        torch.distributed.barrier()
    if not dist.is_main:
        cache = build_audio_cache(data_dir, records, sample_rate, cache_path, progress=False)
    check_bad_fraction(cache, len(records), recipe.max_bad_fraction, data_dir)
    if cache.bad and dist.is_main:
        log.warning("%d of %d clips cannot be read and are skipped", len(cache.bad), len(records))
    mel_cache = None
    if recipe.precompute_log_mel:
        if recipe.task != "contrastive_mae":
            raise ConfigError(
                f"precompute_log_mel works with task 'contrastive_mae' only, not {recipe.task!r}: set it to false"
            )
        t_mel = time.perf_counter()
        mel_cache = build_log_mel_cache(cache, create_log_mel_module(model_config.frontend), progress=progress)
        state_extra["log_mel_s"] = time.perf_counter() - t_mel
        if dist.is_main:
            log.info(
                "log-mel of %d clips computed ahead in %.1f s (%.2f GB in memory)",
                len(cache.ids),
                state_extra["log_mel_s"],
                mel_cache.nbytes / 1e9,
            )
    dataset = ClipDataset(
        cache, records, model_config.window_samples, recipe.seed, mel=mel_cache, mel_frames=model_config.num_frames
    )
    attributes = [r.attributes for r in dataset.records]
    weights = balance_weights(attributes, recipe.balance_attributes, recipe.balance)
    if recipe.voice_independent:
        voices = [r.voice for r in dataset.records]
        weights = voice_independent_weights(weights, attributes, voices, recipe.voice_independent)
    sampler: Any = BalancedBatchSampler(weights, recipe.batch_size, recipe.seed, start_step, dist.rank, dist.world)
    if replay_order is not None:
        sampler = ReplayBatchSampler(replay_order / f"order-rank{dist.rank}.jsonl", start_step, len(dataset))
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_sampler=sampler,
        collate_fn=collate,
        num_workers=recipe.num_workers,
        persistent_workers=recipe.num_workers > 0,
        pin_memory=dist.device.type == "cuda",
    )

    return _TrainData(sampler, loader, len(records), dict(cache.bad), False, state_extra)


def _shard_data(
    recipe: TrainRecipe,
    model_config: Any,
    source_spec: Path | str,
    dist: _Dist,
    start_step: int,
    exclude: tuple[str, ...],
) -> _TrainData:
    """Batches streamed from shards (`slap_edge.train.shards`); features are computed in the step."""
    from slap_edge.data.shards import resolve_shard_source
    from slap_edge.train.shards import ShardStream

    if recipe.voice_independent:
        raise ValueError(
            f"voice_independent={list(recipe.voice_independent)} reweights a corpus folder's clips and does not apply "
            f"to streamed shards ({source_spec}): train from the corpus folder, or set it to []"
        )
    if recipe.precompute_log_mel and dist.is_main:
        log.warning(
            "precompute_log_mel does not apply to streamed shards: the log-mel is computed in each step "
            "(windows are cut at any sample, not at whole hops)"
        )
    source = resolve_shard_source(source_spec, recipe.split)
    stream = ShardStream(
        source,
        recipe.split,
        model_config.frontend.sample_rate,
        model_config.window_samples,
        recipe.seed,
        recipe.batch_size,
        rank=dist.rank,
        world=dist.world,
        readers=max(1, recipe.num_workers),
        start_step=start_step,
        exclude=exclude,
    )
    if dist.is_main:
        log.info(
            "%d shards, %d clips of split %s (%d held out); %d steps an epoch",
            len(source.entries),
            stream.n_clips,
            recipe.split,
            stream.excluded,
            stream.steps_per_epoch,
        )
    loader = torch.utils.data.DataLoader(
        stream,
        batch_size=None,
        num_workers=recipe.num_workers,
        persistent_workers=recipe.num_workers > 0,
        pin_memory=dist.device.type == "cuda",
    )
    return _TrainData(stream, loader, stream.n_clips, {}, True, {})


def _count_bad(bad: dict[str, str], dist: _Dist, n_read: int, max_fraction: float, source: Path | str) -> int:
    """Distinct unreadable samples over every rank (a collective with several processes); with shards, stop when
    more than ``max_fraction`` of the samples read were unreadable."""
    if dist.world > 1:
        gathered: list[Any] = [None] * dist.world
        torch.distributed.all_gather_object(gathered, bad)
        merged: dict[str, str] = {}
        for part in gathered:
            merged |= part
    else:
        merged = bad
    n_bad = len(merged)
    if n_bad and n_read and n_bad > max_fraction * n_read:
        examples = "; ".join(f"{k}: {v}" for k, v in list(merged.items())[:3])
        raise CorpusError(
            f"{source}: {n_bad} of {n_read} samples read ({100 * n_bad / n_read:.1f}%) cannot be read, more than "
            f"the {100 * max_fraction:.1f}% allowed (max_bad_fraction); e.g. {examples}"
        )
    return n_bad


def train(
    recipe: TrainRecipe,
    data_dir: str | Path,
    run_dir: str | Path,
    *,
    resume: bool = False,
    max_steps: int | None = None,
    cache_dir: str | Path | None = None,
    device: str = "auto",
    progress: bool = True,
    exclude: tuple[str, ...] = (),
    max_minutes: float | None = None,
    record_order: bool = False,
    replay_order: str | Path | None = None,
) -> TrainResult:
    """Train ``recipe`` on the corpus in ``data_dir``, writing the run to ``run_dir``.

    ``data_dir`` is a corpus folder (manifest.jsonl + audio) or shards (``slap-edge data shard``): a folder holding
    ``shards.json``, a brace pattern, a ``::`` list or a ``pipe:`` command (`slap_edge.train.shards`).
    ``record_order`` writes the clip numbers of every step to ``RUN/order-rank{R}.jsonl``; ``replay_order`` (a run
    folder holding such files, same number of processes) makes the folder loader take exactly those clips, in order.

    ``max_steps`` stops early at that global step without changing the learning-rate schedule (which always spans
    ``recipe.steps``), so a run can be done in pieces with ``resume``. ``max_minutes`` likewise stops (with a
    checkpoint) at the first step that ends after that much training time in this process; every rank stops at the
    same step. ``exclude`` holds held-out voice patterns
    (``slap_edge.data.holdout.HoldoutSelector``): matching clips are dropped before training.
    """
    from slap_edge.data.shards import is_shard_source

    # A pattern or command stays a string (Path would fold the '//' of 's3://'); folders are made absolute.
    data = str(data_dir) if is_shard_source(data_dir) and not Path(data_dir).is_dir() else Path(data_dir).resolve()
    run_dir = Path(run_dir)
    dist = _init_distributed(device)
    try:
        return _train(
            recipe,
            data,
            run_dir,
            dist,
            resume,
            max_steps,
            cache_dir,
            progress,
            tuple(exclude),
            max_minutes,
            record_order,
            Path(replay_order) if replay_order is not None else None,
        )
    finally:
        if dist.world > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def _train(
    recipe: TrainRecipe,
    data_dir: Path | str,
    run_dir: Path,
    dist: _Dist,
    resume: bool,
    max_steps: int | None,
    cache_dir: str | Path | None,
    progress: bool,
    exclude: tuple[str, ...] = (),
    max_minutes: float | None = None,
    record_order: bool = False,
    replay_order: Path | None = None,
) -> TrainResult:
    if max_minutes is not None and not max_minutes > 0:
        raise ValueError(f"max_minutes must be a positive number of minutes, got {max_minutes}")
    # -- the run config, and what resuming requires of it ------------------------------------------------------------
    model_config = trained_model_config(
        recipe.task, recipe.task_options, resolve_model_config(recipe.model, **recipe.model_overrides)
    )
    start_step = 0
    state: dict[str, Any] = {}
    if resume:
        if not has_checkpoint(run_dir):
            raise CheckpointError(f"cannot resume {run_dir}: it holds no checkpoint (no state.json)")
        try:
            recorded: ModelConfig | None = read_run_config(run_dir).model
        except ConfigError:
            recorded = None  # check_resume_config below says what is wrong with it
        if recorded is not None and drops_only_the_unused_decoder(recorded, model_config):
            log.info("resuming %s with its recorded model config (it builds the unused MAE decoder)", run_dir)
            model_config = recorded
    run_config = RunConfig(
        model=model_config, recipe=recipe, data=str(data_dir), world_size=dist.world, exclude=exclude
    )
    if resume:
        check_resume_config(run_dir, run_config)
        state = read_state(run_dir)
        start_step = int(state["step"])
    elif has_checkpoint(run_dir):
        raise CheckpointError(f"{run_dir} already holds a run; pass --resume to continue it or choose another --out")
    if recipe.init_from and not resume:
        # Fail before the data is decoded: the starting run must exist and be finished (its config is checked when
        # the model is built).
        if not (Path(recipe.init_from) / CONFIG_NAME).is_file():
            raise CheckpointError(f"init_from {recipe.init_from}: not a run folder (no {CONFIG_NAME})")
        check_run_complete(recipe.init_from)
    end_step = min(recipe.steps, max_steps) if max_steps is not None else recipe.steps
    if resume and start_step >= end_step:
        # Nothing left to train (a chain run again after it finished): no data, cache or model to build.
        log.info("%s is at step %d of %d: nothing to train", run_dir, start_step, end_step)
        return TrainResult(
            run_dir=run_dir,
            start_step=start_step,
            step=start_step,
            loss=float(state.get("loss", math.nan)),
            steps_per_s=0.0,
            clips_per_s=0.0,
            bad_clips=int(state.get("bad_clips", 0)),
            n_clips=0,
        )
    if dist.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)

    state_extra: dict[str, Any] = {}
    from slap_edge.data.shards import is_shard_source

    if is_shard_source(data_dir):
        if replay_order is not None:
            raise ValueError("replay_order works with a corpus folder, not with shards")
        data = _shard_data(recipe, model_config, data_dir, dist, start_step, exclude)
    else:
        data = _folder_data(
            recipe, model_config, Path(data_dir), run_dir, dist, start_step, exclude, cache_dir, progress, replay_order
        )
    sampler, loader, n_clips = data.sampler, data.loader, data.n_clips
    state_extra |= data.state_extra
    bad_seen: dict[str, str] = dict(data.bad)
    order_log = None
    if record_order:
        run_dir.mkdir(parents=True, exist_ok=True)
        order_path = run_dir / f"order-rank{dist.rank}.jsonl"
        kept_rows = []
        if resume and order_path.is_file():  # rows past the checkpoint are repeated by the resumed run
            kept_rows = [r for r in order_path.read_text().splitlines() if json.loads(r)["step"] <= start_step]
        order_path.write_text("".join(r + "\n" for r in kept_rows))
        order_log = order_path.open("a")

    # -- model, task, optimiser ---------------------------------------------------------------------------------------

    torch.manual_seed(recipe.seed)  # the same initial weights on every rank (DDP also broadcasts rank 0's)
    model = SlapModel(model_config)
    if resume:
        load_weights(model, run_dir, expected_step=start_step)
    elif recipe.init_from:
        init = init_from_run(model, recipe.init_from)
        if dist.is_main:
            (run_dir / INIT_NAME).write_text(json.dumps(init, indent=1) + "\n")
            log.info("starting from %s (step %d, sha256 %s)", init["init_from"], init["step"], init["sha256"][:12])
    model.to(dist.device).train()
    task = create_task(recipe.task, recipe.task_options, model_config, dist.device)
    optimizer = torch.optim.AdamW(
        model.param_groups(recipe.weight_decay, recipe.pretrained_lr_scale), lr=recipe.lr, betas=recipe.betas
    )
    if resume:
        optimizer.load_state_dict(torch.load(run_dir / OPTIMIZER_NAME, map_location=dist.device, weights_only=True))
    wrapped: torch.nn.Module = model
    if dist.world > 1:
        wrapped = torch.nn.parallel.DistributedDataParallel(
            model,
            device_ids=[dist.device.index] if dist.device.type == "cuda" else None,
            find_unused_parameters=True,  # a task may leave a tower unused (e.g. no MAE decoder in distillation)
        )
    use_bf16 = use_bf16_autocast(recipe.precision, dist.device.type)
    if dist.is_main:
        log.info("precision %s: %s on %s", recipe.precision, "bf16 autocast" if use_bf16 else "float32", dist.device)
    autocast = torch.autocast(dist.device.type, dtype=torch.bfloat16) if use_bf16 else nullcontext()
    metrics = _MetricsLog(run_dir, start_step) if dist.is_main else None
    if dist.is_main and not resume:
        save_config(run_config, run_dir / CONFIG_NAME)

    # -- the loop -----------------------------------------------------------------------------------------------------
    global_batch = recipe.batch_size * dist.world
    last_saved = start_step if resume else None
    train_s_before = float(state.get("train_s", 0.0))
    last_log_step = start_step
    loss_value = float("nan")
    bar, bar_task = _progress_bar(progress and dist.is_main, end_step, start_step)
    t_start = t_log = time.perf_counter()
    step = start_step
    batches = iter(loader)
    with bar:
        while step < end_step:
            step += 1
            batch = next(batches)
            bad_seen.update(batch.pop("bad", {}))
            if order_log is not None:
                epoch = sampler.epoch_of(step - 1)
                order_log.write(json.dumps({"step": step, "epoch": epoch, "index": batch["index"].tolist()}) + "\n")
                order_log.flush()
            for key in ("audio", "mel"):
                if key in batch:
                    batch[key] = batch[key].to(dist.device, non_blocking=True)
            batch["index"] = batch["index"].to(dist.device, non_blocking=True)
            torch.manual_seed(_step_seed(recipe.seed, step, dist.rank))
            lr = lr_at(step, recipe)
            for group in optimizer.param_groups:
                group["lr"] = lr * group["lr_scale"]

            with autocast:
                parts = task(wrapped, batch)
            bad_keys = [k for k in parts if not k.endswith("_loss")]
            if bad_keys:
                raise TrainingError(f"task {recipe.task!r} returned keys {bad_keys}; every key must end in '_loss'")
            loss = sum(parts.values())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(
                [p for p in model.parameters() if p.requires_grad], recipe.grad_clip or float("inf")
            )

            # One all-reduce gives both the logged means and a collective verdict on finiteness.
            # The last entry is this rank's "time is up" flag: after the reduction it is > 0 when any rank's is.
            time_up = max_minutes is not None and time.perf_counter() - t_start >= max_minutes * 60.0
            report = torch.stack(
                [
                    loss.detach().float(),
                    *(v.detach().float() for v in parts.values()),
                    grad_norm.float(),
                    torch.tensor(float(time_up), device=grad_norm.device),
                ]
            )
            if dist.world > 1:
                torch.distributed.all_reduce(report)
                report /= dist.world
            values = report.tolist()
            time_up = values.pop() > 0
            if time_up and step < end_step:
                if dist.is_main:
                    log.warning(
                        "time budget of %g min reached: stopping at step %d of %d. THE RECIPE IS NOT COMPLETE: the "
                        "learning rate has not decayed, so this is not the recipe's model; distill and export refuse "
                        "it. Finish it with --resume.",
                        max_minutes,
                        step,
                        end_step,
                    )
                end_step = step
            if not all(math.isfinite(v) for v in values[:-1]):
                kept = (
                    f"the last good checkpoint (step {last_saved}) is kept in {run_dir}"
                    if last_saved
                    else ("no checkpoint had been written yet")
                )
                detail = ", ".join(f"{k}={v:.4g}" for k, v in zip(parts, values[1:-1], strict=True))
                raise TrainingError(
                    f"non-finite loss at step {step} ({detail}); stopped without updating the weights; {kept}. "
                    "Lower lr, raise warmup_steps or check the corpus for silent or clipped audio."
                )
            optimizer.step()
            loss_value = values[0]

            if dist.is_main and (step % recipe.log_every == 0 or step == end_step):
                now = time.perf_counter()
                clips_per_s = (step - last_log_step) * global_batch / max(now - t_log, 1e-9)
                t_log, last_log_step = now, step
                row = {"step": step, "epoch": sampler.epoch_of(step - 1), "lr": lr, "loss": loss_value}
                row |= dict(zip(parts, values[1:-1], strict=True))
                row |= {
                    "grad_norm": values[-1],
                    "logit_scale": model.logit_scale_value(),
                    "clips_per_s": clips_per_s,
                    "elapsed_s": now - t_start,
                }
                metrics.write(row)
                bar.update(bar_task, completed=step, loss=loss_value, cps=clips_per_s)

            if step % recipe.checkpoint_every == 0 or step == end_step:
                n_bad = len(bad_seen)
                if data.streaming:
                    n_read = (step - start_step) * global_batch
                    n_bad = _count_bad(bad_seen, dist, n_read, recipe.max_bad_fraction, data_dir)
                if dist.is_main:
                    state = {
                        "step": step,
                        "epoch": sampler.epoch_of(step),
                        "seed": recipe.seed,
                        "world_size": dist.world,
                        "loss": loss_value,
                        "bad_clips": n_bad,
                        "train_s": train_s_before + time.perf_counter() - t_start,
                    } | state_extra
                    if hasattr(sampler, "position"):
                        state["shard_position"] = sampler.position(step)
                    save_checkpoint(run_dir, model, optimizer, state, run_config)
                last_saved = step
                if dist.world > 1:
                    torch.distributed.barrier()
    elapsed = time.perf_counter() - t_start
    if metrics is not None:
        metrics.close()
    if order_log is not None:
        order_log.close()
    n_done = step - start_step
    return TrainResult(
        run_dir=run_dir,
        start_step=start_step,
        step=step,
        loss=loss_value,
        steps_per_s=n_done / max(elapsed, 1e-9),
        clips_per_s=n_done * global_batch / max(elapsed, 1e-9),
        bad_clips=n_bad if step > start_step else len(bad_seen),
        n_clips=n_clips,
    )
