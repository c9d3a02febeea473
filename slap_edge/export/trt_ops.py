"""The ONNX operators that TensorRT 10's ONNX parser (onnx-tensorrt) converts, as data for `trt check`.

Written from the operator support matrix of onnx-tensorrt (docs/operators.md, TensorRT 10.x: opsets 9 to 20), with
the restrictions that matter to audio.onnx noted beside them. Where a newer release added an operator we were not
sure of, it is left out: a false "unsupported" costs a look, a false "supported" costs a failed build on the
device. Operators the parser refuses and that our own tools produce are listed in `TENSORRT_UNSUPPORTED_HINTS`
with what to do instead.
"""

from __future__ import annotations

MIN_OPSET = 17  # the front end's LayerNormalization-era exporters and TensorRT 10 both need at least this
MAX_OPSET = 20

TENSORRT_ONNX_OPS: frozenset[str] = frozenset(
    {
        "Abs", "Acos", "Acosh", "Add", "And", "ArgMax", "ArgMin", "Asin", "Asinh", "Atan", "Atanh",
        "AveragePool",  # 2D/3D pooling only
        "BatchNormalization", "BlackmanWindow", "Cast", "Ceil", "Celu", "Clip", "Concat", "Constant",
        "ConstantOfShape",
        "Conv",  # 1D is lowered to 2D by the parser; weights must be initializers
        "ConvTranspose", "Cos", "Cosh", "CumSum", "DepthToSpace",
        "DequantizeLinear",  # zero point must be 0 (symmetric QDQ)
        "Div", "Dropout", "Einsum", "Elu", "Equal", "Erf", "Exp", "Expand", "EyeLike", "Flatten", "Floor", "Gather",
        "GatherElements", "GatherND", "Gelu", "Gemm", "GlobalAveragePool", "GlobalLpPool", "GlobalMaxPool",
        "Greater", "GreaterOrEqual", "GridSample", "GroupNormalization", "GRU", "HammingWindow", "HannWindow",
        "HardSigmoid", "HardSwish", "Identity", "If", "ImageScaler", "InstanceNormalization", "IsInf", "IsNaN",
        "LayerNormalization", "LeakyRelu", "Less", "LessOrEqual", "Log", "LogSoftmax", "Loop", "LpNormalization",
        "LpPool", "LRN", "LSTM", "MatMul", "Max", "MaxPool", "Mean", "Min", "Mod", "Mul", "Neg", "NonMaxSuppression",
        "NonZero", "Not", "OneHot", "Or", "Pad", "ParametricSoftplus",
        "Pow", "PRelu",
        "QuantizeLinear",  # zero point must be 0 (symmetric QDQ)
        "RandomUniform", "RandomUniformLike", "Range", "Reciprocal",
        "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin",
        "ReduceProd", "ReduceSum", "ReduceSumSquare", "Relu", "Reshape", "Resize", "ReverseSequence", "RNN",
        "RoiAlign", "Round", "ScaledTanh", "Scan", "Scatter", "ScatterElements", "ScatterND", "Selu", "Shape",
        "Sigmoid", "Sign", "Sin", "Sinh", "Size", "Slice", "Softmax", "Softplus", "Softsign",
        "SpaceToDepth", "Split", "Sqrt", "Squeeze", "Sub", "Sum", "Tan", "Tanh", "ThresholdedRelu", "Tile",
        "TopK", "Transpose", "Trilu", "Unsqueeze", "Upsample", "Where", "Xor",
    }
)  # fmt: skip

# Operators that show up in our graphs and that TensorRT refuses, with the way around them.
TENSORRT_UNSUPPORTED_HINTS: dict[str, str] = {
    "MatMulInteger": "ONNX Runtime dynamic int8; build TensorRT from the fp32 audio.onnx (fp16) or a QDQ graph (int8)",
    "DynamicQuantizeLinear": "ONNX Runtime dynamic int8; TensorRT needs static QDQ (QuantizeLinear/DequantizeLinear)",
    "ConvInteger": "ONNX Runtime dynamic int8 of a convolution; use static QDQ instead",
    "QLinearConv": "QOperator format; quantize with QDQ format for TensorRT",
    "QLinearMatMul": "QOperator format; quantize with QDQ format for TensorRT",
    "DFT": "write the STFT as a Conv with fixed bases (slap_edge.frontend does)",
    "SequenceConstruct": "sequence types are not supported by TensorRT",
    "SplitToSequence": "sequence types are not supported by TensorRT",
    "ConcatFromSequence": "sequence types are not supported by TensorRT",
}
