"""Candidate few-shot heads for `slap-edge adapt`, measured on the draws of benchmarks/adapt_fewshot.py (issue 25).

Every choice a method makes (a shrinkage, a kernel width, whether to fall back to zero-shot) is made by
speaker-grouped cross-validation on the adaptation clips of the draw only; the test clips are scored once, at the end.
Same splits as the benchmark (same seeds), so `zero_shot` and `prior` reproduce its figures.

    python experiments/adapt_variants.py --bundle default --suite NAME=SUITE_DIR [...] --out experiments/results/X
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from adapt_fewshot import draw_split, embed_cached, task_arrays  # noqa: E402

from slap_edge.adapt.fit import DEFAULT_CS, cross_validate_candidates, fit_candidate, speaker_folds  # noqa: E402
from slap_edge.adapt.logistic import LinearHead, softmax64  # noqa: E402
from slap_edge.eval.metrics import macro_f1  # noqa: E402

Predictor = Callable[[np.ndarray], np.ndarray]  # embeddings [n, D] -> probabilities [n, C]


def balanced_mean(x: np.ndarray, y: np.ndarray, n_classes: int) -> np.ndarray:
    """The mean of the class means of ``x`` (classes without clips left out)."""
    means = [x[y == c].mean(axis=0) for c in range(n_classes) if np.any(y == c)]
    return np.mean(means, axis=0)


def centred_zero_shot(x: np.ndarray, y: np.ndarray, prior: np.ndarray) -> LinearHead:
    """The zero-shot head scored on embeddings minus the site's mean clip: ``b = -W mu`` (no fitted parameter)."""
    mu = balanced_mean(x, y, prior.shape[0])
    return LinearHead(prior.astype(np.float32), (-(prior @ mu)).astype(np.float32))


def prototype_shift(x: np.ndarray, y: np.ndarray, prior: np.ndarray, lam: float, centre: bool) -> LinearHead:
    """``w_c = s * normalise(P_c + lam * (m_c - mu))`` (with ``centre``: and ``b = -w mu``), ``m_c`` the class mean
    of the adaptation clips, ``mu`` the mean of the class means; a class without clips keeps its prompt."""
    n_classes = prior.shape[0]
    scale = float(np.linalg.norm(prior[0]))
    p = prior / scale
    mu = balanced_mean(x, y, n_classes)
    w = np.empty_like(p)
    for c in range(n_classes):
        if np.any(y == c):
            m = x[y == c].mean(axis=0) - (mu if centre else 0.0)
            v = p[c] + lam * m
        else:
            v = p[c]
        w[c] = scale * v / np.linalg.norm(v)
    b = -(w @ mu) if centre else np.zeros(n_classes)
    return LinearHead(w.astype(np.float32), b.astype(np.float32))


class TipAdapter:
    """Zero-shot logits plus ``alpha * sum_j exp(-beta (1 - e . x_j)) onehot(y_j)`` over the adaptation clips,
    each class's affinities averaged (balanced), as Tip-Adapter does; needs the clips at run time."""

    def __init__(self, x: np.ndarray, y: np.ndarray, prior: np.ndarray, alpha: float, beta: float) -> None:
        self.x, self.prior, self.alpha, self.beta = x, prior, alpha, beta
        n_classes = prior.shape[0]
        counts = np.bincount(y, minlength=n_classes).astype(np.float64)
        self.onehot = np.eye(n_classes)[y] / np.maximum(counts, 1.0)[y][:, None]
        self.scale = float(np.linalg.norm(prior[0]))

    def __call__(self, e: np.ndarray) -> np.ndarray:
        aff = np.exp(-self.beta * (1.0 - e @ self.x.T))
        return softmax64(e @ self.prior.T + self.alpha * self.scale * (aff @ self.onehot))


def oof_probs(
    x: np.ndarray, y: np.ndarray, n_classes: int, folds: list, make: Callable[[np.ndarray, np.ndarray], Predictor]
) -> np.ndarray:
    out = np.full((len(y), n_classes), np.nan)
    for train, test in folds:
        out[test] = make(x[train], y[train])(x[test])
    return out


def per_clip_loss(probs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """-log p(true) per clip, weighted so that each class counts equally (NaN rows stay NaN)."""
    p = np.clip(probs[np.arange(len(y)), y], 1e-12, 1.0)
    counts = np.bincount(y)
    return -np.log(p) * (len(y) / (len(counts) * counts[y]))


def f1_of(probs: np.ndarray, y: np.ndarray, n_classes: int) -> float:
    return macro_f1(y.tolist(), probs.argmax(1).tolist(), list(range(n_classes)))


def choose(
    x: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    folds: list,
    grid: list[Any],
    make: Callable[[np.ndarray, np.ndarray, Any], Predictor],
    zs_oof: np.ndarray,
    guard: str,
) -> tuple[Any | None, dict[str, Any]]:
    """The grid point with the lowest CV log-loss among those whose CV macro-F1 is no lower than zero-shot's,
    or None (keep zero-shot) when the guard says its gain is not clearly positive.

    ``guard``: ``none`` (best log-loss, whatever), ``f1`` (CV F1 >= zero-shot's and log-loss lower), ``1se``
    (additionally the log-loss gain over zero-shot must exceed one standard error of the per-clip differences)."""
    ok = ~np.isnan(zs_oof[:, 0])
    zs_loss = per_clip_loss(zs_oof[ok], y[ok])
    zs_f1 = f1_of(zs_oof[ok], y[ok], n_classes)
    best = None
    for g in grid:
        oof = oof_probs(x, y, n_classes, folds, lambda a, b, g=g: make(a, b, g))[ok]
        loss = per_clip_loss(oof, y[ok])
        f1 = f1_of(oof, y[ok], n_classes)
        if guard != "none" and f1 < zs_f1 - 1e-9:
            continue
        mean = float(loss.mean())
        if best is None or mean < best[1] - 1e-12:
            best = (g, mean, loss, f1)
    if best is None:
        return None, {"why": "no grid point keeps the CV F1"}
    diff = zs_loss - best[2]
    gain, se = float(diff.mean()), float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else np.inf
    if guard in ("f1", "1se") and gain <= 0:
        return None, {"why": "no log-loss gain", "gain": gain}
    if guard == "1se" and gain <= se:
        return None, {"why": "gain within one SE", "gain": gain, "se": se}
    return best[0], {"gain": gain, "se": se, "f1": best[3], "zs_f1": zs_f1}


def sample_weights(y: np.ndarray, groups: np.ndarray, n_classes: int, by_speaker: bool) -> np.ndarray:
    """Balanced class weights; with ``by_speaker`` each speaker of a class also counts equally within it."""
    w = np.ones(len(y))
    if by_speaker:
        for c in range(n_classes):
            for s in np.unique(groups[y == c]):
                m = (y == c) & (groups == s)
                w[m] = 1.0 / m.sum()
    counts = np.array([w[y == c].sum() for c in range(n_classes)])
    present = int(np.sum(counts > 0))
    return w * (len(y) / present) / np.maximum(counts, 1e-12)[y]


def fit_prior(x, y, groups, prior, c, by_speaker=False, bias_mult=1.0):
    from slap_edge.adapt.logistic import fit_softmax_regression

    n_classes = prior.shape[0]
    return fit_softmax_regression(
        x,
        y,
        n_classes,
        c,
        prior_weights=prior,
        penalise_bias=True,
        sample_weight=sample_weights(y, groups, n_classes, by_speaker),
        bias_c=c * bias_mult,
    )


def prior_grid_oof(x, y, groups, prior, folds, cs, by_speaker=False, bias_mult=1.0) -> dict[float, np.ndarray]:
    out = {c: np.full((len(y), prior.shape[0]), np.nan) for c in cs}
    for train, test in folds:
        for c in cs:
            out[c][test] = fit_prior(x[train], y[train], groups[train], prior, c, by_speaker, bias_mult).probs(x[test])
    return out


def select_c(oofs: dict[float, np.ndarray], y: np.ndarray, n_classes: int, rule: str) -> float:
    """``guarded``: adapt's rule (lowest log-loss whose F1 >= the strongest pull's); ``1se``: among those, the
    strongest pull whose log-loss is within one standard error of the lowest."""
    cs = sorted(oofs)
    ok = ~np.isnan(oofs[cs[0]][:, 0])
    floor = f1_of(oofs[cs[0]][ok], y[ok], n_classes)
    losses = {}
    for c in cs:
        if f1_of(oofs[c][ok], y[ok], n_classes) >= floor - 1e-9:
            losses[c] = per_clip_loss(oofs[c][ok], y[ok])
    best = min(losses, key=lambda c: (losses[c].mean(), c))
    if rule == "guarded":
        return best
    for c in sorted(losses):
        d = losses[c] - losses[best]
        se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else 0.0
        if d.mean() <= se:
            return c
    return best


FINE_CS = tuple(float(10**e) for e in np.arange(-3, 4.01, 0.5))
LAMBDAS = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0]
TIP_GRID = [(a, b) for a in (0.1, 0.3, 1.0, 3.0) for b in (1.0, 5.5, 20.0)]


def run_draw(
    xa: np.ndarray, ya: np.ndarray, sa: np.ndarray, xt: np.ndarray, yt: np.ndarray, prior: np.ndarray, seed: int
) -> dict[str, Any]:
    n_classes = prior.shape[0]
    zs = LinearHead(prior.astype(np.float32), np.zeros(n_classes, np.float32))
    folds, _ = speaker_folds(ya, sa, 5, seed)
    folds = [(tr, te) for tr, te in folds if len(np.unique(ya[tr])) == n_classes]
    res: dict[str, Any] = {}
    choices: dict[str, Any] = {}

    def score(name: str, pred: Predictor) -> None:
        res[name] = f1_of(pred(xt), yt, n_classes)

    score("zero_shot", zs.probs)
    cands = cross_validate_candidates(xa, ya, n_classes, prior, folds, DEFAULT_CS) if folds else {}
    prior_head = fit_candidate("prior", xa, ya, n_classes, cands["prior"].c, prior) if folds else zs
    score("prior", prior_head.probs)
    score("centred", centred_zero_shot(xa, ya, prior).probs)
    if not folds:
        for name in ("prior_1se", "prior_f1", "centred_cv", "proto", "proto_c", "proto_1se", "proto_c_1se", "tip"):
            res[name] = res["zero_shot"]
        for name in ("tip_1se",):
            res[name] = res["zero_shot"]
        for tag in ("p_base", "p_fine", "p_spk", "p_bias10"):
            for rule in ("guarded", "1se"):
                res[f"{tag}_{rule}"] = res[f"{tag}_{rule}_g"] = res["zero_shot"]
        res["choices"] = {"no_folds": True}
        return res
    zs_oof = np.full((len(ya), n_classes), np.nan)
    for _, te in folds:
        zs_oof[te] = zs.probs(xa[te])
    ok = ~np.isnan(zs_oof[:, 0])
    xo, yo = xa, ya

    # The prior head's c is already chosen (guarded log-loss); the guards decide prior vs zero-shot.
    prior_oof = cands["prior"].oof
    for guard in ("f1", "1se"):
        use = _guard_pair(prior_oof[ok], zs_oof[ok], yo[ok], n_classes, guard)
        res[f"prior_{guard}"] = res["prior"] if use else res["zero_shot"]
        choices[f"prior_{guard}"] = use

    # Centring: keep it only if CV says so.
    cen_oof = oof_probs(xo, yo, n_classes, folds, lambda a, b: centred_zero_shot(a, b, prior).probs)
    use = _guard_pair(cen_oof[ok], zs_oof[ok], yo[ok], n_classes, "1se")
    res["centred_cv"] = res["centred"] if use else res["zero_shot"]
    choices["centred_cv"] = use

    for centre in (False, True):
        tag = "proto_c" if centre else "proto"
        for guard in ("none", "1se"):
            lam, info = choose(
                xo,
                yo,
                n_classes,
                folds,
                LAMBDAS,
                lambda a, b, g, centre=centre: prototype_shift(a, b, prior, g, centre).probs,
                zs_oof,
                "f1" if guard == "none" else guard,
            )
            name = tag if guard == "none" else f"{tag}_1se"
            if lam is None:
                res[name] = res["zero_shot"]
            else:
                score(name, prototype_shift(xa, ya, prior, lam, centre).probs)
            choices[name] = lam

    for guard in ("none", "1se"):
        ab, info = choose(
            xo,
            yo,
            n_classes,
            folds,
            TIP_GRID,
            lambda a, b, g: TipAdapter(a, b, prior, *g),
            zs_oof,
            "f1" if guard == "none" else guard,
        )
        name = "tip" if guard == "none" else "tip_1se"
        res[name] = res["zero_shot"] if ab is None else f1_of(TipAdapter(xa, ya, prior, *ab)(xt), yt, n_classes)
        choices[name] = ab

    g = np.asarray(sa, dtype=object)
    for tag, cs, by_spk, bm in (
        ("p_base", DEFAULT_CS, False, 1.0),
        ("p_fine", FINE_CS, False, 1.0),
        ("p_spk", DEFAULT_CS, True, 1.0),
        ("p_bias10", DEFAULT_CS, False, 10.0),
    ):
        oofs = prior_grid_oof(xa, ya, g, prior, folds, cs, by_spk, bm)
        for rule in ("guarded", "1se"):
            c = select_c(oofs, ya, n_classes, rule)
            name = f"{tag}_{rule}"
            head = fit_prior(xa, ya, g, prior, c, by_spk, bm)
            score(name, head.probs)
            choices[name] = c
            # and with the zero-shot fallback guard
            use = _guard_pair(oofs[c][ok], zs_oof[ok], ya[ok], n_classes, "1se")
            res[name + "_g"] = res[name] if use else res["zero_shot"]
    res["choices"] = choices
    return res


def _guard_pair(cand: np.ndarray, zs: np.ndarray, y: np.ndarray, n_classes: int, guard: str) -> bool:
    """Whether the candidate's out-of-fold scores beat zero-shot's clearly enough to be kept."""
    if f1_of(cand, y, n_classes) < f1_of(zs, y, n_classes) - 1e-9:
        return False
    diff = per_clip_loss(zs, y) - per_clip_loss(cand, y)
    gain = float(diff.mean())
    if guard == "f1":
        return gain > 0
    se = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else np.inf
    return gain > se


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bundle", default="default")
    parser.add_argument("--suite", action="append", required=True)
    parser.add_argument("--ks", default="1,2,5,10,20")
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-test", type=int, default=5)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/slap-edge-adapt-cache"))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    ks = [int(k) for k in args.ks.split(",")]
    from slap_edge.bundle_reader import load_bundle, resolve_bundle_path

    bundle = load_bundle(resolve_bundle_path(args.bundle))
    t0 = time.time()
    result: dict[str, Any] = {"model_id": bundle.model_id, "command": "python " + " ".join(sys.argv), "suites": {}}
    for spec in args.suite:
        name, _, path = spec.partition("=")
        suite, audio, row_of, text_of = embed_cached(args.bundle, Path(path), args.cache)
        rows: dict[int, list[dict[str, Any]]] = {k: [] for k in ks}
        for task in suite.tasks:
            x, y, spk, vectors = task_arrays(suite, task, audio, row_of, text_of)
            prior = bundle.logit_scale * vectors.astype(np.float64)
            for k in ks:
                for draw in range(args.draws):
                    seed = [args.seed, k, draw, int(hashlib.sha256(x.tobytes()).hexdigest()[:8], 16)]
                    split = draw_split(y, spk, k, np.random.default_rng(seed), args.min_test)
                    if split is None:
                        continue
                    a, t = split
                    r = run_draw(x[a], y[a], spk[a], x[t], y[t], prior, args.seed)
                    r.update(task=task.name, draw=draw)
                    rows[k].append(r)
            print(f"{name} {task.name} done {time.time() - t0:.0f}s", flush=True)
        summary = {}
        for k in ks:
            methods = [m for m in rows[k][0] if m not in ("choices", "task", "draw")]
            methods = [m for m in methods if all(m in r for r in rows[k])]
            by_draw = {m: [] for m in methods}
            for draw in range(args.draws):
                done = [r for r in rows[k] if r["draw"] == draw]
                for m in methods:
                    by_draw[m].append(float(np.mean([r[m] for r in done])))
            zs = np.array(by_draw["zero_shot"])
            summary[k] = {m: float(np.mean(np.array(v) - zs)) for m, v in by_draw.items()}
            summary[k]["zero_shot"] = float(zs.mean())
            print(name, k, {m: round(v, 3) for m, v in summary[k].items()}, flush=True)
        result["suites"][name] = {"summary": summary, "rows": rows}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".json").write_text(json.dumps(result, indent=1, default=str) + "\n")
    print(f"{time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
