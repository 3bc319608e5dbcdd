"""A linear classifier over the articles, trained on the content's own texts at index build.

Retrieval scores an article by how close its nearest texts are to a question; between two related
articles (trafficking vs help after return, arriving in Russia vs going back) the nearest texts
are often equally close. A classifier learns instead which n-grams tell the articles apart: one
multinomial logistic regression (softmax) over the same TF-IDF character n-grams, trained on
every article's example questions, title, tags and body sentences, in all three languages. Its
probability for an article is added to the retrieval score (`index.CLASSIFIER`).

Training: L-BFGS on the L2-regularised cross-entropy, in float32, the sparse products in scipy.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped]

# L2 penalty on the weights (the loss is a weighted mean over the samples).
PENALTY = 1e-5
# L-BFGS: at most this many iterations, this many past steps kept; it stops earlier once the loss
# changes by less than TOLERANCE (relative).
ITERATIONS = 12
HISTORY = 8
TOLERANCE = 1e-4
# The first step (along the gradient), in units of 1 / |gradient|.
FIRST_STEP = 30.0


def train(
    indptr: np.ndarray,
    indices: np.ndarray,
    values: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray,
    n_features: int,
    n_classes: int,
) -> np.ndarray:
    """The weights (n_features x n_classes, float32) of a softmax classifier on the samples
    (compressed sparse rows: sample i holds features `indices[indptr[i]:indptr[i + 1]]` with
    `values[...]`), with per-sample `weights`."""
    n = len(indptr) - 1
    x = sp.csr_matrix(
        (values.astype(np.float32), indices, indptr), shape=(n, n_features), dtype=np.float32
    )
    xt = x.T.tocsr()
    y = np.asarray(labels, dtype=np.intp)
    w = np.asarray(weights, dtype=np.float32)
    w = w / w.sum()
    target = np.zeros((n, n_classes), dtype=np.float32)
    target[np.arange(n), y] = 1.0
    shape = (n_features, n_classes)

    def loss_and_gradient(flat: np.ndarray) -> tuple[float, np.ndarray]:
        theta = flat.reshape(shape)
        z = np.asarray(x @ theta)
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        loss = -float(w @ np.log(p[np.arange(n), y] + 1e-30))
        loss += 0.5 * PENALTY * float(flat @ flat)
        p -= target
        p *= w[:, None]
        gradient = np.asarray(xt @ p)
        gradient += PENALTY * theta
        return loss, gradient.ravel()

    start = np.zeros(n_features * n_classes, dtype=np.float32)
    return lbfgs(loss_and_gradient, start).reshape(shape)


def lbfgs(f: Callable[[np.ndarray], tuple[float, np.ndarray]], x: np.ndarray) -> np.ndarray:
    """Minimise `f` (x -> (value, gradient)) from `x`: L-BFGS with a backtracking line search."""
    value, gradient = f(x)
    steps: deque[tuple[np.ndarray, np.ndarray, float]] = deque(maxlen=HISTORY)
    scratch = np.empty_like(x)
    for _ in range(ITERATIONS):
        # Two-loop recursion: the direction -H g (in place: the vectors are long).
        q = gradient.copy()
        alphas = []
        for s, dy, rho in reversed(steps):
            alpha = rho * float(s @ q)
            alphas.append(alpha)
            q -= np.multiply(dy, alpha, out=scratch)
        if steps:
            s, dy, _ = steps[-1]
            q *= float(s @ dy) / float(dy @ dy)
        for (s, dy, rho), alpha in zip(steps, reversed(alphas), strict=True):
            q += np.multiply(s, alpha - rho * float(dy @ q), out=scratch)
        direction = np.negative(q, out=q)
        slope = float(gradient @ direction)
        if slope >= 0:  # not a descent direction: start again from the gradient
            steps.clear()
            direction, slope = -gradient, -float(gradient @ gradient)
        step = 1.0 if steps else 1.0 / max(1.0, math.sqrt(-slope)) * FIRST_STEP
        while True:
            moved = x + np.float32(step) * direction
            new_value, new_gradient = f(moved)
            if new_value <= value + 1e-4 * step * slope or step < 1e-10:
                break
            step *= 0.5
        dy = new_gradient - gradient
        s = moved - x
        curvature = float(s @ dy)
        if curvature > 1e-12:
            steps.append((s, dy, 1.0 / curvature))
        done = abs(value - new_value) <= TOLERANCE * max(1.0, abs(value))
        x, value, gradient = moved, new_value, new_gradient
        if done:
            break
    return x
