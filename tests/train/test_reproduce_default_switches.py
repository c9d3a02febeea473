"""train/reproduce_default.sh checks its switches before it makes anything (no corpus, no work folder)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "train" / "reproduce_default.sh"


def _run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, **env}
    return subprocess.run(
        ["bash", str(SCRIPT), str(tmp_path / "work")], env=full, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"STUDENT": "bogus"}, "STUDENT must be 'train' or 'packed' (got 'bogus')"),
        ({"TEACHER": "cached"}, "TEACHER must be 'train' or 'packed' (got 'cached')"),
        ({"TEACHER2": "x"}, "TEACHER2 must be 'train' or 'packed' (got 'x')"),
        ({"STUDENT2_DATA": "mp3"}, "'intonation-real' (corpus + intonation corpus + real-voice training speech)"),
        ({"VOICES": "espeak", "STUDENT": "packed"}, "no committed first-stage student for VOICES=espeak"),
        ({"VOICES": "mbrola"}, "VOICES must be 'all'"),
        (
            {"TEACHER2": "packed", "TEACHER2_RECIPE": "train/recipes/teacher-tune-voice-age.json"},
            "no committed second-stage teacher for train/recipes/teacher-tune-voice-age.json",
        ),
        (
            {"CARRY_RECIPE": "train/recipes/default-student-v3-128mel.json", "STUDENT2_RECIPE": ""},
            "needs an existing recipe file and a second stage",
        ),
        ({"CARRY_RECIPE": "train/recipes/no-such.json"}, "needs an existing recipe file and a second stage"),
        (
            {"DEEPEN_RECIPE": "train/recipes/no-such.json"},
            "DEEPEN_RECIPE=train/recipes/no-such.json: needs an existing",
        ),
        (
            {"DEEPEN_RECIPE": "train/recipes/default-student-v3-d4.json", "SOUP_DEEPEN_RECIPE": ""},
            "with SOUP_WITH a SOUP_DEEPEN_RECIPE file to grow its student alike",
        ),
        (
            {"SOUP_DEEPEN_RECIPE": "train/recipes/student-distil-on-d4.json"},
            "SOUP_DEEPEN_RECIPE=train/recipes/student-distil-on-d4.json: only with DEEPEN_RECIPE",
        ),
        ({"SOUP_WITH": "train/checkpoints/no-such"}, "SOUP_WITH=train/checkpoints/no-such: needs a student graph"),
        (
            {"SOUP_PARTNER_RECIPE": "train/recipes/student-distil-on-w40.json"},
            "needs an existing recipe file, SOUP_WITH= (empty: the partner is distilled here instead)",
        ),
        (
            {"SOUP_PARTNER_RECIPE": "train/recipes/no-such.json", "SOUP_WITH": ""},
            "SOUP_PARTNER_RECIPE=train/recipes/no-such.json: needs an existing recipe file",
        ),
        (
            {"SOUP_WITH": "train/checkpoints/default-student-v3", "SOUP_TEACHER": ""},
            "its teacher in SOUP_TEACHER (a run folder; got '')",
        ),
    ],
)
def test_bad_switch_is_refused_before_any_work(tmp_path: Path, env: dict, message: str) -> None:
    result = _run(tmp_path, **env)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert not (tmp_path / "work").exists()


def test_packed_first_stage_student_is_committed() -> None:
    """STUDENT=packed rebuilds the first-stage student from this folder: the third build's float32 graph."""
    import json

    folder = ROOT / "train" / "checkpoints" / "default-student-v3"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["model"]["id"] == "student-vit-nano-319e82097282"
    assert (folder / "audio_fp32.onnx").stat().st_size > 1_000_000
    text = SCRIPT.read_text()
    assert "PACKED_STUDENT=train/checkpoints/default-student-v3" in text
