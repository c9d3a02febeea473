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

    from slap_edge.export.onnx import speech_like_waveforms
    from slap_edge.models.slap import SlapModel
    from slap_edge.train.inflate_mels import fit_windows
    from slap_edge.train.reshape import embedding_agreement, open_student, write_carried

    carry = open_student(run, recipe_path, out, ("audio.depth",), DeepenError)
    old_model, new_config = carry.model, carry.new_config
    old_depth, new_depth = carry.run_config.model.audio.depth, new_config.audio.depth
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

    checks = {
        "speech_like": embedding_agreement(old_model, model, speech_like_waveforms(8, new_config.window_samples, 0))
    }
    if check_data is not None:
        windows = fit_windows(check_data, new_config.window_samples, new_config.frontend.sample_rate, "--check-data")
        windows = windows[:32]
        checks["check_data"] = embedding_agreement(old_model, model, np.ascontiguousarray(windows))
    for name, (cosine, _) in checks.items():
        if cosine < MIN_COSINE:
            raise DeepenError(
                f"{run}: the deeper student's embedding agrees with the source's at mean cosine {cosine:.6f} on "
                f"{name.replace('_', '-')} audio (< {MIN_COSINE}); the added blocks are not the identity"
            )
    record = {
        "recipe": str(recipe_path),
        "depth": [old_depth, new_depth],
        "seed": seed,
        "zeroed": zeroed,
        "check_data": None if check_data is None else str(check_data),
        "embedding_agreement": {k: {"mean_cosine": c, "max_abs_diff": d} for k, (c, d) in checks.items()},
        "note": "blocks appended after the trained ones with their branch output projections at zero; every other "
        "source weight copied; no optimizer state",
    }
    return write_carried(carry, model, out, "deepened", DEEPEN_NAME, record)


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
