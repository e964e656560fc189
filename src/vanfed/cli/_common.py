"""Shared CLI plumbing: one-line errors with exit codes, time, passphrases, JSON output."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from vanfed.cli._trust import load_pinned, trust_root_path
from vanfed.errors import InputError
from vanfed.schema import TrustRegistry
from vanfed.signing import KeyPair, load_private, passphrase_from_env

console = Console(stderr=True, highlight=False, soft_wrap=True)  # nor on stderr
out = Console(highlight=False, soft_wrap=True)  # a path is never broken over lines

MaxRejectRate = Annotated[
    float, typer.Option(help="Share of rejected rows above which to refuse (0.05 = 5 %)")
]
AcceptQuality = Annotated[
    bool, typer.Option(help="Accept the quality gate's issues (listed in the output)")
]


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def load_registry(
    path: Path, *, previous: Path | None = None, advance: bool = True
) -> TrustRegistry:
    """The registry at ``path``, verified against the user's pinned trust root (advanced to
    it when newer, unless ``advance`` is false)."""
    reg, _, advanced = load_pinned(path, now=now(), previous=previous, advance=advance)
    if advanced:
        console.print(
            f"trust root: now at registry v{reg.version} ({trust_root_path()})", markup=False
        )
    return reg


def signing_key(prefix: Path) -> KeyPair:
    return load_private(prefix, passphrase_from_env(prompt=sys.stdin.isatty()))


JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout")]


def new_ledger(ledger: Path) -> bool:
    """Whether ``ledger`` is yet to be started (refused when it is not a folder)."""
    if ledger.exists() and not ledger.is_dir():
        raise InputError(f"--ledger {ledger}: not a folder; name the node's ledger folder")
    return not ledger.exists()


def check_reject_rate(rate: float) -> None:
    """Refuse a --max-reject-rate that is not a share."""
    if not 0 <= rate <= 1:
        raise InputError(f"--max-reject-rate {rate}: must be a share between 0 and 1")


def emit(as_json: bool, obj: Any, *lines: str) -> None:
    """The result as JSON (``--json``) or as lines for a person."""
    if as_json:
        print_json(obj)
        return
    for line in lines:
        out.print(line, markup=False, soft_wrap=True)


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


LANG_HELP = "Language of the HTML report (en, km, lo, th, vi or all); repeat for several"


def languages(values: list[str] | None, default: tuple[str, ...]) -> tuple[str, ...]:
    """``--lang`` values: ``all`` means every language; unknown ones are a usage error."""
    from vanfed.report import LANGUAGES

    if not values:
        return default
    if "all" in values:
        return LANGUAGES
    for v in values:
        if v not in LANGUAGES:
            raise InputError(f"--lang {v!r}: not one of {', '.join(LANGUAGES)} or all")
    return tuple(dict.fromkeys(values))


def require_file(path: Path, what: str) -> Path:
    if not path.exists():
        raise InputError(f"{path}: no such {what}")
    return path


def require_output(path: Path, *inputs: Path | None) -> Path:
    """``path`` can be written without destroying another file the command uses."""
    if path.is_dir():
        raise InputError(f"{path}: is a folder; name the file to write")
    for other in inputs:
        if other is not None and path.resolve() == other.resolve():
            raise InputError(f"{path}: the same file as {other}; name a different file")
    return path
