"""Fixtures of the bench tests: a bundle exported here from a randomly initialised student (fp32)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def student_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The export stage's own writer on `student-vit-tiny` (random weights: latency does not depend on them)."""
    torch = pytest.importorskip("torch", reason="exporting a test bundle needs torch (slap-edge[train])")
    from slap_edge.export.bundle_writer import export_bundle
    from slap_edge.models import create_model

    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("bench") / "student"
    export_bundle(create_model("student-vit-tiny"), out)
    return out
