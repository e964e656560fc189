"""Shared CLI plumbing: one-line errors with exit codes, time, passphrases, JSON output."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from vanfed._json import read_limited
from vanfed.errors import InputError
from vanfed.schema import TrustRegistry
from vanfed.signing import KeyPair, load_private, passphrase_from_env, verify_registry

console = Console(stderr=True, highlight=False)
out = Console(highlight=False)

MAX_REGISTRY_BYTES = 4 * 1024 * 1024


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def load_registry(path: Path, *, previous: Path | None = None) -> TrustRegistry:
    prev = load_registry(previous) if previous else None
    data = read_limited(path, MAX_REGISTRY_BYTES)
    return verify_registry(data, now=now(), previous=prev)


def signing_key(prefix: Path) -> KeyPair:
    return load_private(prefix, passphrase_from_env(prompt=sys.stdin.isatty()))


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def require_file(path: Path, what: str) -> Path:
    if not path.exists():
        raise InputError(f"{path}: no such {what}")
    return path
