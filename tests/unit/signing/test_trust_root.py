"""The anchored registry in the library: pinned roots, rollback and forks, root rotation
through a chain link, detached co-signing, several keys per version, and key validity
judged at the time the log received an envelope."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from vanfed.aggregate import select_inputs
from vanfed.errors import InputError, RegistryError
from vanfed.schema import SUMMARY_TYPE
from vanfed.signing import (
    add_keys,
    check_anchored,
    combine_signatures,
    envelope_digest,
    init_registry,
    key_entry,
    key_valid_at,
    pin_trust_root,
    revoke_key,
    sign_draft,
    sign_envelope,
    sign_registry,
    verify_pinned,
    verify_successor,
)
from vanfed.testing import NOW, Trust, seeded, small_summary

LATER = NOW + dt.timedelta(days=1)


def test_a_registry_minted_from_scratch_is_refused(trust: Trust) -> None:
    root = pin_trust_root(trust.registry)
    evil = [seeded(f"evil{i}") for i in range(3)]
    mint = init_registry(
        [k.public for k in evil], threshold=2, now=NOW, keys=trust.registry.keys[3:]
    )
    with pytest.raises(RegistryError) as exc:
        verify_pinned(sign_registry(mint, evil[:2]), root, now=NOW)
    assert exc.value.reasons == ("untrusted_root",)
    reg, same = verify_pinned(trust.registry_bytes, root, now=NOW)
    assert reg == trust.registry and same == root


def test_rollback_and_fork_are_caught_by_the_pin(trust: Trust) -> None:
    node = seeded("late-node")
    v2 = add_keys(trust.registry, [key_entry(node.public, "node", now=NOW, country="KHM")], now=NOW)
    v2_bytes = sign_registry(v2, trust.roots[:2])
    _, root = verify_pinned(v2_bytes, pin_trust_root(trust.registry), now=NOW)
    assert (root.version, root.digest) == (2, v2.digest)
    with pytest.raises(RegistryError, match="rollback") as exc:
        verify_pinned(trust.registry_bytes, root, now=NOW)
    assert exc.value.reasons == ("registry_rollback",)
    other = revoke_key(trust.registry, trust.nodes["LAO"].keyid, reason="x", now=NOW)
    with pytest.raises(RegistryError, match="two registries claim the same version"):
        verify_pinned(sign_registry(other, trust.roots[:2]), root, now=NOW)


def test_rotated_roots_need_the_chain(trust: Trust) -> None:
    """v2 replaces every root (signed by v1's roots and its own); v3 is signed by the new
    roots only: it verifies through v2, not from the pin alone."""
    new = [seeded(f"new-root{i}") for i in range(2)]
    keep = [k for k in trust.registry.keys if k.role != "root"]
    v2 = init_registry([k.public for k in new], threshold=2, now=NOW, keys=keep).model_copy(
        update={"version": 2}
    )
    v2_bytes = sign_registry(v2, [*trust.roots[:2], *new])
    v3 = revoke_key(v2, trust.nodes["LAO"].keyid, reason="x", now=NOW)
    v3_bytes = sign_registry(v3, new)
    root = pin_trust_root(trust.registry)
    with pytest.raises(RegistryError) as exc:
        verify_pinned(v3_bytes, root, now=NOW)
    assert exc.value.reasons == ("untrusted_root",)
    check_anchored(v2_bytes, v2, root)
    reg, advanced = verify_pinned(v3_bytes, root, now=NOW, previous=v2)
    assert reg.version == 3 and advanced.root_keyids == v3.root_keyids()
    assert verify_successor(v2, v3_bytes, now=NOW) == v3


def test_detached_signatures_combine_into_the_registry(trust: Trust) -> None:
    nodes = [seeded(f"batch{i}") for i in range(2)]
    entries = [key_entry(k.public, "node", now=NOW, country="MMR") for k in nodes]
    draft = add_keys(trust.registry, entries, now=NOW).canonical_bytes()
    sigs = [(f"sig{i}", sign_draft(draft, trust.roots[i])) for i in (0, 2)]
    data = combine_signatures(draft, sigs, now=NOW, previous=trust.registry)
    reg = verify_successor(trust.registry, data, now=NOW)
    assert {k.keyid for k in reg.keys} >= {k.keyid for k in nodes}
    with pytest.raises(RegistryError, match="needs 2"):  # one holder twice counts once
        combine_signatures(draft, [sigs[0], sigs[0]], now=NOW, previous=trust.registry)
    stranger = sign_draft(draft, seeded("not-a-root"))
    with pytest.raises(InputError, match="not a valid signature of this draft by a root key"):
        combine_signatures(draft, [sigs[0], ("x.json", stranger)], now=NOW)
    other = add_keys(trust.registry, entries[:1], now=NOW).canonical_bytes()
    with pytest.raises(InputError, match="signs another draft"):
        combine_signatures(other, sigs, now=NOW)
    with pytest.raises(InputError, match="already listed"):
        add_keys(trust.registry, [entries[0], entries[0]], now=NOW)


def test_key_validity_is_judged_when_the_log_received_the_envelope(
    trust: Trust, tmp_path: Path
) -> None:
    """A revocation after receipt leaves the envelope valid; one before refuses it."""
    khm = trust.registry.key(trust.nodes["KHM"].keyid)
    assert khm is not None
    revoked = revoke_key(trust.registry, khm.keyid, reason="stolen", now=LATER)
    entry = revoked.key(khm.keyid)
    assert entry is not None
    assert key_valid_at(entry, NOW) == []
    assert [r.code for r in key_valid_at(entry, LATER)] == ["key_revoked"]
    env = sign_envelope(
        small_summary("KHM", "2024").canonical_bytes(), SUMMARY_TYPE, [trust.nodes["KHM"]]
    )
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "khm.dsse.json").write_bytes(env.to_bytes())
    digest = envelope_digest(env.to_bytes())
    now = LATER + dt.timedelta(hours=1)
    chosen, _ = select_inputs(inbox, revoked, period="2024", now=now, received_at={digest: NOW})
    assert [s.summary.country for s in chosen] == ["KHM"]
    chosen, skipped = select_inputs(
        inbox,
        revoked,
        period="2024",
        now=now,
        received_at={digest: LATER + dt.timedelta(seconds=1)},
    )
    assert chosen == [] and skipped[0].reason == "key_revoked"
