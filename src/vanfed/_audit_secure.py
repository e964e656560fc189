"""The audit of a report's secure path: the round it names, as the log holds it.

A report whose region rows come from a secure round (``report.secure``) must be bound to
the transparency log. The audit then rebuilds every round of the log up to the report's
checkpoint (:func:`vanfed.transport.read_rounds`: each announcement, contribution and
result verified again, its signer judged at the time the log received it, and taken
through the door's checks in log order) and requires:

* the round the report names is there, complete, at the announcement and result digests
  and log indices the report states (``result_mismatch``);
* its result's sums are the sum of its logged contributions modulo 2**32 (a result that is
  not is left out by the rebuild: ``result_mismatch``), and none of its logged envelopes
  breaks the door's rules (each with its own code; other rounds' broken envelopes are left
  out and said, as the merge skips a summary that does not verify);
* its announcement runs under the registry: noise at least the policy's, every
  participant's agreement key the registry's, regional tables of the codebook, the
  registry version the report names (``noise_below_policy``, ``unknown_key``, …);
* every country's composed ε over the rounds it contributed to, per year group, and the
  number of those rounds, are within the registry's budget (``budget_exhausted``).

Post-processing is recomputed by the replay of the merge (:mod:`vanfed._audit`), which
takes the same round by the same rule and must give the report's bytes.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from vanfed._coordinator import LogView
from vanfed.errors import ReasonCode
from vanfed.schema import Codebook, RegionalReport, RoundAnnouncement, TrustRegistry, period_years
from vanfed.secure import RoundBook, announced_epsilon, announcement_problems, spent
from vanfed.signing import Reason
from vanfed.transport import read_rounds

__all__ = ["secure_checks"]


def secure_checks(
    report: RegionalReport,
    inputs: Path,
    registry: TrustRegistry,
    view: LogView | None,
    codebook: Codebook,
    checked: list[str],
) -> list[Reason]:
    """Every check of the module docstring (empty: the secure path holds)."""
    record = report.secure
    if record is None:
        return []
    if view is None:
        return [Reason(ReasonCode.RESULT_MISMATCH, "a secure report must be bound to the log")]
    book, problems = read_rounds(inputs, registry, view.log, view.size)
    mine = [p for p in problems if p.round_id == record.round_id]
    reasons = [Reason(p.code, f"round {record.round_id[:12]}…: {p.message}") for p in mine]
    if len(problems) > len(mine):  # other rounds: not this report's inputs, said and left out
        checked.append(
            f"{len(problems) - len(mine)} envelopes of other rounds do not verify under this "
            "registry or break the door's rules: left out of every round (and of budgets)"
        )
    r = book.rounds.get(record.round_id)
    if (
        r is None
        or r.result is None
        or r.result.status != "complete"
        or (r.digest, r.log_index) != (record.announcement, record.announcement_log_index)
        or (r.result_digest, r.result_index) != (record.result, record.result_log_index)
    ):
        reasons.append(
            Reason(
                ReasonCode.RESULT_MISMATCH,
                f"round {record.round_id[:12]}…: not complete in the log at the announcement "
                "and result the report names",
            )
        )
        return reasons
    ann = r.announcement
    when = dt.datetime.fromisoformat(ann.created_at)
    for code, message in announcement_problems(
        ann, registry, codebook, when, under=report.registry
    ):
        reasons.append(Reason(code, f"round {ann.round_id[:12]}…: {message}"))
    reasons += _budgets(book, registry)
    checked.append(
        f"secure round {ann.round_id[:12]}…: {len(r.contributions)} contributions verified "
        f"in the log, the result is their sum, noise at or above the policy "
        f"(ε = {announced_epsilon(ann):.1f} at δ = {ann.noise.delta:g} per round), "
        "every country's budget kept"
    )
    return reasons


def _budgets(book: RoundBook, registry: TrustRegistry) -> list[Reason]:
    """Each country's ε per year group, over every round of the log it contributed to."""
    policy = registry.policy.secure
    if policy is None:
        return [Reason(ReasonCode.SECURE_NOT_ALLOWED, "the registry's policy has no secure part")]
    charged: dict[tuple[str, int], list[RoundAnnouncement]] = {}
    for r in book.rounds.values():
        year = period_years(r.announcement.period)[0]
        for country in r.contributions:
            charged.setdefault((country, year), []).append(r.announcement)
    out = []
    for (country, year), anns in sorted(charged.items()):
        total = spent(anns, policy.delta)
        if total.epsilon > policy.epsilon_budget or total.rounds > policy.max_rounds:
            out.append(
                Reason(
                    ReasonCode.BUDGET_EXHAUSTED,
                    f"{country} {year}: {total.rounds} rounds sum a record and spend "
                    f"ε = {total.epsilon:.1f}; the budget is {policy.max_rounds} rounds, "
                    f"ε {policy.epsilon_budget:g}",
                )
            )
    return out
