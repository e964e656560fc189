"""Anchoring the trust registry: a pinned trust root, as TUF clients keep their root.

A registry verifies only against its *own* root keys, so anyone can mint one from scratch.
The user therefore pins the root key ids and threshold (a :class:`~vanfed.schema.TrustRoot`
file kept apart from any registry), and every registry must be signed by a threshold of the
pinned roots. The pin also records the newest version verified and its payload digest, so an
older version (rollback) or a different registry with the same version number (fork) is
refused without the caller having to supply the previous version. Verifying a newer version
advances the pin to that version's roots (TUF root rotation, python-tuf ``update_root``).
"""

from __future__ import annotations

import base64
import datetime as dt

from vanfed.errors import ReasonCode, RegistryError
from vanfed.schema import TrustRegistry, TrustRoot
from vanfed.signing._dsse import Envelope
from vanfed.signing._keys import PublicKey
from vanfed.signing._verify import verify_registry

__all__ = ["check_anchored", "pin_trust_root", "verify_pinned", "verify_successor"]


def pin_trust_root(registry: TrustRegistry) -> TrustRoot:
    """The trust root that pins ``registry``'s current root keys, threshold and version."""
    roots = [k for k in registry.with_role("root") if k.revoked_at is None]
    return TrustRoot(
        root_keys={k.keyid: k.public_key for k in roots},
        threshold=registry.root_threshold,
        version=registry.version,
        digest=registry.digest,
    )


def verify_successor(old: TrustRegistry, data: bytes, *, now: dt.datetime) -> TrustRegistry:
    """Verify registry envelope ``data`` as a successor of the verified registry ``old``.

    The new version must be higher, signed by a threshold of ``old``'s roots and of its own
    (TUF §5.3.4). A server in force with ``old`` calls this before swapping registries.

    Raises:
        RegistryError: ``threshold_not_met``, ``registry_rollback`` or ``registry_expired``.
    """
    return verify_registry(data, now=now, previous=old)


def _pinned_signers(env: Envelope, root: TrustRoot) -> int:
    """How many distinct pinned root keys signed ``env`` (TUF: a new root must be signed
    by a threshold of the keys trusted before it, whatever the new one says of them)."""
    signed: set[str] = set()
    for _hint, sig in env.signatures:
        for keyid, key in root.root_keys.items():
            if keyid not in signed and PublicKey(base64.b64decode(key)).verify(sig, env.pae):
                signed.add(keyid)
                break
    return len(signed)


def check_anchored(data: bytes, reg: TrustRegistry, root: TrustRoot) -> None:
    """Raise ``untrusted_root`` unless a threshold of the pinned roots signed ``data``."""
    if _pinned_signers(Envelope.from_bytes(data), root) < root.threshold:
        raise RegistryError(
            f"registry v{reg.version}: not signed by {root.threshold} of the "
            f"{len(root.root_keyids)} pinned root keys: it was not issued by the roots you "
            "trust (if they rotated, give the version in between with --previous)",
            (ReasonCode.UNTRUSTED_ROOT,),
        )


def _not_rolled_back(reg: TrustRegistry, root: TrustRoot) -> None:
    if reg.version < root.version:
        raise RegistryError(
            f"registry v{reg.version} is older than v{root.version}, the newest already "
            "verified: a rollback",
            (ReasonCode.REGISTRY_ROLLBACK,),
        )
    if reg.version == root.version and reg.digest != root.digest:
        raise RegistryError(
            f"registry v{reg.version} differs from the v{root.version} already verified "
            f"({root.digest[:19]}…): two registries claim the same version",
            (ReasonCode.REGISTRY_ROLLBACK,),
        )


def verify_pinned(
    data: bytes,
    root: TrustRoot,
    *,
    now: dt.datetime,
    previous: TrustRegistry | None = None,
) -> tuple[TrustRegistry, TrustRoot]:
    """Verify a registry envelope against a pinned trust root.

    Args:
        data: the registry envelope.
        root: the pinned trust root.
        now: reference time.
        previous: the version it follows, already anchored to ``root`` (see
            :func:`check_anchored`); it may be older than the pin (it is only a chain link).

    Returns:
        The verified registry and the trust root to keep from now on (advanced to this
        version when it is newer; unchanged otherwise).

    Raises:
        RegistryError: ``untrusted_root`` (not signed by the pinned roots),
            ``registry_rollback`` (older than, or different from, the newest pinned version),
            or any code of :func:`verify_registry`.
    """
    reg = verify_registry(data, now=now, previous=previous)
    if previous is None:  # with a chain, the previous link carries the anchor
        check_anchored(data, reg, root)
    _not_rolled_back(reg, root)
    if reg.version > root.version:
        return reg, pin_trust_root(reg)
    return reg, root
