"""A whole round in memory: announce, contribute, sum — and what each side refuses."""

from __future__ import annotations

import datetime as dt
from random import Random

import numpy as np
import pytest
from tests.unit.secure.conftest import announce

from vanfed.errors import ProtectionError, ReasonCode, VerificationError
from vanfed.schema import Contribution, RoundAnnouncement, load_codebook
from vanfed.secure import contribute, epsilon, round_counts, round_rdp
from vanfed.secure._noise import cell_variances, skellam
from vanfed.signing import ANNOUNCEMENT_PROFILE, CONTRIBUTION_PROFILE, verify
from vanfed.testing import NOW, Member, Trust, run_round

CB = load_codebook()


def send(trust: Trust, m: Member, ann: bytes, seed: str, now: dt.datetime = NOW) -> bytes:
    return contribute(
        ann,
        registry=trust.registry,
        codebook=CB,
        records=m.records,
        signer=trust.nodes[m.country],
        agreement=trust.agreements[m.country],
        ledger=m.ledger,
        now=now,
        rand=Random(seed).randrange,
    )


def test_the_sum_is_the_regional_count_plus_the_noise(
    trust: Trust, published: dict[str, Member]
) -> None:
    """Masks cancel exactly: the decoded sum is Σ counts + Σ each node's noise share (drawn
    again here from the same seeds), nothing else."""
    ann, book = run_round(
        trust, published, announce(trust, published, seed="sum"), now=NOW, seed="noise-"
    )
    result = book.rounds[ann.round_id].result_now(NOW)
    assert result is not None and result.status == "complete"
    honest = len(ann.participants) - ann.noise.collusion
    for t, got in zip(ann.tables, result.sums, strict=True):
        want = sum(
            round_counts(m.records, ann.tables, CB, "2024")[t.name] for m in published.values()
        )
        rands = {c: Random(f"noise-{c}").randrange for c in published}
        noise = sum(  # each node drew its tables' noise in announcement order
            _noise_of(ann, t.name, rands[c], honest) for c in published
        )
        assert np.array_equal(np.array(got.values), want + noise)


def _noise_of(ann: RoundAnnouncement, name: str, rand, honest: int) -> np.ndarray:
    out = None
    for t in ann.tables:
        drawn = skellam(cell_variances(t, ann.noise).ravel() / honest, rand)
        if t.name == name:
            out = drawn
    assert out is not None
    return out


def test_a_contribution_alone_shows_nothing_of_the_counts(
    trust: Trust, published: dict[str, Member]
) -> None:
    """One country's masked vector, as the coordinator holds it, is spread over the whole
    32-bit range: it is not near the counts, and not correlated with them."""
    ann = announce(trust, published, seed="alone")
    env = send(trust, published["MMR"], ann, "alone")
    c: Contribution = verify(env, trust.registry, now=NOW, profile=CONTRIBUTION_PROFILE)
    values = np.concatenate([np.array(t.values, np.float64) for t in c.tables])
    a = verify(ann, trust.registry, now=NOW, profile=ANNOUNCEMENT_PROFILE)
    counts = np.concatenate(
        list(round_counts(published["MMR"].records, a.tables, CB, "2024").values())
    )
    assert np.median(values) > 2**28 and np.median(np.abs(values - counts)) > 2**28
    assert abs(np.corrcoef(values, counts)[0, 1]) < 0.3


def test_contributing_twice_sends_the_same_envelope(trust: Trust, fresh: dict[str, Member]) -> None:
    ann = announce(trust, fresh, seed="twice")
    first = send(trust, fresh["KHM"], ann, "a")
    assert send(trust, fresh["KHM"], ann, "b") == first  # no second noise draw


def test_node_refuses_a_round_not_signed_by_the_coordinator(
    trust: Trust, fresh: dict[str, Member]
) -> None:
    from vanfed.signing import sign_envelope

    good = announce(trust, fresh, seed="forged")
    from vanfed.signing import Envelope

    forged = sign_envelope(
        Envelope.from_bytes(good).payload, ANNOUNCEMENT_PROFILE.payload_type, [trust.nodes["LAO"]]
    ).to_bytes()
    with pytest.raises(VerificationError) as err:
        send(trust, fresh["KHM"], forged, "x")
    assert ReasonCode.WRONG_ROLE in err.value.reasons


def test_node_refuses_after_the_deadline_and_when_not_invited(
    trust: Trust, fresh: dict[str, Member]
) -> None:
    ann = announce(trust, {c: fresh[c] for c in ("KHM", "LAO", "THA")}, seed="late", hours=1)
    with pytest.raises(ProtectionError) as late:
        send(trust, fresh["KHM"], ann, "x", now=NOW + dt.timedelta(hours=2))
    assert late.value.reason == ReasonCode.AFTER_DEADLINE
    small = announce(trust, {c: fresh[c] for c in ("KHM", "LAO", "THA")}, seed="three")
    assert small  # three participants: THA may contribute, VNM was not invited
    a = verify(small, trust.registry, now=NOW, profile=ANNOUNCEMENT_PROFILE)
    assert a.participant("VNM") is None


def test_node_refuses_records_that_no_longer_give_its_summary(
    trust: Trust, fresh: dict[str, Member]
) -> None:
    from dataclasses import replace

    from vanfed.ingest import CodedRecords

    m = fresh["KHM"]
    keep = np.ones(len(m.records), bool)
    keep[np.flatnonzero(m.records.fields["year"] == 2024)[:3]] = False
    fewer = CodedRecords(
        m.records.country,
        {f: v[keep] for f, v in m.records.fields.items()},
        m.records.codes,
        m.records.quality,
        m.records.source,
    )
    ann = announce(trust, fresh, seed="changed")
    with pytest.raises(ProtectionError) as err:
        send(trust, replace(m, records=fewer), ann, "x")
    assert err.value.reason == ReasonCode.RECORDS_CHANGED
    assert "publish the new records as a national revision first" in str(err.value)


def test_node_refuses_rounds_beyond_its_budget(trust: Trust, fresh: dict[str, Member]) -> None:
    """The node takes rounds while the composed ε of its records stays within the registry's
    budget, then refuses: a coordinator cannot open rounds until the noise averages out."""
    policy = trust.registry.policy.secure
    assert policy is not None
    one = announce(trust, fresh, seed="budget-probe")
    a = verify(one, trust.registry, now=NOW, profile=ANNOUNCEMENT_PROFILE)
    rdp = round_rdp(a.tables, a.noise)
    allowed = max(
        k for k in range(1, 50) if epsilon(k * rdp, policy.delta) <= policy.epsilon_budget
    )
    sent = 0
    with pytest.raises(ProtectionError) as err:
        for i in range(allowed + 1):
            send(trust, fresh["THA"], announce(trust, fresh, seed=f"budget{i}"), f"b{i}")
            sent += 1
    assert err.value.reason == ReasonCode.BUDGET_EXHAUSTED
    assert sent == allowed >= 2
    assert "no more rounds for 2024" in str(err.value)


def test_quarters_spend_their_own_records_budget_and_the_year_spends_all() -> None:
    """A record of 2024-Q1 is in the rounds of 2024-Q1 and of 2024, never of 2024-Q2: the
    worst record of the year is charged the year's rounds plus its own quarter's."""
    from vanfed.schema import NoiseSpec, PublishedAxis, RoundTable
    from vanfed.secure import spent_epsilon

    t = RoundTable(name="t", axes=(PublishedAxis(dim="sex", codes=("f", "m", "_U", "_T")),))

    def ann(period: str) -> RoundAnnouncement:
        return RoundAnnouncement.model_construct(period=period, tables=(t,), noise=NoiseSpec())

    e1 = epsilon(round_rdp((t,), NoiseSpec()), 1e-6)
    e2 = epsilon(2 * round_rdp((t,), NoiseSpec()), 1e-6)
    assert spent_epsilon([ann("2024-Q1"), ann("2024-Q2")], 1e-6) == pytest.approx(e1)
    assert spent_epsilon([ann("2024-Q1"), ann("2024")], 1e-6) == pytest.approx(e2)
    assert spent_epsilon([ann("2023"), ann("2024")], 1e-6) == pytest.approx(e1)


def test_rounds_of_one_table_are_capped_like_full_ones(
    trust: Trust, fresh: dict[str, Member]
) -> None:
    """A round of one table costs a fraction of a full round's ε, so an ε cap alone would
    admit many of them and their noise would average away: the registry's max_rounds caps
    how many rounds may sum a record, whatever their tables."""
    from vanfed.anonymize import DEFAULT_TABLES
    from vanfed.secure import regional_tables

    policy = trust.registry.policy.secure
    assert policy is not None
    sex_age = [t for t in regional_tables(DEFAULT_TABLES, CB) if t.name == "casualties_by_sex_age"]
    sent = 0
    with pytest.raises(ProtectionError) as err:
        for i in range(policy.max_rounds + 1):
            ann = announce(trust, fresh, seed=f"one{i}", tables=sex_age)
            send(trust, fresh["KHM"], ann, f"o{i}")
            sent += 1
    assert sent == policy.max_rounds
    a = verify(ann, trust.registry, now=NOW, profile=ANNOUNCEMENT_PROFILE)
    assert epsilon(policy.max_rounds * round_rdp(a.tables, a.noise), 1e-6) < policy.epsilon_budget
    assert err.value.reason == ReasonCode.BUDGET_EXHAUSTED
    assert f"already summed in {policy.max_rounds} rounds" in str(err.value)


def test_a_round_table_filtered_on_a_national_dimension_is_refused(
    trust: Trust, fresh: dict[str, Member]
) -> None:
    from vanfed.errors import InputError
    from vanfed.schema import PublishedAxis, RoundTable

    table = RoundTable(
        name="t",
        filter={"admin1": "KH-1"},
        axes=(PublishedAxis(dim="sex", codes=("f", "m", "_U", "_T")),),
    )
    with pytest.raises(InputError, match="filter admin1 = 'KH-1' is not regional"):
        announce(trust, fresh, seed="filtered", tables=[table])


def test_a_lost_privacy_ledger_is_charged_again_from_the_log(
    trust: Trust, published: dict[str, Member]
) -> None:
    """A node that lost its privacy ledger takes back, from the coordinator's log, every
    round it contributed to: the budget is what it was, and it never draws a second noise
    for a round it already sent (the coordinator would average the two)."""
    import shutil

    from vanfed.errors import InputError
    from vanfed.secure import PrivacyLedger, charge_from_log
    from vanfed.secure._budget import SECURE_FOLDER

    m = published["KHM"]
    anns = [announce(trust, published, seed=f"lost{i}") for i in range(2)]
    for i, ann in enumerate(anns):
        send(trust, m, ann, f"l{i}")
    folder = m.ledger.folder / SECURE_FOLDER
    policy = trust.registry.policy.secure
    assert policy is not None
    before = PrivacyLedger(folder).spent("2024", policy.delta)
    assert before.rounds == 2
    shutil.rmtree(folder)  # the disk is lost; the publication ledger was rebuilt apart
    assert PrivacyLedger(folder).spent("2024", policy.delta).rounds == 0
    kw = {"registry": trust.registry, "country": "KHM", "ledger": m.ledger, "now": NOW}
    assert charge_from_log(anns, **kw) == 2
    assert charge_from_log(anns, **kw) == 0  # idempotent
    assert PrivacyLedger(folder).spent("2024", policy.delta) == before
    with pytest.raises(ProtectionError) as again:
        send(trust, m, anns[0], "another draw")
    assert again.value.reason == ReasonCode.CONFLICTING_CONTRIBUTION
    assert "a second noise draw would average the first down" in str(again.value)
    send(trust, m, announce(trust, published, seed="lost-new"), "n")  # a new round is fine
    others = {c: published[c] for c in ("LAO", "MMR", "THA")}
    with pytest.raises(InputError, match="KHM is not a participant"):
        charge_from_log([announce(trust, others, seed="not-khm")], **kw)
    from vanfed.signing import Envelope, sign_envelope

    forged = sign_envelope(
        Envelope.from_bytes(anns[0]).payload,
        ANNOUNCEMENT_PROFILE.payload_type,
        [trust.nodes["LAO"]],
    ).to_bytes()
    with pytest.raises(VerificationError):
        charge_from_log([forged], **kw)
