"""The envelope a revision names as its parent (``--supersedes``), checked before any work."""

from __future__ import annotations

import re
from pathlib import Path

from vanfed._json import loads_strict, read_limited
from vanfed.errors import InputError, VerificationError
from vanfed.schema import SUMMARY_TYPE
from vanfed.signing import MAX_ENVELOPE_BYTES, Envelope, envelope_digest

__all__ = ["parent_digest"]

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def parent_digest(
    country: str, period: str, revision: int | None, supersedes: str | Path | None
) -> str | None:
    """The ``sha256:`` digest of the parent of ``country``'s ``period`` revision ``revision``
    (see :meth:`vanfed.Node.supersedes_digest`).

    Raises:
        InputError: revision 1 names a parent, a later revision names none, or the parent
            is neither a digest nor a readable earlier summary envelope of the period.
    """
    if revision is None:
        if supersedes is not None:
            raise InputError("--supersedes: give --revision too (the number of this one)")
        return None
    if revision < 1:
        raise InputError(f"--revision {revision}: revisions count from 1")
    if revision == 1:
        if supersedes is not None:
            raise InputError("--supersedes: revision 1 supersedes nothing; drop it")
        return None
    if supersedes is None:
        raise InputError(
            f"--revision {revision}: a revision names the envelope it supersedes: "
            "--supersedes sha256:<64 hex> or --supersedes PATH/TO/ENVELOPE"
        )
    text = str(supersedes)
    if _DIGEST.fullmatch(text):
        return text
    path = Path(supersedes)
    if not path.is_file():
        raise InputError(
            f"--supersedes {text!r}: neither sha256:<64 lowercase hex> (the superseded "
            "envelope's digest) nor an envelope file"
        )
    return _envelope_digest(path, country, period, revision)


def _envelope_digest(path: Path, country: str, period: str, revision: int) -> str:
    data = read_limited(path, MAX_ENVELOPE_BYTES)
    try:
        env = Envelope.from_bytes(data)
        if env.payload_type != SUMMARY_TYPE:
            raise InputError(f"{path}: a {env.payload_type} envelope, not a summary")
        unverified = loads_strict(env.payload, subject=str(path))
    except (VerificationError, InputError) as exc:
        raise InputError(f"--supersedes {path}: not a summary envelope ({exc})") from exc
    parent = (
        (unverified.get("country"), unverified.get("period"), unverified.get("revision"))
        if isinstance(unverified, dict)
        else None
    )
    if (
        parent is None
        or parent[:2] != (country, period)
        or not (isinstance(parent[2], int) and parent[2] < revision)
    ):
        raise InputError(
            f"--supersedes {path}: revision {revision} of {country} {period} can only "
            f"supersede an earlier revision of it, this envelope holds {parent}"
        )
    return envelope_digest(data)
