"""A student's run folder rebuilt from a bundle: distil on from a shipped model without the machine that trained it.

A bundle's ``audio_fp32.onnx`` holds the student's audio tower and projection in float32, exactly as trained (the
exporter writes the weights unchanged; the attention and MLP matrices appear transposed, as MatMul operands, and the
position embedding permuted for its resize). A distilled student's text tower and logit scale are its teacher's,
copied and frozen (``slap_edge.train.distill``), so they come from the teacher run named here. Nothing else is
trained in a student, so the two give back the finished run, and ``slap-edge distill --init-from`` can start a second
stage from it: the built-in bundle's work folder is not needed to train it on.

The rebuilt run is checked before it is written: PyTorch's embedding of test windows must match ONNX Runtime's on
``audio_fp32.onnx`` (max absolute difference <= 1e-5, the float32 round-off of two kernels), else it fails naming
the largest difference, so a wrong mapping can never pass silently.

    python -m slap_edge.train.from_bundle BUNDLE --teacher RUN --recipe RECIPE --out RUN_OUT

``RECIPE`` is the recipe the student was distilled with (its model config must build the bundle's graph); the run
folder records the bundle's model id and the sha256 of its ``audio_fp32.onnx`` in ``from_bundle.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

FROM_BUNDLE_NAME = "from_bundle.json"
FP32_GRAPH = "audio_fp32.onnx"
MAX_ABS_DIFF = 1e-5


class FromBundleError(ValueError):
    """A bundle whose graph cannot give back the recipe's student; the message names the file and the weight."""


def _initializers(graph_path: Path) -> tuple[dict[str, np.ndarray], list[str]]:
    """The graph's initializers by name, and the names of unnamed (``val_*``) MatMul weights in node order."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(graph_path))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    matmul_weights: list[str] = []
    for node in model.graph.node:
        if node.op_type == "MatMul" and len(node.input) == 2 and node.input[1] in inits:
            name = node.input[1]
            if inits[name].ndim == 2 and name not in matmul_weights:
                matmul_weights.append(name)
    return inits, matmul_weights


def audio_state_from_graph(graph_path: Path, expected: dict[str, Any]) -> dict[str, np.ndarray]:
    """The audio export module's weights (names and shapes of ``expected``, a state dict) read from the graph.

    A weight is taken by its own name where the graph keeps it; a Linear weight the exporter turned into a MatMul
    operand is taken, transposed, from the unnamed MatMul weights in the order the graph uses them (each block's
    qkv, proj, fc1, fc2, block by block: the module order); a position embedding ``[1, N, C]`` from the one
    initializer ``[1, C, H, W]`` with H*W = N. Every weight of ``expected`` must be found, each graph weight used
    once, and every shape must agree.
    """
    inits, matmul_names = _initializers(graph_path)
    state: dict[str, np.ndarray] = {}
    pending_linear: list[str] = []
    for key, tensor in expected.items():
        shape = tuple(tensor.shape)
        if key in inits:
            if tuple(inits[key].shape) != shape:
                raise FromBundleError(
                    f"{graph_path}: {key} has shape {tuple(inits[key].shape)} in the graph, the recipe's model has "
                    f"{shape}; give the recipe the bundle's student was distilled with"
                )
            state[key] = inits[key]
        elif key.endswith(".weight") and len(shape) == 2:
            pending_linear.append(key)
        elif key.endswith("pos_embed") and len(shape) == 3:
            n, c = shape[1], shape[2]
            found = [
                name
                for name, a in inits.items()
                if a.ndim == 4 and a.shape[0] == 1 and a.shape[1] == c and a.shape[2] * a.shape[3] == n
            ]
            if len(found) != 1:
                raise FromBundleError(
                    f"{graph_path}: {key} {shape}: expected one [1, {c}, H, W] initializer with H*W = {n}, found "
                    f"{found or 'none'}"
                )
            state[key] = inits[found[0]].transpose(0, 2, 3, 1).reshape(shape)
        else:
            raise FromBundleError(f"{graph_path}: no initializer for {key} {shape}; the graph is not this model's")
    if len(pending_linear) != len(matmul_names):
        raise FromBundleError(
            f"{graph_path}: {len(pending_linear)} Linear weights to find ({pending_linear[:4]}...) but the graph has "
            f"{len(matmul_names)} unnamed MatMul weights; the graph is not this model's"
        )
    for key, name in zip(pending_linear, matmul_names, strict=True):
        weight = inits[name].T
        if tuple(weight.shape) != tuple(expected[key].shape):
            raise FromBundleError(
                f"{graph_path}: {key} {tuple(expected[key].shape)} would come from {name} {tuple(inits[name].shape)} "
                "(transposed); the graph is not this model's"
            )
        state[key] = np.ascontiguousarray(weight)
    return state


def rebuild_student(bundle: str | Path, teacher: str | Path, recipe_path: str | Path, out: str | Path) -> dict:
    """Write the run folder ``out``; returns what ``from_bundle.json`` records."""
    import torch

    from slap_edge.config import load_config
    from slap_edge.export.onnx import run_audio, speech_like_waveforms
    from slap_edge.fingerprints import sha256_file
    from slap_edge.models.registry import resolve_model_config
    from slap_edge.models.slap import SlapModel
    from slap_edge.train.checkpoint import check_run_complete, load_run, save_finished_run
    from slap_edge.train.config import RunConfig, TrainRecipe
    from slap_edge.train.distill import recipe_with_teacher
    from slap_edge.train.tasks import trained_model_config

    bundle, teacher, out = Path(bundle), Path(teacher), Path(out)
    graph = bundle / FP32_GRAPH
    manifest_path = bundle / "manifest.json"
    if not graph.is_file() or not manifest_path.is_file():
        raise FromBundleError(
            f"{bundle}: not a bundle with a float32 audio graph (needs manifest.json and {FP32_GRAPH}; bundles "
            "exported with --int8 carry it)"
        )
    if out.exists() and any(out.iterdir()):
        raise FromBundleError(f"{out} exists and is not empty; choose a new folder")
    recipe = load_config(TrainRecipe, recipe_path)
    if recipe.task != "distill":
        raise FromBundleError(f"{recipe_path}: task {recipe.task!r}; only a distilled student can be rebuilt")
    check_run_complete(teacher)
    teacher_model, teacher_config = load_run(teacher)
    recipe = recipe_with_teacher(recipe, teacher, teacher_config.model)  # as `slap-edge distill` sets it
    model_config = trained_model_config(
        recipe.task, recipe.task_options, resolve_model_config(recipe.model, **recipe.model_overrides)
    )
    if model_config.heads.classes():
        raise FromBundleError(f"{recipe_path}: the model has attribute heads, which no bundle carries")
    torch.manual_seed(recipe.seed)
    model = SlapModel(model_config)
    with torch.no_grad():
        model.text_encoder.load_state_dict(teacher_model.text_encoder.state_dict())
        model.logit_scale.copy_(teacher_model.logit_scale)
    audio = model.audio_export_module()
    expected = {k: v for k, v in audio.state_dict().items() if not k.startswith("frontend.")}
    state = audio_state_from_graph(graph, expected)
    audio.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()}, strict=False)

    manifest = json.loads(manifest_path.read_text())
    windows = speech_like_waveforms(3, model_config.window_samples, seed=0)
    with torch.no_grad():
        ours = audio(windows).numpy()
    theirs = run_audio(graph, windows.numpy())
    diff = float(np.abs(ours - theirs).max())
    if diff > MAX_ABS_DIFF:
        raise FromBundleError(
            f"{graph}: the rebuilt student's embedding differs from the graph's by up to {diff:.2e} (> {MAX_ABS_DIFF});"
            " the recipe or the teacher is not the bundle's"
        )

    save_finished_run(out, model, RunConfig(model=model_config, recipe=recipe, data=f"bundle:{bundle.resolve()}"))
    record = {
        "bundle": str(bundle),
        "model_id": manifest["model"]["id"],
        "audio_fp32_sha256": sha256_file(graph),
        "teacher": str(teacher),
        "recipe": str(recipe_path),
        "max_abs_diff": diff,
        "note": "weights read from the bundle's float32 audio graph and the teacher's text tower; no optimizer state",
    }
    (out / FROM_BUNDLE_NAME).write_text(json.dumps(record, indent=2) + "\n")
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m slap_edge.train.from_bundle",
        description="Rebuild a distilled student's run folder from a bundle's audio_fp32.onnx and its teacher, so "
        "`slap-edge distill --init-from` can train it on.",
    )
    parser.add_argument("bundle", help="bundle folder (with audio_fp32.onnx), or 'default' for the built-in one")
    parser.add_argument(
        "--teacher", required=True, help="the teacher run (or packed run) the student was distilled from"
    )
    parser.add_argument("--recipe", required=True, help="the recipe the student was distilled with")
    parser.add_argument("--out", required=True, help="new run folder")
    args = parser.parse_args(argv)
    bundle = args.bundle
    if bundle == "default":
        from slap_edge.bundle_reader import default_bundle_path

        bundle = default_bundle_path()
    try:
        record = rebuild_student(bundle, args.teacher, args.recipe, args.out)
    except (FromBundleError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"rebuilt {record['model_id']} into {args.out} (embedding max |diff| {record['max_abs_diff']:.1e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
