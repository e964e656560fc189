"""Building and evolving trust registries (init, add a key, revoke a key, sign)."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Sequence

from vanfed.errors import InputError
from vanfed.schema import REGISTRY_TYPE, X25519_ROLES, KeyEntry, Policy, TrustRegistry
from vanfed.signing._dsse import sign_envelope
from vanfed.signing._keys import PublicKey, Signer
from vanfed.signing._verify import timestamp

__all__ = [
    "add_key",
    "add_keys",
    "init_registry",
    "key_entry",
    "revoke_key",
    "set_policy",
    "sign_registry",
]


def key_entry(
    public: PublicKey,
    role: str,
    *,
    now: dt.datetime,
    country: str | None = None,
    valid_until: dt.datetime | None = None,
) -> KeyEntry:
    """A registry entry for a public key with its role, country and validity window."""
    if (role in X25519_ROLES) != (public.algorithm == "x25519"):
        raise InputError(
            f"a {public.algorithm} key cannot have role {role!r}: encryption and agreement "
            "keys are X25519, signing keys Ed25519"
        )
    return KeyEntry(
        keyid=public.keyid,
        public_key=base64.b64encode(public.raw).decode(),
        role=role,
        country=country,
        valid_from=timestamp(now),
        valid_until=timestamp(valid_until) if valid_until else None,
    )


def init_registry(
    roots: Sequence[PublicKey],
    *,
    threshold: int,
    now: dt.datetime,
    days: int = 365,
    policy: Policy | None = None,
    keys: Sequence[KeyEntry] = (),
) -> TrustRegistry:
    """Version 1 of a registry with the given root keys."""
    entries = [key_entry(r, "root", now=now) for r in roots]
    return TrustRegistry(
        version=1,
        issued_at=timestamp(now),
        expires=timestamp(now + dt.timedelta(days=days)),
        root_threshold=threshold,
        keys=(*entries, *keys),
        policy=policy or Policy(),
    )


def _next(
    reg: TrustRegistry, now: dt.datetime, days: int | None, **changes: object
) -> TrustRegistry:
    data = reg.model_dump()
    data.update(changes)
    data["version"] = reg.version + 1
    data["issued_at"] = timestamp(now)
    if days is not None:
        data["expires"] = timestamp(now + dt.timedelta(days=days))
    return TrustRegistry.model_validate(data)


def add_key(
    reg: TrustRegistry, entry: KeyEntry, *, now: dt.datetime, days: int | None = None
) -> TrustRegistry:
    """The next registry version with ``entry`` added (to be signed by the roots)."""
    return add_keys(reg, [entry], now=now, days=days)


def add_keys(
    reg: TrustRegistry, entries: Sequence[KeyEntry], *, now: dt.datetime, days: int | None = None
) -> TrustRegistry:
    """Version N+1 with every entry added (one version, one round of root signatures)."""
    if not entries:
        raise InputError("registry: no key to add")
    seen: set[str] = set()
    for entry in entries:
        if reg.key(entry.keyid) is not None or entry.keyid in seen:
            raise InputError(f"registry: key {entry.keyid[:12]}… is already listed")
        seen.add(entry.keyid)
    added = [e.model_dump() for e in entries]
    return _next(reg, now, days, keys=[*(k.model_dump() for k in reg.keys), *added])


def revoke_key(
    reg: TrustRegistry, keyid: str, *, reason: str, now: dt.datetime, days: int | None = None
) -> TrustRegistry:
    """The next registry version with a key revoked from ``now``."""
    matches = [k for k in reg.keys if k.keyid.startswith(keyid)]
    if len(matches) != 1:
        raise InputError(f"registry: {len(matches)} keys match {keyid!r}; give more of the id")
    target = matches[0].keyid
    keys = []
    for k in reg.keys:
        d = k.model_dump()
        if k.keyid == target:
            d.update(revoked_at=timestamp(now), revocation_reason=reason)
        keys.append(d)
    return _next(reg, now, days, keys=keys)


def set_policy(
    reg: TrustRegistry, policy: Policy, *, now: dt.datetime, days: int | None = None
) -> TrustRegistry:
    """The next registry version with ``policy`` in force (to be signed by the roots)."""
    return _next(reg, now, days, policy=policy.model_dump())


def sign_registry(reg: TrustRegistry, signers: Sequence[Signer]) -> bytes:
    """Envelope bytes of ``reg`` signed by every signer (roots of this and the last version)."""
    return sign_envelope(reg.canonical_bytes(), REGISTRY_TYPE, signers).to_bytes()
