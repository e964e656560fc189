"""The trust registry: who may sign what, for which country, when; and the policy.

Signed (DSSE, type :data:`REGISTRY_TYPE`) by a threshold of its root keys. Version N+1 is
valid only when a threshold of version N's roots *and* of its own roots sign it (TUF root
rotation), so a stolen node key cannot grant itself anything.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Literal

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from vanfed.schema._base import Model
from vanfed.schema._calendar import RevisionCalendar
from vanfed.schema._ckm import CkmRecord
from vanfed.schema._protection import ProtectionPolicy
from vanfed.schema._secure_policy import SecurePolicy
from vanfed.schema._summary import TIMESTAMP

__all__ = [
    "COUNTRY_ROLES",
    "MAX_REGISTRY_BYTES",
    "MAX_TRUST_ROOT_BYTES",
    "REGISTRY_TYPE",
    "X25519_ROLES",
    "KeyEntry",
    "Policy",
    "RegistryRef",
    "TrustRegistry",
    "TrustRoot",
]

# Size limits of the files read before anything in them is trusted.
MAX_REGISTRY_BYTES = 4 * 1024 * 1024  # a signed registry envelope, or its unsigned draft
MAX_TRUST_ROOT_BYTES = 64 * 1024  # a pinned trust root

REGISTRY_TYPE = "application/vnd.vanfed.registry.v1+json"
Role = Literal["root", "coordinator", "node", "log", "encryption", "agreement"]
# Keys that belong to a country (a node signs with one, agrees secure-aggregation masks with
# the other); keys that are X25519 (sealing, mask agreement) rather than Ed25519 (signing).
COUNTRY_ROLES: tuple[str, ...] = ("node", "agreement")
X25519_ROLES: tuple[str, ...] = ("encryption", "agreement")


class KeyEntry(Model):
    """One public key, its role, its country (node keys) and its validity window."""

    keyid: str = Field(pattern=r"^[0-9a-f]{64}$")
    public_key: str  # base64 of the raw 32-byte key: X25519 for X25519_ROLES, else Ed25519
    role: Role
    country: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    valid_from: str = Field(pattern=TIMESTAMP)
    valid_until: str | None = Field(default=None, pattern=TIMESTAMP)
    revoked_at: str | None = Field(default=None, pattern=TIMESTAMP)
    revocation_reason: str | None = None

    @model_validator(mode="after")
    def _check(self) -> KeyEntry:
        raw = base64.b64decode(self.public_key, validate=True)
        if len(raw) != 32:
            raise ValueError("public_key must be 32 raw bytes (Ed25519 or X25519)")
        if hashlib.sha256(raw).hexdigest() != self.keyid:
            raise ValueError("keyid must be the SHA-256 of the raw public key")
        if (self.role in COUNTRY_ROLES) != (self.country is not None):
            raise ValueError("node and agreement keys, and only they, name a country")
        if (self.revoked_at is None) != (self.revocation_reason is None):
            raise ValueError("a revocation needs both revoked_at and revocation_reason")
        return self

    @property
    def raw(self) -> bytes:
        """The raw public key bytes."""
        return base64.b64decode(self.public_key)


class Policy(Model):
    """Regional minimums every national summary must meet."""

    min_k: int = Field(default=5, ge=2)
    min_s: int = Field(default=3, ge=1)
    max_envelope_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    # Caps checked at the door before any LP runs (the attack's cost grows with them).
    max_tables: int = Field(default=32, ge=1)
    max_cells_per_table: int = Field(default=4096, ge=4)
    # Regionally agreed public margins (headline numbers) and the cell key method's agreed
    # noise (parameters + ptable digest); both optional, and each left out of the signed
    # bytes when absent so registries written before them keep their exact bytes.
    protection: ProtectionPolicy | None = None
    ckm: CkmRecord | None = None
    # The revision calendar (issue 21): windows in which each period may be published; the
    # door refuses a publication outside them (``outside_window``). Optional, omitted when
    # absent like the two above.
    revisions: RevisionCalendar | None = None
    # The secure regional path (secure aggregation with distributed noise): the least noise
    # a node accepts and each country's privacy budget. Absent: no secure rounds.
    secure: SecurePolicy | None = None

    @model_serializer(mode="wrap")
    def _omit_absent(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        out: dict[str, object] = handler(self)
        if self.protection is None:
            out.pop("protection", None)
        if self.ckm is None:
            out.pop("ckm", None)
        if self.revisions is None:
            out.pop("revisions", None)
        if self.secure is None:
            out.pop("secure", None)
        return out


class TrustRegistry(Model):
    """Who may sign what: root, coordinator, log, encryption and node keys, and the policy."""

    schema_version: Literal[1] = 1
    version: int = Field(ge=1)
    issued_at: str = Field(pattern=TIMESTAMP)
    expires: str = Field(pattern=TIMESTAMP)
    root_threshold: int = Field(ge=1)
    keys: tuple[KeyEntry, ...]
    policy: Policy = Policy()

    @model_validator(mode="after")
    def _check(self) -> TrustRegistry:
        ids = [k.keyid for k in self.keys]
        if len(set(ids)) != len(ids):
            raise ValueError("a key is listed twice")
        roots = sum(1 for k in self.keys if k.role == "root" and k.revoked_at is None)
        if roots < self.root_threshold:
            raise ValueError(f"root_threshold {self.root_threshold} exceeds the {roots} root keys")
        if self.expires <= self.issued_at:
            raise ValueError("expires must be after issued_at")
        return self

    @property
    def digest(self) -> str:
        """SHA-256 of the canonical payload: names this version whatever signatures it carries."""
        return "sha256:" + hashlib.sha256(self.canonical_bytes()).hexdigest()

    @property
    def ref(self) -> RegistryRef:
        """Version and digest, as a report or receipt names this registry."""
        return RegistryRef(version=self.version, digest=self.digest)

    def root_keyids(self) -> tuple[str, ...]:
        """The ids of the unrevoked root keys, sorted."""
        return tuple(
            sorted(k.keyid for k in self.keys if k.role == "root" and k.revoked_at is None)
        )

    def key(self, keyid: str) -> KeyEntry | None:
        """The entry of a key id, or None."""
        return next((k for k in self.keys if k.keyid == keyid), None)

    def with_role(self, role: str) -> tuple[KeyEntry, ...]:
        """Every entry of a role."""
        return tuple(k for k in self.keys if k.role == role)

    def agreement_key(self, country: str) -> KeyEntry | None:
        """The country's unrevoked secure-aggregation agreement key (the newest valid from)."""
        keys = [
            k for k in self.with_role("agreement") if k.country == country and k.revoked_at is None
        ]
        return max(keys, key=lambda k: (k.valid_from, k.keyid), default=None)


class RegistryRef(Model):
    """Which registry version something was built under (recorded in reports and receipts)."""

    version: int = Field(ge=1)
    digest: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")


class TrustRoot(Model):
    """What a user pins, as a TUF client keeps its trusted root: the root keys (id → raw
    public key, standard base64) and threshold a registry must be signed by, and the newest
    version verified so far (no rollback). The keys, not only their ids, so that a version
    whose roots rotated away can still be checked against the pinned ones.

    Kept outside any registry file (``~/.config/vanfed/trust-root.json`` or
    ``$VANFED_TRUST_ROOT``): whoever hands out a registry cannot also hand out its anchor.
    """

    schema_version: Literal[1] = 1
    root_keys: dict[str, str] = Field(min_length=1)
    threshold: int = Field(ge=1)
    version: int = Field(ge=1)  # the newest registry version verified against this anchor
    digest: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")  # ... and its payload digest

    @model_validator(mode="after")
    def _check(self) -> TrustRoot:
        for keyid, key in self.root_keys.items():
            raw = base64.b64decode(key, validate=True)
            if len(raw) != 32 or hashlib.sha256(raw).hexdigest() != keyid:
                raise ValueError(f"root key {keyid[:16]}…: not the SHA-256 of a 32-byte key")
        if self.threshold > len(self.root_keys):
            raise ValueError(
                f"threshold {self.threshold} exceeds the {len(self.root_keys)} pinned root keys"
            )
        return self

    @property
    def root_keyids(self) -> tuple[str, ...]:
        """The pinned root key ids, sorted."""
        return tuple(sorted(self.root_keys))
