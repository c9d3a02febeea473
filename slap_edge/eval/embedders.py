"""Embedding sources for evaluation: anything that maps waveforms and texts to vectors in one space.

`evaluate_suite` needs only an `EmbeddingSource`, so a training run, an exported bundle or any other model can be
scored the same way. `load_embedding_source(path)` picks the right one for a run folder or a bundle.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np

from slap_edge.scoring import l2_normalize

MAX_WINDOWS_PER_CLIP = 8


@dataclasses.dataclass
class EmbeddingSource:
    """``embed_audio(list of float32 mono waveforms at sample_rate) -> [N, D]`` and ``embed_text(texts) -> [N, D]``."""

    name: str
    sample_rate: int
    embed_audio: Callable[[list[np.ndarray]], np.ndarray]
    embed_text: Callable[[list[str]], np.ndarray]
    model_id: str | None = None  # a bundle's model.id (adapted heads are checked against it); None for a run folder


def clip_windows(wave: np.ndarray, window: int, max_windows: int = MAX_WINDOWS_PER_CLIP) -> np.ndarray:
    """Split a clip into model windows [K, window]: a short clip is centred in one zero-padded window; a long clip
    gives up to ``max_windows`` evenly spaced windows (overlapping where needed) that together cover it."""
    wave = np.asarray(wave, dtype=np.float32).reshape(-1)
    if len(wave) <= window:
        out = np.zeros((1, window), dtype=np.float32)
        start = (window - len(wave)) // 2
        out[0, start : start + len(wave)] = wave
        return out
    count = min(max_windows, int(np.ceil(len(wave) / window)))
    starts = np.linspace(0, len(wave) - window, count).round().astype(int)
    return np.stack([wave[s : s + window] for s in starts])


def pool_windows(
    embed_windows: Callable[[np.ndarray], np.ndarray], waves: list[np.ndarray], window: int, batch: int = 64
) -> np.ndarray:
    """Embed every window of every clip (in batches) and average each clip's window embeddings, renormalised."""
    windows = [clip_windows(w, window) for w in waves]
    owners = np.concatenate([np.full(len(w), i) for i, w in enumerate(windows)]) if windows else np.zeros(0, int)
    flat = np.concatenate(windows) if windows else np.zeros((0, window), np.float32)
    parts = [embed_windows(flat[i : i + batch]) for i in range(0, len(flat), batch)]
    vectors = l2_normalize(np.concatenate(parts)) if parts else np.zeros((0, 0), np.float32)
    if not len(waves):
        return vectors
    out = np.stack([vectors[owners == i].mean(axis=0) for i in range(len(waves))])
    return l2_normalize(out)


def run_source(run_dir: str | Path, device: str = "cpu") -> EmbeddingSource:
    """A training run folder (`slap_edge.train.checkpoint.load_run`) as an embedding source."""
    import torch

    from slap_edge.train.checkpoint import load_run

    model, config = load_run(run_dir, device=device)
    window = config.model.window_samples

    def embed_windows(batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model.encode_audio(torch.from_numpy(batch).to(device)).float().cpu().numpy()

    def embed_text(texts: list[str]) -> np.ndarray:
        with torch.inference_mode():
            return model.encode_text(list(texts)).float().cpu().numpy()

    return EmbeddingSource(
        name=str(run_dir),
        sample_rate=config.model.frontend.sample_rate,
        embed_audio=lambda waves: pool_windows(embed_windows, waves, window),
        embed_text=embed_text,
    )


def bundle_source(path: str | Path) -> EmbeddingSource:
    """An exported bundle (spec/bundle.md) as an embedding source, run with ONNX Runtime on one thread."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    from slap_edge.bundle_reader import load_bundle

    bundle = load_bundle(path)
    if bundle.text_path is None or bundle.tokenizer_path is None:
        raise ValueError(f"{path}: the bundle has no text.onnx/tokenizer.json, so it cannot embed a suite's prompts")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    audio = ort.InferenceSession(str(bundle.audio_path), options, providers=["CPUExecutionProvider"])
    text = ort.InferenceSession(str(bundle.text_path), options, providers=["CPUExecutionProvider"])
    tokenizer = Tokenizer.from_file(str(bundle.tokenizer_path))
    audio_input = audio.get_inputs()[0].name
    text_inputs = [i.name for i in text.get_inputs()]

    def embed_windows(batch: np.ndarray) -> np.ndarray:
        # One window per call: an exported graph may fix the batch size at 1.
        return np.concatenate([audio.run(None, {audio_input: w[None]})[0] for w in batch])

    def embed_text(texts: list[str]) -> np.ndarray:
        out = []
        for t in texts:
            enc = tokenizer.encode(t)
            ids = np.asarray([enc.ids], dtype=np.int64)
            mask = np.asarray([enc.attention_mask], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask}
            out.append(
                text.run(None, {name: feeds.get(name, ids if i == 0 else mask) for i, name in enumerate(text_inputs)})[
                    0
                ]
            )
        return np.concatenate(out)

    return EmbeddingSource(
        name=f"bundle {bundle.model_name} ({bundle.model_id})",
        sample_rate=bundle.sample_rate,
        embed_audio=lambda waves: pool_windows(embed_windows, waves, bundle.window_samples),
        embed_text=embed_text,
        model_id=bundle.model_id,
    )


def load_embedding_source(path: str | Path, device: str = "cpu") -> EmbeddingSource:
    """A run folder (holds state.json and model.safetensors, or a packed run's trained.safetensors) or a bundle (a
    folder with manifest.json, or .tar.gz); ``default`` is the built-in bundle."""
    from slap_edge.train.pack import is_packed

    if str(path) == "default":
        from slap_edge.bundle_reader import resolve_bundle_path

        path = resolve_bundle_path(None)
    path = Path(path)
    if (path / "state.json").is_file() and ((path / "model.safetensors").is_file() or is_packed(path)):
        return run_source(path, device=device)
    if (path.is_dir() and (path / "manifest.json").is_file()) or path.name.endswith((".tar.gz", ".tgz")):
        return bundle_source(path)
    raise ValueError(
        f"{path}: not a model to evaluate; give a training run folder (with state.json and model.safetensors), "
        "a packed run (state.json and trained.safetensors, `python -m slap_edge.train.pack`) or a bundle (a folder "
        "with manifest.json, or a .tar.gz)"
    )
