"""Pure scoring maths shared by evaluation and the runtime: embeddings in, probabilities out.

Everything here is numpy only and stateless, so offline scoring of a window and the streaming runtime cannot drift
apart: the stream calls exactly these functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def l2_normalize(x: np.ndarray, axis: int = -1, eps: float = 1e-12) -> np.ndarray:
    """``x`` divided by its L2 norm along ``axis`` (float32); an all-zero vector stays zero instead of NaN."""
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=axis, keepdims=True)
    return x / np.maximum(norm, eps)


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax along ``axis`` (float64 inside, float32 out)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - np.max(z, axis=axis, keepdims=True)
    e = np.exp(z)
    return (e / np.sum(e, axis=axis, keepdims=True)).astype(np.float32)


def cosine_logits(audio: np.ndarray, text: np.ndarray, logit_scale: float) -> np.ndarray:
    """``logit_scale * cos(audio, text)``: audio [..., D], text [N, D] -> [..., N]. Inputs are re-normalised."""
    return np.float32(logit_scale) * (l2_normalize(audio) @ l2_normalize(text).T)


def class_vectors(embeddings: np.ndarray, labels: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """One unit vector per class: the normalised mean of the normalised embeddings of that class's prompts.

    Returns the class names in order of first appearance and an array [C, D]. Several phrasings of one class
    (an eval task's prompts) thus act as one prompt ensemble.
    """
    embeddings = l2_normalize(embeddings)
    if embeddings.ndim != 2 or embeddings.shape[0] != len(labels):
        raise ValueError(f"need embeddings [N, D] with N == len(labels) = {len(labels)}, got {embeddings.shape}")
    order: list[str] = []
    for label in labels:
        if label not in order:
            order.append(label)
    label_arr = np.asarray(labels, dtype=object)
    vecs = np.stack([embeddings[label_arr == c].mean(axis=0) for c in order])
    return order, l2_normalize(vecs)


def section_probs(
    embedding: np.ndarray, bank: np.ndarray, sections: Mapping[str, np.ndarray], logit_scale: float
) -> dict[str, np.ndarray]:
    """Per-section probabilities of one audio embedding [D] against a prompt bank [N, D].

    ``sections`` maps a section name to the row indices of its prompts; each section is an independent softmax
    over its own prompts, with all cosines computed in one matrix product.
    """
    logits = cosine_logits(embedding, bank, logit_scale)
    return {name: softmax(logits[idx]) for name, idx in sections.items()}


def linear_section_probs(
    embedding: np.ndarray, weights: np.ndarray, bias: np.ndarray, sections: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Per-section probabilities of one L2-normalised embedding [D] under linear heads: ``weights`` [N, D] and
    ``bias`` [N] give the logits ``weights @ embedding + bias``; each section is a softmax over its rows.

    A prompt row is ``logit_scale * prompt`` with zero bias, so prompts and adapted heads share this one product.
    """
    logits = weights @ np.asarray(embedding, dtype=np.float32) + bias
    return {name: softmax(logits[idx]) for name, idx in sections.items()}


def section_tops(probs: Mapping[str, np.ndarray], labels: Mapping[str, Sequence[str]]) -> dict[str, dict]:
    """The JSON-ready form of section probabilities: ``{section: {"top": label, "probs": {label: p}}}``."""
    out: dict[str, dict] = {}
    for name, p in probs.items():
        names = labels[name]
        out[name] = {"top": names[int(np.argmax(p))], "probs": {n: float(v) for n, v in zip(names, p, strict=True)}}
    return out
