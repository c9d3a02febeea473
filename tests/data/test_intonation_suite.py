"""benchmarks/intonation_real_suite.py on synthetic speech (--sources synth): every clip heard flat and moving."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from slap_edge.data.synth import SynthConfig, run_synth

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "intonation_real_suite.py"
pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


def test_a_paired_suite_from_synthetic_speech_is_named_after_its_sources(tmp_path: Path) -> None:
    corpus = tmp_path / "c"
    assert not run_synth(SynthConfig(out=corpus, clips=20, seed=3, jobs=1, speakers=20, voices="espeak")).failed
    out = tmp_path / "suite"
    cmd = [sys.executable, str(SCRIPT), "--corpus", str(corpus / "manifest.jsonl"), "--out", str(out)]
    done = subprocess.run([*cmd, "--sources", "synth", "--per-speaker", "1"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads((out / "suite.json").read_text())["name"] == "intonation-paired-synth"
    lines = [json.loads(x) for x in (out / "clips.jsonl").read_text().splitlines()]
    assert lines and {x["task"] for x in lines} == {"monotone_vs_natural", "monotone_vs_expressive"}
    for task in ("monotone_vs_natural", "monotone_vs_expressive"):
        rows = [x for x in lines if x["task"] == task]
        # Paired: each source clip appears once in each class of the task.
        by_clip: dict[str, set[str]] = {}
        for x in rows:
            by_clip.setdefault(x["from"], set()).add(x["label"])
        assert all(len(labels) == 2 for labels in by_clip.values())
        assert all((out / x["path"]).is_file() for x in rows)
    # The default sources are the real recordings: a synthetic corpus has none of them, so the build is refused,
    # naming the sources asked for and those the manifest has, and no suite folder is left behind.
    default = subprocess.run([*cmd[:-1], str(tmp_path / "real")], capture_output=True, text=True)
    assert default.returncode != 0
    assert "no test-split clip of source asterisk, hedgewars" in default.stderr
    assert "sources in this manifest: synth" in default.stderr
    assert not (tmp_path / "real").exists() and not (tmp_path / "real.partial").exists()
