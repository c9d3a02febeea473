"""Two processes under torchrun with the gloo backend on the CPU train together and write one checkpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from slap_edge.train.checkpoint import load_run, read_state

RECIPES = Path(__file__).resolve().parents[2] / "train" / "recipes"


def test_torchrun_two_processes_gloo(tone_corpus: Path, tmp_path: Path) -> None:
    recipe = json.loads((RECIPES / "teacher-tiny.json").read_text())
    recipe |= {"steps": 3, "batch_size": 4, "checkpoint_every": 3, "log_every": 1}
    (tmp_path / "recipe.json").write_text(json.dumps(recipe))
    run = tmp_path / "run"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
        "-m", "slap_edge.cli", "train", "--recipe", str(tmp_path / "recipe.json"), "--data", str(tone_corpus),
        "--out", str(run), "--cache-dir", str(tmp_path / "cache"), "--device", "cpu", "--no-progress",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "trained 0 -> 3 steps" in proc.stdout
    state = read_state(run)
    assert state["step"] == 3 and state["world_size"] == 2
    model, config = load_run(run)
    assert config.world_size == 2
    rows = (run / "metrics.csv").read_text().strip().splitlines()
    assert len(rows) == 4  # header + one row per step, written by rank 0 only
