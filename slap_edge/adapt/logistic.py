"""A regularised softmax (multinomial logistic) regression with a prior, solved by Newton's method in numpy.

The objective, for clip embeddings ``x_i`` [D], integer labels ``y_i`` and weights ``W`` [C, D], ``b`` [C]:

    sum_i w_i * CE(softmax(W x_i + b), y_i) + 1/(2c) * ||W - W0||^2 (+ 1/(2c) * ||b - b0||^2 with ``penalise_bias``)

With ``W0 = 0`` and no bias penalty this is scikit-learn's ``LogisticRegression(C=c)`` (multinomial); with ``W0`` the
text prompts' class vectors times the bundle's logit scale, a small ``c`` keeps the head at the zero-shot decision and
a large one lets the clips move it (the prompt prior).

The solution differs from ``W0`` only inside the span of the clips (any component outside it adds penalty and changes
no logit), so the problem is solved in an orthonormal basis of that span: ``C * (r + 1)`` unknowns with ``r <= n``
clips, whatever the embedding size. A site has tens of clips, so each fit is a few small Newton steps.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

# A vanishing pull of the (otherwise unpenalised) biases toward zero: the softmax is unchanged by adding one number to
# every bias, so without it the Newton system is singular along that direction.
_BIAS_RIDGE = 1e-8


@dataclasses.dataclass(frozen=True)
class LinearHead:
    """``logits = embeddings @ weights.T + bias``; a softmax over them gives the class probabilities."""

    weights: np.ndarray  # [C, D]
    bias: np.ndarray  # [C]

    def logits(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=np.float64) @ self.weights.T.astype(np.float64) + self.bias.astype(np.float64)

    def probs(self, x: np.ndarray) -> np.ndarray:
        return softmax64(self.logits(x))


def clip_span(x: np.ndarray) -> np.ndarray:
    """An orthonormal basis [D, r] of the span of the rows of ``x`` [n, D]."""
    _, s, vt = np.linalg.svd(np.asarray(x, dtype=np.float64), full_matrices=False)
    r = int(np.sum(s > s[0] * 1e-10)) if s.size and s[0] > 0 else 0
    return vt[:r].T


def softmax64(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _backtrack(
    objective: Callable[[np.ndarray], tuple[float, np.ndarray]],
    theta: np.ndarray,
    step: np.ndarray,
    value: float,
    slope: float,
) -> tuple[np.ndarray, float, np.ndarray]:
    """Armijo backtracking along ``-step`` from ``theta``: the first halving that decreases the objective enough."""
    t = 1.0
    while True:
        cand = theta - t * step
        cand_value, cand_p = objective(cand)
        if cand_value <= value + 1e-4 * t * slope or t < 1e-10:
            return cand, cand_value, cand_p
        t *= 0.5


def fit_softmax_regression(
    x: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    c: float,
    prior_weights: np.ndarray | None = None,
    prior_bias: np.ndarray | None = None,
    penalise_bias: bool = False,
    sample_weight: np.ndarray | None = None,
    bias_c: float | None = None,
    tol: float = 1e-9,
    max_iter: int = 200,
    span: np.ndarray | None = None,
) -> LinearHead:
    """Minimise the objective of the module docstring; ``y`` holds class indices in ``[0, n_classes)``.

    ``span``: `clip_span` of ``x``, when the caller fits the same clips many times (a grid of ``c``).

    A class with no clips is allowed only with ``penalise_bias`` (the prior then keeps its head finite). The bias
    penalty is ``1/(2 * bias_c) * ||b - b0||^2`` with ``bias_c`` (default: ``c``).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ValueError(f"need x [n, D] and y [n], got {x.shape} and {y.shape}")
    if c <= 0 or not np.isfinite(c):
        raise ValueError(f"c must be a positive number, got {c}")
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"labels must be in [0, {n_classes}), got {sorted(set(y.tolist()))}")
    n, d = x.shape
    k = n_classes
    w0 = np.zeros((k, d)) if prior_weights is None else np.asarray(prior_weights, dtype=np.float64)
    b0 = np.zeros(k) if prior_bias is None else np.asarray(prior_bias, dtype=np.float64)
    if w0.shape != (k, d) or b0.shape != (k,):
        raise ValueError(f"prior must be weights [{k}, {d}] and bias [{k}], got {w0.shape} and {b0.shape}")
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if not penalise_bias and np.bincount(y, minlength=k).min() == 0:
        raise ValueError("every class needs at least one clip unless the bias is pulled toward a prior")
    if n == 0:
        return LinearHead(w0.astype(np.float32), b0.astype(np.float32))

    # Coordinates of the clips in an orthonormal basis V [D, r] of their span.
    basis = clip_span(x) if span is None else span
    r = basis.shape[1]
    z = np.concatenate([x @ basis, np.ones((n, 1))], axis=1)  # [n, r + 1]: the last column carries the bias
    offset = x @ w0.T + b0  # logits of the prior
    onehot = np.eye(k)[y]
    reg = np.full(r + 1, 1.0 / c)
    reg[-1] = 1.0 / (c if bias_c is None else bias_c) if penalise_bias else _BIAS_RIDGE
    # The bias ridge pulls toward b0 in the penalised case and toward 0 (through -b0 below) otherwise.
    bias_target = 0.0 if penalise_bias else -b0

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        logits = offset + z @ theta.T  # theta [k, r + 1]
        logits = logits - logits.max(axis=1, keepdims=True)
        log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        dev = theta.copy()
        dev[:, -1] -= bias_target
        value = -float(np.sum(sw * np.sum(onehot * log_p, axis=1))) + 0.5 * float(np.sum(reg * dev**2))
        return value, np.exp(log_p)

    theta = np.zeros((k, r + 1))
    value, p = objective(theta)
    for _ in range(max_iter):
        dev = theta.copy()
        dev[:, -1] -= bias_target
        grad = ((p - onehot) * sw[:, None]).T @ z + reg * dev  # [k, r + 1]
        if np.max(np.abs(grad)) < tol * max(1.0, float(sw.sum())):
            break
        hess = np.empty((k, r + 1, k, r + 1))
        for a in range(k):
            for b in range(a, k):
                coef = sw * p[:, a] * ((a == b) - p[:, b])
                block = (z * coef[:, None]).T @ z
                hess[a, :, b, :] = block
                hess[b, :, a, :] = block.T
            hess[a, :, a, :] += np.diag(reg)
        size = k * (r + 1)
        step = np.linalg.solve(hess.reshape(size, size), grad.reshape(size)).reshape(k, r + 1)
        # Newton steps on a logistic loss can overshoot while far from the optimum: backtrack.
        theta, cand_value, p = _backtrack(objective, theta, step, value, -float(np.sum(grad * step)))
        converged = value - cand_value < 1e-14 * max(1.0, abs(value))
        value = cand_value
        if converged:
            break
    weights = w0 + theta[:, :-1] @ basis.T
    bias = b0 + theta[:, -1]
    return LinearHead(weights.astype(np.float32), bias.astype(np.float32))


def fit_logit_calibration(
    logits: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None = None,
    scale_sd: float = 1.0,
    bias_sd: float = 4.0,
    tol: float = 1e-9,
    max_iter: int = 100,
) -> tuple[float, np.ndarray]:
    """A Platt-style recalibration of fixed logits [n, C]: one shared scale ``a`` and one bias per class ``b`` [C],
    ``softmax(a * logits + b)``, by the MAP estimate under ``a ~ N(1, scale_sd^2)`` and ``b_c ~ N(0, bias_sd^2)``.

    ``C + 1`` unknowns whatever the embedding size, so a handful of clips fix them; the priors keep them finite when
    the clips are separable and leave ``(1, 0)``, the logits unchanged, when there are no clips.
    """
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    if z.ndim != 2 or y.shape != (z.shape[0],):
        raise ValueError(f"need logits [n, C] and y [n], got {z.shape} and {y.shape}")
    if not (scale_sd > 0 and bias_sd > 0):
        raise ValueError(f"scale_sd and bias_sd must be positive, got {scale_sd} and {bias_sd}")
    n, k = z.shape
    if y.size and (y.min() < 0 or y.max() >= k):
        raise ValueError(f"labels must be in [0, {k}), got {sorted(set(y.tolist()))}")
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    onehot = np.eye(k)[y]
    precision = np.concatenate([[1.0 / scale_sd**2], np.full(k, 1.0 / bias_sd**2)])
    centre = np.concatenate([[1.0], np.zeros(k)])
    # d logits_i / d theta: [z_i | I] for theta = (a, b_0 .. b_{C-1}).
    jac = np.concatenate([z[:, :, None], np.broadcast_to(np.eye(k), (n, k, k))], axis=2)  # [n, C, C + 1]

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        lg = theta[0] * z + theta[1:]
        lg = lg - lg.max(axis=1, keepdims=True)
        log_p = lg - np.log(np.exp(lg).sum(axis=1, keepdims=True))
        value = -float(np.sum(sw * np.sum(onehot * log_p, axis=1))) + 0.5 * float(
            np.sum(precision * (theta - centre) ** 2)
        )
        return value, np.exp(log_p)

    theta = centre.copy()
    value, p = objective(theta)
    for _ in range(max_iter):
        g_logits = (p - onehot) * sw[:, None]  # [n, C]
        grad = np.einsum("nc,nct->t", g_logits, jac) + precision * (theta - centre)
        if np.max(np.abs(grad)) < tol * max(1.0, float(sw.sum())):
            break
        h_logits = sw[:, None, None] * (p[:, :, None] * np.eye(k) - p[:, :, None] * p[:, None, :])  # [n, C, C]
        hess = np.einsum("nca,ncd,ndb->ab", jac, h_logits, jac) + np.diag(precision)
        step = np.linalg.solve(hess, grad)
        theta, cand_value, p = _backtrack(objective, theta, step, value, -float(grad @ step))
        converged = value - cand_value < 1e-14 * max(1.0, abs(value))
        value = cand_value
        if converged:
            break
    return float(theta[0]), theta[1:].copy()
