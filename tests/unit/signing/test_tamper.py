"""The tamper suite: every way an envelope or registry can be wrong, with its reason code."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vanfed._json import canonical_bytes
from vanfed.errors import RegistryError, UntrustedKeyError, VerificationError
from vanfed.schema import REGISTRY_TYPE, SUMMARY_TYPE, Policy, Summary
from vanfed.signing import (
    Envelope,
    add_key,
    key_entry,
    revoke_key,
    sign_envelope,
    sign_registry,
    verification_result,
    verify,
    verify_registry,
)
from vanfed.testing import NOW, Trust, seeded

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> Summary:
    from random import Random

    from vanfed import Node
    from vanfed.schema import load_mapping
    from vanfed.synthetic import write_export

    ex = write_export("KHM", tmp_path_factory.mktemp("khm"), seed=11)
    node = Node("KHM")
    rec = node.ingest(ex.path, load_mapping(ex.mapping_path), today=NOW.date())
    return node.summarize(rec, period="2024", now=NOW, rng=Random(1))


def envelope(payload: bytes, key, ptype: str = SUMMARY_TYPE) -> bytes:
    return sign_envelope(payload, ptype, [key]).to_bytes()


def mutate(data: bytes, fn: Callable[[dict], None]) -> bytes:
    obj = json.loads(data)
    fn(obj)
    return json.dumps(obj).encode()


def flip_b64(text: str, index: int) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[index % len(raw)] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def summary_with(summary: Summary, **changes) -> bytes:
    return summary.model_copy(update=changes).canonical_bytes()


def cases(trust: Trust, s: Summary):
    khm, lao = trust.nodes["KHM"], trust.nodes["LAO"]
    good = envelope(s.canonical_bytes(), khm)
    reg = trust.registry
    later = NOW + dt.timedelta(days=1)
    revoked = revoke_key(reg, khm.keyid, reason="laptop stolen", now=NOW - dt.timedelta(hours=1))
    expired_reg = reg.model_copy(update={"expires": "2026-01-01T00:00:00Z"})
    tiny = reg.model_copy(update={"policy": Policy(max_envelope_bytes=1024)})
    strict = reg.model_copy(update={"policy": Policy(min_k=10, min_s=10)})
    future_key = seeded("future")
    windowed = add_key(
        reg,
        key_entry(future_key.public, "node", country="KHM", now=NOW + dt.timedelta(days=30)),
        now=NOW,
    )
    old_key = seeded("old")
    expired_key = add_key(
        reg,
        key_entry(
            old_key.public,
            "node",
            country="KHM",
            now=NOW - dt.timedelta(days=90),
            valid_until=NOW - dt.timedelta(days=1),
        ),
        now=NOW,
    )
    payload = s.canonical_bytes()
    obj = json.loads(payload)
    yield (
        "payload_bit_flip",
        mutate(good, lambda e: e.update(payload=flip_b64(e["payload"], 40))),
        reg,
        "bad_signature",
    )
    yield (
        "payload_last_byte_flip",
        mutate(good, lambda e: e.update(payload=flip_b64(e["payload"], -1))),
        reg,
        "bad_signature",
    )
    yield (
        "signature_bit_flip",
        mutate(
            good, lambda e: e["signatures"][0].update(sig=flip_b64(e["signatures"][0]["sig"], 3))
        ),
        reg,
        "bad_signature",
    )
    yield (
        "signature_truncated",
        mutate(good, lambda e: e["signatures"][0].update(sig=e["signatures"][0]["sig"][:40])),
        reg,
        "bad_signature",
    )
    yield (
        "payload_type_changed",
        mutate(good, lambda e: e.update(payloadType=REGISTRY_TYPE)),
        reg,
        "payload_type_mismatch",
    )
    yield (
        "payload_type_case",
        mutate(good, lambda e: e.update(payloadType=SUMMARY_TYPE.upper())),
        reg,
        "payload_type_mismatch",
    )
    # keyid is only a hint (DSSE): a swapped hint on a genuine signature still verifies,
    # and a genuine hint on another country's signature is still the other country's.
    yield (
        "keyid_swapped_genuine_signature",
        mutate(good, lambda e: e["signatures"][0].update(keyid=lao.keyid)),
        reg,
        "ok",
    )
    yield (
        "keyid_claims_khm_signed_by_lao",
        mutate(envelope(payload, lao), lambda e: e["signatures"][0].update(keyid=khm.keyid)),
        reg,
        "wrong_country",
    )
    yield "signed_by_other_country", envelope(payload, lao), reg, "wrong_country"
    yield "signed_by_unknown_key", envelope(payload, seeded("stranger")), reg, "unknown_key"
    yield "signed_by_coordinator", envelope(payload, trust.coordinator), reg, "wrong_role"
    yield "signed_by_root", envelope(payload, trust.roots[0]), reg, "wrong_role"
    yield "revoked_key", good, revoked, "key_revoked"
    yield "key_not_yet_valid", envelope(payload, future_key), windowed, "key_not_yet_valid"
    yield "key_expired", envelope(payload, old_key), expired_key, "key_expired"
    yield "registry_expired", good, expired_reg, "registry_expired"
    yield "oversized", good, tiny, "too_large"
    yield "k_below_policy", good, strict, "policy_violation"
    yield (
        "no_signatures",
        mutate(good, lambda e: e.update(signatures=[])),
        reg,
        "malformed_envelope",
    )
    yield "not_json", b"this is not json", reg, "malformed_envelope"
    yield "truncated_envelope", good[: len(good) // 2], reg, "malformed_envelope"
    yield "non_utf8", b"\xff\xfe" + good, reg, "malformed_envelope"
    yield "deeply_nested", b"[" * 200 + b"]" * 200, reg, "malformed_envelope"
    yield "envelope_is_array", b"[]", reg, "malformed_envelope"
    yield (
        "payload_not_base64",
        mutate(good, lambda e: e.update(payload="***")),
        reg,
        "malformed_envelope",
    )
    yield "duplicate_key_in_envelope", good[:-1] + b',"payloadType":"x"}', reg, "duplicate_key"
    dup = payload[:-1] + b',"country":"LAO"}'
    yield "duplicate_key_in_payload", envelope(dup, khm), reg, "duplicate_key"
    yield (
        "non_canonical_payload",
        envelope(json.dumps(obj, indent=1).encode(), khm),
        reg,
        "non_canonical_payload",
    )
    yield (
        "float_count",
        envelope(canonical_bytes({**obj, "revision": 1.5}), khm),
        reg,
        "malformed_payload",
    )
    yield (
        "nan_in_payload",
        envelope(payload.replace(b'"revision":1', b'"revision":NaN'), khm),
        reg,
        "malformed_payload",
    )
    yield (
        "published_small_cell",
        envelope(
            canonical_bytes(
                {
                    **obj,
                    "tables": [
                        {**obj["tables"][0], "values": [3] * len(obj["tables"][0]["values"])}
                    ],
                }
            ),
            khm,
        ),
        reg,
        "malformed_payload",
    )
    yield (
        "unknown_field",
        envelope(canonical_bytes({**obj, "extra": 1}), khm),
        reg,
        "malformed_payload",
    )
    yield (
        "valid_but_registry_rotated_out",
        good,
        revoke_key(reg, khm.keyid, reason="rotated", now=later - dt.timedelta(hours=1)),
        None,
    )


@pytest.fixture(scope="module")
def catalogue(trust: Trust, summary: Summary):
    return list(cases(trust, summary))


def test_catalogue_is_large(catalogue) -> None:
    assert len(catalogue) == 33
    assert sum(1 for c in catalogue if c[3] not in (None, "ok")) >= 30


def test_good_envelope_verifies(trust: Trust, summary: Summary) -> None:
    good = envelope(summary.canonical_bytes(), trust.nodes["KHM"])
    assert verify(good, trust.registry, now=NOW) == summary


@pytest.mark.parametrize("index", range(33))
def test_tampered_envelope_is_rejected_with_its_reason(catalogue, index: int) -> None:
    name, data, registry, code = catalogue[index]
    result = verification_result(data, registry, now=NOW)
    if code == "ok":
        assert result.ok, (name, result.reasons)
        return
    if code is None:  # revocation after signing still takes effect once in force
        later = NOW + dt.timedelta(days=1)
        result = verification_result(data, registry, now=later)
        assert "key_revoked" in result.codes
        return
    assert not result.ok, name
    assert code in result.codes, (name, result.reasons)
    with pytest.raises(VerificationError) as info:
        verify(data, registry, now=NOW)
    assert code in info.value.reasons


def test_untrusted_key_raises_specific_error(trust: Trust, summary: Summary) -> None:
    data = envelope(summary.canonical_bytes(), trust.nodes["LAO"])
    with pytest.raises(UntrustedKeyError, match="belongs to LAO"):
        verify(data, trust.registry, now=NOW)


def test_urlsafe_base64_and_unknown_fields_are_accepted(trust: Trust, summary: Summary) -> None:
    good = envelope(summary.canonical_bytes(), trust.nodes["KHM"])
    obj = json.loads(good)
    obj["payload"] = base64.urlsafe_b64encode(base64.b64decode(obj["payload"])).decode().rstrip("=")
    obj["comment"] = "ignored"
    assert verification_result(json.dumps(obj).encode(), trust.registry, now=NOW).ok


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_single_byte_change_is_rejected(trust: Trust, summary: Summary, data) -> None:
    good = envelope(summary.canonical_bytes(), trust.nodes["KHM"])
    i = data.draw(st.integers(0, len(good) - 1))
    b = data.draw(st.integers(0, 255).filter(lambda x: x != good[i]))
    changed = good[:i] + bytes([b]) + good[i + 1 :]
    result = verification_result(changed, trust.registry, now=NOW)
    # A change is either rejected, or falls where DSSE ignores it (the keyid hint, JSON
    # whitespace); never does a different payload verify.
    if result.ok:
        assert result.payload == summary
        assert Envelope.from_bytes(changed).payload == summary.canonical_bytes()


@settings(max_examples=20, deadline=None)
@given(st.binary(min_size=1, max_size=300))
def test_sign_verify_round_trip(trust: Trust, payload: bytes) -> None:
    key = trust.nodes["THA"]
    env = sign_envelope(payload, "application/x-test", [key])
    from vanfed.signing import Envelope

    parsed = Envelope.from_bytes(env.to_bytes())
    assert parsed.payload == payload
    assert key.public.verify(parsed.signatures[0][1], parsed.pae)


# --- registry --------------------------------------------------------------------------


def test_registry_below_threshold_is_refused(trust: Trust) -> None:
    one = sign_registry(trust.registry, trust.roots[:1])
    with pytest.raises(RegistryError) as info:
        verify_registry(one, now=NOW)
    assert info.value.reasons == ("threshold_not_met",)


def test_registry_rotation_needs_old_and_new_roots(trust: Trust) -> None:
    new_root = seeded("new-root")
    v2 = add_key(trust.registry, key_entry(new_root.public, "root", now=NOW), now=NOW)
    signed = sign_registry(v2, trust.roots[:2])
    assert verify_registry(signed, now=NOW, previous=trust.registry).version == 2
    forged = sign_registry(v2, [trust.roots[0], new_root])  # one old root only... and new
    assert verify_registry(forged, now=NOW).version == 2  # own threshold met
    with pytest.raises(RegistryError) as info:
        verify_registry(sign_registry(v2, [new_root]), now=NOW, previous=trust.registry)
    assert info.value.reasons == ("threshold_not_met",)


def test_registry_rollback_is_refused(trust: Trust) -> None:
    v2 = add_key(
        trust.registry, key_entry(seeded("x").public, "node", country="LAO", now=NOW), now=NOW
    )
    with pytest.raises(RegistryError) as info:
        verify_registry(trust.registry_bytes, now=NOW, previous=v2)
    assert info.value.reasons == ("registry_rollback",)


def test_registry_envelope_of_wrong_type(trust: Trust) -> None:
    bad = sign_envelope(trust.registry.canonical_bytes(), SUMMARY_TYPE, trust.roots[:2]).to_bytes()
    with pytest.raises(RegistryError):
        verify_registry(bad, now=NOW)


def test_expired_registry_is_refused(trust: Trust) -> None:
    with pytest.raises(RegistryError) as info:
        verify_registry(trust.registry_bytes, now=NOW + dt.timedelta(days=800))
    assert info.value.reasons == ("registry_expired",)


def test_keys_are_encrypted_at_rest(tmp_path: Path) -> None:
    from vanfed.errors import InputError
    from vanfed.signing import load_private, save_keypair

    key = seeded("disk")
    priv, pub = save_keypair(key, tmp_path / "k", b"correct horse")
    assert priv.stat().st_mode & 0o777 == 0o600
    assert b"ENCRYPTED PRIVATE KEY" in priv.read_bytes()
    assert load_private(tmp_path / "k", b"correct horse").keyid == key.keyid
    with pytest.raises(InputError, match="wrong passphrase"):
        load_private(tmp_path / "k", b"wrong")
    with pytest.raises(InputError, match="is a public key"):
        load_private(pub, b"correct horse")
