"""Detached co-signing of a registry version: each root holder signs on their own machine.

A *draft* is the registry payload (RFC 8785 canonical JSON of the next version), written by
``vanfed registry add-key|revoke|init`` when no root key is given. Each root holder checks
it and signs it alone (:func:`sign_draft`, a small JSON file naming the key, the draft's
SHA-256 and the DSSE signature over PAE); anyone then combines a threshold of these into the
registry envelope (:func:`combine_signatures`), which is verified before it is returned —
the private root keys never meet on one machine.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
from collections.abc import Sequence

from vanfed._json import canonical_bytes, loads_strict
from vanfed.errors import InputError, VerificationError
from vanfed.schema import REGISTRY_TYPE, TrustRegistry
from vanfed.signing._dsse import Envelope, pae
from vanfed.signing._keys import PublicKey, Signer
from vanfed.signing._verify import parse_payload, verify_registry

__all__ = ["MAX_SIGNATURE_BYTES", "combine_signatures", "read_draft", "sign_draft"]

MAX_SIGNATURE_BYTES = 64 * 1024  # one detached root signature file


def read_draft(draft: bytes, *, subject: str = "draft") -> TrustRegistry:
    """Parse a registry draft: canonical JSON of a valid registry, or InputError."""
    try:
        return parse_payload(draft, TrustRegistry)
    except VerificationError as exc:
        raise InputError(f"{subject}: not a registry draft: {exc}") from exc


def sign_draft(draft: bytes, signer: Signer) -> bytes:
    """A detached signature of ``draft`` by one root key (canonical JSON bytes)."""
    read_draft(draft)
    return canonical_bytes(
        {
            "keyid": signer.keyid,
            "payloadType": REGISTRY_TYPE,
            "payload_sha256": "sha256:" + hashlib.sha256(draft).hexdigest(),
            "sig": base64.b64encode(signer.sign(pae(REGISTRY_TYPE, draft))).decode(),
        }
    )


def _signature(draft: bytes, name: str, data: bytes) -> tuple[str, bytes]:
    obj = loads_strict(data, subject=name, max_bytes=MAX_SIGNATURE_BYTES)
    if not isinstance(obj, dict) or not {"keyid", "payload_sha256", "sig"} <= obj.keys():
        raise InputError(f"{name}: not a detached signature (needs keyid, payload_sha256, sig)")
    want = "sha256:" + hashlib.sha256(draft).hexdigest()
    if obj["payload_sha256"] != want:
        raise InputError(f"{name}: signs another draft ({str(obj['payload_sha256'])[:19]}…)")
    try:
        sig = base64.b64decode(str(obj["sig"]), validate=True)
    except binascii.Error as exc:
        raise InputError(f"{name}: sig is not base64") from exc
    return str(obj["keyid"]), sig


def combine_signatures(
    draft: bytes,
    signatures: Sequence[tuple[str, bytes]],
    *,
    now: dt.datetime,
    previous: TrustRegistry | None = None,
) -> bytes:
    """The registry envelope of ``draft`` with the given detached signatures.

    Args:
        draft: the draft's bytes.
        signatures: (name for messages, detached signature file bytes) pairs.
        now: reference time.
        previous: the version the draft follows; its root threshold must be met too.

    Raises:
        InputError: a signature file is malformed, for another draft, or does not verify
            by a root key of the draft or of ``previous``.
        RegistryError: the signatures do not reach the threshold (``threshold_not_met``).
    """
    reg = read_draft(draft)
    roots = {
        k.keyid: k
        for k in (*reg.with_role("root"), *(previous.with_role("root") if previous else ()))
    }
    message = pae(REGISTRY_TYPE, draft)
    parsed: dict[str, bytes] = {}
    for name, data in signatures:
        keyid, sig = _signature(draft, name, data)
        key = roots.get(keyid)
        if key is None or not PublicKey(key.raw).verify(sig, message):
            raise InputError(
                f"{name}: not a valid signature of this draft by a root key of "
                f"v{reg.version}" + (f" or v{previous.version}" if previous else "")
            )
        parsed[keyid] = sig  # the same key twice counts once
    env = Envelope(REGISTRY_TYPE, draft, tuple(sorted(parsed.items())))
    data = env.to_bytes()
    verify_registry(data, now=now, previous=previous)
    return data
