"""Sealing envelopes to the coordinator: HPKE (RFC 9180) base mode, single shot.

Suite: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305, from ``cryptography``.
A sealed submission is::

    MAGIC ‖ country (3 ASCII bytes) ‖ recipient key id (32 bytes) ‖ enc (32) ‖ ciphertext

and HPKE's ``info`` is everything before ``enc``, so the protocol version, the country and
the intended key are all bound into the key schedule: change one and opening fails.
"""

from __future__ import annotations

import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import x25519

from vanfed.errors import InputError, ReasonCode, VerificationError
from vanfed.schema import TrustRegistry
from vanfed.signing import EncryptionKeyPair

__all__ = ["MAGIC", "SEALED_MEDIA_TYPE", "open_sealed", "seal", "sealing_key"]

MAGIC = b"vanfed-sealed-v1\n"
SEALED_MEDIA_TYPE = "application/vnd.vanfed.sealed.v1"
_HEADER = len(MAGIC) + 3 + 32
_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)
_COUNTRY = re.compile(rb"^[A-Z]{3}$")


def sealing_key(registry: TrustRegistry) -> tuple[str, bytes]:
    """The registry's current encryption key: (keyid, raw X25519 public key)."""
    keys = [k for k in registry.with_role("encryption") if k.revoked_at is None]
    if not keys:
        raise InputError(f"registry v{registry.version} lists no encryption key to seal to")
    key = max(keys, key=lambda k: k.valid_from)
    return key.keyid, key.raw


def seal(envelope: bytes, *, country: str, keyid: str, public: bytes) -> bytes:
    """Seal an envelope for the holder of the X25519 key ``public`` (id ``keyid``)."""
    if not _COUNTRY.match(country.encode()):
        raise InputError(f"country {country!r}: expected an ISO 3166 alpha-3 code")
    header = MAGIC + country.encode() + bytes.fromhex(keyid)
    recipient = x25519.X25519PublicKey.from_public_bytes(public)
    return header + _SUITE.encrypt(envelope, recipient, info=header)


def is_sealed(data: bytes) -> bool:
    return data.startswith(MAGIC)


def open_sealed(data: bytes, keys: list[EncryptionKeyPair]) -> tuple[str, bytes]:
    """Open a sealed submission: (country named in the header, envelope bytes).

    Raises:
        VerificationError: ``malformed_sealed`` (not a sealed blob), ``unknown_encryption_key``
            (sealed to another key) or ``seal_broken`` (altered, or the header changed).
    """
    if not data.startswith(MAGIC) or len(data) < _HEADER + 32 + 16:
        raise VerificationError(
            "sealed submission: bad header or too short", (ReasonCode.MALFORMED_SEALED,)
        )
    header = data[:_HEADER]
    country, keyid = header[len(MAGIC) : len(MAGIC) + 3], header[len(MAGIC) + 3 :].hex()
    if not _COUNTRY.match(country):
        raise VerificationError(
            "sealed submission: bad country in header", (ReasonCode.MALFORMED_SEALED,)
        )
    key = next((k for k in keys if k.keyid == keyid), None)
    if key is None:
        raise VerificationError(
            f"sealed submission: sealed to key {keyid[:12]}…, which this coordinator does not hold",
            (ReasonCode.UNKNOWN_ENCRYPTION_KEY,),
        )
    try:
        envelope = _SUITE.decrypt(data[_HEADER:], key.private_key, info=header)
    except InvalidTag as exc:
        raise VerificationError(
            "sealed submission: does not open (altered in transit, or its header was changed)",
            (ReasonCode.SEAL_BROKEN,),
        ) from exc
    return country.decode(), envelope
