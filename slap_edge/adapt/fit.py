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
from slap_edge.adapt.logistic import LinearHead, clip_span, fit_logit_calibration, fit_softmax_regression
from slap_edge.eval.metrics import macro_f1

DEFAULT_CS = (0.001, 0.01, 0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0)
# What `adapt` may store: ``prior`` (the default) the MAP head pulled toward the prompts, ``auto`` the best of the
# prompt heads by cross-validation (falling back to zero-shot), ``calibrated`` zero-shot with a fitted scale and
# offsets (or zero-shot itself when that shows no gain), ``plain`` logistic regression without prompts.
# benchmarks/results/adapt/ measures them: ``prior`` was the best on the project's suites.
VARIANTS = ("prior", "auto", "calibrated", "plain")
# The prompt heads `auto` chooses among, simplest first.
CANDIDATES = ("zero_shot", "calibrated", "prior", "calibrated_prior")
CRITERIA = ("guarded", "guarded_1se", "log_loss", "f1")


@dataclasses.dataclass(frozen=True)
class AdaptConfig:
    """How heads are fitted. ``variant`` (`VARIANTS`) says which head the file stores where the section has prompts;
    without prompts it is always ``plain``."""

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


def calibrated_head(x: np.ndarray, y: np.ndarray, prior: np.ndarray, balanced: bool = True) -> LinearHead:
    """The zero-shot head recalibrated: ``a * prior`` and biases ``b`` by `fit_logit_calibration` (the prompts'
    directions kept, their sharpness and each label's offset fitted)."""
    a, b = fit_logit_calibration(x @ prior.T, y, _weights(y, prior.shape[0], balanced))
    return LinearHead((a * prior).astype(np.float32), b.astype(np.float32))


def fit_head(
    x: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    c: float,
    prior: np.ndarray | None,
    balanced: bool = True,
    bias_c: float | None = None,
    recalibrate: bool = False,
) -> LinearHead:
    """One head: ``prior`` [C, D] (logit-scaled prompt vectors) pulls weights and biases; None fits plainly.

    With ``recalibrate`` the pull is toward the recalibrated zero-shot head (`calibrated_head`) instead of the raw
    prompts: the clips first set the prompts' scale and offsets (two or three numbers), then move the directions."""
    prior_bias = None
    if recalibrate and prior is not None:
        centre = calibrated_head(x, y, prior, balanced)
        prior, prior_bias = centre.weights.astype(np.float64), centre.bias.astype(np.float64)
    return fit_softmax_regression(
        x,
        y,
        n_classes,
        c,
        prior_weights=prior,
        prior_bias=prior_bias,
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
    recalibrate: bool = False,
) -> np.ndarray:
    """Held-out probabilities [n, C]; NaN rows where a fold cannot be fitted (a plain head whose training clips
    lack a class)."""
    out = np.full((len(y), n_classes), np.nan)
    for train, test in folds:
        present = np.unique(y[train])
        if prior is None and len(present) < n_classes:
            continue
        head = fit_head(x[train], y[train], n_classes, c, prior, balanced, recalibrate=recalibrate)
        out[test] = head.probs(x[test])
    return out


def out_of_fold_calibrated(
    x: np.ndarray, y: np.ndarray, prior: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]], balanced: bool = True
) -> np.ndarray:
    """Held-out probabilities [n, C] of `calibrated_head`."""
    out = np.full((len(y), prior.shape[0]), np.nan)
    for train, test in folds:
        out[test] = calibrated_head(x[train], y[train], prior, balanced).probs(x[test])
    return out


def balanced_log_loss(probs: np.ndarray, y: np.ndarray) -> float:
    """Mean over labels of the mean -log p(true label) of the rows that were scored (inf when none)."""
    ok = ~np.isnan(probs[:, 0])
    if not ok.any():
        return math.inf
    p = np.clip(probs[ok, y[ok]], 1e-12, 1.0)
    losses = [float(-np.log(p[y[ok] == k]).mean()) for k in np.unique(y[ok])]
    return float(np.mean(losses))


def clip_log_losses(probs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """-log p(true label) of each scored row, weighted so that every label counts equally (their mean is
    `balanced_log_loss` when every label has rows)."""
    ok = ~np.isnan(probs[:, 0])
    yk = y[ok]
    p = np.clip(probs[ok, yk], 1e-12, 1.0)
    counts = np.bincount(yk)
    present = int(np.sum(counts > 0))
    return -np.log(p) * (yk.size / (present * counts[yk]))


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
    recalibrate: bool = False,
) -> tuple[float, np.ndarray | None, bool]:
    """The c of ``cs`` chosen by speaker-grouped cross-validation, its out-of-fold probabilities, and whether
    cross-validation could decide (else the middle of the grid, and None). Ties go to the smaller c (the stronger
    pull toward the prompts, or the simpler plain head).

    ``criterion``: ``log_loss`` (balanced log-loss of the held-out clips), ``f1`` (their macro-F1), or ``guarded``
    (the lowest log-loss among the c whose macro-F1 is no lower than the smallest c's) or ``guarded_1se`` (among
    those, the smallest c whose log-loss is within one standard error of the lowest). Log-loss alone may move the
    boundary toward the few adaptation speakers for a calibration gain; F1 alone is coarse with tens of clips and
    almost always ties back to the prior; the guard keeps log-loss's gains where the held-out F1 does not drop."""
    order = sorted(cs)
    oofs = {c: np.full((len(y), n_classes), np.nan) for c in order}
    # Folds outside, c inside: the clips' span and the recalibrated centre depend on the fold only.
    for train, test in folds:
        if prior is None and len(np.unique(y[train])) < n_classes:
            continue  # a plain head cannot be fitted without every label (NaN rows)
        centre, centre_bias = prior, None
        if recalibrate and prior is not None:
            recal = calibrated_head(x[train], y[train], prior, balanced)
            centre, centre_bias = recal.weights.astype(np.float64), recal.bias.astype(np.float64)
        span = clip_span(x[train])
        for c in order:
            head = fit_softmax_regression(
                x[train],
                y[train],
                n_classes,
                c,
                prior_weights=centre,
                prior_bias=centre_bias,
                penalise_bias=prior is not None,
                sample_weight=_weights(y[train], n_classes, balanced),
                span=span,
            )
            oofs[c][test] = head.probs(x[test])
    best: tuple[float, float, np.ndarray] | None = None
    floor: float | None = None  # guarded: the F1 of the strongest pull, which a looser c must not lose
    eligible: list[float] = []
    for c in order:
        oof = oofs[c]
        f1 = oof_macro_f1(oof, y, n_classes)
        if f1 is None:
            continue
        if criterion == "f1":
            score = f1
        else:
            if floor is None:
                floor = f1
            if criterion.startswith("guarded") and f1 < floor - 1e-9:
                continue
            eligible.append(c)
            score = -balanced_log_loss(oof, y)
        if best is None or score > best[1] + 1e-9:
            best = (c, score, oof)
    if best is None:
        return sorted(cs)[(len(cs) - 1) // 2], None, False
    if criterion == "guarded_1se":
        # Breiman's one-standard-error rule: the strongest pull whose held-out log-loss is within one standard error
        # (of the per-clip differences) of the lowest; with tens of clips the lowest is partly noise.
        lowest = clip_log_losses(oofs[best[0]], y)
        for c in eligible:
            diff = clip_log_losses(oofs[c], y) - lowest
            se = float(diff.std(ddof=1) / math.sqrt(diff.size)) if diff.size > 1 else 0.0
            if float(diff.mean()) <= se + 1e-12:
                return c, oofs[c], True
    return best[0], best[2], True


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One prompt-based head cross-validated on the adaptation clips: ``c`` is None for the heads without one."""

    name: str
    c: float | None
    oof: np.ndarray | None  # out-of-fold probabilities [n, C] (zero-shot: its plain probabilities; no fitting)
    cv_f1: float | None
    cv_log_loss: float | None


def cross_validate_candidates(
    x: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    prior: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    cs: tuple[float, ...],
    balanced: bool = True,
    criterion: str = "guarded",
    names: tuple[str, ...] = CANDIDATES,
) -> dict[str, Candidate]:
    """The heads built on the prompts (`CANDIDATES`), each with its out-of-fold scores on the same folds; ``c`` of
    the two MAP heads chosen by `choose_c`.

    Only folds whose training clips hold every label are used: a head fitted on one label's clips (one speaker per
    label leaves nothing else once a speaker is held out) learns only to say that label, so its held-out score would
    say nothing about the head fitted on all clips. Without such folds no candidate has scores (`select_candidate`
    then keeps zero-shot); zero-shot is scored on the same clips as the others."""
    folds = [(train, test) for train, test in folds if len(np.unique(y[train])) == n_classes]
    out: dict[str, Candidate] = {}

    def make(name: str, c: float | None, oof: np.ndarray | None) -> Candidate:
        if oof is None:
            return Candidate(name, c, None, None, None)
        return Candidate(name, c, oof, oof_macro_f1(oof, y, n_classes), balanced_log_loss(oof, y))

    for name in names:
        if name == "zero_shot":
            zs = np.full((len(y), n_classes), np.nan)
            for _, test in folds:
                zs[test] = LinearHead(prior.astype(np.float32), np.zeros(n_classes, np.float32)).probs(x[test])
            out[name] = make(name, None, zs if folds else None)
        elif name == "calibrated":
            out[name] = make(name, None, out_of_fold_calibrated(x, y, prior, folds, balanced) if folds else None)
        elif name in ("prior", "calibrated_prior"):
            c, oof, _ = choose_c(x, y, n_classes, prior, folds, cs, balanced, criterion, name == "calibrated_prior")
            out[name] = make(name, c, oof)
        else:
            raise ValueError(f"unknown candidate {name!r}; known: {CANDIDATES}")
    return out


def select_candidate(candidates: dict[str, Candidate]) -> str:
    """The guarded choice among the cross-validated prompt heads: zero-shot unless another reaches a strictly
    higher cross-validated macro-F1; among those, the highest, ties to the simpler (`CANDIDATES` order)."""
    best, best_f1 = "zero_shot", candidates["zero_shot"].cv_f1 if "zero_shot" in candidates else None
    if best_f1 is None:
        return best
    for name in CANDIDATES[1:]:
        cand = candidates.get(name)
        if cand is not None and cand.cv_f1 is not None and cand.cv_f1 > best_f1 + 1e-9:
            best, best_f1 = name, cand.cv_f1
    return best


def fit_candidate(
    name: str, x: np.ndarray, y: np.ndarray, n_classes: int, c: float | None, prior: np.ndarray, balanced: bool = True
) -> LinearHead:
    """The head ``name`` of `CANDIDATES` fitted on all the clips (``c`` for the MAP heads)."""
    if name == "zero_shot":
        return LinearHead(prior.astype(np.float32), np.zeros(n_classes, np.float32))
    if name == "calibrated":
        return calibrated_head(x, y, prior, balanced)
    if name in ("prior", "calibrated_prior") and c is not None:
        return fit_head(x, y, n_classes, c, prior, balanced, recalibrate=name == "calibrated_prior")
    raise ValueError(f"cannot fit candidate {name!r} with c={c}")


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

    cv: dict[str, Any] = {name: None for name in ("zero_shot", "plain", *CANDIDATES[1:])}
    c_plain, oof_plain, decided_plain = choose_c(x, y, n_classes, None, folds, cfg.cs, cfg.balanced, cfg.criterion)
    cv["plain"], cv["plain_clips"] = f1_of(oof_plain)
    candidates: dict[str, Candidate] = {}
    if prior is not None:
        zs = (x @ prior.T).argmax(axis=1)  # the zero-shot decision; no fitting, so no folds
        cv["zero_shot"] = macro_f1(y_labels, [labels[i] for i in zs], list(labels))
        candidates = cross_validate_candidates(x, y, n_classes, prior, folds, cfg.cs, cfg.balanced, cfg.criterion)
        for cand in candidates.values():
            if cand.name != "zero_shot":
                cv[cand.name], cv[f"{cand.name}_clips"] = f1_of(cand.oof)
    why = None
    if prior is None:
        chosen = "plain"
        why = "no prompts for every label of this section" if cfg.variant != "plain" else None
    elif cfg.variant == "plain":
        chosen = "plain"
    elif cfg.variant == "prior":
        chosen = "prior"
    elif cfg.variant == "calibrated":
        chosen = select_candidate({n: candidates[n] for n in ("zero_shot", "calibrated")})
    else:
        chosen = select_candidate(candidates)
    if prior is not None and cfg.variant in ("auto", "calibrated"):
        pool = CANDIDATES if cfg.variant == "auto" else ("zero_shot", "calibrated")
        why = (
            "cross-validation showed no gain over the prompts (or could not be run), so the zero-shot head is kept"
            if chosen == "zero_shot"
            else f"highest cross-validated macro-F1 of {', '.join(pool)}"
        )
    if chosen == "plain":
        c, oof, decided = c_plain, oof_plain, decided_plain
        head = fit_head(x, y, n_classes, c, None, cfg.balanced)
    else:
        cand = candidates[chosen]
        c, oof = cand.c, cand.oof
        decided = bool(folds)
        head = fit_candidate(chosen, x, y, n_classes, c, prior, cfg.balanced)
        if chosen == "zero_shot":
            oof = head.probs(x)  # nothing fitted, so the clips' own scores are held-out scores
    info: dict[str, Any] = {
        "variant": cfg.variant if prior is not None else "plain",
        "head": chosen,
        "why": why,
        "c": c,
        "c_chosen_by": None
        if c is None
        else f"cross-validation ({cfg.criterion})"
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
