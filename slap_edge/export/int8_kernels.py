"""Which integer kernel ONNX Runtime runs an int8 audio.onnx on, and an emulator of each kind of kernel.

ONNX Runtime's CPU kernels (MLAS) multiply uint8 activations by int8 weights. How they add the products depends on
the CPU, chosen at start-up from cpuid:

- x86 with AVX2 or AVX-512 (BW) but no VNNI: ``vpmaddubsw`` multiplies and adds each *pair* of neighbouring products
  (along the reduction axis) into a *saturating 16-bit* integer, then widens to 32 bits. A pair above 32767 or
  below -32768 is clipped, so the result is not the exact integer product.
- x86 with AVX-VNNI, AVX512-VNNI (``vpdpbusd``) or AMX (``tdpbusd``), x86 without AVX2 (SSE4.1, 16-bit widening),
  ARM64 (NEON widening, ``udot``/``sdot``, i8mm): every product is added in 32 bits, exactly.

`int8_kernel_path` names the path this machine takes from the CPU features it sees. `emulate_integer_kernels`
rewrites a quantized graph so that plain ONNX Runtime computes what either kind of kernel computes, on any CPU: each
MatMulInteger, and each static QDQ MatMul/Conv (whose int8 activations ONNX Runtime shifts to uint8 on x86), becomes
int32 Einsum of the same integers, pair by pair, with the pair sums clipped to 16 bits (``saturate=True``, the
AVX2/AVX-512 path) or not (``saturate=False``, the exact path). So export can report int8-vs-fp32 for both paths on
whichever machine it runs.
"""

from __future__ import annotations

import dataclasses
import platform
from pathlib import Path
from typing import Any

import numpy as np

from slap_edge.export.onnx import ExportError, OnnxCheck

INT16_MIN, INT16_MAX = -32768, 32767
# Largest |int8 weight| whose products with any uint8 activation cannot saturate a pair: 255 * 64 * 2 = 32640.
MAX_SAFE_WEIGHT = 64

# The feature names reported (lower case, as /proc/cpuinfo spells them).
X86_FEATURES = ("avx2", "avx512bw", "avx512_vnni", "avx_vnni", "amx_int8")
ARM_FEATURES = ("asimd", "asimddp", "i8mm")


@dataclasses.dataclass(frozen=True)
class KernelPath:
    """The uint8 x int8 kernel family ONNX Runtime picks on a CPU, and whether it saturates."""

    arch: str
    features: tuple[str, ...]  # the int8-relevant CPU features seen
    kernel: str  # e.g. "AVX512-VNNI vpdpbusd"
    saturates: bool  # True on the vpmaddubsw paths (16-bit pair sums)

    def describe(self) -> str:
        how = "16-bit saturating pair sums" if self.saturates else "exact 32-bit sums"
        seen = ", ".join(self.features) or "none of " + "/".join(
            X86_FEATURES if self.arch == "x86_64" else ARM_FEATURES
        )
        return f"{self.arch} {self.kernel} ({how}; CPU features seen: {seen})"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"features": list(self.features)}


def _numpy_cpu_features() -> dict[str, bool]:
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as found  # numpy >= 2
    except ImportError:  # numpy 1.x
        from numpy.core._multiarray_umath import __cpu_features__ as found  # type: ignore[no-redef]
    return dict(found)


def _proc_cpuinfo_flags(path: Path = Path("/proc/cpuinfo")) -> set[str]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            return set(value.split())
    return set()


def cpu_int8_features() -> tuple[str, tuple[str, ...]]:
    """(architecture, int8-relevant features) of this CPU, as ONNX Runtime's cpuid checks would see them.

    numpy's runtime dispatch reads cpuid itself, so it is the primary source (it also sees what an emulator such as
    qemu presents). /proc/cpuinfo adds what numpy does not test (AVX-VNNI, AMX-INT8, i8mm), but only when it agrees
    with numpy on AVX2 and AVX512-VNNI: under an emulated CPU it describes the host, not the CPU the process sees.
    """
    arch = platform.machine().lower()
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(arch, arch)
    found = _numpy_cpu_features()
    flags = _proc_cpuinfo_flags()
    seen: list[str] = []
    if arch in ("x86_64", "i386", "i686", "x86"):
        arch = "x86_64" if arch == "x86_64" else "x86"
        mapping = {"avx2": "AVX2", "avx512bw": "AVX512BW", "avx512_vnni": "AVX512VNNI"}
        seen = [name for name, key in mapping.items() if found.get(key)]
        trusted = (
            bool(flags)
            and ("avx2" in flags) == ("avx2" in seen)
            and (("avx512_vnni" in flags) == ("avx512_vnni" in seen))
        )
        if trusted:
            seen += [name for name in ("avx_vnni", "amx_int8") if name in flags]
    elif arch == "aarch64":
        if found.get("ASIMD") or "asimd" in flags:
            seen.append("asimd")
        if found.get("ASIMDDP") or "asimddp" in flags:
            seen.append("asimddp")
        if "i8mm" in flags:
            seen.append("i8mm")
    return arch, tuple(seen)


def int8_kernel_path(arch: str | None = None, features: tuple[str, ...] | None = None) -> KernelPath:
    """The uint8 x int8 GEMM kernel ONNX Runtime (MLAS) selects for ``arch``/``features`` (default: this CPU).

    Follows MLAS's start-up order: AVX2, then AVX-VNNI, then AVX-512 core (which replaces AVX-VNNI), then
    AVX512-VNNI, then AMX for GEMMs. ARM64 never saturates (NEON kernels widen to 16 bits before multiplying; the dot
    product and i8mm kernels add in 32 bits).
    """
    if arch is None or features is None:
        seen_arch, seen = cpu_int8_features()
        arch = seen_arch if arch is None else arch
        features = seen if features is None else features
    f = set(features)
    if arch in ("x86_64", "x86"):
        if "avx2" not in f:
            return KernelPath(arch, tuple(features), "SSE4.1 pmaddwd (16-bit widened operands)", False)
        kernel, saturates = "AVX2 vpmaddubsw", True
        if "avx_vnni" in f:
            kernel, saturates = "AVX-VNNI vpdpbusd", False
        if "avx512bw" in f:
            kernel, saturates = "AVX512BW vpmaddubsw", True
            if "avx512_vnni" in f:
                kernel, saturates = "AVX512-VNNI vpdpbusd", False
        if "amx_int8" in f:
            kernel, saturates = f"AMX-INT8 tdpbusd (GEMM; convolutions {kernel})", saturates
        return KernelPath(arch, tuple(features), kernel, saturates)
    if arch == "aarch64":
        if "i8mm" in f:
            kernel = "NEON i8mm ummla/smmla"
        elif "asimddp" in f:
            kernel = "NEON dot product udot/sdot"
        else:
            kernel = "NEON umull/smull (16-bit widened operands)"
        return KernelPath(arch, tuple(features), kernel, False)
    return KernelPath(arch, tuple(features), "portable C++ (32-bit sums)", False)


@dataclasses.dataclass(frozen=True)
class EmulationReport:
    """What `emulate_integer_kernels` rewrote."""

    matmul_integer: int
    qdq_matmul: int
    qdq_conv: int
    saturate: bool
    max_weight_abs: int  # the largest |int8 weight| of any rewritten node

    @property
    def nodes(self) -> int:
        return self.matmul_integer + self.qdq_matmul + self.qdq_conv


class _Rewriter:
    """Builds the int32 Einsum replacement of one integer product at a time inside a graph."""

    def __init__(self, model: Any, saturate: bool) -> None:
        self.graph = model.graph
        self.saturate = saturate
        self.initializers = {i.name: i for i in self.graph.initializer}
        self.nodes: list[Any] = []
        self.count = 0
        self.max_weight_abs = 0

    def const(self, name: str, array: Any) -> str:
        from onnx import numpy_helper

        full = f"emul{self.count}_c_{name}"
        self.graph.initializer.append(numpy_helper.from_array(np.asarray(array), full))
        return full

    def node(self, op: str, inputs: list[str], name: str, out: str | None = None, **attrs: Any) -> str:
        import onnx

        out = out or f"emul{self.count}_{name}"
        self.nodes.append(onnx.helper.make_node(op, inputs, [out], name=f"emul{self.count}_{name}_node", **attrs))
        return out

    def array(self, name: str, where: str, dtype: Any = None) -> np.ndarray:
        from onnx import numpy_helper

        init = self.initializers.get(name)
        if init is None:
            raise ExportError(f"{where}: {name!r} is not a constant initializer, so its kernel cannot be emulated")
        array = numpy_helper.to_array(init)
        if dtype is not None and array.dtype != dtype:
            raise ExportError(f"{where}: {name!r} is {array.dtype}, expected {np.dtype(dtype)} (uint8 x int8 kernels)")
        return array

    def weight(self, name: str, zero_point: str | None, where: str) -> np.ndarray:
        """The int8 weight as int32; the zero point must be 0 (symmetric), as the slap-edge recipe writes it."""
        w = self.array(name, where, np.int8).astype(np.int32)
        if zero_point and np.any(self.array(zero_point, where)):
            raise ExportError(
                f"{where}: weight zero point {zero_point!r} is not 0; only symmetric weights are emulated"
            )
        self.max_weight_abs = max(self.max_weight_abs, int(np.abs(w).max(initial=0)))
        return w

    def pair_sum(self, a_pairs: str, w_pairs: str, equation: str) -> str:
        """int32 Einsum of neighbouring products (the pair axis is axis 1), 16-bit clipped when saturating, summed."""
        prod = self.node("Einsum", [a_pairs, w_pairs], "pairs", equation=equation)
        if self.saturate:
            low, high = self.const("i16min", np.int32(INT16_MIN)), self.const("i16max", np.int32(INT16_MAX))
            prod = self.node("Clip", [prod, low, high], "sat16")
        return self.node("ReduceSum", [prod, self.const("axis", np.array([1], np.int64))], "acc", keepdims=0)

    def matmul(self, a_raw: str, a_zero: str, w: np.ndarray) -> tuple[str, str]:
        """int32 [R, N] = sum_k (A - a_zero) W over A's rows, and the shape [..., N] to restore.

        ``a_raw``: the int32 activations as the kernel sees them (uint8 values).
        """
        k, n = w.shape
        colsum = w.sum(axis=0).astype(np.int32)
        if k % 2:
            w = np.concatenate([w, np.zeros((1, n), np.int32)])
        shape = self.node("Shape", [a_raw], "ashape")
        rows = self.node("Reshape", [a_raw, self.const("rows", np.array([-1, k], np.int64))], "arows")
        if k % 2:
            rows = self.node("Pad", [rows, self.const("pad", np.array([0, 0, 0, 1], np.int64))], "apad")
        rows = self.node("Reshape", [rows, self.const("pairs", np.array([0, -1, 2], np.int64))], "apairs")
        acc = self.pair_sum(rows, self.const("w", w.reshape(-1, 2, n)), "rjp,jpn->rjn")
        acc = self.node("Sub", [acc, self.node("Mul", [a_zero, self.const("colsum", colsum)], "azcol")], "acc_zp")
        begin, end = self.const("b", np.array([0], np.int64)), self.const("e", np.array([-1], np.int64))
        lead = self.node("Slice", [shape, begin, end], "lead")
        return acc, self.node("Concat", [lead, self.const("n", np.array([n], np.int64))], "oshape", axis=0)

    def conv(self, a_raw: str, a_zero_f: str, a_zero: str, w: np.ndarray, node: Any) -> tuple[str, str]:
        """int32 [B, OC, L] of a group-1 Conv over float raw uint8 activations, and the output shape [B, OC, *out]."""
        import onnx

        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if attrs.get("group", 1) != 1 or attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            raise ExportError(f"{node.name}: only group-1 convolutions with explicit pads are emulated")
        oc, c, *kernel = w.shape
        k = c * int(np.prod(kernel))
        # im2col as a convolution with one-hot filters (exact: the raw values are integers below 256), in the order
        # ONNX Runtime's QLinearConv reduces over: channels last, so (*kernel, channel) with the channel innermost.
        onehot = np.eye(k + k % 2, k, dtype=np.float32).reshape(k + k % 2, *kernel, c)
        onehot = np.ascontiguousarray(np.moveaxis(onehot, -1, 1))
        pads = list(attrs.get("pads", [0] * 2 * len(kernel)))
        if any(pads):
            # Padding is the zero *point* (a real 0), which is what MLAS pads quantized inputs with.
            full = [0, 0, *pads[: len(kernel)], 0, 0, *pads[len(kernel) :]]
            a_raw = self.node("Pad", [a_raw, self.const("pads", np.array(full, np.int64)), a_zero_f], "xpad")
        conv_attrs = {key: attrs[key] for key in ("strides", "dilations") if key in attrs}
        patches = self.node("Conv", [a_raw, self.const("onehot", onehot)], "im2col", **conv_attrs)
        shape = self.node("Shape", [patches], "pshape")
        patches = self.node("Cast", [patches], "pint", to=onnx.TensorProto.INT32)
        kp = k + k % 2
        patches = self.node(
            "Reshape", [patches, self.const("pairs", np.array([0, kp // 2, 2, -1], np.int64))], "ppairs"
        )
        w_cols = np.moveaxis(w, 1, -1).reshape(oc, k).T
        if k % 2:
            w_cols = np.concatenate([w_cols, np.zeros((1, oc), np.int32)])
        acc = self.pair_sum(patches, self.const("w", w_cols.reshape(-1, 2, oc)), "bjpl,jpo->bjol")
        colsum = self.const("colsum", w.reshape(oc, k).sum(axis=1).astype(np.int32).reshape(oc, 1))
        acc = self.node("Sub", [acc, self.node("Mul", [a_zero, colsum], "azcol")], "acc_zp")
        batch = self.node(
            "Slice",
            [shape, self.const("b0", np.array([0], np.int64)), self.const("b1", np.array([1], np.int64))],
            "batch",
        )
        spatial = self.node(
            "Slice",
            [shape, self.const("s0", np.array([2], np.int64)), self.const("s1", np.array([99], np.int64))],
            "spatial",
        )
        out_shape = self.node("Concat", [batch, self.const("oc", np.array([oc], np.int64)), spatial], "oshape", axis=0)
        return acc, out_shape


def emulate_integer_kernels(src: str | Path, dst: str | Path, *, saturate: bool) -> EmulationReport:
    """Write to ``dst`` a float-output equivalent of the int8 graph ``src`` whose integer products are computed as
    ONNX Runtime's uint8 x int8 kernels compute them: with 16-bit saturating pair sums (``saturate``: AVX2 and
    AVX-512 without VNNI) or exactly (VNNI, AMX, ARM).

    Rewritten: MatMulInteger (dynamic quantization) and static QDQ MatMul/Conv (DequantizeLinear of int8 activations
    and of constant int8 weights). On x86 ONNX Runtime runs int8 QDQ activations as uint8 (value + 128, zero point
    + 128), so the emulation does too; the exact path gives the same integers either way.
    """
    import onnx

    model = onnx.load(str(src))
    rw = _Rewriter(model, saturate)
    producers = {out: n for n in model.graph.node for out in n.output}
    counts = {"MatMulInteger": 0, "MatMul": 0, "Conv": 0}
    out_nodes: list[Any] = []
    for node in model.graph.node:
        where = f"{src}: node {node.name or node.op_type}"
        rw.nodes = []
        if node.op_type == "MatMulInteger":
            a, b = node.input[0], node.input[1]
            a_zp = node.input[2] if len(node.input) > 2 and node.input[2] else None
            producer = producers.get(a)
            if (
                a_zp is None
                or (producer is None or producer.op_type != "DynamicQuantizeLinear")
                and (rw.array(a_zp, where).dtype != np.uint8)
            ):
                raise ExportError(f"{where}: expected uint8 activations from DynamicQuantizeLinear with a zero point")
            w = rw.weight(b, node.input[3] if len(node.input) > 3 else None, where)
            a_raw = rw.node("Cast", [a], "araw", to=onnx.TensorProto.INT32)
            a_zero = rw.node("Cast", [a_zp], "az", to=onnx.TensorProto.INT32)
            acc, shape = rw.matmul(a_raw, a_zero, w)
            rw.node("Reshape", [acc, shape], "out", out=node.output[0])
            counts["MatMulInteger"] += 1
        elif node.op_type in ("MatMul", "Conv") and _is_qdq(node, producers, rw.initializers) and not _depthwise(node):
            x_dq, w_dq = producers[node.input[0]], producers[node.input[1]]
            x_q, x_scale = x_dq.input[0], x_dq.input[1]
            x_zp = x_dq.input[2] if len(x_dq.input) > 2 else None
            if x_zp is None:
                raise ExportError(f"{where}: its activation DequantizeLinear has no zero point")
            w = rw.weight(w_dq.input[0], w_dq.input[2] if len(w_dq.input) > 2 else None, where)
            w_scale = rw.array(w_dq.input[1], where).astype(np.float32)
            signed = rw.array(x_zp, where).dtype == np.int8
            shift = 128 if signed else 0  # x86 runs int8 QDQ activations as uint8
            a_int = rw.node("Cast", [x_q], "aint", to=onnx.TensorProto.INT32)
            a_zero = rw.node("Cast", [x_zp], "azint", to=onnx.TensorProto.INT32)
            a_raw = rw.node("Add", [a_int, rw.const("shift", np.int32(shift))], "araw")
            a_zero = rw.node("Add", [a_zero, rw.const("shiftz", np.int32(shift))], "az")
            if node.op_type == "MatMul":
                acc, shape = rw.matmul(a_raw, a_zero, w)
                scale = w_scale.reshape(-1)
            else:
                a_zero_f = rw.node("Cast", [a_zero], "azf", to=onnx.TensorProto.FLOAT)
                a_raw_f = rw.node("Cast", [a_raw], "arawf", to=onnx.TensorProto.FLOAT)
                acc, shape = rw.conv(a_raw_f, a_zero_f, a_zero, w, node)
                scale = w_scale.reshape(-1, 1)
            real = rw.node("Cast", [acc], "accf", to=onnx.TensorProto.FLOAT)
            real = rw.node("Mul", [real, rw.node("Mul", [x_scale, rw.const("wscale", scale)], "scale")], "real")
            if node.op_type == "Conv" and len(node.input) > 2 and node.input[2]:
                bias = rw.node("Reshape", [node.input[2], rw.const("bshape", np.array([-1, 1], np.int64))], "bias")
                real = rw.node("Add", [real, bias], "biased")
            rw.node("Reshape", [real, shape], "out", out=node.output[0])
            counts[node.op_type] += 1
        if rw.nodes:
            out_nodes.extend(rw.nodes)
            rw.count += 1
        else:
            out_nodes.append(node)
    del model.graph.node[:]
    model.graph.node.extend(out_nodes)
    # The rewritten graph mixes int32 Einsum with float; drop stale shape annotations and let ORT infer them.
    del model.graph.value_info[:]
    onnx.save(model, str(dst))
    return EmulationReport(
        matmul_integer=counts["MatMulInteger"],
        qdq_matmul=counts["MatMul"],
        qdq_conv=counts["Conv"],
        saturate=saturate,
        max_weight_abs=rw.max_weight_abs,
    )


def _depthwise(node: Any) -> bool:
    """A grouped convolution: MLAS runs these with its depthwise kernels, which widen to 16 bits before multiplying
    (exact on every path), so they are left to ONNX Runtime."""
    return node.op_type == "Conv" and any(a.name == "group" and a.i > 1 for a in node.attribute)


def _is_qdq(node: Any, producers: dict[str, Any], initializers: dict[str, Any]) -> bool:
    """A MatMul/Conv whose activation and constant weight both come from DequantizeLinear (static QDQ)."""
    if len(node.input) < 2:
        return False
    x_dq, w_dq = producers.get(node.input[0]), producers.get(node.input[1])
    return (
        x_dq is not None
        and w_dq is not None
        and x_dq.op_type == "DequantizeLinear"
        and w_dq.op_type == "DequantizeLinear"
        and w_dq.input[0] in initializers
    )


@dataclasses.dataclass(frozen=True)
class Int8PathsCheck:
    """int8 against fp32 as this CPU runs it, and as the exact and the saturating kernels compute it (emulated)."""

    kernel_path: KernelPath
    native: OnnxCheck
    exact: OnnxCheck
    saturating: OnnxCheck
    max_weight_abs: int

    @property
    def min_cosine(self) -> float:
        """The worst of the three: an int8 file must hold on every CPU, not only on the one that exported it."""
        return min(self.native.min_cosine, self.exact.min_cosine, self.saturating.min_cosine)

    def describe(self) -> str:
        safe = "cannot" if self.max_weight_abs <= MAX_SAFE_WEIGHT else "can"
        return (
            f"measured on {self.kernel_path.describe()}: {self.native.describe()}; "
            f"emulated exact 32-bit kernels (VNNI/AMX/ARM): cosine min {self.exact.min_cosine:.6f}; "
            f"emulated AVX2/AVX-512 without VNNI (vpmaddubsw): cosine min {self.saturating.min_cosine:.6f}; "
            f"max |int8 weight| {self.max_weight_abs} ({safe} saturate a 16-bit pair)"
        )

    def to_dict(self) -> dict[str, Any]:
        def figures(check: OnnxCheck) -> dict[str, float]:
            return {"min_cosine": round(check.min_cosine, 6), "mean_cosine": round(check.mean_cosine, 6)}

        return {
            "measured_on": self.kernel_path.to_dict(),
            "native": figures(self.native),
            "emulated_exact": figures(self.exact),
            "emulated_saturating": figures(self.saturating),
            "max_weight_abs": self.max_weight_abs,
        }


def check_int8_paths(fp32_path: str | Path, int8_path: str | Path, *, window_samples: int) -> Int8PathsCheck:
    """Compare ``int8_path`` with ``fp32_path`` natively and under both kernel emulations (spec: export's check)."""
    import tempfile

    from slap_edge.export.onnx import compare_audio

    native = compare_audio(fp32_path, int8_path, window_samples=window_samples)
    with tempfile.TemporaryDirectory(prefix="slap-int8-emul-") as tmp:
        checks = {}
        max_abs = 0
        for saturate in (False, True):
            emulated = Path(tmp) / f"{'saturating' if saturate else 'exact'}.onnx"
            report = emulate_integer_kernels(int8_path, emulated, saturate=saturate)
            max_abs = report.max_weight_abs
            checks[saturate] = compare_audio(fp32_path, emulated, window_samples=window_samples)
    return Int8PathsCheck(int8_kernel_path(), native, checks[False], checks[True], max_abs)
