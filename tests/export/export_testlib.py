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


# Registered students that differ from one run by default only in sizes (mel bands, depth, width): their exports go
# through the same code, so they run with `-m slow` to keep the default run under its ten minutes.
SIZE_VARIANTS = {
    "student-vit-nano-128mel": "student-vit-nano",
    "student-vit-nano-d4": "student-vit-nano",
    "student-vit-tiny": "student-vit-nano",
}


def student_names() -> list[object]:
    """Every registered student, as pytest params; the size variants above are marked slow."""
    import pytest

    from slap_edge.models import list_models

    names = [n for n in list_models() if n.startswith("student-")]
    assert set(SIZE_VARIANTS) <= set(names) and set(SIZE_VARIANTS.values()) <= set(names) - set(SIZE_VARIANTS)
    return [pytest.param(n, marks=pytest.mark.slow) if n in SIZE_VARIANTS else n for n in names]
