"""Which keys ``vanfed registry add-key`` adds: repeated options, or a TOML/JSON batch file.

Repeated: ``--pub A.pub --pub B.pub --role node --country KHM --country LAO`` (one role for
all, or one per ``--pub``; one ``--country`` per node key, in order). Batch file::

    [[keys]]
    pub = "keys/node-khm.pub"   # relative to the batch file
    role = "node"
    country = "KHM"
    valid_days = 365            # optional
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from vanfed._json import loads_strict, read_limited
from vanfed.errors import InputError
from vanfed.schema import COUNTRY_ROLES, KeyEntry
from vanfed.signing import key_entry, load_public

MAX_BATCH_BYTES = 1024 * 1024


def _entry(
    pub: Path, role: str, country: str | None, *, now: dt.datetime, days: int | None, where: str
) -> KeyEntry:
    if (role in COUNTRY_ROLES) != (country is not None):
        raise InputError(
            f"{where}: a node or agreement key needs a country, and only those keys have one"
        )
    until = now + dt.timedelta(days=days) if days else None
    try:
        return key_entry(load_public(pub), role, now=now, country=country, valid_until=until)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(x) for x in err["loc"]) or "key"
        raise InputError(f"{where}: {field}: {err['msg']}") from exc


def _from_options(
    pubs: list[Path], roles: list[str], countries: list[str], *, now: dt.datetime, days: int | None
) -> list[KeyEntry]:
    if len(roles) not in (1, len(pubs)):
        raise InputError(f"--role: give it once, or once per --pub ({len(pubs)}), not {len(roles)}")
    each = roles * len(pubs) if len(roles) == 1 else roles
    nodes = sum(r == "node" for r in each)
    if len(countries) != nodes:
        raise InputError(
            f"--country: {nodes} node keys need {nodes} countries, got {len(countries)}"
        )
    left = iter(countries)
    return [
        _entry(p, r, next(left) if r == "node" else None, now=now, days=days, where=f"--pub {p}")
        for p, r in zip(pubs, each, strict=True)
    ]


def _from_batch(path: Path, *, now: dt.datetime, days: int | None) -> list[KeyEntry]:
    raw = read_limited(path, MAX_BATCH_BYTES)
    try:
        data: Any = (
            loads_strict(raw, subject=str(path))
            if path.suffix == ".json"
            else tomllib.loads(raw.decode("utf-8"))
        )
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError) as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from exc
    rows = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(rows, list) or not rows:
        raise InputError(f"{path}: needs a non-empty list 'keys' of {{pub, role, country}}")
    out = []
    for i, row in enumerate(rows, 1):
        where = f"{path} key {i}"
        if not isinstance(row, dict) or not isinstance(row.get("pub"), str):
            raise InputError(f"{where}: needs 'pub' (path of a .pub file)")
        extra = set(row) - {"pub", "role", "country", "valid_days"}
        if extra:
            raise InputError(f"{where}: unknown field {sorted(extra)[0]!r}")
        role, country, valid = row.get("role"), row.get("country"), row.get("valid_days", days)
        if not isinstance(role, str) or not isinstance(country, str | None):
            raise InputError(f"{where}: 'role' must be text, 'country' text or absent")
        if valid is not None and (not isinstance(valid, int) or valid < 1):
            raise InputError(f"{where}: 'valid_days' must be a whole number of days >= 1")
        pub = path.parent / row["pub"]
        out.append(_entry(pub, role, country, now=now, days=valid, where=where))
    return out


def key_entries(
    pubs: list[Path],
    roles: list[str],
    countries: list[str],
    batch: Path | None,
    *,
    now: dt.datetime,
    days: int | None,
) -> list[KeyEntry]:
    """The registry entries to add, from the options and/or a batch file."""
    entries = _from_options(pubs, roles, countries, now=now, days=days) if pubs else []
    if not pubs and (roles or countries):
        raise InputError("--role/--country given without --pub")
    if batch is not None:
        entries += _from_batch(batch, now=now, days=days)
    if not entries:
        raise InputError("add-key: give --pub (with --role) or --batch")
    return entries
