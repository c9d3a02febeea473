"""TensorRT: a compatibility check that runs anywhere, and engine builds where `tensorrt` imports.

Engines are built on the target device (an engine only runs on the GPU model and TensorRT version that built it)
and cached beside the bundle in ``BUNDLE.engines/``, keyed by GPU name, TensorRT version, the sha256 of the ONNX
file it came from and the precision (spec/bundle.md).

Which graph an engine comes from: ``fp16`` needs a float graph (``audio.onnx`` of an fp32 bundle, or
``audio_fp32.onnx`` that an int8 bundle carries when its export profile asks for TensorRT); ``int8`` needs a pure
QDQ graph (``audio_qdq.onnx``), because the ONNX Runtime int8 mix in ``audio.onnx`` uses MatMulInteger and
DynamicQuantizeLinear, which TensorRT does not parse.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

from slap_edge.export.onnx import META_INPUT_BOUNDS, ExportError
from slap_edge.export.trt_ops import MAX_OPSET, MIN_OPSET, TENSORRT_ONNX_OPS, TENSORRT_UNSUPPORTED_HINTS

AUDIO_FP32_ONNX = "audio_fp32.onnx"
AUDIO_QDQ_ONNX = "audio_qdq.onnx"
PRECISIONS = ("fp16", "int8")
INSTALL_HINT = (
    "TensorRT's Python package is not installed. On a Jetson it comes with JetPack (sudo apt install "
    "nvidia-jetpack, then use the system python3 or a venv made with --system-site-packages); on an x86 GPU "
    "machine: pip install tensorrt (the wheels come from NVIDIA's own Python package index, which pip reaches "
    "through the tensorrt placeholder package on PyPI), or pip install 'slap-edge[tensorrt]'. The ONNX Runtime engine "
    "(`slap-edge listen`) needs none of this."
)


class TensorRTUnavailableError(ExportError):
    """`import tensorrt` failed here; the message says how to get it."""


@dataclasses.dataclass(frozen=True)
class CompatReport:
    """Whether TensorRT's ONNX parser will take a graph, and if not, why."""

    path: Path
    opset: int
    ops: dict[str, int]
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        head = f"{self.path}: opset {self.opset}, {sum(self.ops.values())} nodes, {len(self.ops)} op types"
        if self.ok:
            return [head, "TensorRT compatible: every op is supported and the input shapes are bounded"]
        return [head, *(f"problem: {p}" for p in self.problems)]


def _walk_nodes(graph: Any) -> list[Any]:
    """Every node, including those inside If/Loop/Scan subgraphs (TensorRT parses those too)."""
    import onnx

    nodes = []
    for node in graph.node:
        nodes.append(node)
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                nodes.extend(_walk_nodes(attr.g))
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for g in attr.graphs:
                    nodes.extend(_walk_nodes(g))
    return nodes


def _input_bounds(metadata: dict[str, str]) -> dict[str, Any]:
    raw = metadata.get(META_INPUT_BOUNDS)
    if not raw:
        return {}
    try:
        bounds = json.loads(raw)
    except json.JSONDecodeError:
        return {}
    return bounds if isinstance(bounds, dict) else {}


def check_tensorrt_compat(path: str | Path) -> CompatReport:
    """Check ``path`` (an ONNX file) against TensorRT 10's parser: opset, operators, bounded input shapes.

    Needs only the ``onnx`` package. A dynamic input axis counts as bounded when the file's ``input_bounds``
    metadata gives its min/opt/max (the export writes them; they become the engine's optimisation profile).
    """
    import onnx

    path = Path(path)
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError and others for files that are not ONNX
        raise ExportError(f"{path}: not a readable ONNX file ({exc})") from exc
    problems: list[str] = []
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset < MIN_OPSET:
        problems.append(f"opset {opset} is below {MIN_OPSET}; re-export with opset {MIN_OPSET} to {MAX_OPSET}")
    elif opset > MAX_OPSET:
        problems.append(f"opset {opset} is above {MAX_OPSET}, the newest TensorRT 10 parses")
    nodes = _walk_nodes(model.graph)
    ops = Counter(n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}::{n.op_type}" for n in nodes)
    for op in sorted(ops):
        if op in TENSORRT_ONNX_OPS:
            continue
        first = next(n.name for n in nodes if op in (n.op_type, f"{n.domain}::{n.op_type}"))
        hint = TENSORRT_UNSUPPORTED_HINTS.get(op.split("::")[-1], "not in TensorRT's supported-op list")
        problems.append(f"op {op} ({ops[op]} node(s), first {first!r}) is not supported by TensorRT: {hint}")
    bounds = _input_bounds({p.key: p.value for p in model.metadata_props})
    initializers = {i.name for i in model.graph.initializer}
    for inp in model.graph.input:
        if inp.name in initializers:
            continue
        dims = inp.type.tensor_type.shape.dim
        dynamic = [i for i, d in enumerate(dims) if not d.HasField("dim_value")]
        if not dynamic:
            continue
        b = bounds.get(inp.name)
        if not isinstance(b, dict) or not all(
            isinstance(b.get(k), list) and len(b[k]) == len(dims) for k in ("min", "opt", "max")
        ):
            names = ", ".join(dims[i].dim_param or f"axis {i}" for i in dynamic)
            problems.append(
                f"input {inp.name!r} has unbounded dynamic axes ({names}); give min/opt/max in the "
                f"{META_INPUT_BOUNDS!r} metadata (slap-edge export writes it) or fix the shape"
            )
            continue
        if not all(1 <= b["min"][i] <= b["opt"][i] <= b["max"][i] for i in range(len(dims))):
            problems.append(f"input {inp.name!r}: bounds need 1 <= min <= opt <= max on every axis, got {b}")
    return CompatReport(path=path, opset=opset, ops=dict(sorted(ops.items())), problems=tuple(problems))


def import_tensorrt() -> Any:
    """The `tensorrt` module, or `TensorRTUnavailableError` saying plainly how to get it."""
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise TensorRTUnavailableError(INSTALL_HINT) from exc
    return trt


def gpu_name() -> str:
    """The name of GPU 0 (from torch when it is there, else nvidia-smi), for the engine cache key."""
    try:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
    except ImportError:
        pass
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ExportError(f"cannot tell which GPU this is (nvidia-smi: {exc}); TensorRT needs an NVIDIA GPU") from exc
    name = out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else ""
    if not name:
        raise ExportError(f"no NVIDIA GPU found (nvidia-smi: {out.stderr.strip() or 'no output'})")
    return name


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-").lower()


def engine_cache_path(bundle_root: Path, gpu: str, trt_version: str, onnx_sha256: str, precision: str) -> Path:
    """``BUNDLE.engines/<gpu>-trt<version>-<sha256[:16]>-<precision>.engine`` beside the bundle folder."""
    folder = bundle_root.parent / f"{bundle_root.name}.engines"
    return folder / f"{_slug(gpu)}-trt{_slug(trt_version)}-{onnx_sha256[:16]}-{precision}.engine"


def engine_source(bundle_root: Path, manifest: dict[str, Any], precision: str) -> Path:
    """The ONNX file of the bundle an engine of ``precision`` is built from (see the module docstring)."""
    if precision not in PRECISIONS:
        raise ExportError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    files = manifest["files"]
    if precision == "int8":
        if AUDIO_QDQ_ONNX not in files:
            raise ExportError(
                f'{bundle_root}: no {AUDIO_QDQ_ONNX}; export with a profile whose tensorrt list has "int8" '
                "(e.g. export/profiles/jetson-tensorrt.json) and --calibration"
            )
        return bundle_root / AUDIO_QDQ_ONNX
    if AUDIO_FP32_ONNX in files:
        return bundle_root / AUDIO_FP32_ONNX
    if manifest["model"].get("precision") != "fp32":
        raise ExportError(
            f"{bundle_root}: audio.onnx is ONNX Runtime int8 and there is no {AUDIO_FP32_ONNX}; export with a profile "
            'whose tensorrt list has "fp16", or export without --int8'
        )
    return bundle_root / "audio.onnx"


def build_engine(
    bundle: str | Path, precision: str = "fp16", *, workspace_mb: int = 1024, force: bool = False
) -> tuple[Path, bool]:
    """Build (or find in the cache) the TensorRT engine of a bundle's audio tower; returns (path, was_cached).

    The bundle is verified first; the ONNX file must pass `check_tensorrt_compat`, and its ``input_bounds``
    metadata becomes the optimisation profile (batch and samples from one window up to the export's maximum).
    """
    from slap_edge.bundle_reader import load_bundle

    trt = import_tensorrt()
    loaded = load_bundle(bundle)
    source = engine_source(loaded.root, loaded.manifest, precision)
    report = check_tensorrt_compat(source)
    if not report.ok:
        raise ExportError("; ".join(report.problems))
    sha = loaded.manifest["files"][source.name]["sha256"]  # verified by load_bundle just now
    bundle_dir = Path(bundle)
    anchor = bundle_dir if bundle_dir.is_dir() else bundle_dir.with_name(bundle_dir.name.removesuffix(".tar.gz"))
    target = engine_cache_path(anchor, gpu_name(), trt.__version__, sha, precision)
    if target.is_file() and not force:
        return target, True

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # TensorRT 10: explicit batch is the only mode
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(source.read_bytes()):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise ExportError(f"{source}: TensorRT cannot parse it: " + " | ".join(errors))
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_mb << 20)
    config.set_flag(trt.BuilderFlag.FP16)  # int8 engines keep fp16 for the layers QDQ leaves in float
    if precision == "int8":
        config.set_flag(trt.BuilderFlag.INT8)
    bounds = _input_bounds(_metadata(source))
    profile = builder.create_optimization_profile()
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        b = bounds.get(tensor.name)
        if b is None:
            if any(d < 0 for d in tensor.shape):
                raise ExportError(f"{source}: input {tensor.name!r} is dynamic and has no bounds in its metadata")
            continue
        profile.set_shape(tensor.name, tuple(b["min"]), tuple(b["opt"]), tuple(b["max"]))
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ExportError(f"{source}: TensorRT failed to build a {precision} engine (see the log above)")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + f".{os.getpid()}.partial")
    tmp.write_bytes(bytes(serialized))
    os.replace(tmp, target)
    return target, False


def _metadata(path: Path) -> dict[str, str]:
    from slap_edge.export.onnx import read_metadata

    return read_metadata(path)
