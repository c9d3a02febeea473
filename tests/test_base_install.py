"""The kiosk install (`pip install slap-edge`, no extras) must run the runtime and doctor without torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def base_venv() -> Path:
    """The base-only venv made by `make setup-base` (SLAP_BASE_VENV), else made here once per machine."""
    venv = Path(os.environ.get("SLAP_BASE_VENV", REPO / ".venv-base"))
    if not venv.is_absolute():
        venv = REPO / venv
    python = venv / "bin" / "python"
    if not (venv / ".installed").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-e", str(REPO)], check=True, timeout=900)
        (venv / ".installed").touch()
    probe = subprocess.run([str(python), "-c", "import torch"], capture_output=True)
    if probe.returncode == 0:
        pytest.fail(f"{venv} has torch installed; the base install must not pull it in")
    return venv


def test_runtime_imports_without_torch(base_venv: Path) -> None:
    code = (
        "import sys, slap_edge.runtime, slap_edge.bundle_reader, slap_edge.prompts, slap_edge.scoring, "
        "slap_edge.frontend, slap_edge.cli; bad = [m for m in ('torch', 'timm', 'onnx') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    out = subprocess.run([str(base_venv / "bin" / "python"), "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_doctor_runs_without_torch(base_venv: Path) -> None:
    exe = str(base_venv / "bin" / "slap-edge")
    table = subprocess.run([exe, "doctor"], capture_output=True, text=True)
    assert table.returncode == 0, table.stderr
    assert "onnxruntime" in table.stdout
    out = subprocess.run([exe, "doctor", "--json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    torch_check = next(c for c in report["checks"] if c["name"] == "torch")
    assert torch_check["ok"] is False and "slap-edge[train]" in torch_check["fix"]
    assert report["ready"]["runtime"] is True and report["ready"]["train"] is False
    missing = subprocess.run([exe, "doctor", "--require", "train"], capture_output=True, text=True)
    assert missing.returncode == 1 and "torch" in missing.stderr
    ok = subprocess.run([exe, "doctor", "--require", "runtime"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
