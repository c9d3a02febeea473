"""CLI of the export stage: `export`, `quantize`, `distill`, `bundle verify`, `trt build`, `trt check`.

Each command parses, calls one library function and prints; torch is imported inside the commands that need it.
"""

from __future__ import annotations

import dataclasses
import enum
import time
from pathlib import Path

import typer

from slap_edge.cli_support import fail as _fail

bundle_app = typer.Typer(help="Check edge bundles (spec/bundle.md).", no_args_is_help=True)
trt_app = typer.Typer(help="TensorRT engines for a bundle's audio tower.", no_args_is_help=True)


class TrtPrecision(str, enum.Enum):
    fp16 = "fp16"
    int8 = "int8"


def export_command(
    model: Path = typer.Option(..., "--model", help="Run folder (config.json + model.safetensors)."),
    out: Path = typer.Option(..., "--out", help="Bundle folder to create (or BUNDLE.tar.gz with --tar)."),
    int8: bool = typer.Option(False, "--int8", help="Quantize audio.onnx to int8 (needs --calibration)."),
    with_text: bool = typer.Option(False, "--with-text", help="Add text.onnx + tokenizer.json for on-device prompts."),
    tar: bool = typer.Option(False, "--tar", help="Write a single .tar.gz instead of a folder."),
    calibration: Path | None = typer.Option(None, "--calibration", help="Corpus folder: int8 calibration clips."),
    suite: Path | None = typer.Option(None, "--suite", help="Eval suite: zero-shot agreement PyTorch/fp32/int8."),
    profile: Path | None = typer.Option(None, "--profile", help="Export profile JSON (export/profiles/*.json)."),
    tensorrt: bool = typer.Option(False, "--tensorrt", help="Also build a TensorRT fp16 engine (needs tensorrt)."),
    allow_partial: bool = typer.Option(
        False, "--allow-partial", help="Accept a run stopped before its recipe's last step (experiments only)."
    ),
) -> None:
    """Write the edge bundle of a run: audio.onnx (front end inside), manifest, model card; checks itself."""
    from slap_edge.bundle_reader import BundleError
    from slap_edge.config import ConfigError, load_config
    from slap_edge.export.bundle_writer import ExportProfile, export_bundle
    from slap_edge.export.onnx import ExportError
    from slap_edge.train.checkpoint import CheckpointError, check_run_complete

    try:
        if (model / "state.json").is_file():
            step, steps = check_run_complete(model, allow_partial=allow_partial)
            if step < steps:
                typer.echo(f"warning: {model} is unfinished (step {step} of {steps}); --allow-partial given")
        prof = load_config(ExportProfile, profile) if profile else ExportProfile()
        if tensorrt and "fp16" not in prof.tensorrt:
            prof = dataclasses.replace(prof, tensorrt=(*prof.tensorrt, "fp16"))
        report = export_bundle(
            model,
            out,
            int8=int8,
            with_text=with_text,
            tar=tar,
            calibration=calibration,
            suite=suite,
            profile=prof,
            log=typer.echo,
        )
    except (ExportError, ConfigError, BundleError, CheckpointError) as exc:
        raise _fail(str(exc)) from exc
    for line in report.lines():
        typer.echo(line)
    if tensorrt:
        _build_engines(out, prof.tensorrt, after_export=True)


def _build_engines(bundle: Path, precisions: tuple[str, ...], after_export: bool = False) -> None:
    from slap_edge.export.onnx import ExportError
    from slap_edge.export.tensorrt import TensorRTUnavailableError, build_engine

    for precision in precisions:
        try:
            t0 = time.perf_counter()
            path, cached = build_engine(bundle, precision)
        except TensorRTUnavailableError as exc:
            prefix = "the bundle was written, but no engine was built: " if after_export else ""
            raise _fail(f"{prefix}{exc}", code=3) from exc
        except ExportError as exc:
            raise _fail(str(exc)) from exc
        state = "cached" if cached else f"built in {time.perf_counter() - t0:.1f} s"
        typer.echo(f"TensorRT {precision} engine: {path} ({state})")


def quantize_command(
    onnx_in: Path | None = typer.Option(None, "--onnx", help="fp32 audio.onnx to quantize with ONNX Runtime."),
    out: Path | None = typer.Option(None, "--out", help="Where the int8 ONNX file goes."),
    calibration: Path | None = typer.Option(None, "--calibration", help="Corpus folder for static calibration."),
    clips: int = typer.Option(64, "--clips", help="Calibration windows drawn from the corpus."),
    for_tensorrt: bool = typer.Option(False, "--tensorrt-qdq", help="Pure static QDQ graph for TensorRT int8."),
    torchao: bool = typer.Option(False, "--torchao", help="The PyTorch path: torchao int8 on --model, measured."),
    model: Path | None = typer.Option(None, "--model", help="Run folder (with --torchao)."),
    compile_: bool = typer.Option(False, "--compile", help="torch.compile the torchao model (with --torchao)."),
) -> None:
    """int8 audio tower: ONNX Runtime (MatMul dynamic, Conv static QDQ, front end float) or torchao (PyTorch)."""
    from slap_edge.export.onnx import ExportError

    try:
        if torchao:
            if model is None:
                raise _fail("--torchao needs --model RUN")
            _torchao_report(model, compile_)
            return
        if onnx_in is None or out is None:
            raise _fail("give --onnx AUDIO.onnx --out INT8.onnx [--calibration CORPUS], or --torchao --model RUN")
        _onnx_quantize(onnx_in, out, calibration, clips, for_tensorrt)
    except ExportError as exc:
        raise _fail(str(exc)) from exc


def _onnx_quantize(onnx_in: Path, out: Path, calibration: Path | None, clips: int, for_tensorrt: bool) -> None:
    import json

    from slap_edge.export.int8_kernels import check_int8_paths
    from slap_edge.export.onnx import ExportError, read_metadata
    from slap_edge.export.quantize import calibration_windows, quantize_audio_onnx

    if not onnx_in.is_file():
        raise ExportError(f"{onnx_in}: no such ONNX file")
    if out.exists():
        raise ExportError(f"{out}: already exists; choose another --out")
    meta = read_metadata(onnx_in)
    try:
        frontend = json.loads(meta["frontend"])
        window_samples = int(round(float(meta["window_s"]) * int(meta["sample_rate"])))
    except (KeyError, ValueError) as exc:
        raise ExportError(f"{onnx_in}: no slap-edge audio metadata ({exc}); export it with slap-edge export") from exc
    windows = None
    if calibration is not None:
        windows = calibration_windows(
            calibration, count=clips, window_samples=window_samples, sample_rate=int(frontend["sample_rate"])
        )
    report = quantize_audio_onnx(onnx_in, out, calibration=windows, for_tensorrt=for_tensorrt)
    typer.echo(report.describe())
    typer.echo(f"int8 vs fp32: {check_int8_paths(onnx_in, out, window_samples=window_samples).describe()}")


def _torchao_report(run: Path, compile_: bool) -> None:
    import copy

    import torch

    from slap_edge.export.onnx import cosines, speech_like_waveforms
    from slap_edge.export.quantize import quantize_torchao
    from slap_edge.train.checkpoint import load_run

    model, _ = load_run(run)
    fp32 = model.audio_export_module()
    int8 = quantize_torchao(copy.deepcopy(fp32), compile=compile_)
    wave = speech_like_waveforms(4, model.config.window_samples, seed=3)
    with torch.no_grad():
        a, b = fp32(wave).numpy(), int8(wave).float().numpy()

        def per_window(module: torch.nn.Module) -> float:
            x = wave[:1]
            module(x)
            t0 = time.perf_counter()
            for _ in range(10):
                module(x)
            return (time.perf_counter() - t0) / 10 * 1000

        t_fp32, t_int8 = per_window(fp32), per_window(int8)
    cos = cosines(a, b)
    typer.echo(
        f"torchao int8 (dynamic activation + int8 weight{', compiled' if compile_ else ''}) vs fp32: cosine min "
        f"{cos.min():.5f} mean {cos.mean():.5f}; latency per window ({torch.get_num_threads()} threads) "
        f"fp32 {t_fp32:.1f} ms, int8 {t_int8:.1f} ms"
    )


def distill_command(
    teacher: Path = typer.Option(..., "--teacher", help="The teacher's run folder."),
    recipe: Path = typer.Option(..., "--recipe", help="Student recipe, e.g. train/recipes/student-vit-tiny.json."),
    data: str = typer.Option(
        ..., "--data", help="Corpus folder holding manifest.jsonl, or shards (a shards.json folder, pattern or pipe:)."
    ),
    out: Path = typer.Option(..., "--out", help="Run folder of the student."),
    resume: bool = typer.Option(False, "--resume", help="Continue the student run in --out."),
    max_steps: int | None = typer.Option(None, "--max-steps", help="Stop at this step (the schedule is unchanged)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or cuda:N."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show the progress bar."),
    exclude_holdout: str | None = typer.Option(
        None, "--exclude-holdout", help="Drop held-out voices (a suite's holdout.json or patterns), as in train."
    ),
    allow_partial: bool = typer.Option(
        False, "--allow-partial", help="Accept a teacher stopped before its recipe's last step (experiments only)."
    ),
    init_from: Path | None = typer.Option(
        None,
        "--init-from",
        help="Start the student from a finished student run's weights (e.g. distil on for more steps or on more "
        "data; fresh optimiser, this recipe's schedule); recorded in the recipe and OUT/init.json.",
    ),
) -> None:
    """Distil a teacher into a student with the same trainer (task "distill"); the text tower is the teacher's."""
    from slap_edge.config import ConfigError, load_config
    from slap_edge.data.holdout import holdout_patterns
    from slap_edge.train.checkpoint import CheckpointError, check_run_complete, read_run_config
    from slap_edge.train.config import TrainRecipe
    from slap_edge.train.data import CorpusError
    from slap_edge.train.distill import recipe_with_teacher
    from slap_edge.train.trainer import TrainingError, train

    try:
        rec = load_config(TrainRecipe, recipe)
        if rec.task != "distill":
            raise ConfigError(
                f'{recipe}: task is {rec.task!r}; slap-edge distill needs a recipe with "task": "distill"'
            )
        if not (teacher / "config.json").is_file():
            raise ConfigError(
                f"{teacher}: not a run folder (no config.json); give the teacher's --out of slap-edge train"
            )
        teacher_config = read_run_config(teacher)
        step, steps = check_run_complete(teacher, allow_partial=allow_partial)
        if step < steps:
            typer.echo(f"warning: the teacher {teacher} is unfinished (step {step} of {steps}); --allow-partial given")
        rec = recipe_with_teacher(rec, teacher, teacher_config.model)
        if init_from is not None:
            rec = dataclasses.replace(rec, init_from=str(init_from.resolve()))
        exclude = holdout_patterns(exclude_holdout)
        result = train(
            rec, data, out, resume=resume, max_steps=max_steps, device=device, progress=progress, exclude=exclude
        )
    except (ConfigError, CheckpointError, CorpusError, TrainingError, ValueError) as exc:
        raise _fail(str(exc), code=1) from exc
    typer.echo(
        f"student {out}: step {result.step}, loss {result.loss:.4f}, {result.clips_per_s:.1f} clips/s "
        f"(teacher {teacher})"
    )


@bundle_app.command("verify")
def bundle_verify(bundle: Path = typer.Argument(..., help="Bundle folder or .tar.gz.")) -> None:
    """Verify checksums, format version and ONNX metadata; print what the bundle holds."""
    from slap_edge.bundle_reader import BundleError, load_bundle

    try:
        b = load_bundle(bundle)
    except BundleError as exc:
        raise _fail(str(exc), code=1) from exc
    model = b.manifest["model"]
    typer.echo(f"ok: {bundle}")
    typer.echo(
        f"model {b.model_id} ({model.get('precision', '?')}), embed_dim {b.embed_dim}, "
        f"{b.sample_rate} Hz, window {b.window_s} s, hop {b.hop_s} s, logit scale {b.logit_scale:.3f}"
    )
    for name, entry in sorted(b.manifest["files"].items()):
        typer.echo(f"  {name}  {entry['size'] / 1e6:.2f} MB  sha256 {entry['sha256'][:16]}...")


@bundle_app.command("card")
def bundle_card(
    bundle: Path = typer.Argument(..., help="Bundle folder."),
    append: list[Path] = typer.Option(..., "--append", help="Markdown file to append (repeatable), in order."),
    record: Path | None = typer.Option(
        None, "--record", help="Record JSON (python -m slap_edge.export.card --record) to store in the manifest."
    ),
) -> None:
    """Append measured sections (eval tables, latency) to MODEL_CARD.md, keeping the manifest's checksums true."""
    import json

    from slap_edge.bundle_reader import BundleError
    from slap_edge.export.card import append_model_card
    from slap_edge.export.onnx import ExportError

    try:
        sections = [p.read_text(encoding="utf-8") for p in append]
        try:
            record_data = json.loads(record.read_text(encoding="utf-8")) if record else None
        except json.JSONDecodeError as exc:
            raise ExportError(f"{record}: not JSON ({exc})") from exc
        if record_data is not None and not isinstance(record_data, dict):
            raise ExportError(f"{record}: a record is a JSON object, got {type(record_data).__name__}")
        card = append_model_card(bundle, sections, record=record_data)
    except (OSError, BundleError, ExportError) as exc:
        raise _fail(str(exc), code=1) from exc
    typer.echo(f"appended {len(sections)} section(s) to {card}")


@bundle_app.command("frame-cache")
def bundle_frame_cache(
    bundle: Path = typer.Argument(..., help="Bundle folder exported without the frame-cache graphs."),
    out: Path = typer.Option(..., "--out", help="New bundle folder (never an existing one)."),
) -> None:
    """Copy a bundle with its audio.onnx cut into the frame-cache graphs, as `export` ships them (needs onnx)."""
    from slap_edge.bundle_reader import BundleError
    from slap_edge.export.bundle_writer import add_frame_cache
    from slap_edge.export.onnx import ExportError

    try:
        add_frame_cache(bundle, out, log=typer.echo)
    except (OSError, BundleError, ExportError) as exc:
        raise _fail(str(exc), code=1) from exc
    typer.echo(f"wrote {out}: {bundle}'s model, with the frame-cache graphs (slap-edge bundle verify {out})")


@trt_app.command("check")
def trt_check(
    target: Path = typer.Argument(..., help="An ONNX file, or a bundle (checks the graphs TensorRT would use)."),
) -> None:
    """Will TensorRT build it? opset >= 17, every op supported, input shapes fixed or bounded. Needs no GPU."""
    from slap_edge.export.onnx import ExportError
    from slap_edge.export.tensorrt import PRECISIONS, check_tensorrt_compat, engine_source

    if target.is_dir():
        if not (target / "audio.onnx").is_file():
            raise _fail(f"{target}: no audio.onnx here")
        # A bundle: check the graph each engine precision would be built from (engine_source), as `trt build` does;
        # an ONNX Runtime int8 audio.onnx is not one of them when the bundle carries its float or QDQ graph.
        manifest_path = target / "manifest.json"
        if not manifest_path.is_file():
            raise _fail(f"{target}: no manifest.json; give a bundle folder or an ONNX file")
        import json

        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        paths, missing = [], []
        for precision in PRECISIONS:
            try:
                source = engine_source(target, manifest, precision)
            except ExportError as exc:
                missing.append(f"{precision}: {exc}")
                continue
            typer.echo(f"TensorRT {precision} engine would be built from {source.name}")
            if source not in paths:
                paths.append(source)
        for line in missing:
            typer.echo(f"no TensorRT {line}")
        if not paths:
            raise _fail(f"{target}: no graph TensorRT can build an engine from", code=1)
    elif target.is_file():
        paths = [target]
    else:
        raise _fail(f"{target}: no such file or folder")
    failed = False
    for path in paths:
        try:
            report = check_tensorrt_compat(path)
        except ExportError as exc:
            raise _fail(str(exc)) from exc
        for line in report.lines():
            typer.echo(line)
        failed |= not report.ok
    if failed:
        raise typer.Exit(1)


@trt_app.command("build")
def trt_build(
    bundle: Path = typer.Argument(..., help="Bundle folder."),
    precision: list[TrtPrecision] = typer.Option(["fp16"], "--precision", help="fp16 and/or int8 (repeatable)."),
) -> None:
    """Build (or reuse from BUNDLE.engines/) TensorRT engines of the audio tower on this GPU."""
    _build_engines(bundle, tuple(p.value for p in precision))


def register(app: typer.Typer) -> None:
    """Add this stage's commands to `app`."""
    app.command("export")(export_command)
    app.command("quantize")(quantize_command)
    app.command("distill")(distill_command)
    app.add_typer(bundle_app, name="bundle")
    app.add_typer(trt_app, name="trt")
