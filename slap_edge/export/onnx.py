"""Export the two towers of a SLAP model to ONNX and check the files against PyTorch.

`audio.onnx` takes the raw waveform, so the log-mel front end is inside the graph and a device cannot compute
features differently from training. Its metadata_props repeat the front-end settings and the model id, so a stray
.onnx file still says what it expects (spec/bundle.md). Export uses the torch.export-based exporter; its lowest
opset is 18, which satisfies the "opset 17 or later" of the spec and TensorRT 10 (opsets 9 to 20).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import logging
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from slap_edge.config import FrontendConfig, to_dict

if TYPE_CHECKING:
    import torch

OPSET = 18
AUDIO_INPUT = "waveform"
AUDIO_OUTPUT = "embedding"
TEXT_INPUTS = ("input_ids", "attention_mask")
TEXT_OUTPUT = "embedding"
# Shape bounds written into the metadata: TensorRT needs an optimisation profile, and ONNX symbolic dims carry none.
MAX_BATCH = 32
MAX_AUDIO_SECONDS = 30.0
MAX_TEXT_TOKENS = 128
# Metadata keys of audio.onnx / text.onnx (read back by slap_edge.bundle_reader and by `trt check`).
META_FORMAT = "slap_edge.format"
META_MODEL_ID = "model_id"
META_MODEL_NAME = "model_name"
META_SAMPLE_RATE = "sample_rate"
META_WINDOW_S = "window_s"
META_EMBED_DIM = "embed_dim"
META_FRONTEND = "frontend"
META_INPUT_BOUNDS = "input_bounds"
META_TOWER = "tower"


class ExportError(RuntimeError):
    """An export that could not be done or whose result disagrees with the PyTorch model."""


@dataclasses.dataclass(frozen=True)
class OnnxCheck:
    """How closely an ONNX file reproduces the PyTorch module on a few inputs."""

    min_cosine: float
    mean_cosine: float
    max_abs_diff: float
    shapes: tuple[tuple[int, ...], ...]

    def describe(self) -> str:
        shapes = ", ".join("x".join(map(str, s)) for s in self.shapes)
        return (
            f"cosine min {self.min_cosine:.6f} mean {self.mean_cosine:.6f}, "
            f"max |diff| {self.max_abs_diff:.2e} ({shapes})"
        )


def model_id(model: torch.nn.Module, name: str) -> str:
    """A stable identity of the weights: ``name`` plus 12 hex digits of a sha256 over every tensor.

    Prompt banks are cached under this id, so it must change whenever any weight (audio or text) changes, and must
    not depend on the file it is written into.
    """
    import torch

    digest = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        digest.update(key.encode())
        tensor = value.detach().cpu().contiguous()
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(str(tensor.dtype).encode())
        digest.update(tensor.view(-1).view(dtype=torch.uint8).numpy().tobytes())
    return f"{name}-{digest.hexdigest()[:12]}"


def audio_metadata(
    *,
    model_name: str,
    model_id_: str,
    embed_dim: int,
    window_s: float,
    frontend: FrontendConfig,
    max_batch: int = MAX_BATCH,
    max_seconds: float = MAX_AUDIO_SECONDS,
) -> dict[str, str]:
    """The metadata_props of audio.onnx (all values are strings, as ONNX requires)."""
    window_samples = int(round(window_s * frontend.sample_rate))
    bounds = {
        AUDIO_INPUT: {
            "min": [1, window_samples],
            "opt": [1, window_samples],
            "max": [max_batch, max(window_samples, int(round(max_seconds * frontend.sample_rate)))],
        }
    }
    return {
        META_FORMAT: "slap-edge-audio",
        META_TOWER: "audio",
        META_MODEL_NAME: model_name,
        META_MODEL_ID: model_id_,
        META_EMBED_DIM: str(embed_dim),
        META_SAMPLE_RATE: str(frontend.sample_rate),
        META_WINDOW_S: repr(float(window_s)),
        META_FRONTEND: json.dumps(to_dict(frontend), sort_keys=True),
        META_INPUT_BOUNDS: json.dumps(bounds, sort_keys=True),
    }


def text_metadata(*, model_name: str, model_id_: str, embed_dim: int, max_tokens: int) -> dict[str, str]:
    """The metadata_props of text.onnx."""
    bounds = {name: {"min": [1, 1], "opt": [8, 16], "max": [MAX_BATCH * 4, max_tokens]} for name in TEXT_INPUTS}
    return {
        META_FORMAT: "slap-edge-text",
        META_TOWER: "text",
        META_MODEL_NAME: model_name,
        META_MODEL_ID: model_id_,
        META_EMBED_DIM: str(embed_dim),
        META_INPUT_BOUNDS: json.dumps(bounds, sort_keys=True),
    }


def read_metadata(path: str | Path) -> dict[str, str]:
    """metadata_props of an ONNX file, without loading its weights into memory twice."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return {p.key: p.value for p in model.metadata_props}


def write_metadata(path: str | Path, props: Mapping[str, str]) -> None:
    """Replace the metadata_props of an ONNX file in place (the quantizers drop or rewrite them)."""
    import onnx

    model = onnx.load(str(path))
    del model.metadata_props[:]
    for key, value in sorted(props.items()):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, str(value)
    onnx.save(model, str(path))


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """The torch.export-based exporter prints progress and emits warnings about internals; keep the CLI readable."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=False):
            lg.setLevel(level)


def _rename_value(graph: Any, old: str, new: str) -> None:
    for node in graph.node:
        node.input[:] = [new if x == old else x for x in node.input]
        node.output[:] = [new if x == old else x for x in node.output]
    for value in list(graph.output) + list(graph.value_info):
        if value.name == old:
            value.name = new


def _rename_outputs(proto: Any, names: list[str]) -> None:
    """Give the graph outputs their contract names; an inner value that already has one of them (MiniLM's token
    embedding lookup is named ``embedding``) is renamed first, so the graph stays in SSA form."""
    graph = proto.graph
    if len(graph.output) != len(names):
        raise ExportError(f"the module has {len(graph.output)} outputs, expected {len(names)} ({', '.join(names)})")
    current = [o.name for o in graph.output]
    taken = (
        {x for n in graph.node for x in n.output} | {i.name for i in graph.input} | {i.name for i in graph.initializer}
    )
    for name in names:
        if name in taken and name not in current:
            _rename_value(graph, name, f"{name}_inner")
    for old, new in zip(current, names, strict=False):
        if old != new:
            _rename_value(graph, old, new)


def strip_annotations(model: Any) -> None:
    """Drop what only tools read: inferred shapes of inner values and the exporter's per-node annotations (module
    paths, stack traces), which would otherwise ride along to every device."""
    del model.graph.value_info[:]
    for node in model.graph.node:
        del node.metadata_props[:]
        node.doc_string = ""


def _export(
    module: torch.nn.Module,
    args: tuple[Any, ...],
    path: Path,
    input_names: list[str],
    output_names: list[str],
    dynamic_shapes: dict[str, dict[int, Any]],
    opset: int,
) -> None:
    import onnx
    import torch

    module = module.eval()
    try:
        with _quiet_exporter(), torch.no_grad():
            program = torch.onnx.export(
                module,
                args,
                input_names=input_names,
                opset_version=opset,
                dynamo=True,
                dynamic_shapes=dynamic_shapes,
                external_data=False,
            )
            if program is None:  # pragma: no cover - only the legacy exporter returns None
                raise ExportError("torch.onnx.export returned no program")
            proto = program.model_proto
            _rename_outputs(proto, output_names)
            strip_annotations(proto)
    except ExportError:
        raise
    except Exception as exc:  # torch.export raises many exception types; all mean "this module does not export"
        raise ExportError(f"cannot export {type(module).__name__} to ONNX: {type(exc).__name__}: {exc}") from exc
    onnx.checker.check_model(proto)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(proto, str(path))


def export_audio_onnx(
    module: torch.nn.Module,
    path: str | Path,
    *,
    window_samples: int,
    metadata: Mapping[str, str],
    opset: int = OPSET,
) -> Path:
    """Export ``module`` (waveform [B, T] -> embedding [B, D]) with dynamic batch and samples.

    Where the module cannot take other lengths (e.g. fixed positional embeddings), torch.export specialises the
    samples axis and the file has a fixed input length; the check and TensorRT both accept that.
    """
    import torch

    path = Path(path)
    # Batch 2, not 1: torch.export specialises size-1 dims, which would freeze the batch axis.
    example = (speech_like_waveforms(2, window_samples, seed=0),)
    dims = {AUDIO_INPUT: {0: torch.export.Dim.DYNAMIC, 1: torch.export.Dim.DYNAMIC}}
    _export(module, example, path, [AUDIO_INPUT], [AUDIO_OUTPUT], dims, opset)
    write_metadata(path, metadata)
    return path


def export_text_onnx(
    module: torch.nn.Module,
    path: str | Path,
    *,
    metadata: Mapping[str, str],
    opset: int = OPSET,
) -> Path:
    """Export ``module`` ((input_ids, attention_mask) int64 [B, L] -> embedding [B, D]) with dynamic B and L."""
    import torch

    path = Path(path)
    ids = torch.randint(1000, 2000, (2, 12), dtype=torch.int64)
    mask = torch.ones_like(ids)
    mask[1, 9:] = 0
    dyn = {0: torch.export.Dim.DYNAMIC, 1: torch.export.Dim.DYNAMIC}
    _export(module, (ids, mask), path, list(TEXT_INPUTS), [TEXT_OUTPUT], {n: dict(dyn) for n in TEXT_INPUTS}, opset)
    write_metadata(path, metadata)
    return path


def speech_like_waveforms(batch: int, samples: int, seed: int) -> torch.Tensor:
    """Speech-like test signals (harmonic tones with a varying pitch, plus noise), in [-1, 1]."""
    import torch

    rng = np.random.default_rng(seed)
    t = np.arange(samples) / 16000.0
    out = np.empty((batch, samples), dtype=np.float32)
    for i in range(batch):
        f0 = rng.uniform(90.0, 280.0) * (1.0 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.5, 3.0) * t))
        phase = 2 * np.pi * np.cumsum(f0) / 16000.0
        voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
        envelope = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(1.0, 5.0) * t) ** 2
        wave = 0.2 * voiced * envelope + rng.normal(0.0, 0.02, samples)
        out[i] = np.clip(wave / max(1.0, np.abs(wave).max()), -1.0, 1.0)
    return torch.from_numpy(out)


def create_session(path: str | Path, threads: int = 1) -> Any:
    """An ONNX Runtime CPU session with `threads` intra-op threads (one, as on the device, by default)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def input_is_fixed(path: str | Path, input_name: str, axis: int) -> int | None:
    """The fixed size of ``input_name``'s ``axis`` in the ONNX file, or None when it is dynamic."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    for inp in model.graph.input:
        if inp.name == input_name:
            dim = inp.type.tensor_type.shape.dim[axis]
            return dim.dim_value if dim.HasField("dim_value") else None
    raise ExportError(f"{path}: no input named {input_name!r}")


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of two [B, D] arrays."""
    a = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), 1e-12)
    return (a * b).sum(-1)


def compare_audio(
    reference: torch.nn.Module | str | Path,
    onnx_path: str | Path,
    *,
    window_samples: int,
    batch: int = 3,
    seed: int = 1,
) -> OnnxCheck:
    """Cosine between ``onnx_path`` and ``reference`` (a PyTorch module or another ONNX file) on test signals.

    Checks the window length and, where the file allows it, a longer and a shorter input, so a shape that was baked
    in by mistake shows up here rather than on the device.
    """
    import torch

    lengths = [window_samples]
    if input_is_fixed(onnx_path, AUDIO_INPUT, 1) is None:
        lengths += [window_samples + window_samples // 2 + 123, max(window_samples // 2, 4000)]
    session = create_session(onnx_path)
    ref_session = create_session(reference) if isinstance(reference, (str, Path)) else None
    cos, diffs, shapes = [], [], []
    for i, n in enumerate(lengths):
        wave = speech_like_waveforms(batch, n, seed=seed + i)
        got = session.run([AUDIO_OUTPUT], {AUDIO_INPUT: wave.numpy()})[0]
        if ref_session is not None:
            want = ref_session.run([AUDIO_OUTPUT], {AUDIO_INPUT: wave.numpy()})[0]
        else:
            with torch.no_grad():
                want = reference.eval()(wave).float().numpy()  # type: ignore[union-attr]
        cos.append(cosines(got, want))
        diffs.append(float(np.abs(got - want).max()))
        shapes.append(tuple(wave.shape))
    all_cos = np.concatenate(cos)
    return OnnxCheck(float(all_cos.min()), float(all_cos.mean()), max(diffs), tuple(shapes))


def compare_text(
    reference: torch.nn.Module, onnx_path: str | Path, input_ids: np.ndarray, attention_mask: np.ndarray
) -> OnnxCheck:
    """Cosine between text.onnx and the PyTorch text export module on the given token batch."""
    import torch

    session = create_session(onnx_path)
    got = session.run([TEXT_OUTPUT], {"input_ids": input_ids, "attention_mask": attention_mask})[0]
    with torch.no_grad():
        want = reference.eval()(torch.from_numpy(input_ids), torch.from_numpy(attention_mask)).float().numpy()
    c = cosines(got, want)
    return OnnxCheck(float(c.min()), float(c.mean()), float(np.abs(got - want).max()), (tuple(input_ids.shape),))


def run_audio(path: str | Path, waves: np.ndarray, threads: int = 1) -> np.ndarray:
    """Embeddings of a float32 [B, T] batch with an audio ONNX file (a helper for checks, not the runtime)."""
    return create_session(path, threads).run([AUDIO_OUTPUT], {AUDIO_INPUT: np.asarray(waves, dtype=np.float32)})[0]
