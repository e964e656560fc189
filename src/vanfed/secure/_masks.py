"""Pairwise masks that cancel in the sum (Bonawitz et al., CCS 2017, §4 "masking with
one-time pads", without the double masking: a round with a missing node is re-run, never
unmasked).

Every pair of participants ``u, v`` agrees a secret with X25519 between their agreement
keys listed in the trust registry (static-static Diffie-Hellman: no message is needed to
agree it). For each round and table, HKDF-SHA256 (RFC 5869) turns the secret into a
ChaCha20 key, salted with the announcement's digest (a coordinator that shows two nodes two
different announcements gets masks that do not cancel, never a vector), with the round id,
the table and both key ids in ``info``. ChaCha20's keystream gives one 32-bit mask per
cell. The node whose key id sorts first adds the mask, the other subtracts it, so over all
participants every mask cancels modulo 2**32 and the coordinator's sum is the sum of the
inputs and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from vanfed.errors import InputError
from vanfed.schema import MODULUS
from vanfed.signing import EncryptionKeyPair

__all__ = ["MASK_INFO", "mask_sum", "pair_mask"]

MASK_INFO = b"vanfed/secure-aggregation/mask/v1"
_NONCE = bytes(16)  # each ChaCha20 key encrypts one keystream only: the nonce may be fixed


def _shared(own: EncryptionKeyPair, peer_raw: bytes, peer_keyid: str) -> bytes:
    try:
        return own.private_key.exchange(x25519.X25519PublicKey.from_public_bytes(peer_raw))
    except ValueError as exc:  # an all-zero result: a small-order point, never a real key
        raise InputError(f"agreement key {peer_keyid[:12]}…: not a usable X25519 key") from exc


def pair_mask(
    shared: bytes,
    *,
    announcement: str,
    round_id: str,
    table: str,
    keyids: tuple[str, str],
    cells: int,
) -> np.ndarray:
    """The 32-bit masks (uint64 holding values < 2**32) of one pair for one table."""
    low, high = sorted(keyids)
    info = b"|".join((MASK_INFO, round_id.encode(), table.encode(), low.encode(), high.encode()))
    key = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=bytes.fromhex(announcement.removeprefix("sha256:")),
        info=info,
    ).derive(shared)
    stream = (
        Cipher(algorithms.ChaCha20(key, _NONCE), mode=None).encryptor().update(bytes(4 * cells))
    )
    return np.frombuffer(stream, dtype="<u4").astype(np.uint64)


def mask_sum(
    own: EncryptionKeyPair,
    peers: Mapping[str, bytes],
    *,
    announcement: str,
    round_id: str,
    tables: Iterable[tuple[str, int]],
) -> dict[str, np.ndarray]:
    """This node's total mask per table: ``+`` the pair mask toward each peer whose key id
    sorts after its own, ``-`` toward each one before, modulo 2**32.

    Args:
        own: this node's agreement key pair.
        peers: every *other* participant's agreement key id → raw X25519 public key.
        announcement: the announcement envelope's digest (``sha256:…``).
        round_id: the round's id.
        tables: (name, number of cells) of each table of the round.
    """
    me = own.keyid
    secrets = {kid: _shared(own, raw, kid) for kid, raw in peers.items() if kid != me}
    out: dict[str, np.ndarray] = {}
    for name, cells in tables:
        total = np.zeros(cells, np.uint64)
        for kid, shared in secrets.items():
            m = pair_mask(
                shared,
                announcement=announcement,
                round_id=round_id,
                table=name,
                keyids=(me, kid),
                cells=cells,
            )
            total = (total + m) % MODULUS if me < kid else (total + MODULUS - m) % MODULUS
        out[name] = total
    return out
