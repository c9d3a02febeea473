"""The eval metrics agree with scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, f1_score

from slap_edge.eval.metrics import balanced_accuracy, confusion, macro_f1, recall_at_k

LABELS = ["female", "male"]


@pytest.mark.parametrize("seed", range(8))
def test_macro_f1_and_balanced_accuracy_match_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 40))
    y_true = list(rng.choice(LABELS, n, p=[0.3, 0.7]))
    y_pred = list(rng.choice(LABELS, n)) if seed % 3 else [LABELS[0]] * n  # include a constant predictor
    expected = f1_score(y_true, y_pred, labels=LABELS, average="macro", zero_division=0)
    assert macro_f1(y_true, y_pred, LABELS) == pytest.approx(expected)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected_bacc = balanced_accuracy_score(y_true, y_pred)
    assert balanced_accuracy(y_true, y_pred, LABELS) == pytest.approx(expected_bacc)


def test_single_class_truth() -> None:
    y_true, y_pred = ["male"] * 3, ["male", "female", "male"]
    assert macro_f1(y_true, y_pred, LABELS) == pytest.approx(
        f1_score(y_true, y_pred, labels=LABELS, average="macro", zero_division=0)
    )
    assert balanced_accuracy(y_true, y_pred, LABELS) == pytest.approx(2 / 3)


def test_confusion_rejects_unknown_labels() -> None:
    assert confusion(["a", "b"], ["b", "b"], ["a", "b"]).tolist() == [[0, 1], [0, 1]]
    with pytest.raises(ValueError, match="'c'"):
        confusion(["a"], ["c"], ["a", "b"])


def test_recall_at_k_by_hand() -> None:
    sim = np.array([[0.9, 0.1, 0.5], [0.2, 0.3, 0.8], [0.7, 0.6, 0.1]])
    pos = np.eye(3, dtype=bool)
    # Query 0 ranks item 0 first; query 1 ranks its item second; query 2 ranks its item last.
    assert recall_at_k(sim, pos, 1) == pytest.approx(1 / 3)
    assert recall_at_k(sim, pos, 2) == pytest.approx(2 / 3)
    assert recall_at_k(sim, pos, 5) == pytest.approx(1.0)
    pos[2] = False  # a query without positives is not counted
    assert recall_at_k(sim, pos, 1) == pytest.approx(1 / 2)
