"""Seeded keys and a signed trust registry for tests, on a fixed clock, and pinning its roots."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from random import Random

from vanfed.schema import Policy, SecurePolicy
from vanfed.signing import (
    EncryptionKeyPair,
    KeyPair,
    init_registry,
    key_entry,
    pin_trust_root,
    sign_registry,
    verify_registry,
)

__all__ = ["NOW", "TODAY", "Trust", "pin", "seeded"]

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
TODAY = NOW.date()


def seeded(label: str) -> KeyPair:
    """The signing key pair derived from ``label``: the same label gives the same key."""
    return KeyPair.from_seed(Random(label).randbytes(32))


class Trust:
    """Keys and a registry for tests: 3 roots (threshold 2), a coordinator with its log and
    encryption keys, and nodes for the ten ASEAN member states, each with its signing key
    and its agreement key (secure rounds; the policy allows them with its defaults). The
    registry is valid from a day before ``NOW``; ``registry_bytes`` is it signed by two
    roots."""

    COUNTRIES = ("BRN", "IDN", "KHM", "LAO", "MMR", "MYS", "PHL", "SGP", "THA", "VNM")

    def __init__(self) -> None:
        self.roots = [seeded(f"root{i}") for i in range(3)]
        self.coordinator = seeded("coordinator")
        self.log = seeded("log")
        self.encryption = EncryptionKeyPair.from_seed(Random("encryption").randbytes(32))
        self.nodes = {c: seeded(f"node-{c}") for c in self.COUNTRIES}
        self.agreements = {
            c: EncryptionKeyPair.from_seed(Random(f"agreement-{c}").randbytes(32))
            for c in self.COUNTRIES
        }
        entries = [
            key_entry(self.coordinator.public, "coordinator", now=NOW),
            key_entry(self.log.public, "log", now=NOW),
            key_entry(self.encryption.public, "encryption", now=NOW),
        ]
        entries += [key_entry(k.public, "node", now=NOW, country=c) for c, k in self.nodes.items()]
        entries += [
            key_entry(k.public, "agreement", now=NOW - dt.timedelta(days=1), country=c)
            for c, k in self.agreements.items()
        ]
        self.registry = init_registry(
            [r.public for r in self.roots],
            threshold=2,
            now=NOW - dt.timedelta(days=1),
            keys=entries,
            policy=Policy(secure=SecurePolicy()),
        )
        self.registry_bytes = sign_registry(self.registry, self.roots[:2])
        verify_registry(self.registry_bytes, now=NOW)


def pin(registry_bytes: bytes, path: Path | None = None) -> Path:
    """Pin a registry's roots as a trust root (what a user does once), at ``path`` or else at
    ``$VANFED_TRUST_ROOT`` (never the user's own default location). Returns the path.

    Raises:
        KeyError: no ``path`` and ``$VANFED_TRUST_ROOT`` is not set.
    """
    reg = verify_registry(registry_bytes, now=NOW)
    target = path if path is not None else Path(os.environ["VANFED_TRUST_ROOT"])
    target.write_bytes(pin_trust_root(reg).canonical_bytes())
    return target
