"""Every registered student exports to ONNX with the front end inside and matches PyTorch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from export_testlib import student, student_names

from slap_edge.export.onnx import (
    AUDIO_INPUT,
    audio_metadata,
    compare_audio,
    export_audio_onnx,
    model_id,
    read_metadata,
    run_audio,
)
from slap_edge.export.tensorrt import check_tensorrt_compat

pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture(scope="module", params=student_names())
def exported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path]:
    model = student(request.param)
    cfg = model.config
    meta = audio_metadata(
        model_name=cfg.name,
        model_id_=model_id(model, cfg.name),
        embed_dim=cfg.embed_dim,
        window_s=cfg.window_s,
        frontend=cfg.frontend,
    )
    path = tmp_path_factory.mktemp(request.param) / "audio.onnx"
    export_audio_onnx(model.audio_export_module(), path, window_samples=cfg.window_samples, metadata=meta)
    return model, path


def test_onnx_matches_pytorch(exported: tuple[object, Path]) -> None:
    model, path = exported
    check = compare_audio(model.audio_export_module(), path, window_samples=model.config.window_samples)
    print(f"{model.config.name}: {check.describe()}")
    assert check.min_cosine >= 0.999
    # Dynamic batch and samples: the check covered three lengths, so the samples axis stayed dynamic.
    assert len(check.shapes) == 3


def test_onnx_metadata_says_what_it_expects(exported: tuple[object, Path]) -> None:
    model, path = exported
    meta = read_metadata(path)
    assert meta["sample_rate"] == "16000"
    assert float(meta["window_s"]) == model.config.window_s
    assert int(meta["embed_dim"]) == model.config.embed_dim
    assert meta["model_id"].startswith(model.config.name + "-")
    assert json.loads(meta["frontend"])["n_mels"] == model.config.frontend.n_mels


def test_onnx_output_is_normalised_raw_waveform_in(exported: tuple[object, Path]) -> None:
    model, path = exported
    wave = np.random.default_rng(0).uniform(-1, 1, (2, model.config.window_samples)).astype(np.float32)
    emb = run_audio(path, wave)
    assert emb.shape == (2, model.config.embed_dim)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)


def test_tensorrt_check_passes_on_exported_student(exported: tuple[object, Path]) -> None:
    _, path = exported
    report = check_tensorrt_compat(path)
    assert report.ok, report.problems
    assert report.opset >= 17
    assert AUDIO_INPUT


def test_exported_front_end_is_the_convolution_not_an_stft_op(exported: tuple[object, Path]) -> None:
    import onnx

    _, path = exported
    ops = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert "Conv" in ops and not ops & {"STFT", "DFT"}, sorted(ops)
