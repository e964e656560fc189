"""Ed25519 signing keys and X25519 encryption keys, encrypted at rest.

Signing keys are Ed25519 (roles root, coordinator, node, log); the coordinator's sealing key
is X25519 (role encryption, used by HPKE). Private keys are PKCS#8 PEM encrypted with the
best available scheme under a passphrase (from ``VANFED_PASSPHRASE`` or a prompt), written
atomically with mode 0600. A key's id is the lowercase hex SHA-256 of its raw public key.
"""

from __future__ import annotations

import getpass
import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519

from vanfed._json import atomic_write, read_limited
from vanfed.errors import InputError

__all__ = [
    "EncryptionKeyPair",
    "KeyPair",
    "PublicKey",
    "Signer",
    "generate",
    "generate_encryption_key",
    "keyid_of",
    "load_encryption_key",
    "load_private",
    "load_public",
    "passphrase_from_env",
    "save_keypair",
]

MAX_KEY_BYTES = 64 * 1024


@runtime_checkable
class Signer(Protocol):
    """Anything that signs bytes with Ed25519: a key file, an HSM, a smart card."""

    @property
    def keyid(self) -> str:
        """The signer's key id (a hint; authority comes from the registry)."""
        ...

    def sign(self, data: bytes) -> bytes:
        """Signature of ``data``."""
        ...


def keyid_of(raw_public: bytes) -> str:
    """Lowercase hex SHA-256 of a raw public key."""
    return hashlib.sha256(raw_public).hexdigest()


@lru_cache(maxsize=1024)
def _loaded(raw: bytes) -> ed25519.Ed25519PublicKey:
    """Decoded public keys, kept: registries are small and verification is hot."""
    return ed25519.Ed25519PublicKey.from_public_bytes(raw)


@dataclass(frozen=True)
class PublicKey:
    """A raw public key (Ed25519, or X25519 for encryption keys) and its key id."""

    raw: bytes
    algorithm: str = "ed25519"

    @property
    def keyid(self) -> str:
        """Lowercase hex SHA-256 of the raw public key."""
        return keyid_of(self.raw)

    def verify(self, signature: bytes, data: bytes) -> bool:
        """True if ``signature`` is this key's signature of ``data``."""
        try:
            _loaded(self.raw).verify(signature, data)
        except (InvalidSignature, ValueError):
            return False
        return True

    def pem(self) -> bytes:
        """The public key as SubjectPublicKeyInfo PEM."""
        cls = x25519.X25519PublicKey if self.algorithm == "x25519" else ed25519.Ed25519PublicKey
        return cls.from_public_bytes(self.raw).public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


class KeyPair:
    """An in-memory Ed25519 private key; implements :class:`Signer`."""

    def __init__(self, private: ed25519.Ed25519PrivateKey) -> None:
        self._private = private
        self.public = PublicKey(
            private.public_key().public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
        )

    @classmethod
    def from_seed(cls, seed: bytes) -> KeyPair:
        """Deterministic key from 32 bytes (test vectors and golden envelopes only)."""
        return cls(ed25519.Ed25519PrivateKey.from_private_bytes(seed))

    @property
    def keyid(self) -> str:
        """Lowercase hex SHA-256 of the raw Ed25519 public key."""
        return self.public.keyid

    def sign(self, data: bytes) -> bytes:
        """Ed25519 signature of ``data``."""
        return self._private.sign(data)

    def private_pem(self, passphrase: bytes) -> bytes:
        """The private key as PKCS#8 PEM, encrypted with ``passphrase``."""
        if not passphrase:
            raise InputError("an empty passphrase cannot protect a private key")
        return self._private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase),
        )


def generate() -> KeyPair:
    """A new Ed25519 key pair (signing roles)."""
    return KeyPair(ed25519.Ed25519PrivateKey.generate())


class EncryptionKeyPair:
    """An X25519 key pair: the coordinator's HPKE sealing key, or a node's agreement key
    (the pairwise masks of secure aggregation)."""

    def __init__(self, private: x25519.X25519PrivateKey) -> None:
        self.private_key = private
        raw = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.public = PublicKey(raw, "x25519")

    @classmethod
    def from_seed(cls, seed: bytes) -> EncryptionKeyPair:
        """Deterministic key from 32 bytes (tests and the demo only)."""
        return cls(x25519.X25519PrivateKey.from_private_bytes(seed))

    @property
    def keyid(self) -> str:
        """Lowercase hex SHA-256 of the raw X25519 public key."""
        return self.public.keyid

    def private_pem(self, passphrase: bytes) -> bytes:
        """The private key as PKCS#8 PEM, encrypted with ``passphrase``."""
        if not passphrase:
            raise InputError("an empty passphrase cannot protect a private key")
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase),
        )


def generate_encryption_key() -> EncryptionKeyPair:
    """A new X25519 key pair (the coordinator's HPKE sealing key)."""
    return EncryptionKeyPair(x25519.X25519PrivateKey.generate())


def passphrase_from_env(*, confirm: bool = False, prompt: bool = True) -> bytes:
    """``VANFED_PASSPHRASE``, or a prompt on the terminal."""
    env = os.environ.get("VANFED_PASSPHRASE")
    if env:
        return env.encode("utf-8")
    if not prompt:
        raise InputError("no passphrase: set VANFED_PASSPHRASE")
    try:
        first = getpass.getpass("Key passphrase: ")
        if confirm and getpass.getpass("Repeat passphrase: ") != first:
            raise InputError("passphrases do not match")
    except EOFError as exc:
        raise InputError("no passphrase: set VANFED_PASSPHRASE or run in a terminal") from exc
    return first.encode("utf-8")


def save_keypair(
    key: KeyPair | EncryptionKeyPair, prefix: str | Path, passphrase: bytes
) -> tuple[Path, Path]:
    """Write ``PREFIX.key`` (encrypted, 0600), ``PREFIX.pub`` and ``PREFIX.keyid``."""
    p = Path(prefix)
    priv = atomic_write(p.with_name(p.name + ".key"), key.private_pem(passphrase), mode=0o600)
    pub = atomic_write(p.with_name(p.name + ".pub"), key.public.pem())
    atomic_write(p.with_name(p.name + ".keyid"), (key.keyid + "\n").encode())
    return priv, pub


def _key_path(prefix: str | Path, suffix: str) -> Path:
    p = Path(prefix)
    return p if p.suffix in (".key", ".pub", ".pem") else p.with_name(p.name + suffix)


def _load_private_pem(prefix: str | Path, passphrase: bytes) -> tuple[Path, object]:
    path = _key_path(prefix, ".key")
    data = read_limited(path, MAX_KEY_BYTES)
    if b"PUBLIC KEY" in data and b"PRIVATE KEY" not in data:
        raise InputError(f"{path}: is a public key; this needs the private key (.key)")
    try:
        key = serialization.load_pem_private_key(data, password=passphrase or None)
    except TypeError as exc:
        raise InputError(f"{path}: key is not encrypted or needs a passphrase ({exc})") from exc
    except ValueError as exc:
        raise InputError(f"{path}: wrong passphrase or not a PEM private key") from exc
    return path, key


def load_private(prefix: str | Path, passphrase: bytes) -> KeyPair:
    """Load an encrypted Ed25519 signing key.

    Raises:
        InputError: missing file, wrong passphrase, a public key where a private one is
            needed, or a key that is not Ed25519.
    """
    path, key = _load_private_pem(prefix, passphrase)
    if isinstance(key, x25519.X25519PrivateKey):
        raise InputError(f"{path}: is an X25519 encryption key; signing needs an Ed25519 key")
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise InputError(f"{path}: not an Ed25519 private key")
    return KeyPair(key)


def load_encryption_key(prefix: str | Path, passphrase: bytes) -> EncryptionKeyPair:
    """Load an encrypted X25519 key (the coordinator's sealing key, a node's agreement key)."""
    path, key = _load_private_pem(prefix, passphrase)
    if not isinstance(key, x25519.X25519PrivateKey):
        raise InputError(
            f"{path}: not an X25519 key (keygen --role encryption, or --role agreement)"
        )
    return EncryptionKeyPair(key)


def load_public(path: str | Path) -> PublicKey:
    """Read a public key file (``PREFIX.pub``, PEM)."""
    p = _key_path(path, ".pub")
    data = read_limited(p, MAX_KEY_BYTES)
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise InputError(f"{p}: not a PEM public key") from exc
    if not isinstance(key, ed25519.Ed25519PublicKey | x25519.X25519PublicKey):
        raise InputError(f"{p}: not an Ed25519 or X25519 public key")
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return PublicKey(raw, "x25519" if isinstance(key, x25519.X25519PublicKey) else "ed25519")
