"""The int8 kernel paths: which one a CPU takes, and the emulator of the exact and the saturating (vpmaddubsw) ones."""

from __future__ import annotations

import platform
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from slap_edge.export.int8_kernels import (
    MAX_SAFE_WEIGHT,
    emulate_integer_kernels,
    int8_kernel_path,
)
from slap_edge.export.onnx import ExportError, create_session

pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.mark.parametrize(
    ("arch", "features", "kernel", "saturates"),
    [
        ("x86_64", ("avx2",), "AVX2 vpmaddubsw", True),  # AMD EPYC Rome/Milan, Atom/Celeron, older Core
        ("x86_64", ("avx2", "avx512bw"), "AVX512BW vpmaddubsw", True),  # Skylake-SP
        ("x86_64", ("avx2", "avx512bw", "avx512_vnni"), "AVX512-VNNI vpdpbusd", False),  # Cascade Lake, Zen 4
        ("x86_64", ("avx2", "avx_vnni"), "AVX-VNNI vpdpbusd", False),  # Alder Lake
        ("x86_64", ("avx2", "avx512bw", "avx512_vnni", "avx_vnni", "amx_int8"), "AMX-INT8", False),
        ("x86_64", (), "SSE4.1", False),
        ("aarch64", ("asimd",), "NEON umull", False),
        ("aarch64", ("asimd", "asimddp"), "NEON dot product", False),
        ("aarch64", ("asimd", "asimddp", "i8mm"), "NEON i8mm", False),
    ],
)
def test_kernel_path_follows_mlas_dispatch(arch: str, features: tuple[str, ...], kernel: str, saturates: bool) -> None:
    path = int8_kernel_path(arch, features)
    assert path.kernel.startswith(kernel) and path.saturates is saturates
    assert ("saturating" in path.describe()) is saturates and "CPU features seen" in path.describe()


def test_this_machine_is_named() -> None:
    path = int8_kernel_path()
    machine = platform.machine().lower()
    assert path.arch in machine or machine in ("amd64", "arm64")
    print(path.describe())
    assert path.to_dict()["kernel"] == path.kernel


def _matmul_integer_model(weights: np.ndarray) -> onnx.ModelProto:
    """x float [R, K] -> DynamicQuantizeLinear -> MatMulInteger with constant int8 weights -> int32 [R, N]."""
    k, n = weights.shape
    nodes = [
        helper.make_node("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xz"], name="dql"),
        helper.make_node("MatMulInteger", ["xq", "w", "xz", "wz"], ["y"], name="mmi"),
    ]
    graph = helper.make_graph(
        nodes,
        "mmi",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["r", k])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, ["r", n])],
        [numpy_helper.from_array(weights.astype(np.int8), "w"), numpy_helper.from_array(np.int8(0), "wz")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _pairwise_reference(a: np.ndarray, w: np.ndarray, saturate: bool) -> np.ndarray:
    """sum over pairs (2i, 2i+1) of a*w, each pair clipped to int16 when saturating: vpmaddubsw + vpmaddwd."""
    a, w = a.astype(np.int64), w.astype(np.int64)
    if a.shape[1] % 2:
        a, w = np.pad(a, ((0, 0), (0, 1))), np.pad(w, ((0, 1), (0, 0)))
    pairs = a[:, 0::2, None] * w[None, 0::2] + a[:, 1::2, None] * w[None, 1::2]
    if saturate:
        pairs = np.clip(pairs, -32768, 32767)
    return pairs.sum(axis=1)


@pytest.mark.parametrize("k", [64, 33])
def test_matmul_integer_emulation_matches_a_pairwise_reference(tmp_path: Path, k: int) -> None:
    rng = np.random.default_rng(0)
    w = rng.integers(-128, 128, size=(k, 5)).astype(np.int8)
    w[:, 0], w[0, 1] = 127, -128  # with all-255 activations every pair of column 0 overflows int16 (64770)
    # Multiples of 1/255 from 0 to 1: zero point 0 and scale 1/255, so the uint8 activations are exactly 255 x.
    a = rng.integers(0, 256, size=(4, k))
    a[0], a[1] = 255, 0
    x = (a / 255.0).astype(np.float32)
    onnx.save(_matmul_integer_model(w), str(tmp_path / "m.onnx"))
    for saturate in (False, True):
        report = emulate_integer_kernels(tmp_path / "m.onnx", tmp_path / "e.onnx", saturate=saturate)
        assert report.matmul_integer == 1 and report.max_weight_abs == 128
        got = create_session(tmp_path / "e.onnx").run(None, {"x": x})[0]
        np.testing.assert_array_equal(got, _pairwise_reference(a, w, saturate))
    saturated_corner = 32767 * (k // 2) + (255 * 127 if k % 2 else 0)
    assert _pairwise_reference(a, w, True)[0, 0] == saturated_corner
    # ONNX Runtime itself, on this machine's kernel: exact on VNNI/AMX/ARM; on AVX2 without VNNI the all-255 row
    # against the all-127 column saturates whatever the pairing.
    native = create_session(tmp_path / "m.onnx").run(None, {"x": x})[0]
    if int8_kernel_path().saturates:
        assert native[0, 0] == saturated_corner
    else:
        np.testing.assert_array_equal(native, _pairwise_reference(a, w, False))


def test_seven_bit_weights_never_saturate(tmp_path: Path) -> None:
    """The extreme case of reduce_range: uint8 255 against |w| = 64 everywhere stays inside int16."""
    w = np.full((32, 3), MAX_SAFE_WEIGHT, np.int8)
    w[:, 1] = -MAX_SAFE_WEIGHT
    onnx.save(_matmul_integer_model(w), str(tmp_path / "m.onnx"))
    x = np.ones((2, 32), np.float32)
    x[1, 0] = 0.0
    out = {}
    for saturate in (False, True):
        emulate_integer_kernels(tmp_path / "m.onnx", tmp_path / f"e{saturate}.onnx", saturate=saturate)
        out[saturate] = create_session(tmp_path / f"e{saturate}.onnx").run(None, {"x": x})[0]
    np.testing.assert_array_equal(out[False], out[True])
    assert out[True][0, 0] == 255 * 64 * 32


def _qdq_conv_model(weights: np.ndarray, x_scale: float, pads: list[int]) -> onnx.ModelProto:
    """x -> QuantizeLinear int8 (zero point 0) -> DequantizeLinear -> Conv(DequantizeLinear(int8 w), bias) -> y."""
    oc = weights.shape[0]
    inits = [
        numpy_helper.from_array(np.float32(x_scale), "xs"),
        numpy_helper.from_array(np.int8(0), "xz"),
        numpy_helper.from_array(weights.astype(np.int8), "w"),
        numpy_helper.from_array(np.full(oc, 0.01, np.float32), "ws"),
        numpy_helper.from_array(np.zeros(oc, np.int8), "wz"),
        numpy_helper.from_array(np.linspace(-1, 1, oc).astype(np.float32), "b"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"], name="q"),
        helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"], name="dq"),
        helper.make_node("DequantizeLinear", ["w", "ws", "wz"], ["wd"], name="wdq", axis=0),
        helper.make_node("Conv", ["xd", "wd", "b"], ["y"], name="conv", pads=pads, strides=[2, 1]),
    ]
    graph = helper.make_graph(
        nodes,
        "qdqconv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, weights.shape[1], 9, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_qdq_conv_emulation_reproduces_onnx_runtime_when_exact(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    w = rng.integers(-64, 65, size=(4, 3, 3, 2)).astype(np.int8)
    onnx.save(_qdq_conv_model(w, 0.02, [1, 0, 1, 1]), str(tmp_path / "c.onnx"))
    x = rng.uniform(-2.0, 2.0, size=(2, 3, 9, 8)).astype(np.float32)
    native = create_session(tmp_path / "c.onnx").run(None, {"x": x})[0]
    for saturate in (False, True):
        report = emulate_integer_kernels(tmp_path / "c.onnx", tmp_path / "e.onnx", saturate=saturate)
        assert report.qdq_conv == 1 and report.max_weight_abs <= MAX_SAFE_WEIGHT
        got = create_session(tmp_path / "e.onnx").run(None, {"x": x})[0]
        assert got.shape == native.shape
        np.testing.assert_allclose(got, native, rtol=1e-5, atol=1e-5)


def test_qdq_conv_emulation_saturates_full_range_weights(tmp_path: Path) -> None:
    w = np.full((2, 1, 2, 2), 127, np.int8)
    w[1] = -127
    onnx.save(_qdq_conv_model(w, 1.0 / 127, [0, 0, 0, 0]), str(tmp_path / "c.onnx"))
    x = np.ones((1, 1, 9, 8), np.float32)  # int8 127, run by ORT on x86 as uint8 255 with zero point 128
    got = {}
    for saturate in (False, True):
        emulate_integer_kernels(tmp_path / "c.onnx", tmp_path / f"e{saturate}.onnx", saturate=saturate)
        got[saturate] = create_session(tmp_path / f"e{saturate}.onnx").run(None, {"x": x})[0]
    # exact: 4 * 127 * 127 * scales; saturating: two pairs of min(2 * 255 * 127, 32767) minus the zero point term
    exact = 4 * 127 * 127 * 0.01 / 127
    saturated = (2 * 32767 - 128 * 4 * 127) * 0.01 / 127
    np.testing.assert_allclose(got[False][0, 0], exact - 1.0, rtol=1e-5)
    np.testing.assert_allclose(got[True][0, 0], saturated - 1.0, rtol=1e-5)
    np.testing.assert_allclose(got[True][0, 1], -(2 * 32768 - 128 * 4 * 127) * 0.01 / 127 + 1.0, rtol=1e-5)


def test_emulator_refuses_what_it_cannot_model(tmp_path: Path) -> None:
    model = _matmul_integer_model(np.ones((4, 2), np.int8))
    model.graph.initializer[1].CopyFrom(numpy_helper.from_array(np.int8(3), "wz"))
    onnx.save(model, str(tmp_path / "m.onnx"))
    with pytest.raises(ExportError, match="weight zero point 'wz' is not 0"):
        emulate_integer_kernels(tmp_path / "m.onnx", tmp_path / "e.onnx", saturate=True)
