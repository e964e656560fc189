"""``vanfed keygen``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from vanfed.cli._common import JsonOpt, emit
from vanfed.errors import InputError
from vanfed.schema import COUNTRY_ROLES, X25519_ROLES
from vanfed.signing import (
    EncryptionKeyPair,
    KeyPair,
    generate,
    generate_encryption_key,
    passphrase_from_env,
    save_keypair,
)

ROLES = ("root", "coordinator", "node", "log", "encryption", "agreement")


def keygen(
    role: Annotated[
        str, typer.Option(help="root | coordinator | node | log | encryption | agreement")
    ],
    out_prefix: Annotated[Path, typer.Option("--out", help="Writes PREFIX.key/.pub/.keyid")],
    country: Annotated[str | None, typer.Option(help="ISO3, for node and agreement keys")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Generate a key; the private half is encrypted (VANFED_PASSPHRASE or prompt).

    Signing roles get Ed25519; ``encryption`` (the coordinator's HPKE sealing key) and
    ``agreement`` (a node's key for secure-aggregation masks) get X25519.
    """
    if role not in ROLES:
        raise InputError(f"--role {role!r}: use one of {', '.join(ROLES)}")
    if (role in COUNTRY_ROLES) != (country is not None):
        raise InputError("--country is required for node and agreement keys and only for them")
    key: KeyPair | EncryptionKeyPair = (
        generate_encryption_key() if role in X25519_ROLES else generate()
    )
    passphrase = passphrase_from_env(confirm=True, prompt=sys.stdin.isatty())
    priv, pub = save_keypair(key, out_prefix, passphrase)
    emit(
        as_json,
        {
            "role": role,
            "country": country,
            "keyid": key.keyid,
            "algorithm": key.public.algorithm,
            "private": str(priv),
            "public": str(pub),
        },
        f"{role} key {key.keyid} ({key.public.algorithm})",
        f"  private (encrypted, 0600): {priv}\n  public: {pub}",
    )


def register(app: typer.Typer) -> None:
    app.command()(keygen)
