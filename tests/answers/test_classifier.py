"""app/answers/classifier.py: the optimiser and the softmax it trains, on data made here."""

from __future__ import annotations

import itertools

import numpy as np

from app.answers import classifier


def test_lbfgs_finds_the_minimum_of_a_convex_quadratic() -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(size=(6, 6)).astype(np.float32)
    hessian = a @ a.T + np.eye(6, dtype=np.float32)
    centre = rng.normal(size=6).astype(np.float32)

    def f(x: np.ndarray) -> tuple[float, np.ndarray]:
        d = x - centre
        return 0.5 * float(d @ hessian @ d), hessian @ d

    found = classifier.lbfgs(f, np.zeros(6, dtype=np.float32))
    assert np.allclose(found, centre, atol=1e-2)
    assert f(found)[0] < 1e-3 * f(np.zeros(6, dtype=np.float32))[0]


def sparse_rows(rows: list[dict[int, float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    indptr = np.cumsum([0, *[len(r) for r in rows]])
    indices = np.array([k for r in rows for k in r], dtype=np.intp)
    values = np.array([v for r in rows for v in r.values()], dtype=np.float32)
    return indptr, indices, values


def test_the_softmax_learns_which_features_tell_classes_apart() -> None:
    # Three classes; every sample shares feature 0 (it tells nothing), and each class has two
    # features of its own, seen one at a time in its samples.
    rows, labels = [], []
    for cls in range(3):
        for own in (1 + 2 * cls, 2 + 2 * cls):
            rows.append({0: 0.6, own: 0.8})
            labels.append(cls)
    indptr, indices, values = sparse_rows(rows)
    weights = classifier.train(indptr, indices, values, np.array(labels), np.ones(len(rows)), 7, 3)
    assert weights.shape == (7, 3) and weights.dtype == np.float32
    # Each sample goes to its own class; so does a new sample holding both of a class's features.
    assert [
        int(np.argmax(values[s:e] @ weights[indices[s:e]])) for s, e in itertools.pairwise(indptr)
    ] == labels
    for cls in range(3):
        logits = weights[0] * 0.5 + weights[1 + 2 * cls] * 0.6 + weights[2 + 2 * cls] * 0.6
        assert int(np.argmax(logits)) == cls
    # The shared feature does not favour any class much.
    assert np.ptp(weights[0]) < 0.5 * np.ptp(weights[1])


def test_sample_weights_count() -> None:
    # The same sample labelled twice, once as class 0 and once as 1: the heavier label wins.
    indptr, indices, values = sparse_rows([{0: 1.0}, {0: 1.0}])
    for heavy, light in ((0, 1), (1, 0)):
        labels = np.array([heavy, light])
        weights = classifier.train(indptr, indices, values, labels, np.array([3.0, 1.0]), 1, 2)
        assert int(np.argmax(weights[0])) == heavy
