"""The engine: one ONNX Runtime session for audio.onnx and the prompt bank, shared by any number of streams.

An engine holds no per-stream state (sherpa-onnx style): `Engine.create_stream` gives a `Stream` with its own ring
buffer, smoothing and counters, so several microphones can share one loaded model.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from slap_edge.bundle import Bundle
from slap_edge.prompts import PromptBank
from slap_edge.scoring import l2_normalize, section_probs

if TYPE_CHECKING:
    from slap_edge.runtime.decision import DecisionConfig
    from slap_edge.runtime.gate import Gate
    from slap_edge.runtime.stream import Stream


class EngineError(RuntimeError):
    """The bundle and prompt bank cannot be used together, or the model failed."""


def create_session(path: str, threads: int = 1):  # -> onnxruntime.InferenceSession
    """A CPU session with ``threads`` intra-op threads (1 by default: the other core captures audio)."""
    import onnxruntime as ort

    if threads < 1:
        raise EngineError(f"threads must be >= 1, got {threads}")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Spinning worker threads burn a core while idle between hops; a kiosk has none to spare.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])


class Engine:
    """audio.onnx + a prompt bank: window in, embedding and per-section probabilities out."""

    def __init__(self, bundle: Bundle, bank: PromptBank, threads: int = 1) -> None:
        if bank.model_id != bundle.model_id:
            raise EngineError(
                f"prompt bank {bank.prompts.source} was embedded by model {bank.model_id!r}, but the bundle is "
                f"{bundle.model_id!r}; embed the prompts again with this bundle"
            )
        if bank.embed_dim != bundle.embed_dim:
            raise EngineError(
                f"prompt bank {bank.prompts.source} has dimension {bank.embed_dim}, the bundle {bundle.embed_dim}"
            )
        self.bundle = bundle
        self.bank = bank
        self.threads = threads
        self.sample_rate = bundle.sample_rate
        self.session = create_session(str(bundle.audio_path), threads)
        meta_id = self.session.get_modelmeta().custom_metadata_map.get("model_id")
        if meta_id != bundle.model_id:
            raise EngineError(f"{bundle.audio_path}: ONNX metadata model_id {meta_id!r} is not {bundle.model_id!r}")
        inputs = self.session.get_inputs()
        names = [i.name for i in inputs]
        self._input = "waveform" if "waveform" in names else names[0]
        shape = next(i.shape for i in inputs if i.name == self._input)
        # A graph exported with a fixed number of samples takes only full windows; others take any length.
        self.fixed_samples: int | None = shape[1] if len(shape) == 2 and isinstance(shape[1], int) else None
        outputs = [o.name for o in self.session.get_outputs()]
        self._output = "embedding" if "embedding" in outputs else outputs[0]
        self._sections = bank.section_indices()
        self.section_labels = bank.section_labels()
        self._bank_emb = np.ascontiguousarray(bank.embeddings, dtype=np.float32)
        self.logit_scale = bundle.logit_scale

    def embed(self, window: np.ndarray) -> np.ndarray:
        """Embedding [D] of one window of samples at the bundle's rate (already guarded to finite, [-1, 1])."""
        x = np.asarray(window, dtype=np.float32).reshape(1, -1)
        if self.fixed_samples is not None and x.shape[1] != self.fixed_samples:
            # Short windows (start of a stream) are left-padded with silence; long ones keep the latest samples.
            pad = self.fixed_samples - x.shape[1]
            x = np.pad(x, ((0, 0), (pad, 0))) if pad > 0 else x[:, -self.fixed_samples :]
        (emb,) = self.session.run([self._output], {self._input: x})
        emb = np.asarray(emb, dtype=np.float32).reshape(-1)
        if emb.shape[0] != self._bank_emb.shape[1]:
            raise EngineError(
                f"audio.onnx returned an embedding of size {emb.shape[0]}, expected {self.bundle.embed_dim}"
            )
        if not np.all(np.isfinite(emb)):
            raise EngineError("audio.onnx returned NaN/inf for a finite input window; the model is broken")
        return l2_normalize(emb)

    def score(self, embedding: np.ndarray) -> dict[str, np.ndarray]:
        """Per-section probabilities of an embedding."""
        return section_probs(embedding, self._bank_emb, self._sections, self.logit_scale)

    def score_window(self, window: np.ndarray) -> dict[str, np.ndarray]:
        """Offline scoring of one window: what a stream computes for it, without state."""
        return self.score(self.embed(window))

    def timed_embed(self, window: np.ndarray) -> tuple[np.ndarray, float]:
        t0 = time.perf_counter()
        emb = self.embed(window)
        return emb, (time.perf_counter() - t0) * 1000.0

    def create_stream(
        self,
        hop_s: float | None = None,
        window_s: float | None = None,
        min_window_s: float = 0.5,
        decision: DecisionConfig | None = None,
        gate: Gate | None = None,
    ) -> Stream:
        """A new stream over this engine (the manifest's window and hop unless overridden)."""
        from slap_edge.runtime.stream import Stream

        return Stream(self, hop_s=hop_s, window_s=window_s, min_window_s=min_window_s, decision=decision, gate=gate)
