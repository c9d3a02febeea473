"""Two processes under torchrun (gloo, CPU) train from shards: every training clip once per epoch across the ranks,
and the same losses as the folder loader fed the same clips in the same order."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from slap_edge.data.shards import write_shards

RECIPES = Path(__file__).resolve().parents[2] / "train" / "recipes"
HERE = Path(__file__).resolve().parent


def _losses(run: Path) -> dict[int, float]:
    with (run / "metrics.csv").open() as handle:
        return {int(r["step"]): float(r["loss"]) for r in csv.DictReader(handle)}


def _torchrun(args: list[str]) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.mark.slow
def test_torchrun_from_shards_sees_each_clip_once_and_matches_the_folder_loader(
    tone_corpus: Path, tmp_path: Path
) -> None:
    shards = tmp_path / "shards"
    write_shards(tone_corpus, shards, 1_000_000)
    recipe = json.loads((RECIPES / "teacher-tiny.json").read_text())
    # 160 training clips, global batch 2 x 16: 5 steps an epoch; 7 steps reach into the second epoch.
    recipe |= {"steps": 7, "batch_size": 16, "checkpoint_every": 7, "log_every": 1, "warmup_steps": 2}
    (tmp_path / "recipe.json").write_text(json.dumps(recipe))
    run = tmp_path / "shard-run"
    proc = _torchrun(
        ["-m", "slap_edge.cli", "train", "--recipe", str(tmp_path / "recipe.json"), "--data", str(shards),
         "--out", str(run), "--device", "cpu", "--no-progress", "--record-order"]
    )  # fmt: skip
    assert "trained 0 -> 7 steps" in proc.stdout and "0 of 160 clips unreadable" in proc.stdout
    rows = [json.loads(line) for r in (0, 1) for line in (run / f"order-rank{r}.jsonl").read_text().splitlines()]
    epoch0 = sorted(i for row in rows if row["epoch"] == 0 for i in row["index"])
    assert epoch0 == list(range(160))  # every training clip exactly once, over both ranks
    epoch1 = [i for row in rows if row["epoch"] == 1 for i in row["index"]]
    assert len(epoch1) == len(set(epoch1)) == 2 * 2 * 16

    folder = tmp_path / "folder-run"
    _torchrun(
        [str(HERE / "replay_folder_train.py"), str(tmp_path / "recipe.json"), str(tone_corpus), str(folder),
         str(tmp_path / "cache"), str(run), "7"]
    )  # fmt: skip
    from_shards, from_folder = _losses(run), _losses(folder)
    assert sorted(from_shards) == sorted(from_folder) == list(range(1, 8))
    for step in range(1, 8):
        assert from_folder[step] == pytest.approx(from_shards[step], rel=1e-4, abs=1e-5), (from_shards, from_folder)
