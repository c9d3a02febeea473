"""A ViT student's run folder grown by transformer blocks: start a deeper student from a trained one, same function.

A pre-norm transformer block adds its attention and MLP branches to the residual stream; with the output projection
of each branch (``attn.proj`` and ``mlp.fc2``, weights and biases) at zero a block is the identity. The blocks added
here are such blocks, placed after the trained ones (before the final norm), with every other weight copied bit for
bit, so the deeper student embeds exactly as its source does and ``slap-edge distill --init-from`` trains the new
blocks on from there (the gradient reaches the zeroed projections at the first step, the rest of each new block from
the second). The new blocks' other weights (norms, qkv, fc1) keep the model's own initialisation under ``--seed``
(default 0, not the recipe's seed), so two runs of one architecture grown alike get the same new blocks: a soup of
them averages like with like.

The result is checked before it is written: on speech-like test signals and on clips of the check data, the deeper
student's embeddings must equal the source's (mean cosine >= MIN_COSINE, numerically the same function), else it fails
naming the figure. ``deepen.json`` records the source run, the sha256 of its weights, the depths and the agreement.

    python -m slap_edge.train.deepen RUN --recipe RECIPE --out RUN_OUT [--check-data CORPUS_OR_AUDIO] [--seed N]

``RECIPE`` is the source run's recipe naming a model config that differs from the run's only in its name and
``audio.depth`` (larger), e.g. ``student-vit-nano-d4`` for the three-block ``student-vit-nano``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

DEEPEN_NAME = "deepen.json"
MIN_COSINE = 0.9999
ZEROED = ("attn.proj.weight", "attn.proj.bias", "mlp.fc2.weight", "mlp.fc2.bias")


class DeepenError(ValueError):
    """A source run or recipe that cannot be grown; the message names what differs."""


def block_key(key: str) -> tuple[str, int, str] | None:
    """``(prefix, index, rest)`` for a state key inside ``...vit.blocks.<index>.<rest>``, else None."""
    marker = "vit.blocks."
    at = key.find(marker)
    if at < 0:
        return None
    head, tail = key[: at + len(marker)], key[at + len(marker) :]
    index, _, rest = tail.partition(".")
    return (head, int(index), rest) if index.isdigit() else None


def deepen_run(
    run: str | Path, recipe_path: str | Path, out: str | Path, check_data: str | Path | None = None, seed: int = 0
) -> dict[str, Any]:
    """Write the run folder ``out`` from the finished run ``run``; returns what ``deepen.json`` records."""
    import numpy as np
    import torch

    from slap_edge.config import load_config
    from slap_edge.export.onnx import speech_like_waveforms
    from slap_edge.fingerprints import sha256_file
    from slap_edge.models.registry import resolve_model_config
    from slap_edge.models.slap import SlapModel
    from slap_edge.train.checkpoint import (
        MODEL_NAME,
        check_run_complete,
        config_differences,
        load_run,
        save_finished_run,
    )
    from slap_edge.train.config import RunConfig, TrainRecipe
    from slap_edge.train.distill import recipe_with_teacher
    from slap_edge.train.inflate_mels import fit_windows
    from slap_edge.train.pack import PACKED_NAME
    from slap_edge.train.tasks import trained_model_config

    run, out = Path(run), Path(out)
    if out.exists() and any(out.iterdir()):
        raise DeepenError(f"{out} exists and is not empty; choose a new folder")
    step, _ = check_run_complete(run)
    old_model, old_run = load_run(run)
    if "teacher" not in old_run.recipe.task_options:
        raise DeepenError(f"{run}: not a distilled student (its recipe names no teacher)")
    # As `distill` sets it: the source's teacher, and its text settings (a student's text tower is its teacher's).
    recipe = recipe_with_teacher(
        load_config(TrainRecipe, recipe_path), Path(old_run.recipe.task_options["teacher"]), old_run.model
    )
    new_config = trained_model_config(
        recipe.task, recipe.task_options, resolve_model_config(recipe.model, **recipe.model_overrides)
    )
    old_config = old_run.model
    if old_config.audio.kind != "vit":
        raise DeepenError(f"{run}: audio kind {old_config.audio.kind!r}; only a ViT student is grown")
    diff = [d for d in config_differences(old_config, new_config) if not d.startswith(("name ", "audio.depth"))]
    if diff:
        raise DeepenError(
            f"{recipe_path}: the model differs from {run}'s in {', '.join(diff[:6])}; only the name and audio.depth "
            "may change"
        )
    old_depth, new_depth = old_config.audio.depth, new_config.audio.depth
    if new_depth <= old_depth:
        raise DeepenError(f"{recipe_path}: audio.depth {new_depth} must exceed the run's {old_depth}")

    torch.manual_seed(seed)
    model = SlapModel(new_config)
    old_state = old_model.state_dict()
    new_state = model.state_dict()
    for key, value in old_state.items():
        if key not in new_state or new_state[key].shape != value.shape:
            raise DeepenError(f"{run}: weight {key} {tuple(value.shape)} has no place in the deeper model")
        new_state[key] = value
    zeroed = []
    for key in new_state:
        where = block_key(key)
        if where is not None and where[1] >= old_depth and where[2] in ZEROED:
            new_state[key] = torch.zeros_like(new_state[key])
            zeroed.append(key)
    if len(zeroed) != len(ZEROED) * (new_depth - old_depth):
        raise DeepenError(
            f"found {len(zeroed)} branch projections to zero in the new blocks, expected "
            f"{len(ZEROED) * (new_depth - old_depth)}; the ViT's block layout is not the one this tool knows"
        )
    model.load_state_dict(new_state)
    old_model.eval()
    model.eval()

    def agreement(x: Any) -> tuple[float, float]:
        x = torch.as_tensor(x)
        with torch.no_grad():
            a, b = old_model.audio_export_module()(x), model.audio_export_module()(x)
        cos = torch.nn.functional.cosine_similarity(a, b, dim=-1)
        return float(cos.mean()), float((a - b).abs().max())

    checks = {"speech_like": agreement(speech_like_waveforms(8, new_config.window_samples, seed=0))}
    if check_data is not None:
        windows = fit_windows(check_data, new_config.window_samples, new_config.frontend.sample_rate)[:32]
        checks["check_data"] = agreement(np.ascontiguousarray(windows))
    for name, (cosine, _) in checks.items():
        if cosine < MIN_COSINE:
            raise DeepenError(
                f"{run}: the deeper student's embedding agrees with the source's at mean cosine {cosine:.6f} on "
                f"{name.replace('_', '-')} audio (< {MIN_COSINE}); the added blocks are not the identity"
            )
    save_finished_run(out, model, RunConfig(model=new_config, recipe=recipe, data=f"deepened:{run.resolve()}"))
    weights = run / MODEL_NAME if (run / MODEL_NAME).is_file() else run / PACKED_NAME
    record = {
        "source_run": str(run),
        "source_step": step,
        "source_weights_sha256": sha256_file(weights),
        "recipe": str(recipe_path),
        "depth": [old_depth, new_depth],
        "seed": seed,
        "zeroed": zeroed,
        "check_data": None if check_data is None else str(check_data),
        "embedding_agreement": {k: {"mean_cosine": c, "max_abs_diff": d} for k, (c, d) in checks.items()},
        "note": "blocks appended after the trained ones with their branch output projections at zero; every other "
        "source weight copied; no optimizer state",
    }
    (out / DEEPEN_NAME).write_text(json.dumps(record, indent=2) + "\n")
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m slap_edge.train.deepen",
        description="Grow a finished ViT student run by identity blocks (same embeddings), so `slap-edge distill "
        "--init-from` can train the deeper student on.",
    )
    parser.add_argument("run", help="a finished student run (or one rebuilt by slap_edge.train.from_bundle)")
    parser.add_argument("--recipe", required=True, help="the run's recipe naming the deeper model config")
    parser.add_argument("--out", required=True, help="new run folder")
    parser.add_argument("--check-data", help="corpus folder or audio file whose first windows check the agreement")
    parser.add_argument("--seed", type=int, default=0, help="seed of the new blocks' initial weights (default 0)")
    args = parser.parse_args(argv)
    try:
        record = deepen_run(args.run, args.recipe, args.out, args.check_data, args.seed)
    except (DeepenError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    worst = min(v["mean_cosine"] for v in record["embedding_agreement"].values())
    print(
        f"grew {args.run} from {record['depth'][0]} to {record['depth'][1]} blocks into {args.out} (embedding mean "
        f"cosine {worst:.6f} against the source)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
