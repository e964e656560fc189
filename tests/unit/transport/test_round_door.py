"""Secure rounds at the door: what it logs, what it refuses (nothing logged, the round goes
on for the others), how rounds close, and that a restart keeps them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from random import Random

import pytest

from vanfed.errors import ReasonCode
from vanfed.schema import CONTRIBUTION_TYPE, Contribution, RoundResult, load_codebook
from vanfed.secure import contribute
from vanfed.signing import (
    ANNOUNCEMENT_PROFILE,
    RESULT_PROFILE,
    Envelope,
    parse_payload,
    sign_envelope,
    verify,
)
from vanfed.testing import NOW, Member, Trust, announce, members
from vanfed.tlog import verify_receipt
from vanfed.transport import Inbox, Rejected, http_status

CB = load_codebook()
GROUP = ("KHM", "LAO", "THA")


@pytest.fixture(scope="module")
def group(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Member]:
    return members(tmp_path_factory.mktemp("door"), Trust(), GROUP, period="2024", now=NOW)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def door(trust: Trust, tmp_path: Path, group: dict[str, Member]) -> tuple[Inbox, Clock]:
    clock = Clock()
    inbox = Inbox(
        tmp_path / "inbox",
        trust.registry,
        coordinator=trust.coordinator,
        log_key=trust.log,
        now=clock,
    )
    for m in group.values():
        inbox.accept(m.envelope)
    yield inbox, clock
    inbox.close()


def announcement(trust: Trust, group: dict[str, Member], seed: str, hours: int = 24) -> bytes:
    return announce(trust, group, now=NOW, seed=seed, hours=hours)


def contribution(trust: Trust, m: Member, ann: bytes, tmp: Path) -> bytes:
    """A node's contribution, from a copy of its ledger (each test charges its own)."""
    import shutil

    from vanfed._ledger import Ledger

    copy = tmp / f"ledger-{m.country}-{abs(hash(ann)) % 10**8}"
    if not copy.exists():
        shutil.copytree(m.ledger.folder, copy)
    return contribute(
        ann,
        registry=trust.registry,
        codebook=CB,
        records=m.records,
        signer=trust.nodes[m.country],
        agreement=trust.agreements[m.country],
        ledger=Ledger(copy),
        now=NOW,
        rand=Random(m.country).randrange,
    )


def resigned(trust: Trust, env: bytes, signer: str, **changes: object) -> bytes:
    """The contribution changed and signed again by ``signer``'s node key."""
    c = parse_payload(Envelope.from_bytes(env).payload, Contribution)
    changed = Contribution.model_validate({**c.model_dump(), **changes})
    key = trust.nodes[signer]
    return sign_envelope(changed.canonical_bytes(), CONTRIBUTION_TYPE, [key]).to_bytes()


def refused(inbox: Inbox, env: bytes) -> tuple[str, ...]:
    size = inbox.log.tree.size
    with pytest.raises(Rejected) as err:
        inbox.accept(env)
    assert inbox.log.tree.size == size  # nothing logged
    assert str(err.value).count("\n") == 0  # a one-line message
    return err.value.reasons


def test_a_round_runs_through_the_door_and_completes_itself(
    trust: Trust, door: tuple[Inbox, Clock], group: dict[str, Member], tmp_path: Path
) -> None:
    inbox, _ = door
    ann = announcement(trust, group, "runs")
    assert inbox.accept(ann).receipt == b""  # the coordinator's own statement: logged
    for i, m in enumerate(group.values()):
        env = contribution(trust, m, ann, tmp_path)
        got = inbox.accept(env)
        receipt, _ = verify_receipt(got.receipt, trust.registry, envelope=env, now=NOW)
        a = verify(ann, trust.registry, now=NOW, profile=ANNOUNCEMENT_PROFILE)
        assert receipt.round_id == a.round_id and receipt.revision == 1
        assert inbox.accept(env).receipt == got.receipt  # a repeat: same receipt, not logged
        status = inbox.round_status()[0]
        assert status["status"] == ("complete" if i == len(group) - 1 else "open")
    result = verify(
        inbox.round_envelope(a.round_id, "result") or b"",
        trust.registry,
        now=NOW,
        profile=RESULT_PROFILE,
    )
    assert result.status == "complete" and [c.country for c in result.contributions] == list(GROUP)
    assert (inbox.folder / "rounds").is_dir()
    assert not any(p.name.startswith(result.round_id) for p in inbox.folder.iterdir())


def test_bad_round_inputs_are_refused_and_the_round_goes_on(
    trust: Trust, door: tuple[Inbox, Clock], group: dict[str, Member], tmp_path: Path
) -> None:
    inbox, _ = door
    ann = announcement(trust, group, "bad")
    inbox.accept(ann)
    khm = contribution(trust, group["KHM"], ann, tmp_path)
    c = parse_payload(Envelope.from_bytes(khm).payload, Contribution)
    short = [
        t.model_copy(update={"values": t.values[:-1]}) if i == 0 else t
        for i, t in enumerate(c.tables)
    ]
    assert refused(inbox, resigned(trust, khm, "KHM", tables=short)) == (ReasonCode.WRONG_SHAPE,)
    other_book = c.codebook.model_copy(update={"version": "0"})
    assert refused(inbox, resigned(trust, khm, "KHM", codebook=other_book)) == (
        ReasonCode.CODEBOOK_MISMATCH,
    )
    assert refused(inbox, resigned(trust, khm, "VNM", country="VNM")) == (
        ReasonCode.NOT_PARTICIPANT,
    )
    assert refused(inbox, resigned(trust, khm, "KHM", round_id="f" * 32)) == (
        ReasonCode.ROUND_UNKNOWN,
    )
    forged = sign_envelope(
        Envelope.from_bytes(ann).payload, ANNOUNCEMENT_PROFILE.payload_type, [trust.nodes["KHM"]]
    ).to_bytes()
    assert refused(inbox, forged) == (ReasonCode.WRONG_ROLE,)
    assert inbox.accept(ann).new is False  # the same announcement again: a repeat
    again = announcement(trust, group, "bad", hours=48)  # the same round id, other terms
    assert refused(inbox, again) == (ReasonCode.DUPLICATE_ROUND,)
    inbox.accept(khm)
    assert refused(inbox, resigned(trust, khm, "KHM", created_at="2026-11-22T12:00:01Z")) == (
        ReasonCode.CONFLICTING_CONTRIBUTION,
    )
    # the round goes on for the others
    for country in ("LAO", "THA"):
        inbox.accept(contribution(trust, group[country], ann, tmp_path))
    assert inbox.round_status()[0]["status"] == "complete"
    assert http_status(ReasonCode.NOT_PARTICIPANT) == 403
    assert http_status(ReasonCode.WRONG_SHAPE) == 422


def test_late_contributions_and_replays_of_a_closed_round_are_refused(
    trust: Trust, door: tuple[Inbox, Clock], group: dict[str, Member], tmp_path: Path
) -> None:
    inbox, clock = door
    ann = announcement(trust, group, "late", hours=1)
    inbox.accept(ann)
    inbox.accept(contribution(trust, group["KHM"], ann, tmp_path))
    late = contribution(trust, group["LAO"], ann, tmp_path)
    clock.now = NOW + dt.timedelta(hours=2)
    assert refused(inbox, late) == (ReasonCode.AFTER_DEADLINE,)
    status = inbox.round_status()[0]  # the deadline passed: the door aborted it
    assert status["status"] == "aborted" and status["missing"] == ["LAO", "THA"]
    result = verify(
        inbox.round_envelope(status["round_id"], "result") or b"",
        trust.registry,
        now=clock.now,
        profile=RESULT_PROFILE,
    )
    assert result.missing == ("LAO", "THA") and not result.sums
    clock.now = NOW
    assert refused(inbox, late) == (ReasonCode.ROUND_CLOSED,)


def test_the_coordinator_can_abort_and_cannot_forge_a_result(
    trust: Trust, door: tuple[Inbox, Clock], group: dict[str, Member], tmp_path: Path
) -> None:
    inbox, _ = door
    ann = announcement(trust, group, "abort")
    inbox.accept(ann)
    for country in ("KHM", "LAO"):
        inbox.accept(contribution(trust, group[country], ann, tmp_path))
    a = verify(ann, trust.registry, now=NOW, profile=ANNOUNCEMENT_PROFILE)
    r = inbox.rounds.book.rounds[a.round_id]
    fake = r.result_now(NOW, abort=True)
    assert fake is not None
    forged = fake.model_copy(update={"missing": ("THA", "LAO")})
    env = sign_envelope(
        RoundResult.model_validate(forged.model_dump()).canonical_bytes(),
        RESULT_PROFILE.payload_type,
        [trust.coordinator],
    ).to_bytes()
    assert refused(inbox, env) == (ReasonCode.RESULT_MISMATCH,)
    inbox.close_round(a.round_id)
    assert inbox.round_status()[0]["status"] == "aborted"
    with pytest.raises(Rejected) as err:
        inbox.close_round(a.round_id)
    assert err.value.reasons == (ReasonCode.ROUND_CLOSED,)


def test_a_restart_keeps_the_rounds(
    trust: Trust, door: tuple[Inbox, Clock], group: dict[str, Member], tmp_path: Path
) -> None:
    inbox, clock = door
    ann = announcement(trust, group, "restart")
    inbox.accept(ann)
    inbox.accept(contribution(trust, group["KHM"], ann, tmp_path))
    before = inbox.round_status()
    inbox.close()
    again = Inbox(
        inbox.folder, trust.registry, coordinator=trust.coordinator, log_key=trust.log, now=clock
    )
    assert again.round_status() == before
    for country in ("LAO", "THA"):
        again.accept(contribution(trust, group[country], ann, tmp_path))
    assert again.round_status()[0]["status"] == "complete"
    again.close()
    inbox.log = again.log  # the fixture closes it once more


def test_a_seed_reveal_is_no_message_of_the_protocol(
    trust: Trust, door: tuple[Inbox, Clock], group: dict[str, Member], tmp_path: Path
) -> None:
    """A missing node's round is re-run, never unmasked: no envelope can ask the door to
    reveal or take pairwise seeds (which, for a node that did contribute, would expose its
    vector). Any such message is refused by type, and nothing is logged."""
    inbox, _ = door
    ann = announcement(trust, group, "reveal")
    inbox.accept(ann)
    inbox.accept(contribution(trust, group["KHM"], ann, tmp_path))
    a = verify(ann, trust.registry, now=NOW, profile=ANNOUNCEMENT_PROFILE)
    reveal = sign_envelope(
        f'{{"round_id":"{a.round_id}","seeds":{{"LAO":"00"}}}}'.encode(),
        "application/vnd.vanfed.seed-reveal.v1+json",
        [trust.nodes["KHM"]],
    ).to_bytes()
    assert refused(inbox, reveal) == (ReasonCode.PAYLOAD_TYPE_MISMATCH,)
    assert inbox.round_status()[0]["status"] == "open"
