"""The secure regional path: rounds, masks and noise.

A round sums every participating country's *true* counts of the regional tables so that no
party, the coordinator included, sees another country's vector, and protects the sums
before anyone sees them with distributed Skellam noise of a stated (ε, δ):

- :func:`open_round` (coordinator) signs the announcement; :class:`RoundBook` and
  :class:`Round` hold a log's rounds and run the door's checks on contributions and results;
- :func:`contribute` (node) checks the announcement, the records and the privacy budget,
  and signs counts + noise share + pairwise masks (:mod:`vanfed.secure._masks`);
- :func:`estimate` turns a round's noisy sums into the published table (exact integer
  post-processing inside the national bounds), :func:`apply_round` puts it in a report;
- :class:`PrivacyLedger` and :func:`spent_epsilon` keep each country's budget.

Designs followed: pairwise masking of Bonawitz et al. (CCS 2017) with re-runs instead of
unmasking; the Skellam mechanism of Agarwal, Kairouz and Liu (NeurIPS 2021); exact
Bernoulli(exp(−γ)) sampling of Canonne, Kamath and Steinke (NeurIPS 2020).
"""

from vanfed.secure._budget import PrivacyLedger, Spent, spent, spent_epsilon
from vanfed.secure._contribute import (
    charge_from_log,
    contribute,
    round_counts,
    verified_announcement,
)
from vanfed.secure._noise import announced_epsilon, cell_variances, epsilon, round_rdp, skellam
from vanfed.secure._post import Estimate, estimate, estimate_variance
from vanfed.secure._regional import apply_round, choose_round, released_variance, secure_tables
from vanfed.secure._round import (
    NATIONAL_ONLY,
    Round,
    RoundBook,
    announcement_problems,
    open_round,
    regional_tables,
    signed_sums,
)

__all__ = [
    "NATIONAL_ONLY",
    "Estimate",
    "PrivacyLedger",
    "Round",
    "RoundBook",
    "Spent",
    "announced_epsilon",
    "announcement_problems",
    "apply_round",
    "cell_variances",
    "charge_from_log",
    "choose_round",
    "contribute",
    "epsilon",
    "estimate",
    "estimate_variance",
    "open_round",
    "regional_tables",
    "released_variance",
    "round_counts",
    "round_rdp",
    "secure_tables",
    "signed_sums",
    "skellam",
    "spent",
    "spent_epsilon",
    "verified_announcement",
]
