"""File drop: envelopes (or sealed envelopes) arriving as files, folders or zip bundles by
e-mail or USB go through the very same door as HTTP (:meth:`Inbox.accept`) — in process
(:func:`import_path`), or through the running service when it holds the inbox
(:func:`import_remote`)."""

from __future__ import annotations

import datetime as dt
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from vanfed._json import read_limited
from vanfed.errors import InputError, ReasonCode, TooLargeError, TransportError, VerificationError
from vanfed.schema import TrustRegistry
from vanfed.signing import envelope_digest
from vanfed.tlog import verify_receipt
from vanfed.transport._client import CoordinatorClient
from vanfed.transport._hpke import SEALED_MEDIA_TYPE, is_sealed
from vanfed.transport._inbox import Accepted, Inbox, Rejected

__all__ = ["MAX_BUNDLE_MEMBERS", "Imported", "import_path", "import_remote"]

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
        yield from _bundle(path, limit)
        return
    try:
        yield str(path), read_limited(path, limit)
    except TooLargeError as exc:
        yield str(path), exc


def _bundle(path: Path, limit: int) -> Iterator[tuple[str, bytes | Exception]]:
    """Each member of a zip bundle, or why it cannot be read: a corrupt member costs itself
    only, and the members after it are still read."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"{path}: unreadable zip bundle ({exc})") from exc
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        if len(infos) > MAX_BUNDLE_MEMBERS:
            raise InputError(f"{path}: more than {MAX_BUNDLE_MEMBERS} files in the bundle")
        for info in infos:
            name = f"{path.name}!{info.filename}"
            if info.file_size > limit:
                yield name, TooLargeError(f"{name}: {info.file_size} bytes is over {limit}")
                continue
            try:
                with zf.open(info) as fh:
                    data = fh.read(limit + 1)  # the header may lie; the read does not
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as exc:
                yield name, InputError(f"{name}: unreadable bundle member ({exc})")
                continue
            if len(data) > limit:
                yield name, TooLargeError(f"{name}: over the limit of {limit} bytes")
                continue
            yield name, data


def _unreadable(name: str, exc: Exception) -> Imported:
    code = ReasonCode.TOO_LARGE if isinstance(exc, TooLargeError) else ReasonCode.UNREADABLE
    return Imported(name, rejected=Rejected(str(exc), (code,)))


def import_path(inbox: Inbox, path: str | Path) -> list[Imported]:
    """Import every envelope in a file, folder or zip bundle; one result per item."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file or folder")
    limit = inbox.max_body
    out = []
    for name, item in _members(p, limit):
        if isinstance(item, Exception):
            out.append(_unreadable(name, item))
            continue
        try:
            out.append(Imported(name, accepted=inbox.accept(item)))
        except Rejected as exc:
            out.append(Imported(name, rejected=exc))
    return out


def import_remote(
    client: CoordinatorClient, path: str | Path, registry: TrustRegistry, *, now: dt.datetime
) -> list[Imported]:
    """Submit every envelope in a file, folder or zip bundle to the running service (the
    same door, while it holds the inbox's log); one result per item. A receipt for a plain
    envelope is verified before it counts.

    Raises:
        TransportError: the service cannot be reached (nothing after that is sent).
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file or folder")
    out = []
    for name, item in _members(p, registry.policy.max_envelope_bytes + 4096):
        if isinstance(item, Exception):
            out.append(_unreadable(name, item))
            continue
        out.append(_submit_one(client, name, item, registry, now))
    return out


def _submit_one(
    client: CoordinatorClient, name: str, data: bytes, registry: TrustRegistry, now: dt.datetime
) -> Imported:
    sealed = is_sealed(data)
    answer = client.submit(data, media=SEALED_MEDIA_TYPE if sealed else "application/json")
    if not answer.accepted:
        body = answer.error()
        reasons = tuple(str(r) for r in body.get("reasons") or ()) or (f"http_{answer.status}",)
        detail = body.get("message") or answer.error_text()
        if answer.status >= 500:
            raise TransportError(f"{client.url}: {name}: {answer.error_text()}")
        return Imported(name, rejected=Rejected(str(detail), reasons, body.get("digest")))
    try:
        if sealed:
            raise VerificationError("sealed: the receipt is checked by its node", ())
        receipt, _ = verify_receipt(answer.body, registry, envelope=data, now=now)
        digest, index = receipt.envelope_sha256, receipt.log.index
    except VerificationError:
        if not sealed:
            return Imported(
                name, rejected=Rejected("unverifiable receipt", (ReasonCode.RECEIPT_INVALID,))
            )
        digest, index = envelope_digest(data), -1
    return Imported(name, accepted=Accepted(digest, answer.body, answer.status == 201, index))
