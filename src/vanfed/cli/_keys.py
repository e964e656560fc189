"""``vanfed keygen``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from vanfed.cli._common import out
from vanfed.errors import InputError
from vanfed.signing import generate, passphrase_from_env, save_keypair


def keygen(
    role: Annotated[str, typer.Option(help="root | coordinator | node | log")],
    out_prefix: Annotated[Path, typer.Option("--out", help="Writes PREFIX.key/.pub/.keyid")],
    country: Annotated[str | None, typer.Option(help="ISO3, for node keys")] = None,
) -> None:
    """Generate an Ed25519 key; the private half is encrypted (VANFED_PASSPHRASE or prompt)."""
    if role not in ("root", "coordinator", "node", "log"):
        raise InputError(f"--role {role!r}: use root, coordinator, node or log")
    if (role == "node") != (country is not None):
        raise InputError("--country is required for node keys and only for them")
    key = generate()
    passphrase = passphrase_from_env(confirm=True, prompt=sys.stdin.isatty())
    priv, pub = save_keypair(key, out_prefix, passphrase)
    out.print(f"{role} key {key.keyid}")
    out.print(f"  private (encrypted, 0600): {priv}\n  public: {pub}")


def register(app: typer.Typer) -> None:
    app.command()(keygen)
