"""The TensorRT compatibility check (runs without TensorRT) and the plain message where tensorrt is missing."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from slap_edge.export.onnx import META_INPUT_BOUNDS
from slap_edge.export.tensorrt import (
    TensorRTUnavailableError,
    build_engine,
    check_tensorrt_compat,
    engine_cache_path,
)
from slap_edge.export.trt_ops import TENSORRT_ONNX_OPS


def _graph(path: Path, op: str = "Relu", opset: int = 18, dims: tuple = ("batch", 16000), bounds: bool = True) -> Path:
    """waveform -> MatMul(weight) -> ``op`` -> embedding; a stand-in audio graph with one chosen op."""
    x = helper.make_tensor_value_info("waveform", TensorProto.FLOAT, list(dims))
    y = helper.make_tensor_value_info("embedding", TensorProto.FLOAT, None)
    w = numpy_helper.from_array(np.ones((16000, 8), dtype=np.float32), "w")
    nodes = [
        helper.make_node("MatMul", ["waveform", "w"], ["h"], name="proj"),
        helper.make_node(op, ["h"], ["embedding"], name="odd_node"),
    ]
    graph = helper.make_graph(nodes, "g", [x], [y], initializer=[w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    if bounds:
        entry = model.metadata_props.add()
        entry.key = META_INPUT_BOUNDS
        entry.value = json.dumps({"waveform": {"min": [1, 16000], "opt": [1, 16000], "max": [8, 16000]}})
    onnx.save(model, str(path))
    return path


def test_supported_graph_passes(tmp_path: Path) -> None:
    report = check_tensorrt_compat(_graph(tmp_path / "ok.onnx"))
    assert report.ok, report.problems
    assert report.ops == {"MatMul": 1, "Relu": 1}


def test_unsupported_op_is_named(tmp_path: Path) -> None:
    assert "Hardmax" not in TENSORRT_ONNX_OPS
    report = check_tensorrt_compat(_graph(tmp_path / "bad.onnx", op="Hardmax"))
    assert not report.ok
    assert len(report.problems) == 1 and "Hardmax" in report.problems[0] and "odd_node" in report.problems[0]


def test_ort_dynamic_int8_ops_are_flagged_with_a_way_out(tmp_path: Path) -> None:
    x = helper.make_tensor_value_info("waveform", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("q", TensorProto.UINT8, [1, 4])
    node = helper.make_node("DynamicQuantizeLinear", ["waveform"], ["q", "s", "z"], name="dq")
    model = helper.make_model(helper.make_graph([node], "g", [x], [y]), opset_imports=[helper.make_opsetid("", 18)])
    onnx.save(model, str(tmp_path / "dq.onnx"))
    report = check_tensorrt_compat(tmp_path / "dq.onnx")
    assert any("DynamicQuantizeLinear" in p and "QDQ" in p for p in report.problems)


def test_old_opset_and_unbounded_inputs_are_problems(tmp_path: Path) -> None:
    old = check_tensorrt_compat(_graph(tmp_path / "old.onnx", opset=13))
    assert any("opset 13" in p for p in old.problems)
    unbounded = check_tensorrt_compat(_graph(tmp_path / "dyn.onnx", bounds=False))
    assert any("unbounded" in p and "batch" in p for p in unbounded.problems)
    fixed = check_tensorrt_compat(_graph(tmp_path / "fixed.onnx", dims=(1, 16000), bounds=False))
    assert fixed.ok, fixed.problems


def test_engine_cache_key_has_gpu_version_and_sha(tmp_path: Path) -> None:
    path = engine_cache_path(tmp_path / "bundle", "NVIDIA Jetson Orin Nano", "10.3.0", "ab" * 32, "fp16")
    assert path.parent == tmp_path / "bundle.engines"
    assert path.name == f"nvidia-jetson-orin-nano-trt10.3.0-{'ab' * 8}-fp16.engine"


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="tensorrt is installed here")
def test_missing_tensorrt_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(TensorRTUnavailableError, match="JetPack") as info:
        build_engine(tmp_path / "any-bundle")
    assert "NVIDIA's own Python package index" in str(info.value)
