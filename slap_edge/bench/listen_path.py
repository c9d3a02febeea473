"""Measure the `listen` code path on a fixed schedule: the runtime's own Listener, Stream, Engine and Resampler.

Nothing of the runtime is re-implemented here. The bench feeds capture-sized blocks exactly as a source would,
times the resampler and `Listener.feed` around them, reads each hop's own stage timings from its ``Scores`` line,
and times the smoothing by wrapping each section's `SectionDecision.update` of the live stream. Other backends
(torch, torchao) swap only the encoder: an `Engine` subclass whose ``embed`` runs a PyTorch module, so ring buffer,
gate, scoring and smoothing stay the runtime's.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from slap_edge.bench.process import Meter, current_rss_mb, peak_rss_mb
from slap_edge.bench.stats import cost_ms_per_audio_s, cpu_percent, real_time_factor, summarize

# ort-cpu-whole: what `listen --no-frame-cache` runs (audio.onnx whole every hop), to measure the frame cache.
BACKENDS = ("ort-cpu", "ort-cpu-whole", "torch", "torchao", "tensorrt")
TORCH_HINT = "pip install 'slap-edge[train]' (PyTorch and torchao)"
TENSORRT_HINT = (
    "TensorRT needs an NVIDIA GPU and its Python package: JetPack on Jetson, or "
    "`pip install tensorrt` from NVIDIA's package index on a CUDA machine"
)

# The prompts scored during the bench when none are given: three sections, as a kiosk would ask.
BENCH_PROMPTS = """\
[gender]
female = a woman is speaking
male = a man is speaking

[age]
child = a young child is speaking
adult = an adult is speaking
elderly = an elderly person is speaking

[voice]
clear = a clear, steady voice
hoarse = a hoarse, rough voice
breathy = a soft, breathy voice
"""

STAGES = ("resample", "ingest", "speech_gate", "features_and_encoder", "score", "smoothing", "window_and_other")


class BackendUnavailableError(RuntimeError):
    """The backend cannot run here (a package does not import, or no GPU); the message says why and how to fix."""


@dataclasses.dataclass(frozen=True)
class ListenPathSpec:
    """What one measurement of the listen path runs on."""

    bundle: str
    backend: str = "ort-cpu"
    threads: int = 1
    schedule_path: str = ""  # .npy of float32 audio at capture_rate
    capture_rate: int = 48000
    chunk_ms: float = 20.0
    warmup_hops: int = 8
    prompts: str | None = None
    bank: str | None = None
    model_run: str | None = None  # torch backends: weights from this run instead of a random initialisation
    heads: str | None = None  # adapted heads file (`slap-edge adapt`): its sections replace or join the prompts'
    gate: str = "vad"  # the speech gate, as `listen --gate` (its cost is the speech_gate stage)


def _synthetic_bank(bundle: Any, prompt_set: Any) -> Any:
    """Deterministic unit vectors for the prompts, keyed by the bundle's model id.

    Used only when the bundle has neither text.onnx nor a bundled bank: scoring costs the same whatever the
    vectors are (one [N, D] product), so latency is still measured truthfully, but the probabilities mean nothing.
    """
    from slap_edge.prompts import PromptBank
    from slap_edge.scoring import l2_normalize

    seed = int.from_bytes(hashlib.sha256(bundle.model_id.encode()).digest()[:4], "little")
    rng = np.random.default_rng(seed)
    emb = l2_normalize(rng.standard_normal((len(prompt_set), bundle.embed_dim)).astype(np.float32))
    return PromptBank(prompts=prompt_set, embeddings=emb, model_id=bundle.model_id)


def resolve_bench_bank(bundle: Any, prompts: str | None, bank: str | None, threads: int) -> tuple[Any, str]:
    """The prompt bank the bench scores against, and a note on where it came from."""
    from slap_edge.prompts import load_prompts, parse_prompts
    from slap_edge.runtime.text import resolve_bank

    prompt_set = load_prompts(prompts) if prompts else parse_prompts(BENCH_PROMPTS, "<bench prompts>")
    if bank is not None:
        return resolve_bank(bundle, None, bank, threads=threads), f"bank {bank}"
    if bundle.text_path is not None:
        return resolve_bank(bundle, prompt_set, None, threads=threads), f"{prompt_set.source} embedded by text.onnx"
    for name, path in bundle.prompt_banks.items():
        return resolve_bank(bundle, None, str(path), threads=threads), f"bundled bank {name}"
    return (
        _synthetic_bank(bundle, prompt_set),
        f"{prompt_set.source} with synthetic embeddings (the bundle has no text.onnx and no bank; "
        "scoring cost is real, probabilities are not)",
    )


def _torch_engine_class() -> type:
    """An `Engine` whose encoder is a PyTorch module; defined lazily so importing this file needs no torch."""
    from slap_edge.runtime.engine import Engine, EngineError
    from slap_edge.scoring import l2_normalize

    class TorchEngine(Engine):
        """The runtime's Engine with ``embed`` running ``module`` (waveform [1, T] -> embedding [1, D])."""

        def __init__(self, bundle: Any, bank: Any, module: Any, threads: int = 1) -> None:
            super().__init__(bundle, bank, threads=threads, frame_cache=False)  # frames are the module's own
            import torch

            self.session = None  # the ONNX session is not used by this backend; let it be freed
            self.module = module
            self._torch = torch
            self.window_samples = bundle.window_samples

        def embed(self, window: np.ndarray) -> np.ndarray:
            x = np.asarray(window, dtype=np.float32)
            if x.shape[0] < self.window_samples:  # start of a stream: left-pad with silence, as a fixed graph does
                x = np.pad(x, (self.window_samples - x.shape[0], 0))
            with self._torch.inference_mode():
                emb = self.module(self._torch.from_numpy(x[None, -self.window_samples :]))
            emb = emb.float().numpy().reshape(-1)
            if not np.all(np.isfinite(emb)):
                raise EngineError("the PyTorch encoder returned NaN/inf for a finite input window")
            return l2_normalize(emb)

    return TorchEngine


def _torch_module(bundle: Any, model_run: str | None, backend: str) -> tuple[Any, str]:
    """The bundle's audio tower as a PyTorch module (fp32, or torchao int8), and a note on its weights."""
    try:
        import torch
    except ImportError as exc:
        raise BackendUnavailableError(
            f"backend {backend!r} needs PyTorch, which does not import ({exc}): {TORCH_HINT}"
        ) from exc
    if model_run:
        from slap_edge.train.checkpoint import load_run

        model, _ = load_run(model_run)
        note = f"weights of run {model_run}"
    else:
        from slap_edge.models import create_model, list_models

        if bundle.model_name not in list_models():
            raise BackendUnavailableError(
                f"backend {backend!r}: the bundle's model {bundle.model_name!r} is not in the registry "
                f"({', '.join(list_models())}); give its run with --model RUN"
            )
        torch.manual_seed(0)
        model = create_model(bundle.model_name)
        note = f"{bundle.model_name} randomly initialised (same architecture and cost as the bundle; give --model RUN)"
    module = model.audio_export_module().eval()
    if backend == "torchao":
        from slap_edge.export.quantize import quantize_torchao

        try:
            module = quantize_torchao(module)
        except Exception as exc:  # torchao reports missing kernels with assorted exception types
            raise BackendUnavailableError(f"torchao int8 quantization failed here ({exc}): {TORCH_HINT}") from exc
        note += "; torchao int8 dynamic activation + int8 weight"
    return module, note


def _check_tensorrt() -> None:
    try:
        import tensorrt  # noqa: F401
    except ImportError as exc:
        raise BackendUnavailableError(f"tensorrt does not import here ({exc}). {TENSORRT_HINT}") from exc
    try:
        import torch

        has_gpu = torch.cuda.is_available()
    except ImportError:
        has_gpu = False
    if not has_gpu:
        raise BackendUnavailableError(f"tensorrt imports, but no CUDA GPU is visible. {TENSORRT_HINT}")
    raise BackendUnavailableError(
        "tensorrt imports and a GPU is present, but the streaming bench runs TensorRT only through the export "
        "stage's engine builder, which this installation does not provide"
    )


def create_engine(spec: ListenPathSpec) -> tuple[Any, dict[str, Any]]:
    """Load the bundle and build the engine for ``spec.backend``; returns it with notes for the report."""
    from slap_edge.bundle_reader import load_bundle
    from slap_edge.runtime.engine import Engine

    if spec.backend not in BACKENDS:
        raise ValueError(f"unknown backend {spec.backend!r}; choose from {', '.join(BACKENDS)}")
    if spec.backend == "tensorrt":
        _check_tensorrt()
    bundle = load_bundle(spec.bundle)
    bank, bank_note = resolve_bench_bank(bundle, spec.prompts, spec.bank, spec.threads)
    notes: dict[str, Any] = {"prompt_bank": bank_note, "prompts": len(bank.prompts)}
    heads = None
    if spec.heads is not None:
        from slap_edge.adapt.heads import load_heads

        heads = load_heads(spec.heads)
    if spec.backend in ("ort-cpu", "ort-cpu-whole"):
        engine = Engine(bundle, bank, threads=spec.threads, heads=heads, frame_cache=spec.backend == "ort-cpu")
        if heads is not None:
            notes["heads"] = f"{spec.heads}: {engine.describe_sections()}"
        notes["encoder"] = f"onnxruntime CPU, {spec.threads} intra-op thread(s), audio.onnx as bundled"
    else:
        import torch

        torch.set_num_threads(spec.threads)
        module, weights_note = _torch_module(bundle, spec.model_run, spec.backend)
        engine = _torch_engine_class()(bundle, bank, module, threads=spec.threads)
        notes["encoder"] = f"PyTorch {torch.__version__}, {spec.threads} thread(s); {weights_note}"
    return engine, notes


def _timed_updates(stream: Any, sink: list[float]) -> None:
    """Wrap each section's smoothing ``update`` of this stream so its time is added to ``sink[0]``."""

    def wrap(update: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(update)
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return update(*args, **kwargs)
            finally:
                sink[0] += (time.perf_counter() - t0) * 1000.0

        return timed

    for decision in stream.decisions.values():
        decision.update = wrap(decision.update)


def bundle_sizes(bundle_path: str) -> dict[str, int]:
    """Bytes of audio.onnx (and text.onnx where present) of a bundle, as its manifest lists them."""
    from slap_edge.bundle_reader import load_bundle

    bundle = load_bundle(bundle_path, verify=False)
    return {name: int(entry["size"]) for name, entry in bundle.manifest["files"].items() if name.endswith(".onnx")}


def measure_listen_path(spec: ListenPathSpec) -> dict[str, Any]:
    """Run the schedule through a `Listener` over ``spec``'s engine and return every figure the bench reports."""
    from slap_edge.runtime.gate import create_gate
    from slap_edge.runtime.listener import Listener
    from slap_edge.runtime.sources import Resampler
    from slap_edge.runtime.stream import Scores

    t_load = time.perf_counter()
    engine, notes = create_engine(spec)
    listener = Listener(engine, gate=create_gate(spec.gate))
    notes["encoder"] += f"; frame cache {getattr(engine, 'frame_cache_note', 'off')}"
    stream = listener.stream
    load_ms = (time.perf_counter() - t_load) * 1000.0
    rss_loaded = current_rss_mb()

    wave = np.load(spec.schedule_path, allow_pickle=False).astype(np.float32, copy=False)
    resampler = Resampler(spec.capture_rate, engine.sample_rate)
    block = max(1, int(round(spec.chunk_ms / 1000.0 * spec.capture_rate)))
    smoothing = [0.0]
    _timed_updates(stream, smoothing)

    hops: list[dict[str, float]] = []
    pending_resample = pending_feed = pending_cpu = 0.0
    first_score_s: float | None = None
    meter: Meter | None = None
    warm_samples = 0  # capture samples consumed during warm-up
    events = 0
    for start in range(0, wave.shape[0], block):
        chunk = wave[start : start + block]
        c0, t0 = time.thread_time(), time.perf_counter()
        x = resampler(chunk, last=start + block >= wave.shape[0])  # flush the filter at the end, as sources do
        t1 = time.perf_counter()
        msgs = listener.feed(x)
        t2, c2 = time.perf_counter(), time.thread_time()
        pending_cpu += (c2 - c0) * 1000.0
        pending_resample += (t1 - t0) * 1000.0
        pending_feed += (t2 - t1) * 1000.0
        scores = [m for m in msgs if isinstance(m, Scores)]
        events += len(msgs) - len(scores)
        if not scores:
            continue
        if first_score_s is None:
            first_score_s = time.time()  # the parent turns this into cold start (from spawning this process)
        # One capture block completes at most one hop when the block is shorter than the hop; a longer block's
        # cost is shared evenly between the hops it completed.
        share = 1.0 / len(scores)
        for s in scores:
            lat = s.latency_ms
            hop = {"resample": pending_resample * share}
            hop["ingest"] = max(0.0, pending_feed * share - lat["total"])
            hop["e2e"] = (pending_resample + pending_feed) * share
            # CPU time of this thread (the encoder runs on it with one thread): unlike wall time it does not grow
            # while other processes hold the core, so it is the steadier measure on a shared machine.
            hop["cpu"] = pending_cpu * share
            hop["speech_gate"] = lat.get("gate", 0.0)
            if "features_and_encoder" in lat:
                hop["features_and_encoder"] = lat["features_and_encoder"]
                hop["score"] = lat.get("score", 0.0)
                hop["smoothing"] = smoothing[0] * share
                hop["window_and_other"] = max(
                    0.0,
                    lat["total"] - hop["speech_gate"] - hop["features_and_encoder"] - hop["score"] - hop["smoothing"],
                )
            hops.append(hop)
        smoothing[0] = 0.0
        pending_resample = pending_feed = pending_cpu = 0.0
        if meter is None and len(hops) >= spec.warmup_hops:
            meter = Meter().start()  # warm-up over: from here on everything counts
            warm_samples = start + chunk.shape[0]
    usage = meter.stop() if meter is not None else None

    measured = hops[spec.warmup_hops :]
    if not measured or usage is None:
        raise ValueError(
            f"the schedule gave {len(hops)} hops, not more than the {spec.warmup_hops} warm-up hops; "
            "give more --seconds"
        )
    encoded = [h for h in measured if "features_and_encoder" in h]
    audio_s = (wave.shape[0] - warm_samples) / spec.capture_rate
    stages = {}
    for name in STAGES:
        values = [h[name] for h in encoded] if encoded else []
        if values:
            stages[name] = summarize(values).to_dict()
    result: dict[str, Any] = {
        "backend": spec.backend,
        "threads": spec.threads,
        "notes": notes,
        "hop_s": stream.hop / engine.sample_rate,
        "window_s": stream.window / engine.sample_rate,
        "sample_rate": engine.sample_rate,
        "capture_rate": spec.capture_rate,
        "chunk_ms": spec.chunk_ms,
        "warmup_hops_excluded": spec.warmup_hops,
        "hops_measured": len(measured),
        "hops_encoded": len(encoded),
        "hops_gated": sum(1 for h in measured if "features_and_encoder" not in h),
        "speech_gate": type(stream.gate).__name__,
        "speech_gate_all_hops_ms": summarize([h["speech_gate"] for h in measured]).to_dict(),
        "events": events,
        "audio_s_measured": audio_s,
        "stages_ms": stages,
        "hop_e2e_ms": summarize([h["e2e"] for h in encoded]).to_dict() if encoded else None,
        "hop_e2e_all_ms": summarize([h["e2e"] for h in measured]).to_dict(),
        "hop_e2e_samples_ms": [round(h["e2e"], 4) for h in encoded],
        "hop_cpu_ms": summarize([h["cpu"] for h in encoded]).to_dict() if encoded else None,
        "hop_cpu_samples_ms": [round(h["cpu"], 4) for h in encoded],
        "cpu_cost_ms_per_audio_s": cost_ms_per_audio_s([h["cpu"] for h in measured], audio_s),
        "rtf": real_time_factor(usage.wall_s, audio_s),
        "cost_ms_per_audio_s": cost_ms_per_audio_s([h["e2e"] for h in measured], audio_s),
        "cpu_s": usage.cpu_s,
        "wall_s": usage.wall_s,
        # What `listen` would use of one core on a real-time source: CPU seconds per second of audio.
        "cpu_pct_of_core_realtime": cpu_percent(usage.cpu_s, audio_s),
        "cpu_pct_of_core_while_busy": usage.cpu_percent,
        "load_ms": load_ms,
        "rss_after_load_mb": rss_loaded,
        "peak_rss_mb": peak_rss_mb(),
        "model_files_bytes": bundle_sizes(spec.bundle),
        "first_score_epoch": first_score_s,
    }
    return result


def write_schedule(wave: np.ndarray, path: str | Path) -> Path:
    """Save a schedule for the child processes (plain .npy, no pickle)."""
    path = Path(path)
    np.save(path, np.asarray(wave, dtype=np.float32), allow_pickle=False)
    return path
