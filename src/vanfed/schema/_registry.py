"""The trust registry: who may sign what, for which country, when; and the policy.

Signed (DSSE, type :data:`REGISTRY_TYPE`) by a threshold of its root keys. Version N+1 is
valid only when a threshold of version N's roots *and* of its own roots sign it (TUF root
rotation), so a stolen node key cannot grant itself anything.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Literal

from pydantic import Field, model_validator

from vanfed.schema._base import Model
from vanfed.schema._summary import TIMESTAMP

__all__ = ["REGISTRY_TYPE", "KeyEntry", "Policy", "TrustRegistry"]

REGISTRY_TYPE = "application/vnd.vanfed.registry.v1+json"
Role = Literal["root", "coordinator", "node", "log", "encryption"]


class KeyEntry(Model):
    """One public key, its role, its country (node keys) and its validity window."""

    keyid: str = Field(pattern=r"^[0-9a-f]{64}$")
    public_key: str  # standard base64 of the raw 32-byte key: X25519 for "encryption", else Ed25519
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
        if (self.role == "node") != (self.country is not None):
            raise ValueError("node keys, and only node keys, name a country")
        if (self.revoked_at is None) != (self.revocation_reason is None):
            raise ValueError("a revocation needs both revoked_at and revocation_reason")
        return self

    @property
    def raw(self) -> bytes:
        return base64.b64decode(self.public_key)


class Policy(Model):
    """Regional minimums every national summary must meet."""

    min_k: int = Field(default=5, ge=2)
    min_s: int = Field(default=3, ge=1)
    max_envelope_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)


class TrustRegistry(Model):
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

    def key(self, keyid: str) -> KeyEntry | None:
        return next((k for k in self.keys if k.keyid == keyid), None)

    def with_role(self, role: str) -> tuple[KeyEntry, ...]:
        return tuple(k for k in self.keys if k.role == role)
