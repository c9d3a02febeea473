"""The ONNX Runtime int8 recipe on a ViT student (dynamic MatMul) and the torchao path."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from export_testlib import student

from slap_edge.export.int8_kernels import MAX_SAFE_WEIGHT, check_int8_paths, emulate_integer_kernels
from slap_edge.export.onnx import (
    ExportError,
    audio_metadata,
    compare_audio,
    cosines,
    export_audio_onnx,
    run_audio,
    speech_like_waveforms,
)
from slap_edge.export.quantize import (
    GENERATED_BASES_PREFIX,
    frontend_node_names,
    quantize_audio_onnx,
    quantize_torchao,
)

pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture(scope="module")
def vit_fp32(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = student("student-vit-tiny")
    cfg = model.config
    meta = audio_metadata(
        model_name=cfg.name, model_id_="x", embed_dim=cfg.embed_dim, window_s=cfg.window_s, frontend=cfg.frontend
    )
    path = tmp_path_factory.mktemp("vit") / "audio.onnx"
    return export_audio_onnx(model.audio_export_module(), path, window_samples=cfg.window_samples, metadata=meta)


def test_vit_int8_dynamic_matmul_static_conv(vit_fp32: Path, tmp_path: Path) -> None:
    windows = list(speech_like_waveforms(4, 48000, seed=5).numpy())
    out = tmp_path / "int8.onnx"
    report = quantize_audio_onnx(vit_fp32, out, calibration=windows)
    print(report.describe())
    model = onnx.load(str(out))
    ops = [n.op_type for n in model.graph.node]
    assert "MatMulInteger" in ops and "ConvInteger" not in ops
    assert ops.count("LayerNormalization") > 0 and ops.count("Softmax") > 0  # kept in float
    # The front end is unchanged apart from the Casts that widen its float16-stored constants and the subgraph that
    # generates its STFT bases.
    frontend = [n for n in model.graph.node if n.name in frontend_node_names(model)]
    generated = [n for n in frontend if n.name.startswith(GENERATED_BASES_PREFIX)]
    rest = [n for n in frontend if n.op_type != "Cast" and n not in generated]
    assert generated and len(rest) == report.frontend_nodes
    _assert_generated_bases_equal_the_formula(out)
    check = compare_audio(vit_fp32, out, window_samples=48000)
    print(check.describe())
    assert check.min_cosine > 0.95
    assert report.size_int8 < report.size_fp32 * 0.6
    _assert_same_on_every_kernel_path(vit_fp32, out)


def _assert_generated_bases_equal_the_formula(path: Path) -> None:
    """ONNX Runtime's value of the generated STFT bases equals the bases computed in float64, to float32 rounding."""
    import onnxruntime as ort

    from slap_edge.config import FrontendConfig, from_dict
    from slap_edge.export.onnx import META_FRONTEND, read_metadata
    from slap_edge.frontend import analysis_window, stft_bases

    model = onnx.load(str(path))
    conv = next(n for n in model.graph.node if n.op_type == "Conv" and n.name in frontend_node_names(model))
    assert conv.input[1] not in {i.name for i in model.graph.initializer}  # computed, not stored
    model.graph.output.append(onnx.helper.make_tensor_value_info(conv.input[1], onnx.TensorProto.FLOAT, None))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    wave = np.zeros((1, 48000), dtype=np.float32)
    bases = session.run([conv.input[1]], {session.get_inputs()[0].name: wave})[0]
    fe = from_dict(FrontendConfig, json.loads(read_metadata(path)[META_FRONTEND]), "front end")  # the graph's own
    expected = stft_bases(analysis_window(fe))[:, None, :]
    assert bases.shape == expected.shape and np.abs(bases - expected).max() < 1e-6


def _int8_weights_max_abs(path: Path) -> int:
    model = onnx.load(str(path))
    ints = [onnx.numpy_helper.to_array(i) for i in model.graph.initializer if i.data_type == onnx.TensorProto.INT8]
    return max(int(np.abs(a.astype(np.int32)).max(initial=0)) for a in ints)


def _assert_same_on_every_kernel_path(fp32: Path, int8: Path) -> None:
    """7-bit weights: AVX2/AVX-512 without VNNI (saturating pair sums, emulated) give what VNNI/AMX/ARM give.

    With full-range int8 weights this ViT drops to cosine 0.93 (dynamic) / 0.94 (TensorRT QDQ) on that path.
    """
    assert _int8_weights_max_abs(int8) <= MAX_SAFE_WEIGHT
    paths = check_int8_paths(fp32, int8, window_samples=48000)
    print(paths.describe())
    assert paths.saturating.min_cosine > 0.95 and paths.min_cosine > 0.95
    assert abs(paths.saturating.min_cosine - paths.exact.min_cosine) < 1e-6
    assert paths.max_weight_abs <= MAX_SAFE_WEIGHT


def test_exact_emulation_reproduces_onnx_runtime(vit_fp32: Path, tmp_path: Path) -> None:
    """Where no pair can saturate, the emulated graph computes ONNX Runtime's integers: the same embeddings."""
    windows = list(speech_like_waveforms(2, 48000, seed=5).numpy())
    quantize_audio_onnx(vit_fp32, tmp_path / "int8.onnx", calibration=windows)
    waves = speech_like_waveforms(3, 48000, seed=11).numpy()
    native = run_audio(tmp_path / "int8.onnx", waves)
    for saturate in (False, True):
        report = emulate_integer_kernels(tmp_path / "int8.onnx", tmp_path / "e.onnx", saturate=saturate)
        assert report.matmul_integer > 0 and report.qdq_conv > 0
        np.testing.assert_allclose(run_audio(tmp_path / "e.onnx", waves), native, atol=1e-5)


def test_quantize_refuses_missing_calibration_and_quantized_input(vit_fp32: Path, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="calibration"):
        quantize_audio_onnx(vit_fp32, tmp_path / "x.onnx", calibration=None)
    with pytest.raises(ExportError, match="calibration window 1: expected a finite"):
        quantize_audio_onnx(vit_fp32, tmp_path / "x.onnx", calibration=[np.zeros(100), np.full(100, np.nan)])
    windows = list(speech_like_waveforms(2, 48000, seed=5).numpy())
    quantize_audio_onnx(vit_fp32, tmp_path / "q.onnx", calibration=windows)
    with pytest.raises(ExportError, match="already quantized"):
        quantize_audio_onnx(tmp_path / "q.onnx", tmp_path / "qq.onnx", calibration=windows)


def test_torchao_int8_stays_close() -> None:
    module = student("student-vit-tiny").audio_export_module()
    wave = speech_like_waveforms(2, 48000, seed=9)
    with torch.no_grad():
        want = module(wave).numpy()
        got = quantize_torchao(copy.deepcopy(module))(wave).float().numpy()
    assert np.all(cosines(want, got) > 0.98)


def test_tensorrt_qdq_graph_is_pure_qdq_and_passes_the_check(vit_fp32: Path, tmp_path: Path) -> None:
    from slap_edge.export.tensorrt import check_tensorrt_compat

    windows = list(speech_like_waveforms(2, 48000, seed=6).numpy())
    out = tmp_path / "qdq.onnx"
    quantize_audio_onnx(vit_fp32, out, calibration=windows, for_tensorrt=True)
    report = check_tensorrt_compat(out)
    assert report.ok, report.problems
    assert report.ops.get("QuantizeLinear", 0) > 0 and "MatMulInteger" not in report.ops
    # TensorRT requires zero points of 0: every QuantizeLinear zero point must be 0 (symmetric).
    model = onnx.load(str(out))
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    zero_points = [n.input[2] for n in model.graph.node if n.op_type == "QuantizeLinear" and len(n.input) > 2]
    assert zero_points and all(np.all(inits[z] == 0) for z in zero_points if z in inits)
    assert compare_audio(vit_fp32, out, window_samples=48000).min_cosine > 0.95
    _assert_same_on_every_kernel_path(vit_fp32, out)


def test_export_profiles_in_the_repository_load() -> None:
    from slap_edge.config import load_config
    from slap_edge.export.bundle_writer import ExportProfile

    profiles = sorted(Path(__file__).resolve().parents[2].joinpath("export", "profiles").glob("*.json"))
    assert profiles
    for path in profiles:
        load_config(ExportProfile, path)


def test_quantize_command_prints_both_kernel_paths(vit_fp32: Path, corpus: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from slap_edge.cli import app

    out = tmp_path / "q.onnx"
    args = ["quantize", "--onnx", str(vit_fp32), "--out", str(out), "--calibration", str(corpus), "--clips", "2"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "measured on x86_64" in result.output or "measured on aarch64" in result.output
    assert "emulated AVX2/AVX-512 without VNNI (vpmaddubsw): cosine min" in result.output
    assert "max |int8 weight| 64 (cannot saturate" in result.output
