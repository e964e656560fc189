"""The independent attacker of ``tests/secure_attacker.py``, checked against brute force: an
attacker that is wrong would make the joint-safety tests say nothing."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.stats import norm, skellam
from tests.secure_attacker import (
    Cell,
    Observation,
    SecureAttacker,
    _Component,
    _Measurement,
    log_pmf,
    tail_bound,
)

from vanfed.schema import PublishedAxis, PublishedTable, RoundTable
from vanfed.testing import small_summary

SEX = PublishedAxis(dim="sex", codes=("f", "m", "_U", "_T"))


@pytest.mark.parametrize("variance", [0.625, 2.5, 3.125, 10.0, 40.0])
def test_the_tail_bound_is_the_least_one(variance: float) -> None:
    b = tail_bound(variance, 1e-9)
    mu = variance / 2
    assert 2 * skellam.sf(b, mu, mu) <= 1e-9 < 2 * skellam.sf(b - 1, mu, mu)
    k = np.arange(-60, 61)
    assert np.allclose(log_pmf(k, variance), skellam.logpmf(k, mu, mu))


def _publication(country: str, values: tuple[int | None, ...], revision: int = 1):
    s = small_summary(country, "2024", revision=revision)
    table = PublishedTable(name="casualties_by_sex", axes=(SEX,), values=values)
    return s.model_copy(update={"tables": (table,)})


def test_intervals_are_those_of_every_integer_table_that_fits() -> None:
    """Two countries publish only their totals; a round's noisy regional cells bound the
    suppressed ones. The attacker's intervals are exactly the range over every integer
    table consistent with everything (enumerated here)."""
    a = _publication("KHM", (None, None, 0, 7))
    b = _publication("LAO", (None, None, 0, 9))
    sums = (1, 15, 0, 16)  # f, m, _U, _T: noisy
    obs = Observation(
        round_id="0" * 32,
        period="2024",
        members={"KHM": 1, "LAO": 1},
        tables=(RoundTable(name="casualties_by_sex", axes=(SEX,)),),
        sums={"casualties_by_sex": sums},
        variance=0.05,  # a small noise: its 1e-9 tail bound is 4
        factor=2,
        collusion=0,
        announced=2,
    )
    att = SecureAttacker([a, b], [obs])
    got = {(i.cell.country, dict(i.cell.key).get("sex")): (i.lo, i.hi) for i in att.intervals()}
    bf = tail_bound(0.05, 1e-9)
    want: dict[tuple[str, str], set[int]] = {}
    for kf, lf in itertools.product(range(8), range(10)):
        km, lm = 7 - kf, 9 - lf
        if abs(kf + lf - 1) <= bf and abs(km + lm - 15) <= bf:  # the total is exact
            table = {("KHM", "f"): kf, ("KHM", "m"): km, ("LAO", "f"): lf, ("LAO", "m"): lm}
            for key, v in table.items():
                want.setdefault(key, set()).add(v)
    assert got == {k: (min(v), max(v)) for k, v in want.items()}
    assert got[("KHM", "f")] == (0, 5)  # the round narrowed [0, 7]: the test has teeth


def test_posteriors_by_convolution_are_those_of_the_whole_grid() -> None:
    """Three countries' cells of one key, two revisions of one of them (later ≥ earlier),
    measured by two rounds over different participants: the convolution path gives each
    cell the marginal that enumerating the whole box gives."""
    cells = [Cell(c, "2024", r, frozenset()) for c, r in (("A", 1), ("A", 2), ("B", 1), ("C", 1))]
    ranges = [np.arange(0, 6), np.arange(1, 8), np.arange(2, 9), np.arange(0, 4)]
    ms = [
        _Measurement((0, 2, 3), 4, 13, 3.125, 13),
        _Measurement((0, 2, 3), 4, 12, 6.25, 16),
        _Measurement((1, 2), 0, 11, 2.5, 12),
    ]
    later = [(0, 1)]
    fast = _Component([0, 1, 2, 3], cells, ranges, ms, later, large=False)
    assert fast.convolved
    ys = [np.array([m.y, m.y + 2]) for m in ms]  # two draws at once
    got = fast.marginals(ys)
    for k in range(2):
        grid = np.array(list(itertools.product(*ranges)))
        ok = grid[:, 0] <= grid[:, 1]
        ll = np.zeros(len(grid))
        for m, y in zip(ms, ys, strict=True):
            ll += log_pmf(y[k] - m.const - grid[:, list(m.unknowns)].sum(axis=1), m.variance)
        p = np.where(ok, np.exp(ll - ll.max()), 0.0)
        p /= p.sum()
        for i, r in enumerate(ranges):
            want = np.array([p[grid[:, i] == v].sum() for v in r])
            assert np.allclose(got[i][k], want, atol=1e-12), (i, k)


def test_the_joint_attacker_is_the_gaussian_update() -> None:
    """One suppressed cell pair (f + m = 7) and one measurement of f: the joint attacker's
    mean and variance are the textbook ones (prior: the uniform's mean and variance)."""
    a = _publication("KHM", (None, None, 0, 7))
    b = _publication("LAO", (1, 9, 0, 10))
    obs = Observation(
        round_id="0" * 32,
        period="2024",
        members={"KHM": 1, "LAO": 1},
        tables=(RoundTable(name="casualties_by_sex", axes=(SEX,)),),
        sums={"casualties_by_sex": (6, 12, 0, 17)},
        variance=2.5,
        factor=2,
        collusion=1,
        announced=2,
    )
    att = SecureAttacker([a, b], [obs])
    intervals = att.intervals()
    post = att.joint(intervals)
    f = next(c for c in post if dict(c.key).get("sex") == "f")
    # f, m ∈ [0, 7] each: prior mean 3.5, variance (8² − 1)/12; f = 7 − m exactly
    v0 = (8**2 - 1) / 12
    v = 2.5 * 2 / (2 - 1)  # two contributors, each 1/(n - collusion) of the variance
    precision = 2 / v0 + 2 / v  # f's prior and measurement, and m's through f = 7 - m
    mean = (3.5 / v0 + (7 - 3.5) / v0 + (6 - 1) / v + (7 - (12 - 9)) / v) / precision
    sd = math.sqrt(1 / precision)
    support = np.arange(0, 8)
    z = (support + 0.5 - mean) / sd, (support - 0.5 - mean) / sd
    want = norm.cdf(z[0]) - norm.cdf(z[1])
    assert np.allclose(post[f].probs, want / want.sum(), atol=1e-4)
