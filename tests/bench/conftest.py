"""Fixtures of the bench tests."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def student_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built-in bundle without its text encoder: what a kiosk runs (int8, with no export to wait for; latency
    does not depend on which model it is), and a bundle whose prompt bank the bench must make up and say so."""
    from slap_edge.bundle_reader import TEXT_ONNX, TOKENIZER, default_bundle_path, load_bundle

    src = default_bundle_path()
    out = tmp_path_factory.mktemp("bench") / "student"
    shutil.copytree(src, out, ignore=shutil.ignore_patterns(TEXT_ONNX, TOKENIZER))
    manifest = json.loads((out / "manifest.json").read_text())
    for name in (TEXT_ONNX, TOKENIZER):
        del manifest["files"][name]
    del manifest["text"]
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    assert load_bundle(out).model_id == load_bundle(src).model_id
    return out
