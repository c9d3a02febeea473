"""The engine: one ONNX Runtime session for audio.onnx and the prompt bank, shared by any number of streams.

An engine holds no per-stream state (sherpa-onnx style): `Engine.create_stream` gives a `Stream` with its own ring
buffer, smoothing and counters, so several microphones can share one loaded model.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from slap_edge.bundle_reader import Bundle
from slap_edge.prompts import PromptBank
from slap_edge.scoring import l2_normalize, linear_section_probs, section_probs

if TYPE_CHECKING:
    from slap_edge.adapt.heads import Heads
    from slap_edge.prompts import PromptSet
    from slap_edge.runtime.decision import DecisionConfig
    from slap_edge.runtime.frames import FrameCache
    from slap_edge.runtime.gate import Gate
    from slap_edge.runtime.stream import Stream


class EngineError(RuntimeError):
    """The bundle and prompt bank cannot be used together, or the model failed."""


def create_session(path: str | bytes, threads: int = 1):  # -> onnxruntime.InferenceSession
    """A CPU session (of a file, or a serialised model) with ``threads`` intra-op threads (1 by default: the other
    core captures audio)."""
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
    """audio.onnx + a prompt bank and/or adapted heads: window in, embedding and per-section probabilities out.

    Adapted sections (``heads``, from `slap-edge adapt`) replace the prompt section of the same name or are added
    after the prompt sections; ``adapted`` says which. With heads, every section is scored as ``W @ e + b`` (a prompt
    row is ``logit_scale * prompt`` with no bias), still one matrix product per hop.
    """

    def __init__(
        self,
        bundle: Bundle,
        bank: PromptBank | None,
        threads: int = 1,
        heads: Heads | None = None,
        frame_cache: bool = True,
    ) -> None:
        if bank is None and heads is None:
            raise EngineError("give a prompt bank, adapted heads, or both")
        if heads is not None:
            from slap_edge.adapt.heads import HeadsError

            try:
                heads.check_model(bundle.model_id, bundle.embed_dim, f"the bundle {bundle.root}")
            except HeadsError as exc:
                raise EngineError(str(exc)) from exc
        if bank is not None and bank.model_id != bundle.model_id:
            raise EngineError(
                f"prompt bank {bank.prompts.source} was embedded by model {bank.model_id!r}, but the bundle is "
                f"{bundle.model_id!r}; embed the prompts again with this bundle"
            )
        if bank is not None and bank.embed_dim != bundle.embed_dim:
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
        self.logit_scale = bundle.logit_scale
        self.heads = heads
        # Streams keep their log-mel frames from hop to hop (slap_edge.runtime.frames) unless turned off here or
        # the graph cannot be cut at its log-mel; the halves are made when the first stream asks for them.
        self.frame_cache_enabled = frame_cache and self.fixed_samples is None
        self.frame_cache_note = "on" if self.frame_cache_enabled else "off"
        self._halves: tuple[Any, Any, Any] | None = None
        # Calibrated entry level per label of each adapted section (NaN: none), for the decisions.
        self.section_thresholds: dict[str, np.ndarray] = {}
        self.adapted: dict[str, str] = {}
        if heads is None and bank is not None:
            self._sections = bank.section_indices()
            self.section_labels = bank.section_labels()
            self._bank_emb = np.ascontiguousarray(bank.embeddings, dtype=np.float32)
        else:
            self._combine(bank, heads)

    def _combine(self, bank: PromptBank | None, heads: Heads) -> None:
        """One weight matrix and bias over prompt sections and adapted sections (same name: the head replaces)."""
        rows_w: list[np.ndarray] = []
        rows_b: list[np.ndarray] = []
        self._sections = {}
        self.section_labels = {}
        adapted = {s.name: s for s in heads.sections}
        start = 0

        def add(name: str, labels: tuple[str, ...], w: np.ndarray, b: np.ndarray) -> None:
            nonlocal start
            rows_w.append(w)
            rows_b.append(b)
            self._sections[name] = np.arange(start, start + len(labels))
            self.section_labels[name] = labels
            start += len(labels)

        if bank is not None:
            idx = bank.section_indices()
            for name, labels in bank.section_labels().items():
                if name in adapted:
                    continue
                add(name, labels, self.logit_scale * bank.embeddings[idx[name]], np.zeros(len(labels), np.float32))
        for name in list(adapted):
            if bank is not None and name in bank.section_labels():
                self.adapted[name] = "replaces the prompt section"
            else:
                self.adapted[name] = "added"
        for section in heads.sections:
            add(section.name, section.labels, section.weights, section.bias)
            self.section_thresholds[section.name] = section.thresholds
        self._bank_emb = np.ascontiguousarray(np.concatenate(rows_w), dtype=np.float32)
        self._bias = np.ascontiguousarray(np.concatenate(rows_b), dtype=np.float32)

    @classmethod
    def from_bundle(
        cls,
        bundle: Bundle | str | Path | None = "default",
        prompts: PromptSet | PromptBank | str | Path | None = "demographics",
        bank: str | Path | None = None,
        threads: int = 1,
        cache_dir: str | Path | None = None,
    ) -> Engine:
        """An engine for ``bundle`` (a folder, a .tar.gz, or ``"default"``: the built-in one) scoring ``prompts``
        (a prompts.txt path, a built-in set's name, prompts text, a `PromptSet` or a ready `PromptBank`; see
        `slap_edge.prompt_sets`), or a precomputed ``bank`` (.npz, or the name of one of the bundle's banks)."""
        from slap_edge.bundle_reader import load_bundle
        from slap_edge.prompt_sets import resolve_prompts
        from slap_edge.runtime.text import resolve_bank

        loaded = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
        if isinstance(prompts, PromptBank):
            return cls(loaded, prompts, threads=threads)
        prompt_set = resolve_prompts(prompts) if prompts is not None else None
        return cls(loaded, resolve_bank(loaded, prompt_set, bank, cache_dir=cache_dir, threads=threads), threads)

    def embed(self, window: np.ndarray) -> np.ndarray:
        """Embedding [D] of one window of samples at the bundle's rate (already guarded to finite, [-1, 1])."""
        x = np.asarray(window, dtype=np.float32).reshape(1, -1)
        if self.fixed_samples is not None and x.shape[1] != self.fixed_samples:
            # Short windows (start of a stream) are left-padded with silence; long ones keep the latest samples.
            pad = self.fixed_samples - x.shape[1]
            x = np.pad(x, ((0, 0), (pad, 0))) if pad > 0 else x[:, -self.fixed_samples :]
        (emb,) = self.session.run([self._output], {self._input: x})
        return self._checked(emb)

    def _checked(self, emb: np.ndarray) -> np.ndarray:
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
        if self.heads is not None:
            probs = linear_section_probs(embedding, self._bank_emb, self._bias, self._sections)
        else:
            probs = section_probs(embedding, self._bank_emb, self._sections, self.logit_scale)
        if not all(np.all(np.isfinite(p)) for p in probs.values()):
            raise EngineError(
                f"scoring gave NaN/inf probabilities (logit_scale {self.logit_scale}); the bundle's scoring is broken"
            )
        return probs

    def describe_sections(self) -> str:
        """Which sections are scored, and how: prompts, or adapted heads (replacing or added)."""
        parts = []
        for name, labels in self.section_labels.items():
            how = f"adapted ({self.adapted[name]})" if name in self.adapted else "prompts"
            parts.append(f"[{name}] {how}: {', '.join(labels)}")
        return "; ".join(parts)

    def score_window(self, window: np.ndarray) -> dict[str, np.ndarray]:
        """Offline scoring of one window: what a stream computes for it, without state."""
        return self.score(self.embed(window))

    def timed_embed(
        self, window: np.ndarray, start: int | None = None, frames: FrameCache | None = None
    ) -> tuple[np.ndarray, float]:
        """`embed`, timed (ms); with a stream's ``frames`` and the window's first sample ``start`` in the stream,
        only the frames the cache lacks go through the front end."""
        t0 = time.perf_counter()
        emb = self.embed(window) if frames is None or start is None else self._embed_cached(window, start, frames)
        return emb, (time.perf_counter() - t0) * 1000.0

    def frame_cache(self, window_samples: int) -> FrameCache | None:
        """A new stream's frame cache for windows of up to ``window_samples``, or None (turned off, or the graph
        cannot be cut: ``frame_cache_note`` says why, and the stream runs the whole graph every hop)."""
        from slap_edge.config import FrontendConfig
        from slap_edge.runtime.frames import FrameCache, SplitError, SplitGraph, cut_audio_graph, open_split

        if not self.frame_cache_enabled:
            return None
        frontend = FrontendConfig(**self.bundle.frontend)
        if self._halves is None:
            shipped = self.bundle.frame_cache
            split: SplitGraph | None = None
            if shipped is not None:  # the bundle's own halves (checksummed on load, checked below)
                root = self.bundle.root
                split = SplitGraph(
                    str(root / shipped["frontend"]),
                    str(root / shipped["encoder"]),
                    shipped["logmel"],
                    shipped["waveform"],
                    shipped["embedding"],
                )
                how = "the bundle's frame-cache graphs"
                failed = f"{root}'s frame-cache graphs do not reproduce audio.onnx"
            else:
                how, failed = "audio.onnx cut when loaded", f"{self.bundle.audio_path} cannot be cut at its log-mel"
            try:
                split = split or cut_audio_graph(self.bundle.audio_path)
                halves = open_split(split, self.session, frontend, self.bundle.window_samples, self.threads)
            except SplitError as exc:
                self.frame_cache_enabled = False
                self.frame_cache_note = f"off: {failed} ({exc})"
                return None
            self._halves = (split, *halves)
            self.frame_cache_note = f"on ({how})"
        return FrameCache(frontend, frontend.num_frames(window_samples) + 8)

    def _embed_cached(self, window: np.ndarray, start: int, frames: FrameCache) -> np.ndarray:
        split, front, encoder = self._halves
        x = np.asarray(window, dtype=np.float32)

        def compute(samples: np.ndarray) -> np.ndarray:
            return front.run(None, {split.waveform: samples.reshape(1, -1)})[0][0]

        logmel = frames.window_frames(x, start, compute)
        (emb,) = encoder.run(None, {split.logmel: logmel[None], split.waveform: x.reshape(1, -1)})
        return self._checked(emb)

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
