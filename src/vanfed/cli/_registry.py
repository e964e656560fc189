"""``vanfed registry init|add-key|revoke|sign|combine|trust-root|show|verify``.

Without ``--root-key``, ``init``, ``add-key`` and ``revoke`` write an unsigned *draft*: each
root holder signs it on their own machine (``sign``) and anyone combines the detached
signatures into the registry (``combine``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from vanfed._json import atomic_write, read_limited
from vanfed.anonymize import build_ptable
from vanfed.cli._common import (
    JsonOpt,
    console,
    emit,
    load_registry,
    now,
    out,
    print_json,
    signing_key,
)
from vanfed.cli._key_batch import key_entries
from vanfed.cli._trust import (
    read_trust_root,
    trust_root_path,
    write_trust_root,
)
from vanfed.errors import InputError
from vanfed.schema import (
    MAX_REGISTRY_BYTES,
    CkmParams,
    CkmRecord,
    Policy,
    RevisionCalendar,
    SecurePolicy,
    TrustRegistry,
)
from vanfed.signing import (
    MAX_SIGNATURE_BYTES,
    add_keys,
    combine_signatures,
    init_registry,
    load_public,
    pin_trust_root,
    read_draft,
    revoke_key,
    set_policy,
    sign_draft,
    sign_registry,
    verify_pinned,
    verify_registry,
)

app = typer.Typer(no_args_is_help=True, help="Create, evolve and check the trust registry.")

Roots = Annotated[
    list[Path] | None,
    typer.Option(
        "--root-key",
        help="Root private key PREFIX (repeat up to the threshold; old and new roots). "
        "Without it, an unsigned draft is written for detached signing.",
    ),
]


def _emit(reg: TrustRegistry, root_key: list[Path] | None, out_path: Path) -> str:
    """Sign with the given root keys, or write the unsigned draft."""
    if root_key:
        atomic_write(out_path, sign_registry(reg, [signing_key(k) for k in root_key]))
        return f"registry v{reg.version}"
    atomic_write(out_path, reg.canonical_bytes())
    console.print(
        f"draft v{reg.version} {reg.digest[:19]}…: each root holder runs "
        f"`vanfed registry sign {out_path} --root-key KEY --out SIG`, then "
        f"`vanfed registry combine {out_path} SIG... --out REGISTRY`",
        markup=False,
    )
    return f"draft v{reg.version}"


@app.command()
def init(
    root_pub: Annotated[list[Path], typer.Option("--root", help="Root public key (.pub)")],
    threshold: Annotated[int, typer.Option()],
    out_path: Annotated[Path, typer.Option("--out")],
    root_key: Roots = None,
    days: Annotated[int, typer.Option(help="Validity in days")] = 365,
    min_k: int = 5,
    min_s: int = 3,
    ckm: Annotated[
        str | None,
        typer.Option(help="Agree on cell-key noise D,V,js (e.g. 5,3,4): its ptable digest"),
    ] = None,
    calendar: Annotated[
        str | None,
        typer.Option(
            help="Revision windows, months after a period ends: 'quarter=0;year=0,12' "
            "(quarters once, a year and its final revision a year later)"
        ),
    ] = None,
    secure: Annotated[
        bool, typer.Option("--secure", help="Allow secure rounds, with the default noise")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create version 1 (signed by a threshold of its roots, or a draft) and pin its roots."""
    policy = Policy(
        min_k=min_k,
        min_s=min_s,
        ckm=None if ckm is None else _agreed(ckm),
        revisions=None if calendar is None else _calendar(calendar),
        secure=SecurePolicy() if secure else None,
    )
    reg = init_registry(
        [load_public(p) for p in root_pub],
        threshold=threshold,
        now=now(),
        days=days,
        policy=policy,
    )
    what = _emit(reg, root_key, out_path)
    pinned = _pin_new(reg)
    emit(
        as_json,
        {
            "version": reg.version,
            "signed": bool(root_key),
            "out": str(out_path),
            "trust_root": str(pinned) if pinned else None,
        },
        f"{what} written to {out_path}",
        *([f"trust root pinned: {len(reg.root_keyids())} root keys -> {pinned}"] if pinned else []),
    )


def _pin_new(reg: TrustRegistry) -> Path | None:
    """The creator of a registry pins its roots, unless another anchor is already kept."""
    path = trust_root_path()
    if path.exists() and read_trust_root(path).root_keyids != reg.root_keyids():
        console.print(
            f"trust root: {path} already pins other root keys; left as it is "
            "(`vanfed registry trust-root REGISTRY --replace` to pin these)",
            markup=False,
        )
        return None
    write_trust_root(pin_trust_root(reg), path)
    return path


def _agreed(text: str) -> CkmRecord:
    """The ckm record of ``D,V,js``: the parameters and the digest of their ptable."""
    try:
        d, v, js = text.split(",")
        params = CkmParams(max_noise=int(d), variance=float(v), js=int(js))
    except ValueError as exc:  # a pydantic ValidationError is a ValueError too
        raise InputError(f"--ckm {text!r}: expected D,V,js such as 5,3,4 ({exc})") from exc
    return build_ptable(params).record()


def _months(text: str) -> int:
    if not text.strip().isdigit():
        raise ValueError(f"{text.strip()!r} is not a whole number of months")
    return int(text)


def _calendar(text: str) -> RevisionCalendar:
    """``quarter=0;year=0,12`` as a revision calendar (a kind left out keeps its default)."""
    fields: dict[str, tuple[int, ...]] = {}
    try:
        parts = [p.strip() for p in text.split(";") if p.strip()]
        if not parts:  # not the default calendar by accident (an unset shell variable)
            raise ValueError("no window given; leave --calendar out for no calendar")
        for part in parts:
            kind, _, months = (x.strip() for x in part.partition("="))
            if kind not in ("quarter", "year"):
                raise ValueError(f"{kind!r} is not quarter or year")
            if kind in fields:
                raise ValueError(f"{kind!r} is given twice")
            fields[kind] = tuple(_months(m) for m in months.split(","))
        return RevisionCalendar.model_validate(fields)
    except ValidationError as exc:
        why = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise InputError(f"--calendar {text!r}: {why} (e.g. 'quarter=0;year=0,12')") from exc
    except ValueError as exc:
        raise InputError(
            f"--calendar {text!r}: expected e.g. 'quarter=0;year=0,12', months after the "
            f"period ends ({exc})"
        ) from exc


@app.command("add-key")
def add(
    registry: Annotated[Path, typer.Argument()],
    out_path: Annotated[Path, typer.Option("--out")],
    pub: Annotated[
        list[Path] | None, typer.Option("--pub", help="Public key (.pub) to add (repeat)")
    ] = None,
    role: Annotated[
        list[str] | None, typer.Option(help="Role of each --pub (once for all, or once each)")
    ] = None,
    country: Annotated[
        list[str] | None, typer.Option(help="Country of each node key, in order (repeat)")
    ] = None,
    batch: Annotated[
        Path | None, typer.Option(help="TOML/JSON file: [[keys]] pub, role, country, valid_days")
    ] = None,
    root_key: Roots = None,
    valid_days: Annotated[int | None, typer.Option(help="Key validity in days")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add one or several keys (coordinator, node, root, log, encryption, agreement) as
    version N+1."""
    reg = load_registry(registry)
    t = now()
    entries = key_entries(pub or [], role or [], country or [], batch, now=t, days=valid_days)
    new = add_keys(reg, entries, now=t)
    what = _emit(new, root_key, out_path)
    emit(
        as_json,
        {
            "version": new.version,
            "signed": bool(root_key),
            "added": [e.to_json_obj() for e in entries],
            "out": str(out_path),
        },
        *(
            f"{what}: added {e.role}{f' {e.country}' if e.country else ''} key {e.keyid[:16]}…"
            for e in entries
        ),
        f"-> {out_path}",
    )


@app.command("secure")
def secure_policy(
    registry: Annotated[Path, typer.Argument()],
    out_path: Annotated[Path, typer.Option("--out")],
    variance: Annotated[
        float, typer.Option(help="Skellam variance of an inner cell, from the honest nodes")
    ] = 2.5,
    margin_factor: Annotated[int, typer.Option(help="Variance × this per total axis")] = 2,
    collusion: Annotated[
        int, typer.Option(help="Nodes that may collude with the coordinator, noise intact")
    ] = 1,
    delta: Annotated[float, typer.Option(help="The δ of the stated (ε, δ)")] = 1e-6,
    budget: Annotated[
        float, typer.Option(help="Largest ε per record and year group, over all rounds")
    ] = 75.0,
    min_participants: Annotated[int, typer.Option(help="Fewest countries in a round")] = 3,
    off: Annotated[bool, typer.Option("--off", help="Stop allowing secure rounds")] = False,
    root_key: Roots = None,
    as_json: JsonOpt = False,
) -> None:
    """Set the secure path's policy (the least noise a node accepts, the budget) as N+1."""
    reg = load_registry(registry)
    try:
        rule = (
            None
            if off
            else SecurePolicy(
                variance=variance,
                margin_factor=margin_factor,
                collusion=collusion,
                delta=delta,
                epsilon_budget=budget,
                min_participants=min_participants,
            )
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "policy"
        raise InputError(f"secure policy: {where}: {err['msg']}") from exc
    new = set_policy(reg, reg.policy.model_copy(update={"secure": rule}), now=now())
    what = _emit(new, root_key, out_path)
    emit(
        as_json,
        {
            "version": new.version,
            "signed": bool(root_key),
            "secure": None if rule is None else rule.to_json_obj(),
            "out": str(out_path),
        },
        f"{what}: secure rounds "
        + (
            "not allowed"
            if rule is None
            else (f"allowed, variance >= {variance:g}, collusion {collusion}, budget ε {budget:g}")
        )
        + f" -> {out_path}",
    )


@app.command()
def revoke(
    registry: Annotated[Path, typer.Argument()],
    keyid: Annotated[str, typer.Option(help="Key id (or a unique prefix)")],
    reason: Annotated[str, typer.Option()],
    out_path: Annotated[Path, typer.Option("--out")],
    root_key: Roots = None,
    as_json: JsonOpt = False,
) -> None:
    """Revoke a key as version N+1 (from now on: what it signed before stays valid)."""
    new = revoke_key(load_registry(registry), keyid, reason=reason, now=now())
    what = _emit(new, root_key, out_path)
    emit(
        as_json,
        {"version": new.version, "signed": bool(root_key), "revoked": keyid, "out": str(out_path)},
        f"{what}: revoked {keyid} -> {out_path}",
    )


@app.command()
def sign(
    draft: Annotated[Path, typer.Argument(help="Registry draft (unsigned JSON)")],
    root_key: Annotated[Path, typer.Option("--root-key", help="Your root private key PREFIX")],
    out_path: Annotated[Path, typer.Option("--out")],
) -> None:
    """Sign a registry draft with one root key, on the root holder's own machine."""
    data = read_limited(draft, MAX_REGISTRY_BYTES)
    reg = read_draft(data, subject=str(draft))
    console.print(
        f"signing registry draft v{reg.version} {reg.digest[:19]}…: {len(reg.keys)} keys, "
        f"threshold {reg.root_threshold}, expires {reg.expires}",
        markup=False,
    )
    key = signing_key(root_key)
    atomic_write(out_path, sign_draft(data, key))
    out.print(f"signature by {key.keyid[:16]}… -> {out_path}")


@app.command()
def combine(
    draft: Annotated[Path, typer.Argument(help="Registry draft (unsigned JSON)")],
    signatures: Annotated[list[Path], typer.Argument(help="Detached signatures (sign --out)")],
    out_path: Annotated[Path, typer.Option("--out")],
    previous: Annotated[
        Path | None, typer.Option(help="The version it follows (its roots must sign too)")
    ] = None,
) -> None:
    """Combine a threshold of detached root signatures into the signed registry."""
    data = read_limited(draft, MAX_REGISTRY_BYTES)
    prev = load_registry(previous) if previous else None
    sigs = [(s.name, read_limited(s, MAX_SIGNATURE_BYTES)) for s in signatures]
    env = combine_signatures(data, sigs, now=now(), previous=prev)
    atomic_write(out_path, env)
    reg = read_draft(data)
    out.print(f"registry v{reg.version} signed by {len(sigs)} root keys -> {out_path}")


@app.command("trust-root")
def trust_root(
    registry: Annotated[Path, typer.Argument()],
    expect_root: Annotated[
        list[str] | None,
        typer.Option(help="Root key id you obtained out of band (repeat; 16+ hex digits)"),
    ] = None,
    replace: Annotated[bool, typer.Option(help="Replace a pin of other root keys")] = False,
) -> None:
    """Pin the registry's root keys as your trust root (check their ids out of band)."""
    data = read_limited(registry, MAX_REGISTRY_BYTES)
    t = now()
    reg = verify_registry(data, now=t)
    ids = reg.root_keyids()
    if expect_root is not None:
        _expect(ids, expect_root, registry)
    path = trust_root_path()
    if path.exists() and not replace:
        reg, pin = verify_pinned(data, read_trust_root(path), now=t)  # refuses other roots
    else:
        pin = pin_trust_root(reg)
    write_trust_root(pin, path)
    for k in ids:
        out.print(f"root {k}", markup=False)
    out.print(f"trust root: v{pin.version}, {pin.threshold} of {len(ids)} root keys -> {path}")


def _expect(ids: tuple[str, ...], expected: list[str], registry: Path) -> None:
    for e in expected:
        if len(e) < 16 or sum(k.startswith(e.lower()) for k in ids) != 1:
            raise InputError(f"{registry}: root key {e} is not one of its root keys")
    if len(set(expected)) != len(ids):
        raise InputError(f"{registry}: has {len(ids)} root keys, you expected {len(set(expected))}")


@app.command()
def show(registry: Annotated[Path, typer.Argument()]) -> None:
    """Verify and print the registry as JSON."""
    print_json(load_registry(registry).to_json_obj())


@app.command()
def verify(
    registry: Annotated[Path, typer.Argument()],
    previous: Annotated[Path | None, typer.Option(help="The version it follows")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Verify against your trust root (through --previous if roots rotated); exit 1 if invalid."""
    reg = load_registry(registry, previous=previous)
    emit(
        as_json,
        {
            "ok": True,
            "version": reg.version,
            "expires": reg.expires,
            "keys": len(reg.keys),
            "threshold": reg.root_threshold,
            "digest": reg.digest,
        },
        f"registry v{reg.version} valid until {reg.expires}: "
        f"{len(reg.keys)} keys, threshold {reg.root_threshold}, {reg.digest}",
    )
