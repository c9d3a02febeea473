"""Write an edge bundle (spec/bundle.md) from a run or a model, checking every file as it goes.

The bundle is built in a ``*.partial`` folder beside the destination and renamed into place only after it has been
verified by the same reader a kiosk uses (`slap_edge.bundle_reader.load_bundle`), so a failed export leaves nothing
behind.
A run whose config cannot be rebuilt fails before anything is written.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from slap_edge import __version__
from slap_edge.bundle_reader import (
    AUDIO_ONNX,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    TEXT_ONNX,
    TOKENIZER,
    load_bundle,
    sha256_file,
    unpack_bundle,
)
from slap_edge.config import ConfigError, FrontendConfig, to_dict
from slap_edge.export.card import append_model_card, model_card, write_model_card
from slap_edge.export.onnx import (
    AUDIO_INPUT,
    AUDIO_OUTPUT,
    ExportError,
    OnnxCheck,
    audio_metadata,
    compare_audio,
    compare_text,
    create_session,
    export_audio_onnx,
    export_text_onnx,
    model_id,
    text_metadata,
)
from slap_edge.export.tensorrt import AUDIO_FP32_ONNX, AUDIO_QDQ_ONNX

if TYPE_CHECKING:
    from slap_edge.export.int8_kernels import Int8PathsCheck
    from slap_edge.models.slap import SlapModel
    from slap_edge.runtime.frames import SplitGraph

AUDIO_FRONTEND_ONNX = "audio_frontend.onnx"  # audio.onnx's front end (waveform -> log-mel), for the frame cache
AUDIO_ENCODER_ONNX = "audio_encoder.onnx"  # and the rest (log-mel -> embedding)
MIN_ONNX_COSINE = 0.999  # fp32 ONNX against PyTorch: anything lower is an export bug, not rounding
MIN_TEXT_INT8_COSINE = 0.98  # int8 text tower against PyTorch: prompts are embedded once, so accuracy matters
MIN_INT8_COSINE = 0.98  # int8 against fp32: below this the quantized model is not the same model any more
DEFAULT_HOP_S = 0.5
TEXT_CHECK_SENTENCES = (
    "a woman is speaking",
    "an elderly man with a hoarse, low voice speaks slowly",
    "a child speaking German quickly",
    "whispered speech over a telephone line",
)


@dataclasses.dataclass(frozen=True)
class ZeroShotCheck:
    """Zero-shot scores of the PyTorch model, fp32 ONNX and (optionally) int8 ONNX on a suite, scored as
    `slap-edge eval` scores (window pooling, class vectors, macro-F1 per task averaged over tasks)."""

    suite: str
    clips: int
    tasks: int
    f1_torch: float
    f1_fp32: float
    f1_int8: float | None
    agreement_fp32_torch: float
    agreement_int8_fp32: float | None
    unreadable: tuple[str, ...] = ()
    # int8 as AVX2/AVX-512 CPUs without VNNI compute it (emulated saturating kernels; slap_edge.export.int8_kernels)
    f1_int8_saturating: float | None = None
    agreement_int8_saturating_fp32: float | None = None


@dataclasses.dataclass(frozen=True)
class ExportReport:
    """Where the bundle went and the figures measured while making it."""

    path: Path
    model_id: str
    precision: str
    audio_fp32: OnnxCheck
    audio_int8: OnnxCheck | None
    text: OnnxCheck | None
    zero_shot: ZeroShotCheck | None
    sizes: dict[str, int]
    quantization: str | None
    int8_paths: Int8PathsCheck | None = None

    def lines(self) -> list[str]:
        out = [
            f"bundle {self.path} ({self.precision}, model {self.model_id})",
            f"audio fp32 ONNX vs PyTorch: {self.audio_fp32.describe()}",
        ]
        if self.audio_int8 is not None:
            out.append(f"audio int8 ONNX vs fp32 ONNX: {self.audio_int8.describe()}")
        if self.int8_paths is not None:
            out.append(f"int8 kernel paths: {self.int8_paths.describe()}")
        if self.quantization:
            out.append(f"quantization: {self.quantization}")
        if self.text is not None:
            out.append(f"text ONNX vs PyTorch: {self.text.describe()}")
        if self.zero_shot is not None:
            z = self.zero_shot
            line = (
                f"zero-shot on {z.suite} ({z.clips} clips, {z.tasks} tasks): mean macro-F1 PyTorch {z.f1_torch:.3f}, "
                f"fp32 ONNX {z.f1_fp32:.3f} (agreement {z.agreement_fp32_torch:.3f})"
            )
            if z.f1_int8 is not None:
                line += f", int8 ONNX {z.f1_int8:.3f} (agreement with fp32 {z.agreement_int8_fp32:.3f})"
            if z.f1_int8_saturating is not None:
                line += (
                    f", int8 on AVX2 without VNNI (emulated) {z.f1_int8_saturating:.3f} "
                    f"(agreement with fp32 {z.agreement_int8_saturating_fp32:.3f})"
                )
            out.append(line)
        out.append("files: " + ", ".join(f"{k} {v / 1e6:.2f} MB" for k, v in sorted(self.sizes.items())))
        return out


@dataclasses.dataclass(frozen=True)
class ExportProfile:
    """Export options kept in a file (``export/profiles/*.json``), so a device target is one reproducible choice."""

    int8: bool = False
    with_text: bool = False
    tar: bool = False
    hop_s: float = DEFAULT_HOP_S
    calibration_clips: int = 64
    max_batch: int = 32
    max_seconds: float = 30.0
    tensorrt: tuple[str, ...] = ()  # precisions to build on the device ("fp16", "int8"); empty: none

    def __post_init__(self) -> None:
        if self.hop_s <= 0:
            raise ValueError(f"hop_s must be positive seconds, got {self.hop_s}")
        if self.calibration_clips <= 0 or self.max_batch <= 0 or self.max_seconds <= 0:
            raise ValueError("calibration_clips, max_batch and max_seconds must be positive")
        bad = [p for p in self.tensorrt if p not in ("fp16", "int8")]
        if bad:
            raise ValueError(f"tensorrt precisions must be 'fp16' or 'int8', got {bad}")


@dataclasses.dataclass
class _Source:
    model: SlapModel
    name: str
    teacher: str | None
    training_data: dict[str, Any]
    run_dir: Path | None


def _training_summary(corpus: str, steps: int | None) -> dict[str, Any]:
    """What the run was trained on: the corpus's train split (when it is still on disk) and the steps trained."""
    summary: dict[str, Any] = {"corpus": Path(corpus).name}
    manifest = Path(corpus) / "manifest.jsonl"
    if manifest.is_file():
        from slap_edge.data.manifest import read_manifest

        train = [r for r in read_manifest(manifest) if r.split == "train"]
        summary.update(
            clips=len(train),
            hours=round(sum(r.duration for r in train) / 3600.0, 3),
            speakers=len({r.speaker for r in train}),
            languages=sorted({str(r.attributes["language"]) for r in train if r.attributes.get("language")}),
            sources=sorted({r.source for r in train}),
        )
    if steps is not None:
        summary["steps"] = steps
    return summary


def _describe_soup_teachers(run_dir: Path) -> str | None:
    """A soup's teachers (slap_edge.train.soup): each input's teacher with its weight; None for a run that is not a
    soup or whose inputs are not on disk."""

    from slap_edge.train.checkpoint import read_run_config
    from slap_edge.train.soup import read_soup

    parts = []
    for source, weight in read_soup(run_dir) or []:
        if not (source / "config.json").is_file():
            return None
        recipe = read_run_config(source).recipe
        teacher = recipe.task_options.get("teacher") if recipe.task == "distill" else None
        parts.append(f"{weight:g} x {_describe_teacher(Path(teacher)) if teacher else 'none'}")
    return "soup of students distilled from: " + "; ".join(parts) if parts else None


def _describe_teacher(run_dir: Path) -> str:
    """The teacher as a device maker reads it (model name, run folder name, steps), not a path on the build machine."""
    from slap_edge.train.checkpoint import read_run_config, read_state

    try:
        name, step = read_run_config(run_dir).model.name, read_state(run_dir).get("step")
    except ValueError as exc:  # CheckpointError and ConfigError: the run moved or is incomplete
        return f"{run_dir.name} (run not readable here: {exc})"
    return f"{name} (run {run_dir.name}, {step} steps)"


def _load_source(run_or_model: str | Path | SlapModel) -> _Source:
    if isinstance(run_or_model, (str, Path)):
        run_dir = Path(run_or_model)
        if not (run_dir / "config.json").is_file():
            raise ExportError(f"{run_dir}: not a run folder (no config.json); give a run written by slap-edge train")
        from slap_edge.train.checkpoint import load_run, read_state

        try:
            model, run_config = load_run(run_dir)
            step = read_state(run_dir).get("step")
        except (ConfigError, ValueError, KeyError, FileNotFoundError, RuntimeError) as exc:
            raise ExportError(
                f"{run_dir}: the model cannot be rebuilt from this run ({exc}); nothing was written"
            ) from exc
        recipe = run_config.recipe
        teacher = recipe.task_options.get("teacher") if recipe.task == "distill" else None
        described = _describe_teacher(Path(teacher)) if teacher else None
        described = _describe_soup_teachers(run_dir) or described
        return _Source(
            model=model,
            name=model.config.name,
            teacher=described,
            training_data=_training_summary(run_config.data, step if isinstance(step, int) else None),
            run_dir=run_dir,
        )
    model = run_or_model
    if not hasattr(model, "audio_export_module") or not hasattr(model, "config"):
        raise ExportError(f"expected a run folder or a SlapModel, got {type(model).__name__}")
    return _Source(model=model, name=model.config.name, teacher=None, training_data={}, run_dir=None)


def zero_shot_check(
    model: SlapModel,
    suite_dir: str | Path,
    fp32_onnx: Path,
    int8_onnx: Path | None,
    window_samples: int,
    int8_saturating_onnx: Path | None = None,
) -> ZeroShotCheck:
    """Zero-shot predictions of PyTorch, fp32 ONNX and int8 ONNX on a suite, with the eval stage's own scoring.

    ``int8_saturating_onnx``: the int8 graph rewritten to compute as AVX2/AVX-512 CPUs without VNNI do
    (`slap_edge.export.int8_kernels.emulate_integer_kernels`), scored as a fourth model.
    """
    import torch

    from slap_edge.eval.embedders import pool_windows
    from slap_edge.eval.metrics import macro_f1
    from slap_edge.eval.runner import zero_shot_predict
    from slap_edge.eval.suite import AudioReadError, load_suite, read_audio

    suite = load_suite(suite_dir)
    sample_rate = model.config.frontend.sample_rate
    waves: dict[str, list[np.ndarray]] = {t.name: [] for t in suite.tasks}
    truth: dict[str, list[str]] = {t.name: [] for t in suite.tasks}
    unreadable = []
    for clip in suite.clips:
        try:
            wave = read_audio(clip.path, sample_rate)
        except AudioReadError as exc:
            unreadable.append(str(exc))
            continue
        waves[clip.task].append(wave)
        truth[clip.task].append(clip.label)
    if not any(waves.values()):
        raise ExportError(f"{suite_dir}: no readable clips to check zero-shot agreement on")

    audio_module = model.audio_export_module()

    def torch_windows(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return audio_module(torch.from_numpy(np.ascontiguousarray(x))).float().numpy()

    def onnx_windows(path: Path) -> Callable[[np.ndarray], np.ndarray]:
        session = create_session(path)
        return lambda x: session.run([AUDIO_OUTPUT], {AUDIO_INPUT: np.ascontiguousarray(x, dtype=np.float32)})[0]

    embedders: dict[str, Callable[[np.ndarray], np.ndarray]] = {"torch": torch_windows, "fp32": onnx_windows(fp32_onnx)}
    if int8_onnx is not None:
        embedders["int8"] = onnx_windows(int8_onnx)
    if int8_saturating_onnx is not None:
        embedders["int8_saturating"] = onnx_windows(int8_saturating_onnx)
    predictions: dict[str, list[str]] = {k: [] for k in embedders}
    f1: dict[str, list[float]] = {k: [] for k in embedders}
    for task in suite.tasks:
        if not waves[task.name]:
            continue
        prompts = [p for label in task.labels for p in task.classes[label]]
        prompt_labels = [label for label in task.labels for _ in task.classes[label]]
        with torch.no_grad():
            prompt_emb = model.encode_text(prompts).float().numpy()
        for key, embed in embedders.items():
            audio = pool_windows(embed, waves[task.name], window_samples)
            pred, _ = zero_shot_predict(audio, prompt_emb, prompt_labels)
            predictions[key] += pred
            f1[key].append(macro_f1(truth[task.name], pred, task.labels))

    def share(a: list[str], b: list[str]) -> float:
        return sum(x == y for x, y in zip(a, b, strict=True)) / max(1, len(a))

    has_int8, has_sat = "int8" in embedders, "int8_saturating" in embedders
    return ZeroShotCheck(
        suite=suite.name,
        clips=len(predictions["torch"]),
        tasks=len(f1["torch"]),
        f1_torch=float(np.mean(f1["torch"])),
        f1_fp32=float(np.mean(f1["fp32"])),
        f1_int8=float(np.mean(f1["int8"])) if has_int8 else None,
        agreement_fp32_torch=share(predictions["fp32"], predictions["torch"]),
        agreement_int8_fp32=share(predictions["int8"], predictions["fp32"]) if has_int8 else None,
        unreadable=tuple(unreadable),
        f1_int8_saturating=float(np.mean(f1["int8_saturating"])) if has_sat else None,
        agreement_int8_saturating_fp32=share(predictions["int8_saturating"], predictions["fp32"]) if has_sat else None,
    )


def _count(module: Any) -> int:
    return sum(p.numel() for p in module.parameters())


def _write_archive(folder: Path, archive: Path) -> None:
    """A .tar.gz of ``folder`` with its files under one top folder, regular files only, no owners."""

    def clean(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=archive.name.removesuffix(".tar.gz"), filter=clean)


@dataclasses.dataclass
class _AudioGraphs:
    """What the audio step wrote and measured: the fp32 graph (outside the bundle, kept for the checks) and, with
    int8, the shipped int8 graph and its checks."""

    fp32_path: Path
    fp32_check: OnnxCheck
    params: int
    int8_path: Path | None = None
    int8_check: OnnxCheck | None = None
    int8_paths: Int8PathsCheck | None = None
    quantization: str | None = None
    frame_cache: dict[str, str] | None = None  # manifest audio.frame_cache: audio.onnx cut at its log-mel


def _check_request(
    out: Path,
    int8: bool,
    tar: bool,
    calibration: str | Path | list[np.ndarray] | None,
    suite: str | Path | None,
    profile: ExportProfile,
) -> None:
    """Refuse what cannot be exported, before anything is loaded or written."""
    if tar and not out.name.endswith(".tar.gz"):
        raise ExportError(f"{out}: a tar bundle must be named *.tar.gz")
    if out.exists():
        raise ExportError(f"{out}: already exists; remove it or choose another --out (bundles are never overwritten)")
    if (int8 or "int8" in profile.tensorrt) and calibration is None:
        raise ExportError("int8 export needs calibration clips for its static QDQ nodes: give --calibration CORPUS_DIR")
    if suite is not None and not Path(suite).is_dir():
        raise ExportError(f"{suite}: no such suite folder")


def _calibration(
    calibration: str | Path | list[np.ndarray] | None, profile: ExportProfile, window_samples: int, sample_rate: int
) -> list[np.ndarray]:
    """Calibration windows for the static QDQ nodes: cut from a corpus folder, or the waveforms given."""
    if calibration is None:
        return []
    if isinstance(calibration, (str, Path)):
        from slap_edge.export.quantize import calibration_windows

        return calibration_windows(
            calibration, count=profile.calibration_clips, window_samples=window_samples, sample_rate=sample_rate
        )
    return list(calibration)


def _export_audio(
    model: SlapModel,
    source: _Source,
    mid: str,
    work: Path,
    folder: Path,
    profile: ExportProfile,
    int8: bool,
    calibration: str | Path | list[np.ndarray] | None,
    log: Callable[[str], None],
) -> _AudioGraphs:
    """Step 1: the audio tower to fp32 ONNX (front end inside), checked against PyTorch; then, as asked, the int8
    graph that ships (checked on every int8 kernel path) and the graphs TensorRT engines are built from."""
    cfg = model.config
    fe = cfg.frontend
    window_samples = int(round(cfg.window_s * fe.sample_rate))
    meta = audio_metadata(
        model_name=source.name,
        model_id_=mid,
        embed_dim=cfg.embed_dim,
        window_s=cfg.window_s,
        frontend=fe,
        max_batch=profile.max_batch,
        max_seconds=profile.max_seconds,
    )
    audio_module = model.audio_export_module()
    fp32_path = work / "audio.fp32.onnx"
    log("exporting the audio tower (front end inside) ...")
    export_audio_onnx(audio_module, fp32_path, window_samples=window_samples, metadata={**meta, "precision": "fp32"})
    fp32_check = compare_audio(audio_module, fp32_path, window_samples=window_samples)
    log(f"audio fp32 ONNX vs PyTorch: {fp32_check.describe()}")
    if fp32_check.min_cosine < MIN_ONNX_COSINE:
        raise ExportError(f"audio.onnx disagrees with PyTorch: cosine {fp32_check.min_cosine:.6f} < {MIN_ONNX_COSINE}")
    graphs = _AudioGraphs(fp32_path=fp32_path, fp32_check=fp32_check, params=_count(audio_module))
    windows: list[np.ndarray] = []
    if int8 or "int8" in profile.tensorrt:
        windows = _calibration(calibration, profile, window_samples, fe.sample_rate)
    if int8:
        _quantize_audio(graphs, folder / AUDIO_ONNX, windows, window_samples, log)
    else:
        shutil.copyfile(fp32_path, folder / AUDIO_ONNX)
    graphs.frame_cache = _frame_cache_halves(folder, fe, window_samples, log)
    if "fp16" in profile.tensorrt and int8:
        shutil.copyfile(fp32_path, folder / AUDIO_FP32_ONNX)  # TensorRT fp16 needs the float graph
    if "int8" in profile.tensorrt:
        _tensorrt_qdq(fp32_path, folder / AUDIO_QDQ_ONNX, windows, window_samples, log)
    return graphs


def _frame_cache_halves(
    folder: Path, fe: FrontendConfig, window_samples: int, log: Callable[[str], None]
) -> dict[str, str] | None:
    """audio.onnx as shipped, cut at its log-mel into the two graphs a stream runs when it keeps its frames from hop
    to hop (`slap_edge.runtime.frames`; checked to reproduce audio.onnx); None, said in the log, if it cannot be cut
    (streams then run audio.onnx whole)."""
    from slap_edge.runtime.frames import SplitError, split_audio_graph

    try:
        split = split_audio_graph(folder / AUDIO_ONNX, fe, window_samples)
    except SplitError as exc:
        log(f"no frame-cache graphs: {exc}")
        return None
    return _write_frame_cache(folder, split, log)


def _write_frame_cache(folder: Path, split: SplitGraph, log: Callable[[str], None]) -> dict[str, str]:
    """The two halves written into a bundle folder; the manifest's ``audio.frame_cache`` entry naming them."""
    (folder / AUDIO_FRONTEND_ONNX).write_bytes(split.frontend)
    (folder / AUDIO_ENCODER_ONNX).write_bytes(split.encoder)
    log(f"frame-cache graphs: {AUDIO_FRONTEND_ONNX} and {AUDIO_ENCODER_ONNX} (audio.onnx cut at {split.logmel!r})")
    return {
        "frontend": AUDIO_FRONTEND_ONNX,
        "encoder": AUDIO_ENCODER_ONNX,
        "logmel": split.logmel,
        "waveform": split.waveform,
        "embedding": split.embedding,
    }


def add_frame_cache(bundle_dir: str | Path, out: str | Path, log: Callable[[str], None] = print) -> dict[str, str]:
    """A copy of a bundle exported before the frame cache, at ``out``, with its audio.onnx cut into the two
    frame-cache graphs as `export` now ships them: model and figures unchanged, the halves checked to reproduce
    audio.onnx, listed in the manifest (``audio.frame_cache``) and named in a section appended to the model card.
    Needs the ``onnx`` package (where the bundle is prepared, not on the kiosk). `ExportError`, naming the bundle,
    if it does not verify, already carries the graphs, ``out`` exists, or the graph cannot be cut."""
    from slap_edge.runtime.frames import SplitError, split_audio_graph

    src, out = Path(bundle_dir), Path(out)
    if out.exists():
        raise ExportError(f"{out}: already exists; give a new folder (an existing bundle is never overwritten)")
    if not src.is_dir():
        raise ExportError(f"{src}: not a bundle folder (unpack a .tar.gz bundle first)")
    bundle = load_bundle(src)
    if bundle.frame_cache is not None:
        have = f"{bundle.frame_cache.get('frontend')}, {bundle.frame_cache.get('encoder')}"
        raise ExportError(f"{src}: already carries frame-cache graphs ({have})")
    for name in (AUDIO_FRONTEND_ONNX, AUDIO_ENCODER_ONNX):
        if (src / name).exists():
            raise ExportError(f"{src}: holds a {name} its manifest does not list; remove it or export again")
    fe = FrontendConfig(**bundle.frontend)
    try:
        split = split_audio_graph(src / AUDIO_ONNX, fe, bundle.window_samples)
    except ImportError as exc:
        raise ExportError(f"cutting {src / AUDIO_ONNX} needs the onnx package (pip install onnx): {exc}") from exc
    except SplitError as exc:
        raise ExportError(f"{src / AUDIO_ONNX}: cannot be cut into frame-cache graphs: {exc}") from exc
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        shutil.copytree(src, tmp)
        cache = _write_frame_cache(tmp, split, log)
        manifest = json.loads((tmp / MANIFEST).read_text(encoding="utf-8"))
        for name in (AUDIO_FRONTEND_ONNX, AUDIO_ENCODER_ONNX):
            manifest["files"][name] = {"sha256": sha256_file(tmp / name), "size": (tmp / name).stat().st_size}
        manifest["audio"]["frame_cache"] = cache
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
        append_model_card(
            tmp,
            [
                "## Frame-cache graphs\n\n"
                f"`{AUDIO_FRONTEND_ONNX}` and `{AUDIO_ENCODER_ONNX}`: `audio.onnx` cut at its log-mel "
                f"(`{split.logmel}`) by `slap-edge bundle frame-cache` (slap-edge {__version__}, {when}), checked "
                "to reproduce `audio.onnx` on a test window. A stream runs the front end on each hop's new audio "
                "only and keeps the frames; the model, its weights and the figures above are unchanged."
            ],
        )
        if load_bundle(tmp).frame_cache != cache:
            raise ExportError(f"{tmp}: the written manifest does not read back its frame-cache entry")
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return cache


def _quantize_audio(
    graphs: _AudioGraphs, int8_path: Path, windows: list[np.ndarray], window_samples: int, log: Callable[[str], None]
) -> None:
    """Step 2: the int8 audio graph (ORT dynamic MatMul/Gemm, static QDQ convolutions), refused if it drifts from
    fp32 on any int8 kernel path."""
    from slap_edge.export.int8_kernels import check_int8_paths
    from slap_edge.export.quantize import quantize_audio_onnx

    log(f"quantizing to int8 ({len(windows)} calibration windows) ...")
    qreport = quantize_audio_onnx(graphs.fp32_path, int8_path, calibration=windows)
    int8_paths = check_int8_paths(graphs.fp32_path, int8_path, window_samples=window_samples)
    graphs.int8_path, graphs.quantization = int8_path, qreport.describe()
    graphs.int8_paths, graphs.int8_check = int8_paths, int8_paths.native
    log(f"audio int8 ONNX vs fp32 ONNX: {int8_paths.native.describe()}")
    log(f"int8 kernel paths: {int8_paths.describe()}")
    if int8_paths.min_cosine < MIN_INT8_COSINE:
        raise ExportError(
            f"int8 audio.onnx drifted from fp32: cosine {int8_paths.min_cosine:.4f} < {MIN_INT8_COSINE} "
            f"on at least one kernel path ({int8_paths.describe()})"
        )


def _tensorrt_qdq(
    fp32_path: Path, qdq_path: Path, windows: list[np.ndarray], window_samples: int, log: Callable[[str], None]
) -> None:
    """The static-QDQ graph a TensorRT int8 engine is built from, checked as ONNX Runtime runs it."""
    from slap_edge.export.int8_kernels import check_int8_paths
    from slap_edge.export.quantize import quantize_audio_onnx

    if not windows:
        raise ExportError("a TensorRT int8 graph needs calibration clips: give --calibration CORPUS_DIR")
    log("writing the TensorRT int8 graph (static QDQ) ...")
    quantize_audio_onnx(fp32_path, qdq_path, calibration=windows, for_tensorrt=True)
    qdq_check = check_int8_paths(fp32_path, qdq_path, window_samples=window_samples)
    log(f"TensorRT QDQ graph (run by ONNX Runtime) vs fp32: {qdq_check.describe()}")


def _export_text(
    model: SlapModel, source: _Source, mid: str, folder: Path, int8: bool, log: Callable[[str], None]
) -> tuple[OnnxCheck, int]:
    """The text tower to ONNX with its tokenizer, checked against PyTorch (int8 with ``int8``, refused below
    `MIN_TEXT_INT8_COSINE`); returns the check of the graph that ships and the tower's parameter count."""
    from slap_edge.models.text import tokenize, tokenizer_json_path

    cfg = model.config
    text_module = model.text_export_module()
    log("exporting the text tower ...")
    export_text_onnx(
        text_module,
        folder / TEXT_ONNX,
        metadata=text_metadata(
            model_name=source.name, model_id_=mid, embed_dim=cfg.embed_dim, max_tokens=cfg.text.max_length
        ),
    )
    shutil.copyfile(tokenizer_json_path(), folder / TOKENIZER)
    ids, mask = tokenize(list(TEXT_CHECK_SENTENCES), cfg.text.max_length)
    text_check = compare_text(text_module, folder / TEXT_ONNX, ids.numpy(), mask.numpy())
    log(f"text ONNX vs PyTorch: {text_check.describe()}")
    if text_check.min_cosine < MIN_ONNX_COSINE:
        raise ExportError(f"text.onnx disagrees with PyTorch: cosine {text_check.min_cosine:.6f}")
    if int8:
        from slap_edge.export.quantize import quantize_text_onnx

        text_fp32 = folder / "text.fp32.onnx"
        (folder / TEXT_ONNX).replace(text_fp32)
        text_quant = quantize_text_onnx(text_fp32, folder / TEXT_ONNX)
        text_fp32.unlink()
        text_int8_check = compare_text(text_module, folder / TEXT_ONNX, ids.numpy(), mask.numpy())
        log(f"text int8: {text_quant.describe()}; vs PyTorch: {text_int8_check.describe()}")
        if text_int8_check.min_cosine < MIN_TEXT_INT8_COSINE:
            raise ExportError(
                f"int8 text.onnx drifts from PyTorch: cosine {text_int8_check.min_cosine:.4f} < "
                f"{MIN_TEXT_INT8_COSINE}; export without --int8 to keep a float text tower"
            )
        text_check = text_int8_check
    return text_check, _count(text_module)


def _check_suite(
    model: SlapModel, suite: str | Path, graphs: _AudioGraphs, work: Path, log: Callable[[str], None]
) -> ZeroShotCheck:
    """Step 3: zero-shot agreement of PyTorch, fp32, int8 and int8 as CPUs without VNNI compute it, on a suite."""
    log(f"zero-shot agreement on {suite} ...")
    saturating = None
    if graphs.int8_path is not None:
        from slap_edge.export.int8_kernels import emulate_integer_kernels

        saturating = work / "audio.int8-saturating.onnx"
        emulate_integer_kernels(graphs.int8_path, saturating, saturate=True)
    window_samples = model.config.window_samples
    return zero_shot_check(model, suite, graphs.fp32_path, graphs.int8_path, window_samples, saturating)


def _manifest(
    model: SlapModel, source: _Source, mid: str, precision: str, profile: ExportProfile, with_text: bool,
    graphs: _AudioGraphs,
) -> dict[str, Any]:  # fmt: skip
    """manifest.json (spec/bundle.md) without its ``files``, which are filled in last."""
    cfg = model.config
    fe = cfg.frontend
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": {
            "name": source.name,
            "id": mid,
            "embed_dim": cfg.embed_dim,
            "precision": precision,
            "teacher": source.teacher,
            "training_data": source.training_data,
        },
        "audio": {
            "sample_rate": fe.sample_rate,
            "window_s": cfg.window_s,
            "hop_s": profile.hop_s,
            "frontend": to_dict(fe),
            **({"frame_cache": graphs.frame_cache} if graphs.frame_cache is not None else {}),
        },
        "scoring": {"logit_scale": model.logit_scale_value()},
        "files": {},
        "created_by": f"slap-edge {__version__}",
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if with_text:
        manifest["text"] = {"max_length": cfg.text.max_length, "tokenizer": TOKENIZER}
    if profile.tensorrt:
        manifest["tensorrt"] = {"precisions": list(profile.tensorrt)}
    if graphs.int8_paths is not None:
        manifest["checks"] = {"audio_int8": graphs.int8_paths.to_dict()}
    return manifest


def _write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    """Checksums of every file in ``folder``, then manifest.json itself."""
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            name = path.relative_to(folder).as_posix()
            manifest["files"][name] = {"sha256": sha256_file(path), "size": path.stat().st_size}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def _publish(folder: Path, work: Path, out: Path, tar: bool) -> None:
    """Step 4: verify with the kiosk's own reader, then move the bundle (or its archive) into place."""
    load_bundle(folder)  # the kiosk's own reader must accept it before it leaves the temp folder
    if tar:
        archive = work / out.name
        _write_archive(folder, archive)
        # Check the archive as a kiosk would unpack it (not through the reader's shared unpack cache).
        load_bundle(unpack_bundle(archive, work / "unpacked"))
        os.replace(archive, out)
    else:
        os.replace(folder, out)


def export_bundle(
    run_or_model: str | Path | SlapModel,
    out: str | Path,
    *,
    int8: bool = False,
    with_text: bool = False,
    calibration: str | Path | list[np.ndarray] | None = None,
    suite: str | Path | None = None,
    tar: bool = False,
    profile: ExportProfile | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> ExportReport:
    """Write the bundle of ``run_or_model`` (a run folder or a `SlapModel`) to ``out``; return what was measured.

    ``calibration``: a corpus folder (its train/val clips) or ready waveforms, needed by ``int8`` for the static
    QDQ convolutions. ``suite``: an evaluation suite on which zero-shot predictions of PyTorch, fp32 and int8 are
    compared. ``tar``: write ``out`` as a single ``.tar.gz``. ``profile`` supplies the rest (hop, shape bounds);
    the explicit flags are ORed with it.

    Four steps, each refusing what fails its check: export (audio, and text with ``with_text``), quantize (``int8``),
    check on the suite, write the card and manifest and publish after the kiosk's reader accepts the bundle.
    """
    profile = profile or ExportProfile()
    int8, with_text, tar = int8 or profile.int8, with_text or profile.with_text, tar or profile.tar
    out = Path(out)
    _check_request(out, int8, tar, calibration, suite, profile)
    source = _load_source(run_or_model)  # fails here, before anything is written, if the run cannot be rebuilt
    model = source.model.eval()
    cfg = model.config
    mid = model_id(model, source.name)
    rate = cfg.frontend.sample_rate
    log(f"model {mid}: {source.name}, embed_dim {cfg.embed_dim}, window {cfg.window_s} s at {rate} Hz")

    out.parent.mkdir(parents=True, exist_ok=True)
    work = out.parent / f".{out.name}.{os.getpid()}.partial"
    shutil.rmtree(work, ignore_errors=True)
    folder = work / "bundle"
    folder.mkdir(parents=True)
    try:
        graphs = _export_audio(model, source, mid, work, folder, profile, int8, calibration, log)
        text_check, params_text = _export_text(model, source, mid, folder, int8, log) if with_text else (None, 0)
        zero_shot = _check_suite(model, suite, graphs, work, log) if suite is not None else None
        precision = "int8" if int8 else "fp32"
        manifest = _manifest(model, source, mid, precision, profile, with_text, graphs)
        report = ExportReport(
            path=out,
            model_id=mid,
            precision=precision,
            audio_fp32=graphs.fp32_check,
            audio_int8=graphs.int8_check,
            text=text_check,
            zero_shot=zero_shot,
            sizes={p.name: p.stat().st_size for p in folder.iterdir() if p.is_file()},
            quantization=graphs.quantization,
            int8_paths=graphs.int8_paths,
        )
        write_model_card(folder, model_card(manifest, report, graphs.params, params_text))
        _write_manifest(folder, manifest)
        _publish(folder, work, out, tar)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log(f"wrote {out}")
    return report
