"""What the coordinator holds after a secure round cannot give it any country's counts.

A real ``vanfed serve`` on 127.0.0.1 takes five countries' national summaries and a round's
contributions, all sealed (HPKE) through each node's outbox. Afterwards the test gathers
*everything the coordinator process received and stored*: every file under its folder (the
inbox, the rounds, the transparency log, its own log output) — the sealed bodies open to
exactly the envelopes stored, with the coordinator's own key. An attacker then tries every
way to a national vector the data allows: each contribution as it is, the sum of every
proper subset of them, and the same with the pairwise masks of a node that colludes with
the coordinator removed. Only the sum over all participants decodes — and that is the
release itself, the counts plus the honest nodes' noise.
"""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from vanfed.schema import (
    ANNOUNCEMENT_TYPE,
    CONTRIBUTION_TYPE,
    MODULUS,
    RESULT_TYPE,
    Contribution,
    RoundAnnouncement,
    RoundResult,
    load_codebook,
)
from vanfed.secure import contribute, round_counts
from vanfed.secure._masks import pair_mask
from vanfed.signing import Envelope, parse_payload
from vanfed.testing import NOW, Member, Service, Trust, announce, members
from vanfed.transport import CoordinatorClient, Outbox

CB = load_codebook()
COUNTRIES = ("KHM", "LAO", "MMR", "THA", "VNM")


def decoded(total: np.ndarray) -> np.ndarray:
    """A sum modulo 2**32 read as a signed 32-bit value."""
    return np.where(total >= MODULUS // 2, total.astype(np.int64) - MODULUS, total)


def recovers(candidate: np.ndarray, truth: np.ndarray) -> bool:
    """A vector 'gives' the counts if most cells lie within a few records of them."""
    return bool(np.mean(np.abs(decoded(candidate) - truth) <= 10) >= 0.5)


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Member], Trust]:
    """Publish nationally and run one round over a real service; return its folder."""
    trust = Trust()
    root = tmp_path_factory.mktemp("view")
    group = members(root / "members", trust, COUNTRIES, period="2024", now=NOW)
    now = dt.datetime.now(dt.UTC)
    with Service(root / "coordinator", trust) as svc:
        for c, m in group.items():
            with Outbox(root / "outbox" / c, trust.registry) as box:
                box.queue(m.envelope, svc.url, sealed=True)
                box.flush(max_wait=60)
        ann = announce(trust, group, now=now, seed="view", hours=1)
        with CoordinatorClient(svc.url) as client:
            assert client.submit(ann).accepted
        for c, m in group.items():
            with CoordinatorClient(svc.url) as client:
                (row,) = client.rounds(status="open")
                got = client.round_envelope(row["round_id"])
            env = contribute(
                got, registry=trust.registry, codebook=CB, records=m.records,
                signer=trust.nodes[c], agreement=trust.agreements[c], ledger=m.ledger, now=now,
            )  # fmt: skip
            with Outbox(root / "outbox" / c, trust.registry) as box:
                digest = box.queue(env, svc.url, sealed=True)
                box.flush(max_wait=60)
                assert box.receipt(digest) is not None
        with CoordinatorClient(svc.url) as client:
            (done,) = client.rounds()
        assert done["status"] == "complete"
    return root / "coordinator", group, trust


def dump(folder: Path) -> dict[str, list]:
    """Every envelope the coordinator stored, by payload type, parsed; and every other file."""
    out: dict[str, list] = {"contributions": [], "announcements": [], "results": [], "other": []}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        try:
            env = Envelope.from_bytes(data)
        except Exception:
            out["other"].append((path, data))
            continue
        if env.payload_type == CONTRIBUTION_TYPE:
            out["contributions"].append(parse_payload(env.payload, Contribution))
        elif env.payload_type == ANNOUNCEMENT_TYPE:
            out["announcements"].append(parse_payload(env.payload, RoundAnnouncement))
        elif env.payload_type == RESULT_TYPE:
            out["results"].append(parse_payload(env.payload, RoundResult))
    return out


def vector(c: Contribution) -> np.ndarray:
    return np.concatenate([np.array(t.values, np.uint64) for t in c.tables])


def test_the_coordinator_cannot_recover_any_national_vector(
    ran: tuple[Path, dict[str, Member], Trust],
) -> None:
    folder, group, _ = ran
    held = dump(folder)
    (ann,) = held["announcements"]
    (result,) = held["results"]
    contributions = {c.country: c for c in held["contributions"]}
    assert sorted(contributions) == list(COUNTRIES)
    truth = {
        c: np.concatenate(list(round_counts(m.records, ann.tables, CB, "2024").values()))
        for c, m in group.items()
    }
    # one contribution alone, or any proper subset of them summed: no national vector
    for size in range(1, len(COUNTRIES)):
        for subset in itertools.combinations(COUNTRIES, size):
            total = sum(vector(contributions[c]) for c in subset) % MODULUS
            for target in (*(truth[c] for c in COUNTRIES), sum(truth[c] for c in subset)):
                assert not recovers(total, target), subset
    # the sum over all participants is the release: the counts plus the noise, no more
    everything = decoded(sum(vector(c) for c in contributions.values()) % MODULUS)
    released = np.concatenate([np.array(s.values) for s in result.sums])
    assert np.array_equal(everything, released)
    regional = sum(truth.values())
    noise = released - regional
    assert np.count_nonzero(noise) > noise.size // 3  # the noise is there
    assert np.abs(noise).max() < 60  # and it is the stated Skellam noise, not a mask
    # nothing else the coordinator holds carries a count vector: its own logs and the log
    text = b"".join(data for _, data in held["other"])
    assert b'"values"' not in text


def test_coordinator_with_a_colluding_node_still_sees_no_honest_vector(
    ran: tuple[Path, dict[str, Member], Trust],
) -> None:
    """MMR gives the coordinator its agreement key: their pairwise masks come off, yet every
    honest country's vector, and every proper subset of honest countries, stays masked by
    the masks between honest pairs. Only all honest countries together decode: the
    release minus MMR's own input."""
    folder, group, trust = ran
    held = dump(folder)
    (ann,) = held["announcements"]
    colluder = "MMR"
    mine = trust.agreements[colluder]
    key_of = {p.country: p.agreement_keyid for p in ann.participants}
    contributions = {c.country: c for c in held["contributions"]}
    digest = contributions[colluder].announcement
    honest = [c for c in COUNTRIES if c != colluder]
    cleaned = {}
    for c in honest:
        peer = trust.registry.key(key_of[c])
        assert peer is not None
        shared = mine.private_key.exchange(X25519PublicKey.from_public_bytes(peer.raw))
        parts = []
        for t in ann.tables:
            m = pair_mask(
                shared, announcement=digest, round_id=ann.round_id, table=t.name,
                keyids=(mine.keyid, key_of[c]), cells=t.cells,
            )  # fmt: skip
            # the honest node added +m if its key sorts first, -m otherwise: undo it
            parts.append(m if key_of[c] < mine.keyid else (MODULUS - m) % MODULUS)
        cleaned[c] = (vector(contributions[c]) + MODULUS - np.concatenate(parts)) % MODULUS
    truth = {
        c: np.concatenate(list(round_counts(group[c].records, ann.tables, CB, "2024").values()))
        for c in honest
    }
    for size in range(1, len(honest)):
        for subset in itertools.combinations(honest, size):
            total = sum(cleaned[c] for c in subset) % MODULUS
            assert not recovers(total, sum(truth[c] for c in subset)), subset
    together = sum(cleaned[c] for c in honest) % MODULUS
    assert recovers(together, sum(truth.values()))  # the honest sum: counts + their noise
