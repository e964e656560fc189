"""The user's pinned trust root: where it lives, reading it, verifying registries against it.

``$VANFED_TRUST_ROOT`` if set, else ``$XDG_CONFIG_HOME/vanfed/trust-root.json`` (default
``~/.config``): kept by the user, apart from any registry file handed to them.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from vanfed._json import atomic_write, loads_strict, read_limited
from vanfed.errors import InputError
from vanfed.schema import MAX_REGISTRY_BYTES, MAX_TRUST_ROOT_BYTES, TrustRegistry, TrustRoot
from vanfed.signing import check_anchored, verify_pinned, verify_registry


def trust_root_path() -> Path:
    env = os.environ.get("VANFED_TRUST_ROOT")
    if env:
        return Path(env)
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "vanfed" / "trust-root.json"


def read_trust_root(path: Path) -> TrustRoot:
    if not path.exists():
        raise InputError(
            f"{path}: no trust root pinned; check the registry's root key ids with its root "
            "holders, then run `vanfed registry trust-root REGISTRY --expect-root KEYID...` "
            "(or point VANFED_TRUST_ROOT at your trust-root file)"
        )
    obj = loads_strict(read_limited(path, MAX_TRUST_ROOT_BYTES), subject=str(path))
    try:
        return TrustRoot.model_validate(obj)
    except ValueError as exc:
        raise InputError(f"{path}: not a trust root: {exc}") from exc


def write_trust_root(root: TrustRoot, path: Path | None = None) -> Path:
    return atomic_write(path or trust_root_path(), root.canonical_bytes() + b"\n", mode=0o600)


def load_pinned(
    path: Path, *, now: dt.datetime, previous: Path | None = None, advance: bool = True
) -> tuple[TrustRegistry, TrustRoot, bool]:
    """Verify the registry at ``path`` against the pinned trust root (via ``previous`` when
    the roots rotated); advance the pin when it is newer (unless ``advance`` is false: a
    command that writes nothing, such as ``plan``). Returns the registry, the pin and
    whether the pin was advanced."""
    pin_path = trust_root_path()
    root = read_trust_root(pin_path)
    prev = None
    if previous is not None:
        prev_bytes = read_limited(previous, MAX_REGISTRY_BYTES)
        prev = verify_registry(prev_bytes, now=now)
        check_anchored(prev_bytes, prev, root)
    data = read_limited(path, MAX_REGISTRY_BYTES)
    reg, new_root = verify_pinned(data, root, now=now, previous=prev)
    if new_root != root and advance:
        write_trust_root(new_root, pin_path)
    return reg, new_root, new_root != root and advance
