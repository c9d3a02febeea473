"""Fitting heads from labelled embeddings: speaker-grouped cross-validation, the prompt prior, and calibration.

For each section two heads are cross-validated side by side with the zero-shot prompts:

- ``plain``: logistic regression on the L2-normalised embeddings (scikit-learn's objective, balanced classes);
- ``prior``: the same, pulled toward ``logit_scale *`` the text prompts' class vectors (and zero biases), so a strong
  pull is the zero-shot decision and a weak one the plain head; a class with few clips stays near its prompt.

The regularisation of each is chosen from a grid by speaker-grouped cross-validation (`choose_c`: by default the
lowest held-out log-loss that does not lose held-out macro-F1 against the strongest pull; ties go to the stronger
pull). The out-of-fold probabilities of the chosen head give its
cross-validated macro-F1 and its calibrated thresholds: for each label, the lowest probability that at most
``target_far`` of the clips of the other labels reach.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from slap_edge.adapt.heads import SectionHead
from slap_edge.adapt.logistic import LinearHead, fit_softmax_regression
from slap_edge.eval.metrics import macro_f1

DEFAULT_CS = (0.001, 0.01, 0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0)
VARIANTS = ("prior", "plain")
CRITERIA = ("guarded", "log_loss", "f1")


@dataclasses.dataclass(frozen=True)
class AdaptConfig:
    """How heads are fitted. ``variant`` is what the heads file stores: ``prior`` (where prompts exist) or ``plain``."""

    variant: str = "prior"
    cs: tuple[float, ...] = DEFAULT_CS
    folds: int = 5
    target_far: float | None = 0.01
    seed: int = 0
    balanced: bool = True
    criterion: str = "guarded"

    def __post_init__(self) -> None:
        if self.criterion not in CRITERIA:
            raise ValueError(f"criterion must be one of {CRITERIA}, got {self.criterion!r}")
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {self.variant!r}")
        if not self.cs or any(not (c > 0 and math.isfinite(c)) for c in self.cs):
            raise ValueError(f"cs must be positive numbers, got {self.cs}")
        if self.folds < 2:
            raise ValueError(f"folds must be >= 2, got {self.folds}")
        if self.target_far is not None and not 0.0 < self.target_far < 1.0:
            raise ValueError(f"target_far must be in (0, 1), got {self.target_far}")


def speaker_folds(
    y: np.ndarray, groups: np.ndarray, n_folds: int, seed: int
) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
    """(train, test) index pairs that never split a speaker, and their description: ``n_folds`` folds with each
    label's speakers dealt round-robin (in a seeded order), or leave one speaker out when there are fewer speakers."""
    speakers = list(dict.fromkeys(groups.tolist()))
    if len(speakers) < 2:
        return [], "none (one speaker)"
    rng = np.random.default_rng(seed)
    if len(speakers) <= n_folds:
        fold_of = {s: i for i, s in enumerate(speakers)}
        kind = "leave-one-speaker-out"
        n = len(speakers)
    else:
        # Deal each label's speakers (by their most frequent label) round-robin, so every fold sees every label.
        majority = {}
        for s in speakers:
            vals, counts = np.unique(y[groups == s], return_counts=True)
            majority[s] = vals[np.argmax(counts)]
        order = [speakers[i] for i in rng.permutation(len(speakers))]
        order.sort(key=lambda s: majority[s])  # stable: shuffled within each label
        fold_of = {s: i % n_folds for i, s in enumerate(order)}
        kind = f"{n_folds}-fold by speaker"
        n = n_folds
    fold = np.array([fold_of[s] for s in groups.tolist()])
    return [(np.flatnonzero(fold != f), np.flatnonzero(fold == f)) for f in range(n)], kind


def _weights(y: np.ndarray, n_classes: int, balanced: bool) -> np.ndarray:
    if not balanced:
        return np.ones(len(y))
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    present = int(np.sum(counts > 0))
    return len(y) / (present * counts[y])


def fit_head(
    x: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    c: float,
    prior: np.ndarray | None,
    balanced: bool = True,
    bias_c: float | None = None,
) -> LinearHead:
    """One head: ``prior`` [C, D] (logit-scaled prompt vectors) pulls weights and biases; None fits plainly."""
    return fit_softmax_regression(
        x,
        y,
        n_classes,
        c,
        prior_weights=prior,
        penalise_bias=prior is not None,
        sample_weight=_weights(y, n_classes, balanced),
        bias_c=bias_c,
    )


def out_of_fold(
    x: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    c: float,
    prior: np.ndarray | None,
    folds: list[tuple[np.ndarray, np.ndarray]],
    balanced: bool = True,
) -> np.ndarray:
    """Held-out probabilities [n, C]; NaN rows where a fold cannot be fitted (a plain head whose training clips
    lack a class)."""
    out = np.full((len(y), n_classes), np.nan)
    for train, test in folds:
        present = np.unique(y[train])
        if prior is None and len(present) < n_classes:
            continue
        head = fit_head(x[train], y[train], n_classes, c, prior, balanced)
        out[test] = head.probs(x[test])
    return out


def balanced_log_loss(probs: np.ndarray, y: np.ndarray) -> float:
    """Mean over labels of the mean -log p(true label) of the rows that were scored (inf when none)."""
    ok = ~np.isnan(probs[:, 0])
    if not ok.any():
        return math.inf
    p = np.clip(probs[ok, y[ok]], 1e-12, 1.0)
    losses = [float(-np.log(p[y[ok] == k]).mean()) for k in np.unique(y[ok])]
    return float(np.mean(losses))


def oof_macro_f1(probs: np.ndarray, y: np.ndarray, n_classes: int) -> float | None:
    """Macro-F1 of the rows that were scored (None when none were)."""
    ok = ~np.isnan(probs[:, 0])
    if not ok.any():
        return None
    return macro_f1(y[ok].tolist(), np.argmax(probs[ok], axis=1).tolist(), list(range(n_classes)))


def choose_c(
    x: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    prior: np.ndarray | None,
    folds: list[tuple[np.ndarray, np.ndarray]],
    cs: tuple[float, ...],
    balanced: bool = True,
    criterion: str = "guarded",
) -> tuple[float, np.ndarray | None, bool]:
    """The c of ``cs`` chosen by speaker-grouped cross-validation, its out-of-fold probabilities, and whether
    cross-validation could decide (else the middle of the grid, and None). Ties go to the smaller c (the stronger
    pull toward the prompts, or the simpler plain head).

    ``criterion``: ``log_loss`` (balanced log-loss of the held-out clips), ``f1`` (their macro-F1), or ``guarded``
    (the lowest log-loss among the c whose macro-F1 is no lower than the smallest c's). Log-loss alone may move the
    boundary toward the few adaptation speakers for a calibration gain; F1 alone is coarse with tens of clips and
    almost always ties back to the prior; the guard keeps log-loss's gains where the held-out F1 does not drop."""
    best: tuple[float, float, np.ndarray] | None = None
    floor: float | None = None  # guarded: the F1 of the strongest pull, which a looser c must not lose
    for c in sorted(cs):
        oof = out_of_fold(x, y, n_classes, c, prior, folds, balanced)
        f1 = oof_macro_f1(oof, y, n_classes)
        if f1 is None:
            continue
        if criterion == "f1":
            score = f1
        else:
            if floor is None:
                floor = f1
            if criterion == "guarded" and f1 < floor - 1e-9:
                continue
            score = -balanced_log_loss(oof, y)
        if best is None or score > best[1] + 1e-9:
            best = (c, score, oof)
    if best is None:
        return sorted(cs)[(len(cs) - 1) // 2], None, False
    return best[0], best[2], True


def calibrate(
    probs: np.ndarray, y: np.ndarray, labels: tuple[str, ...], target_far: float
) -> tuple[np.ndarray, dict[str, Any]]:
    """Per label, the lowest probability reached by at most ``target_far`` of the other labels' (out-of-fold)
    clips; with N such clips no rate below 1/N can be measured, so then it is just above their highest score.
    Returns the thresholds [C] and, per label, the threshold, the false-alarm rate and recall it gives on these
    clips, and the number of negatives."""
    ok = ~np.isnan(probs[:, 0])
    thresholds = np.full(len(labels), np.nan, dtype=np.float32)
    facts: dict[str, Any] = {}
    for k, label in enumerate(labels):
        neg = np.sort(probs[ok & (y != k), k])[::-1]
        pos = probs[ok & (y == k), k]
        if neg.size == 0:
            facts[label] = {"threshold": None, "why": "no clips of other labels to calibrate on"}
            continue
        allowed = int(math.floor(target_far * neg.size + 1e-9))
        level = float(neg[allowed]) if allowed < neg.size else 0.0
        threshold = float(np.nextafter(np.float32(level), np.float32(np.inf)))  # strictly above that negative
        threshold = min(threshold, 1.0)
        thresholds[k] = threshold
        facts[label] = {
            "threshold": threshold,
            "far": float(np.mean(neg >= threshold)),
            "recall": float(np.mean(pos >= threshold)) if pos.size else None,
            "n_negatives": int(neg.size),
            "resolution": 1.0 / neg.size,
        }
    return thresholds, facts


def prompt_prior(
    labels: tuple[str, ...], prompt_vectors: dict[str, np.ndarray] | None, logit_scale: float
) -> np.ndarray | None:
    """``logit_scale *`` each label's unit class vector [C, D], or None when a label has no prompt."""
    if not prompt_vectors or any(label not in prompt_vectors for label in labels):
        return None
    return logit_scale * np.stack([prompt_vectors[label] for label in labels]).astype(np.float64)


def fit_section(
    name: str,
    x: np.ndarray,
    y_labels: list[str],
    speakers: list[str],
    labels: tuple[str, ...],
    prompt_vectors: dict[str, np.ndarray] | None,
    logit_scale: float,
    cfg: AdaptConfig,
) -> tuple[SectionHead, dict[str, Any]]:
    """The head of one section and the facts of its fit (cross-validated macro-F1 of zero-shot, plain and prior)."""
    index = {label: i for i, label in enumerate(labels)}
    y = np.array([index[v] for v in y_labels])
    groups = np.asarray(speakers, dtype=object)
    x = np.asarray(x, dtype=np.float64)
    folds, fold_kind = speaker_folds(y, groups, cfg.folds, cfg.seed)
    prior = prompt_prior(labels, prompt_vectors, logit_scale)
    n_classes = len(labels)

    def f1_of(probs: np.ndarray | None) -> tuple[float | None, int]:
        if probs is None:
            return None, 0
        ok = ~np.isnan(probs[:, 0])
        if not ok.any():
            return None, 0
        pred = [labels[i] for i in np.argmax(probs[ok], axis=1)]
        return macro_f1([y_labels[i] for i in np.flatnonzero(ok)], pred, list(labels)), int(ok.sum())

    cv: dict[str, Any] = {}
    if prior is not None:
        zs = (x @ prior.T).argmax(axis=1)  # the zero-shot decision; no fitting, so no folds
        cv["zero_shot"] = macro_f1(y_labels, [labels[i] for i in zs], list(labels))
    else:
        cv["zero_shot"] = None
    chosen: dict[str, tuple[float, np.ndarray | None, bool]] = {}
    for variant in VARIANTS:
        if variant == "prior" and prior is None:
            cv["prior"] = None
            continue
        c, oof, decided = choose_c(
            x, y, n_classes, prior if variant == "prior" else None, folds, cfg.cs, cfg.balanced, cfg.criterion
        )
        chosen[variant] = (c, oof, decided)
        cv[variant], cv[f"{variant}_clips"] = f1_of(oof)
    variant = cfg.variant if cfg.variant in chosen else "plain"
    c, oof, decided = chosen[variant]
    head = fit_head(x, y, n_classes, c, prior if variant == "prior" else None, cfg.balanced)
    info: dict[str, Any] = {
        "variant": variant,
        "why": None if variant == cfg.variant else "no prompts for every label of this section",
        "c": c,
        "c_chosen_by": f"cross-validation ({cfg.criterion})"
        if decided
        else "default (cross-validation impossible with these speakers)",
        "n_clips": len(y_labels),
        "n_speakers": len(set(speakers)),
        "clips_per_label": {label: int(np.sum(y == i)) for i, label in enumerate(labels)},
        "folds": fold_kind,
        "cv_macro_f1": cv,
        "target_far": cfg.target_far,
    }
    thresholds = np.full(n_classes, np.nan, dtype=np.float32)
    if cfg.target_far is not None:
        if oof is not None:
            thresholds, info["calibration"] = calibrate(oof, y, labels, cfg.target_far)
        else:
            info["calibration"] = "none: too few speakers for held-out scores"
    section = SectionHead(name, labels, head.weights, head.bias, thresholds, info)
    return section, info
