"""Skellam noise: drawn exactly, shared exactly, accounted conservatively."""

from __future__ import annotations

import math
from fractions import Fraction
from random import Random

import numpy as np
import pytest
from scipy import stats

from vanfed.schema import NoiseSpec, PublishedAxis, RoundTable
from vanfed.secure import epsilon, round_rdp, skellam
from vanfed.secure._noise import ALPHAS, cell_variances, poisson


@pytest.mark.parametrize("lam", [Fraction(3, 10), Fraction(1, 2), Fraction(17, 10), Fraction(6)])
def test_poisson_has_the_poisson_distribution(lam: Fraction) -> None:
    rand = Random(f"poisson{lam}").randrange
    n = 20000
    draws = np.array([poisson(lam, rand) for _ in range(n)])
    top = int(lam + 4 * math.sqrt(lam) + 3)
    observed = np.bincount(np.minimum(draws, top), minlength=top + 1)
    pmf = stats.poisson.pmf(np.arange(top), float(lam))
    expected = n * np.append(pmf, 1 - pmf.sum())
    _, p = stats.chisquare(observed, expected)
    assert p > 1e-3, (observed, expected.round())


def test_shares_add_up_to_the_full_variance() -> None:
    """Five nodes each adding Sk(v / 5) give Sk(v): variance v, mean 0, integers."""
    rand = Random("shares").randrange
    v = Fraction(5, 2)
    total = sum(skellam(np.full(20000, v / 5, dtype=object), rand) for _ in range(5))
    assert total.dtype == np.int64
    assert abs(total.mean()) < 0.05
    assert abs(total.var() - 2.5) < 0.1
    # a Skellam of variance 2.5 puts P(0) = exp(-2.5) I0(2.5)
    assert abs((total == 0).mean() - math.exp(-2.5) * float(np.i0(2.5))) < 0.01


def table(*sizes: int) -> RoundTable:
    return RoundTable(
        name="t",
        axes=tuple(
            PublishedAxis(dim=f"d{i}", codes=(*(f"c{j}" for j in range(n)), "_T"))
            for i, n in enumerate(sizes)
        ),
    )


def test_cell_variances_grow_with_the_margin_level() -> None:
    v = cell_variances(table(2, 3), NoiseSpec(variance=2.5, margin_factor=2))
    assert v[0, 0] == Fraction(5, 2) and v[0, 3] == 5 and v[2, 0] == 5 and v[2, 3] == 10


def test_epsilon_falls_with_noise_and_adds_up_over_rounds() -> None:
    tables = [table(3, 3, 3), table(6, 3)]
    weak = round_rdp(tables, NoiseSpec(variance=2.0))
    strong = round_rdp(tables, NoiseSpec(variance=8.0))
    assert epsilon(strong, 1e-6) < epsilon(weak, 1e-6)
    assert epsilon(weak, 1e-6) < epsilon(2 * weak, 1e-6) < 2 * epsilon(weak, 1e-6)


def test_epsilon_approaches_the_gaussian_mechanism_for_large_noise() -> None:
    """For a large variance the Skellam bound tends to the Gaussian RDP a·m/(2v): never
    below it (it is the leading term), and within a few per cent of it."""
    t = table(3, 3, 3)  # a record touches 8 cells, at variances v·2**level
    noise = NoiseSpec(variance=400.0)
    rdp = round_rdp([t], noise)
    gauss = np.array(
        [a * sum(math.comb(3, k) / (2 * 400.0 * 2**k) for k in range(4)) for a in ALPHAS]
    )
    assert (rdp >= gauss).all()
    assert epsilon(rdp, 1e-6) < 1.05 * epsilon(gauss, 1e-6)
