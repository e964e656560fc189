"""Post-processing: exact GLS, then non-negative integers that add up inside the bounds."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from vanfed.secure import estimate, estimate_variance
from vanfed.secure._noise import total_axes
from vanfed.secure._post import gls_scaled, margin_of_error, with_margins


def design(shape: tuple[int, ...], factor: int) -> tuple[np.ndarray, np.ndarray]:
    """The measurement matrix (all cells × inner cells) and each cell's relative variance."""
    inner = tuple(s - 1 for s in shape)
    n = int(np.prod(inner))
    eye = np.eye(n).reshape(n, *inner)
    m = np.stack([with_margins(eye[i]).ravel() for i in range(n)], axis=1)
    return m, factor ** total_axes(shape).ravel().astype(float)


def test_gls_is_the_weighted_least_squares_estimate() -> None:
    rng = np.random.default_rng(3)
    shape = (4, 3, 5)
    raw = rng.integers(-3, 40, size=shape)
    scaled, d = gls_scaled(raw, 2)
    m, var = design(shape, 2)
    w = 1 / np.sqrt(var)
    theta, *_ = np.linalg.lstsq(m * w[:, None], raw.ravel() * w, rcond=None)
    assert np.allclose(scaled.astype(float).ravel() / d, m @ theta)


def test_estimate_variance_is_the_gls_covariance() -> None:
    shape = (3, 4)
    m, var = design(shape, 2)
    cov = m @ np.linalg.inv(m.T @ np.diag(1 / var) @ m) @ m.T
    exact = estimate_variance(shape, 2, Fraction(1))
    assert np.allclose(np.diag(cov), exact.astype(float).ravel())


def test_noise_free_sums_give_the_truth_back() -> None:
    truth = with_margins(np.array([[3, 0, 12], [7, 1, 0]]))
    got = estimate(truth.ravel(), truth.shape, factor=2, variance=Fraction(5, 2))
    assert np.array_equal(got.values, truth) and got.outside == 0


def test_estimates_are_non_negative_integers_that_add_up() -> None:
    rng = np.random.default_rng(5)
    truth = with_margins(rng.poisson(2.0, size=(4, 3, 3)))
    raw = truth + rng.integers(-4, 5, size=truth.shape)
    got = estimate(raw.ravel(), truth.shape, factor=2, variance=Fraction(3))
    assert got.values.dtype == np.int64 and (got.values >= 0).all()
    inner = got.values[:-1, :-1, :-1]
    assert np.array_equal(with_margins(inner), got.values)


def test_pinned_cells_keep_their_value() -> None:
    truth = with_margins(np.array([[5, 9], [0, 2]]))
    raw = truth + np.array([[2, -1, 3], [-2, 1, 0], [1, 2, -3]])
    lo = truth.copy()
    hi = truth.copy().astype(object)
    got = estimate(
        raw.ravel(), truth.shape, factor=2, variance=Fraction(2), lo=lo.ravel(), hi=list(hi.ravel())
    )
    assert np.array_equal(got.values, truth)


def test_margin_of_error_is_the_least_integer_above_z_sigma() -> None:
    for v in (Fraction(1), Fraction(5, 2), Fraction(37, 3), Fraction(1000)):
        h = margin_of_error(v)
        z2v = Fraction(16449, 10000) ** 2 * v
        assert h * h >= z2v > (h - 1) ** 2


@given(
    st.integers(1, 4),
    st.integers(1, 4),
    st.integers(0, 2**32 - 1),
    st.sampled_from([Fraction(1), Fraction(5, 2), Fraction(6)]),
)
def test_estimates_stay_inside_bounds_that_hold_the_truth(
    a: int, b: int, seed: int, variance: Fraction
) -> None:
    """Bounds built, as the merge builds them, from countries that publish or hide each
    cell always contain the truth; the estimate ends inside them, and it is the same
    bytes on every run."""
    rng = np.random.default_rng(seed)
    parts = [with_margins(rng.poisson(rng.uniform(0.3, 8), size=(a, b))) for _ in range(3)]
    lo = np.zeros_like(parts[0])
    hi = np.zeros_like(parts[0])
    for p in parts:
        hidden = rng.random(p.shape) < 0.4
        lo += np.where(hidden, np.maximum(p - rng.integers(0, 4, p.shape), 0), p)
        hi += np.where(hidden, p + rng.integers(0, 6, p.shape), p)
    truth = sum(parts)
    var = float(variance) * 2.0 ** total_axes(truth.shape)
    raw = truth + rng.poisson(var / 2) - rng.poisson(var / 2)
    args = dict(factor=2, variance=variance, lo=lo.ravel(), hi=list(hi.ravel()))
    got = estimate(raw.ravel(), truth.shape, **args)
    assert got.outside == 0
    assert (got.values >= lo).all() and (got.values <= hi).all()
    assert np.array_equal(estimate(raw.ravel(), truth.shape, **args).values, got.values)
