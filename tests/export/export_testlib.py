"""Helpers of the export tests (imported by name, like runtime_testlib)."""

from __future__ import annotations

import numpy as np

SR = 16000


def tone(rng: np.random.Generator, f0: float, seconds: float) -> np.ndarray:
    """A voiced-like harmonic tone with vibrato and a little noise, in [-0.5, 0.5]."""
    t = np.arange(int(seconds * SR)) / SR
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.03 * np.sin(2 * np.pi * 4 * t))) / SR
    wave = sum(np.sin(k * phase) / k for k in range(1, 9)) + 0.05 * rng.standard_normal(t.shape[0])
    return (0.4 * wave / np.abs(wave).max()).astype(np.float32)


_MODELS: dict[str, object] = {}


def student(name: str) -> object:
    """A registered student, built once per session (building loads MiniLM, which takes seconds)."""
    if name not in _MODELS:
        import torch

        from slap_edge.models import create_model

        torch.manual_seed(0)
        _MODELS[name] = create_model(name).eval()
    return _MODELS[name]


def student_names() -> list[str]:
    from slap_edge.models import list_models

    return [n for n in list_models() if n.startswith("student-")]
