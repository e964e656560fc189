"""File drop: envelopes (or sealed envelopes) arriving as files, folders or zip bundles by
e-mail or USB go through the very same door as HTTP (:meth:`Inbox.accept`)."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from vanfed._json import read_limited
from vanfed.errors import InputError, TooLargeError
from vanfed.transport._inbox import Accepted, Inbox, Rejected

__all__ = ["MAX_BUNDLE_MEMBERS", "Imported", "import_path"]

MAX_BUNDLE_MEMBERS = 10_000


@dataclass(frozen=True)
class Imported:
    source: str  # file, or bundle.zip!member
    accepted: Accepted | None = None
    rejected: Rejected | None = None


def _members(path: Path, limit: int) -> Iterator[tuple[str, bytes | Exception]]:
    if path.is_dir():
        for p in sorted(path.rglob("*")):
            if p.is_file() and not p.name.startswith("."):
                yield from _members(p, limit)
        return
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as zf:
                infos = [i for i in zf.infolist() if not i.is_dir()]
                if len(infos) > MAX_BUNDLE_MEMBERS:
                    raise InputError(f"{path}: more than {MAX_BUNDLE_MEMBERS} files in the bundle")
                for info in infos:
                    name = f"{path.name}!{info.filename}"
                    if info.file_size > limit:
                        yield name, TooLargeError(f"{name}: {info.file_size} bytes is over {limit}")
                        continue
                    with zf.open(info) as fh:
                        data = fh.read(limit + 1)  # the header may lie; the read does not
                    if len(data) > limit:
                        yield name, TooLargeError(f"{name}: over the limit of {limit} bytes")
                        continue
                    yield name, data
        except (zipfile.BadZipFile, OSError) as exc:
            raise InputError(f"{path}: unreadable zip bundle ({exc})") from exc
        return
    try:
        yield str(path), read_limited(path, limit)
    except TooLargeError as exc:
        yield str(path), exc


def import_path(inbox: Inbox, path: str | Path) -> list[Imported]:
    """Import every envelope in a file, folder or zip bundle; one result per item."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file or folder")
    limit = inbox.registry.policy.max_envelope_bytes + 4096
    out = []
    for name, item in _members(p, limit):
        if isinstance(item, Exception):
            out.append(Imported(name, rejected=Rejected(str(item), ("too_large",))))
            continue
        try:
            out.append(Imported(name, accepted=inbox.accept(item)))
        except Rejected as exc:
            out.append(Imported(name, rejected=exc))
    return out
