"""Shared fixtures of the export tests: the registered students (built once) and a tiny corpus and suite on disk."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from export_testlib import SR, tone

from slap_edge.data.manifest import ClipRecord, write_manifest


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eight 1.5-3.5 s clips of four speakers (train/val/test splits), enough for calibration."""
    root = tmp_path_factory.mktemp("corpus")
    (root / "audio").mkdir()
    rng = np.random.default_rng(0)
    records = []
    for i in range(8):
        sex = "female" if i % 2 else "male"
        wave = tone(rng, 210.0 if sex == "female" else 110.0, rng.uniform(1.5, 3.5))
        path = f"audio/c{i}.wav"
        sf.write(root / path, wave, SR, subtype="PCM_16")
        records.append(
            ClipRecord(
                id=f"c{i}",
                path=path,
                duration=len(wave) / SR,
                sample_rate=SR,
                speaker=f"s{i % 4}",
                source="synth",
                split=("train", "train", "val", "test")[i % 4],
                attributes={"sex": sex},
            )
        )
    write_manifest(records, root / "manifest.jsonl")
    return root


@pytest.fixture(scope="session")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-task suite (spec/eval-suite.md) of six clips at 22.05 kHz, to exercise resampling too."""
    root = tmp_path_factory.mktemp("suite")
    (root / "audio").mkdir()
    rng = np.random.default_rng(1)
    task = {
        "name": "gender",
        "category": "demographics",
        "classes": {"female": ["a woman is speaking"], "male": ["a man is speaking"]},
    }
    (root / "suite.json").write_text(json.dumps({"name": "tiny", "version": 1, "tasks": [task]}), encoding="utf-8")
    lines = []
    for i in range(6):
        label = "female" if i % 2 else "male"
        wave = tone(rng, 220.0 if label == "female" else 100.0, 2.0)
        sf.write(root / f"audio/{i}.wav", wave, 22050)
        lines.append(json.dumps({"path": f"audio/{i}.wav", "task": "gender", "label": label, "speaker": f"v{i % 3}"}))
    (root / "clips.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root
