"""Classification and retrieval metrics as pure numpy functions (checked against scikit-learn in the tests)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def confusion(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """Counts [C, C]: row = true label, column = predicted label, in the order of ``labels``."""
    index = {label: i for i, label in enumerate(labels)}
    out = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(y_true, y_pred, strict=True):
        if t not in index or p not in index:
            raise ValueError(f"label {t if t not in index else p!r} is not one of {list(labels)}")
        out[index[t], index[p]] += 1
    return out


def per_class_f1(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """F1 of each class in ``labels``; 0 where precision and recall are both undefined (sklearn's zero_division=0)."""
    cm = confusion(y_true, y_pred, labels)
    tp = np.diag(cm).astype(np.float64)
    denom = cm.sum(axis=0) + cm.sum(axis=1)  # (tp + fp) + (tp + fn)
    return np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)


def macro_f1(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> float:
    """Unweighted mean of the per-class F1 over all ``labels`` (a class absent from both counts as 0)."""
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} items but y_pred has {len(y_pred)}")
    if not len(y_true):
        return float("nan")
    return float(per_class_f1(y_true, y_pred, labels).mean())


def balanced_accuracy(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> float:
    """Mean recall over the classes present in ``y_true`` (as sklearn's balanced_accuracy_score)."""
    if not len(y_true):
        return float("nan")
    cm = confusion(y_true, y_pred, labels)
    support = cm.sum(axis=1)
    present = support > 0
    return float((np.diag(cm)[present] / support[present]).mean())


def recall_at_k(similarity: np.ndarray, positives: np.ndarray, k: int) -> float:
    """Fraction of queries (rows) with at least one positive among their ``k`` most similar items.

    ``similarity`` and ``positives`` are [Q, N]; queries without any positive are not counted.
    """
    similarity = np.asarray(similarity)
    positives = np.asarray(positives, dtype=bool)
    if similarity.shape != positives.shape:
        raise ValueError(f"similarity {similarity.shape} and positives {positives.shape} differ in shape")
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    valid = positives.any(axis=1)
    if not valid.any():
        return float("nan")
    k = min(k, similarity.shape[1])
    # Sort descending; a stable sort keeps the result independent of numpy's tie-breaking between versions.
    top = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
    hits = np.take_along_axis(positives, top, axis=1).any(axis=1)
    return float(hits[valid].mean())
