"""A tiny synthetic corpus and suite made with numpy: voiced tones whose pitch follows 'sex', and whispered noise.

Cheap enough to build in a test (a few hundred 1.2 s clips), yet the two attributes are audible, so a model that
learns anything beats chance on them.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from slap_edge.config import load_config
from slap_edge.data.manifest import ClipRecord, write_manifest
from slap_edge.train.config import TrainRecipe

SR = 16000
RECIPES = Path(__file__).resolve().parents[2] / "train" / "recipes"


def voice(rng: np.random.Generator, f0: float, whisper: bool, seconds: float = 1.2) -> np.ndarray:
    n = int(seconds * SR)
    t = np.arange(n) / SR
    if whisper:
        noise = rng.standard_normal(n)
        # Whisper: broadband noise shaped by a crude formant (a resonant filter), no periodicity.
        spectrum = np.fft.rfft(noise)
        freqs = np.fft.rfftfreq(n, 1 / SR)
        spectrum *= np.exp(-(((freqs - 1500.0) / 900.0) ** 2)) + 0.2
        wave = np.fft.irfft(spectrum, n)
    else:
        vibrato = 1.0 + 0.02 * np.sin(2 * np.pi * rng.uniform(3, 6) * t)
        phase = 2 * np.pi * np.cumsum(f0 * vibrato) / SR
        wave = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = np.clip(np.sin(np.pi * t / t[-1]) * 3, 0, 1)
    wave = wave * envelope
    return (0.3 * wave / (np.abs(wave).max() + 1e-9)).astype(np.float32)


def speakers(n: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        sex = "female" if i % 2 == 0 else "male"
        base = 220.0 if sex == "female" else 110.0
        out.append({"id": f"spk{seed}-{i}", "sex": sex, "f0": base * rng.uniform(0.9, 1.1)})
    return out


def make_corpus(root: Path, n_speakers: int = 8, clips_per_speaker: int = 24, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed + 100)
    (root / "audio").mkdir(parents=True, exist_ok=True)
    records = []
    for spk in speakers(n_speakers, seed):
        for j in range(clips_per_speaker):
            whisper = j % 2 == 1
            wave = voice(rng, spk["f0"] * rng.uniform(0.95, 1.05), whisper, seconds=rng.uniform(0.8, 1.6))
            path = f"audio/{spk['id']}-{j}.wav"
            sf.write(root / path, wave, SR, subtype="PCM_16")
            attrs = {"sex": spk["sex"], "quality": "whisper" if whisper else "modal", "age_group": "adult"}
            records.append(
                ClipRecord(
                    id=f"{spk['id']}-{j}",
                    path=path,
                    duration=len(wave) / SR,
                    sample_rate=SR,
                    speaker=spk["id"],
                    source="synth",
                    split="train" if j < clips_per_speaker - 4 else "val",
                    attributes=attrs,
                )
            )
    write_manifest(records, root / "manifest.jsonl")
    return root


def make_suite(root: Path, n_speakers: int = 6, clips_per_speaker: int = 6, seed: int = 7) -> Path:
    """A 2-task suite (gender, whisper) of held-out synthetic speakers, in the spec/eval-suite.md format."""
    rng = np.random.default_rng(seed + 100)
    (root / "audio").mkdir(parents=True, exist_ok=True)
    suite = {
        "name": "tones",
        "version": 1,
        "tasks": [
            {
                "name": "gender",
                "category": "demographics",
                "classes": {
                    "female": ["a woman is speaking", "the voice of a female speaker"],
                    "male": ["a man is speaking", "the voice of a male speaker"],
                },
            },
            {
                "name": "whisper",
                "category": "voice",
                "classes": {
                    "whisper": ["someone is whispering", "a whispered voice"],
                    "modal": ["a clear, normal voice", "someone speaking in a normal voice"],
                },
            },
        ],
    }
    lines = []
    for spk in speakers(n_speakers, seed):
        for j in range(clips_per_speaker):
            whisper = j % 2 == 1
            path = f"audio/{spk['id']}-{j}.wav"
            sf.write(root / path, voice(rng, spk["f0"], whisper), SR, subtype="PCM_16")
            label = "whisper" if whisper else "modal"
            lines.append({"path": path, "task": "whisper", "label": label, "speaker": spk["id"]})
            if not whisper:
                lines.append({"path": path, "task": "gender", "label": spk["sex"], "speaker": spk["id"]})
    (root / "suite.json").write_text(json.dumps(suite, indent=2))
    (root / "clips.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    return root


@pytest.fixture(scope="session")
def tone_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_corpus(tmp_path_factory.mktemp("tone-corpus"))


@pytest.fixture(scope="session")
def tone_suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_suite(tmp_path_factory.mktemp("tone-suite"))


def cut_recipe(name: str, **changes: Any) -> TrainRecipe:
    """The committed recipe ``train/recipes/NAME.json`` cut to a test's size: 2 steps of batch 8, one warm-up step and
    a checkpoint at the last step, unless ``changes`` say otherwise (any other recipe field may be changed too)."""
    settings: dict[str, Any] = {"steps": 2, "batch_size": 8, "warmup_steps": 1, **changes}
    settings.setdefault("checkpoint_every", settings["steps"])
    return dataclasses.replace(load_config(TrainRecipe, RECIPES / f"{name}.json"), **settings)


@pytest.fixture(scope="session")
def short_recipe() -> Callable[..., TrainRecipe]:
    """`cut_recipe`, for tests: ``short_recipe("teacher-tiny", task_options={...})``."""
    return cut_recipe


@pytest.fixture(scope="session")
def rebuilt_first_stage_student(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The chain's first-stage student rebuilt once per session from its committed float32 graph
    (train/checkpoints/default-student-v3, with its teacher default-teacher-merged), as `from_bundle` makes it.
    Tests read it; they write their own runs elsewhere."""
    from slap_edge.train.from_bundle import rebuild_student

    checkpoints = RECIPES.parent / "checkpoints"
    out = tmp_path_factory.mktemp("rebuilt") / "student"
    record = rebuild_student(
        checkpoints / "default-student-v3",
        checkpoints / "default-teacher-merged",
        RECIPES / "default-student-v3.json",
        out,
    )
    assert record["max_abs_diff"] <= 1e-5
    return out
