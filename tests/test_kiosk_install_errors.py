"""Issue 23 item 6-7: in the kiosk install (no torch, no scikit-learn, no data extra) every command that needs an
extra says which, once and up front, instead of a traceback."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def kiosk() -> Path:
    venv = Path(os.environ.get("SLAP_BASE_VENV", REPO / ".venv-base"))
    exe = venv / "bin" / "slap-edge"
    if not (venv / ".installed").exists() or not exe.exists():
        pytest.skip(f"no base-only venv at {venv} (made by `make setup-base` or tests/test_base_install.py)")
    for module in ("torch", "sklearn", "pyworld"):
        if (
            subprocess.run([str(venv / "bin" / "python"), "-c", f"import {module}"], capture_output=True).returncode
            == 0
        ):
            pytest.skip(f"{venv} has {module}; it is not a kiosk install")
    return exe


def _run(exe: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    # The worktree under test goes first on the path, whatever the venv's editable install points at.
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "250"}
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=300, env=env, cwd=cwd)


def test_doctor_table_shows_the_extra_in_brackets(kiosk: Path) -> None:
    res = _run(kiosk, "doctor")
    assert res.returncode == 0, res.stderr
    assert "pip install 'slap-edge[train]'" in res.stdout


def test_bench_torch_backend_without_torch_fails_before_any_audio(kiosk: Path) -> None:
    res = _run(kiosk, "bench", "--backend", "torch", "--no-peers", "--seconds", "2")
    assert res.returncode == 2, res.stdout + res.stderr
    assert "slap-edge[train]" in res.stderr and "torch" in res.stderr
    assert "schedule" not in res.stderr and "Traceback" not in res.stderr


def test_eval_without_sklearn_skips_the_probe_with_a_message(kiosk: Path, tmp_path: Path) -> None:
    import json

    import numpy as np
    import soundfile as sf

    root = tmp_path / "suite"
    (root / "audio").mkdir(parents=True)
    task = {"name": "pitch", "category": "voice", "classes": {"low": ["a low voice"], "high": ["a high voice"]}}
    (root / "suite.json").write_text(json.dumps({"name": "t", "version": 1, "tasks": [task]}))
    lines = []
    for i, f0 in enumerate((110, 120, 300, 320)):
        t = np.arange(16000) / 16000
        sf.write(str(root / "audio" / f"{i}.wav"), 0.3 * np.sin(2 * np.pi * f0 * t), 16000)
        lines.append(
            {"path": f"audio/{i}.wav", "task": "pitch", "label": "low" if f0 < 200 else "high", "speaker": str(i)}
        )
    (root / "clips.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    res = _run(kiosk, "eval", "--model", "default", "--suite", str(root))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "scikit-learn" in res.stderr and "slap-edge[eval]" in res.stderr and "--no-probe" in res.stderr
    assert "Traceback" not in res.stderr and "pitch" in res.stdout


def test_data_synth_without_the_data_extra_fails_once_up_front(kiosk: Path, tmp_path: Path) -> None:
    res = _run(kiosk, "data", "synth", "--out", str(tmp_path / "c"), "--clips", "20")
    assert res.returncode == 2, res.stdout + res.stderr
    assert "slap-edge[data]" in res.stderr and res.stderr.count("error") == 1 and "Traceback" not in res.stderr
    assert not (tmp_path / "c" / "audio").exists()
