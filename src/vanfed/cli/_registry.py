"""``vanfed registry init|add-key|revoke|show|verify``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from vanfed._json import atomic_write
from vanfed.cli._common import load_registry, now, out, print_json, signing_key
from vanfed.schema import Policy
from vanfed.signing import (
    add_key,
    init_registry,
    key_entry,
    load_public,
    revoke_key,
    sign_registry,
)

app = typer.Typer(no_args_is_help=True, help="Create, evolve and check the trust registry.")

Roots = Annotated[
    list[Path],
    typer.Option(
        "--root-key", help="Root private key PREFIX (repeat up to the threshold; old and new roots)"
    ),
]


@app.command()
def init(
    root_pub: Annotated[list[Path], typer.Option("--root", help="Root public key (.pub)")],
    threshold: Annotated[int, typer.Option()],
    root_key: Roots,
    out_path: Annotated[Path, typer.Option("--out")],
    days: Annotated[int, typer.Option(help="Validity in days")] = 365,
    min_k: int = 5,
    min_s: int = 3,
) -> None:
    """Create version 1, signed by a threshold of its roots."""
    reg = init_registry(
        [load_public(p) for p in root_pub],
        threshold=threshold,
        now=now(),
        days=days,
        policy=Policy(min_k=min_k, min_s=min_s),
    )
    atomic_write(out_path, sign_registry(reg, [signing_key(k) for k in root_key]))
    out.print(f"registry v{reg.version} written to {out_path}")


@app.command("add-key")
def add(
    registry: Annotated[Path, typer.Argument()],
    pub: Annotated[Path, typer.Option("--pub", help="Public key (.pub) to add")],
    role: Annotated[str, typer.Option()],
    root_key: Roots,
    out_path: Annotated[Path, typer.Option("--out")],
    country: Annotated[str | None, typer.Option()] = None,
    valid_days: Annotated[int | None, typer.Option(help="Key validity in days")] = None,
) -> None:
    """Add a key (coordinator, node for a country, root, log) as version N+1."""
    reg = load_registry(registry)
    t = now()
    entry = key_entry(
        load_public(pub),
        role,
        now=t,
        country=country,
        valid_until=t + dt.timedelta(days=valid_days) if valid_days else None,
    )
    new = add_key(reg, entry, now=t)
    atomic_write(out_path, sign_registry(new, [signing_key(k) for k in root_key]))
    out.print(f"registry v{new.version}: added {role} key {entry.keyid[:16]}… -> {out_path}")


@app.command()
def revoke(
    registry: Annotated[Path, typer.Argument()],
    keyid: Annotated[str, typer.Option(help="Key id (or a unique prefix)")],
    reason: Annotated[str, typer.Option()],
    root_key: Roots,
    out_path: Annotated[Path, typer.Option("--out")],
) -> None:
    """Revoke a key as version N+1."""
    new = revoke_key(load_registry(registry), keyid, reason=reason, now=now())
    atomic_write(out_path, sign_registry(new, [signing_key(k) for k in root_key]))
    out.print(f"registry v{new.version}: revoked {keyid} -> {out_path}")


@app.command()
def show(registry: Annotated[Path, typer.Argument()]) -> None:
    """Verify and print the registry as JSON."""
    print_json(load_registry(registry).to_json_obj())


@app.command()
def verify(
    registry: Annotated[Path, typer.Argument()],
    previous: Annotated[Path | None, typer.Option(help="The version it must follow")] = None,
) -> None:
    """Verify signatures (and the chain from --previous); exit 1 if invalid."""
    reg = load_registry(registry, previous=previous)
    out.print(
        f"registry v{reg.version} valid until {reg.expires}: "
        f"{len(reg.keys)} keys, threshold {reg.root_threshold}"
    )
