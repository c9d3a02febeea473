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
    MODEL_CARD,
    TEXT_ONNX,
    TOKENIZER,
    load_bundle,
    sha256_file,
    unpack_bundle,
)
from slap_edge.config import ConfigError, to_dict
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
        return _Source(
            model=model,
            name=model.config.name,
            teacher=_describe_teacher(Path(teacher)) if teacher else None,
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


def _model_card(
    source: _Source, manifest: dict[str, Any], report: ExportReport, params_audio: int, params_text: int
) -> str:
    model, audio = manifest["model"], manifest["audio"]
    fe = audio["frontend"]
    lines = [
        f"# {model['name']} ({model['precision']})",
        "",
        "Zero-shot speaker description: the audio tower maps a waveform window to an embedding that is compared",
        "with embeddings of plain-language prompts about the speaker (sex, age, language, pitch, rate, voice",
        "quality). Made by `slap-edge export`.",
        "",
        "## Model",
        f"- id: `{model['id']}`; embedding size {model['embed_dim']}; "
        f"logit scale {manifest['scoring']['logit_scale']:.3f}",
        f"- audio tower: {params_audio / 1e6:.3f} M parameters; input {audio['sample_rate']} Hz mono waveform,",
        f"  window {audio['window_s']} s, hop {audio['hop_s']} s; log-mel front end inside audio.onnx "
        f"({fe['n_mels']} mels, n_fft {fe['n_fft']}, hop {fe['hop_length']} samples)",
    ]
    if params_text:
        lines.append(f"- text tower (text.onnx): {params_text / 1e6:.3f} M parameters (all-MiniLM-L6-v2 + projection)")
    lines.append(f"- teacher: {model['teacher'] or 'none (trained directly)'}")
    data = model["training_data"]
    lines.append(
        "- training data: " + (", ".join(f"{k} {v}" for k, v in data.items()) if data else "not recorded in the run")
    )
    lines += ["", "## Measured while exporting", f"- audio fp32 ONNX vs PyTorch: {report.audio_fp32.describe()}"]
    if report.audio_int8 is not None:
        lines.append(f"- audio int8 ONNX vs fp32 ONNX: {report.audio_int8.describe()}")
        if report.int8_paths is not None:
            lines.append(f"- int8 kernel paths: {report.int8_paths.describe()}")
        lines.append(f"- quantization: {report.quantization}")
    if report.text is not None:
        lines.append(f"- text ONNX vs PyTorch: {report.text.describe()}")
    if report.zero_shot is not None:
        z = report.zero_shot
        lines.append(
            f"- zero-shot on suite `{z.suite}` ({z.clips} clips, {z.tasks} tasks, scored as `slap-edge eval`): "
            f"mean macro-F1 PyTorch {z.f1_torch:.3f}, fp32 ONNX {z.f1_fp32:.3f} "
            f"(same prediction as PyTorch on {z.agreement_fp32_torch:.1%} of clips)"
            + (
                f", int8 ONNX {z.f1_int8:.3f} (same as fp32 on {z.agreement_int8_fp32:.1%})"
                if z.f1_int8 is not None
                else ""
            )
            + (
                f", int8 as AVX2 CPUs without VNNI compute it (emulated) {z.f1_int8_saturating:.3f} "
                f"(same as fp32 on {z.agreement_int8_saturating_fp32:.1%})"
                if z.f1_int8_saturating is not None and z.agreement_int8_saturating_fp32 is not None
                else ""
            )
        )
        if z.unreadable:
            lines.append(f"- unreadable suite clips: {len(z.unreadable)} ({'; '.join(z.unreadable[:3])})")
    else:
        lines.append("- zero-shot agreement: not measured (export without --suite)")
    lines.append("- file sizes: " + ", ".join(f"{k} {v / 1e6:.2f} MB" for k, v in sorted(report.sizes.items())))
    lines += [
        "",
        "## Limits",
        "- Speaker attributes are inferred from voice alone and are often wrong for individuals; use for aggregate",
        "  or assistive behaviour, never to deny a service or identify a person.",
        "- Trained on the data above; accents, languages and recording channels outside it are less reliable.",
        "- Latency: measure on the target with `slap-edge bench` (depends on the CPU and thread count).",
        "",
    ]
    return "\n".join(lines)


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
    """
    profile = profile or ExportProfile()
    int8, with_text, tar = int8 or profile.int8, with_text or profile.with_text, tar or profile.tar
    out = Path(out)
    if tar and not out.name.endswith(".tar.gz"):
        raise ExportError(f"{out}: a tar bundle must be named *.tar.gz")
    if out.exists():
        raise ExportError(f"{out}: already exists; remove it or choose another --out (bundles are never overwritten)")
    if (int8 or "int8" in profile.tensorrt) and calibration is None:
        raise ExportError("int8 export needs calibration clips for its static QDQ nodes: give --calibration CORPUS_DIR")
    if suite is not None and not Path(suite).is_dir():
        raise ExportError(f"{suite}: no such suite folder")

    source = _load_source(run_or_model)  # fails here, before anything is written, if the run cannot be rebuilt
    model = source.model.eval()
    cfg = model.config
    fe = cfg.frontend
    window_samples = int(round(cfg.window_s * fe.sample_rate))
    mid = model_id(model, source.name)
    log(f"model {mid}: {source.name}, embed_dim {cfg.embed_dim}, window {cfg.window_s} s at {fe.sample_rate} Hz")

    out.parent.mkdir(parents=True, exist_ok=True)
    work = out.parent / f".{out.name}.{os.getpid()}.partial"
    shutil.rmtree(work, ignore_errors=True)
    folder = work / "bundle"
    folder.mkdir(parents=True)
    try:
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
        export_audio_onnx(
            audio_module, fp32_path, window_samples=window_samples, metadata={**meta, "precision": "fp32"}
        )
        fp32_check = compare_audio(audio_module, fp32_path, window_samples=window_samples)
        log(f"audio fp32 ONNX vs PyTorch: {fp32_check.describe()}")
        if fp32_check.min_cosine < MIN_ONNX_COSINE:
            raise ExportError(
                f"audio.onnx disagrees with PyTorch: cosine {fp32_check.min_cosine:.6f} < {MIN_ONNX_COSINE}"
            )
        int8_check, quant_text, int8_path, int8_paths = None, None, None, None
        windows: list[np.ndarray] = []
        if calibration is not None and (int8 or "int8" in profile.tensorrt):
            from slap_edge.export.quantize import calibration_windows

            if isinstance(calibration, (str, Path)):
                windows = calibration_windows(
                    calibration,
                    count=profile.calibration_clips,
                    window_samples=window_samples,
                    sample_rate=fe.sample_rate,
                )
            else:
                windows = list(calibration)
        if int8:
            from slap_edge.export.int8_kernels import check_int8_paths
            from slap_edge.export.quantize import quantize_audio_onnx

            log(f"quantizing to int8 ({len(windows)} calibration windows) ...")
            int8_path = folder / AUDIO_ONNX
            qreport = quantize_audio_onnx(fp32_path, int8_path, calibration=windows)
            quant_text = qreport.describe()
            int8_paths = check_int8_paths(fp32_path, int8_path, window_samples=window_samples)
            int8_check = int8_paths.native
            log(f"audio int8 ONNX vs fp32 ONNX: {int8_check.describe()}")
            log(f"int8 kernel paths: {int8_paths.describe()}")
            if int8_paths.min_cosine < MIN_INT8_COSINE:
                raise ExportError(
                    f"int8 audio.onnx drifted from fp32: cosine {int8_paths.min_cosine:.4f} < {MIN_INT8_COSINE} "
                    f"on at least one kernel path ({int8_paths.describe()})"
                )
        else:
            shutil.copyfile(fp32_path, folder / AUDIO_ONNX)
        if "fp16" in profile.tensorrt and int8:
            shutil.copyfile(fp32_path, folder / AUDIO_FP32_ONNX)  # TensorRT fp16 needs the float graph
        if "int8" in profile.tensorrt:
            from slap_edge.export.int8_kernels import check_int8_paths
            from slap_edge.export.quantize import quantize_audio_onnx

            if not windows:
                raise ExportError("a TensorRT int8 graph needs calibration clips: give --calibration CORPUS_DIR")
            log("writing the TensorRT int8 graph (static QDQ) ...")
            quantize_audio_onnx(fp32_path, folder / AUDIO_QDQ_ONNX, calibration=windows, for_tensorrt=True)
            qdq_check = check_int8_paths(fp32_path, folder / AUDIO_QDQ_ONNX, window_samples=window_samples)
            log(f"TensorRT QDQ graph (run by ONNX Runtime) vs fp32: {qdq_check.describe()}")

        text_check = None
        params_text = 0
        if with_text:
            from slap_edge.models.text import tokenize, tokenizer_json_path

            text_module = model.text_export_module()
            params_text = _count(text_module)
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

        zero_shot = None
        if suite is not None:
            log(f"zero-shot agreement on {suite} ...")
            saturating = None
            if int8_path is not None:
                from slap_edge.export.int8_kernels import emulate_integer_kernels

                saturating = work / "audio.int8-saturating.onnx"
                emulate_integer_kernels(int8_path, saturating, saturate=True)
            zero_shot = zero_shot_check(model, suite, fp32_path, int8_path, window_samples, saturating)

        precision = "int8" if int8 else "fp32"
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
        if int8_paths is not None:
            manifest["checks"] = {"audio_int8": int8_paths.to_dict()}
        sizes = {p.name: p.stat().st_size for p in folder.iterdir() if p.is_file()}
        report = ExportReport(
            path=out,
            model_id=mid,
            precision=precision,
            audio_fp32=fp32_check,
            audio_int8=int8_check,
            text=text_check,
            zero_shot=zero_shot,
            sizes=sizes,
            quantization=quant_text,
            int8_paths=int8_paths,
        )
        card = _model_card(source, manifest, report, _count(audio_module), params_text)
        (folder / MODEL_CARD).write_text(card, encoding="utf-8")
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                name = path.relative_to(folder).as_posix()
                manifest["files"][name] = {"sha256": sha256_file(path), "size": path.stat().st_size}
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        load_bundle(folder)  # the kiosk's own reader must accept it before it leaves the temp folder
        if tar:
            archive = work / out.name
            _write_archive(folder, archive)
            # Check the archive as a kiosk would unpack it (not through the reader's shared unpack cache).
            load_bundle(unpack_bundle(archive, work / "unpacked"))
            os.replace(archive, out)
        else:
            os.replace(folder, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log(f"wrote {out}")
    return report


def append_model_card(bundle_dir: str | Path, sections: list[str], record: dict[str, Any] | None = None) -> Path:
    """Append markdown ``sections`` (measured after export: evaluation tables, latency) to a bundle folder's
    MODEL_CARD.md and update its checksum in manifest.json, so the bundle still verifies. ``record`` (commit, hashes
    of recipes and configs, corpus fingerprint, suites; `slap_edge.export.card.build_record`) is stored as the
    manifest's ``record``. Both files are replaced atomically; the bundle is checked with the kiosk's loader
    afterwards."""
    root = Path(bundle_dir)
    manifest_path, card_path = root / MANIFEST, root / MODEL_CARD
    if not manifest_path.is_file() or not card_path.is_file():
        raise ExportError(f"{root}: not a bundle folder with {MANIFEST} and {MODEL_CARD}")
    load_bundle(root)  # refuse to touch a bundle that does not verify as it is
    text = card_path.read_text(encoding="utf-8").rstrip("\n")
    text += "\n\n" + "\n\n".join(s.strip("\n") for s in sections) + "\n"
    tmp_card = card_path.with_name(card_path.name + ".tmp")
    tmp_card.write_text(text, encoding="utf-8")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["files"][MODEL_CARD] = {"sha256": sha256_file(tmp_card), "size": tmp_card.stat().st_size}
    if record is not None:
        manifest["record"] = record
    tmp_manifest = manifest_path.with_name(manifest_path.name + ".tmp")
    tmp_manifest.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    tmp_card.replace(card_path)
    tmp_manifest.replace(manifest_path)
    load_bundle(root)
    return card_path
