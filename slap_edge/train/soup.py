"""A weight-space average of finished runs of one model ("model soup"): no training, one run folder out.

Students fine-tuned from the same starting weights (two second-stage students distilled from one first-stage student,
from different teachers) stay in one basin of the loss, and the average of their weights is often a model that keeps
what each learned (Wortsman et al. 2022, "Model soups", arXiv 2203.05482). A distilled student's text tower is its
teacher's, frozen; averaged likewise, it stays aligned with the averaged audio tower only as far as the teachers
share their start (the runs' ``init.json`` chains show it; this tool does not check it).

    python -m slap_edge.train.soup RUN_A RUN_B [--weight 0.75 --weight 0.25] --out RUN_OUT

Every run must be finished (its recipe's last step), build the same model config and hold the same tensor names and
shapes; a run that differs is refused, naming it and what differs. The output is a finished run with the last run's
run config (give last the run trained on the corpus the soup is described by: its teacher and data name the bundle's;
``export``, ``eval`` and ``distill --init-from`` take it) with ``soup.json``: the inputs, their weights and the
sha256 of each input's weights. Float tensors are averaged in float64 and stored in their own dtype; integer tensors
(counters, buffers) must be equal in every run, else it fails naming the tensor.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from slap_edge.fingerprints import sha256_file

SOUP_NAME = "soup.json"


class SoupError(ValueError):
    """Runs that cannot be averaged; the message names the run and what differs."""


def read_soup(run_dir: Path) -> list[tuple[Path, float]] | None:
    """A soup run's inputs and their weights, from its ``soup.json``; ``None`` for a run that is not a soup."""
    path = Path(run_dir) / SOUP_NAME
    if not path.is_file():
        return None
    return [(Path(entry["run"]), float(entry["weight"])) for entry in json.loads(path.read_text())["runs"]]


def _load(run: Path) -> Any:
    """A finished run's model (packed runs included), checked complete."""
    from slap_edge.train.checkpoint import CheckpointError, check_run_complete, load_run

    try:
        check_run_complete(run)
        return load_run(run)[0]
    except CheckpointError as exc:
        raise SoupError(f"{run}: {exc}") from exc


def soup(runs: list[Path], weights: list[float], out: Path) -> dict[str, Any]:
    """Average ``runs`` with ``weights`` (summing to 1) into the finished run ``out``; returns ``soup.json``'s dict."""
    import torch

    from slap_edge.config import to_dict
    from slap_edge.train.checkpoint import read_run_config, save_finished_run, weights_file

    if len(runs) < 2 or len(runs) != len(weights):
        raise SoupError(f"need two or more runs with one weight each (got {len(runs)} runs, {len(weights)} weights)")
    if any(w < 0 for w in weights) or abs(sum(weights) - 1.0) > 1e-9:
        raise SoupError(f"weights must be >= 0 and sum to 1 (got {weights})")
    if out.exists():
        raise SoupError(f"{out} exists; choose another --out or remove it")
    configs = [read_run_config(r) for r in runs]
    for run, config in zip(runs[1:], configs[1:], strict=True):
        if to_dict(config.model) != to_dict(configs[0].model):
            raise SoupError(f"{run}: its model config differs from {runs[0]}'s; only runs of one model can be averaged")
    models = [_load(r) for r in runs]
    states = [m.state_dict() for m in models]
    base = states[0]
    for run, state in zip(runs[1:], states[1:], strict=True):
        if set(state) != set(base):
            diff = sorted(set(state) ^ set(base))[:5]
            raise SoupError(f"{run}: its tensors differ from {runs[0]}'s ({diff})")
        for name, tensor in state.items():
            if tensor.shape != base[name].shape:
                raise SoupError(
                    f"{run}: tensor {name} has shape {tuple(tensor.shape)}, {runs[0]} has {tuple(base[name].shape)}"
                )
    averaged: dict[str, torch.Tensor] = {}
    for name, tensor in base.items():
        if tensor.is_floating_point():
            total = sum(w * s[name].double() for w, s in zip(weights, states, strict=True))
            averaged[name] = total.to(tensor.dtype)
        else:
            for run, state in zip(runs[1:], states[1:], strict=True):
                if not torch.equal(state[name], tensor):
                    raise SoupError(f"{run}: integer tensor {name} differs from {runs[0]}'s and cannot be averaged")
            averaged[name] = tensor
    # The first run's model (built from the same model config) takes the averaged weights: no fourth model is built.
    model = models[0]
    model.load_state_dict(averaged)
    save_finished_run(out, model, configs[-1])
    info = {
        "runs": [
            {
                "run": str(r),
                "weight": w,
                "weights_sha256": sha256_file(weights_file(r)),
            }
            for r, w in zip(runs, weights, strict=True)
        ],
        "note": "float tensors averaged in float64 with these weights; the run config is the last run's",
    }
    (out / SOUP_NAME).write_text(json.dumps(info, indent=2) + "\n")
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m slap_edge.train.soup", description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", type=Path, nargs="+", help="finished run folders of one model (two or more)")
    parser.add_argument(
        "--weight",
        type=float,
        action="append",
        default=None,
        help="one per run, in order, summing to 1 (default: equal weights)",
    )
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    weights = args.weight or [1.0 / len(args.runs)] * len(args.runs)
    try:
        info = soup(args.runs, weights, args.out)
    except SoupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"averaged {len(info['runs'])} runs into {args.out} (weights {weights})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
