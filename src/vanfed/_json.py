"""Strict JSON in and canonical JSON out, and atomic file writes.

Everything vanfed signs is RFC 8785 (JCS) canonical JSON produced by :func:`canonical_bytes`;
everything it reads from outside goes through :func:`loads_strict`, which refuses duplicate
keys, NaN/Infinity, excessive nesting and oversized documents.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import rfc8785

from vanfed.errors import InputError, TooLargeError

__all__ = [
    "MAX_DEPTH",
    "atomic_write",
    "canonical_bytes",
    "loads_canonical",
    "loads_strict",
    "read_limited",
]

MAX_DEPTH = 32


class DuplicateKeyError(InputError):
    """A JSON object names the same key twice."""


class _Reject(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Reject(f"duplicate key {key!r}")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise _Reject(f"{name} is not allowed")


_STEP = np.zeros(256, np.int8)
_STEP[[ord("["), ord("{")]] = 1
_STEP[[ord("]"), ord("}")]] = -1
_QUOTE = ord('"')


def _depth(text: str) -> int:
    """Deepest bracket nesting outside strings (guards json's recursion before it starts).

    Vectorised: drop escaped backslashes and quotes, then a quote count tells which bytes
    are inside strings.
    """
    raw = text.encode("utf-8").replace(b"\\\\", b"").replace(b'\\"', b"")
    arr = np.frombuffer(raw, np.uint8)
    if arr.size == 0:
        return 0
    steps = _STEP[arr]
    steps[(np.cumsum(arr == _QUOTE) & 1).astype(bool)] = 0
    return int(np.cumsum(steps, dtype=np.int64).max(initial=0))


class _Flags:
    """Set while parsing: whether the fast canonical form may differ from RFC 8785."""

    def __init__(self, text: str = "") -> None:
        self.slow = False
        self.check_keys = not text.isascii()  # an ASCII document has ASCII keys

    def pairs(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        if self.check_keys and not self.slow and not all(k.isascii() for k, _ in pairs):
            self.slow = True  # JCS sorts keys by UTF-16 code units, Python by code points
        return _no_duplicates(pairs)

    def number(self, text: str) -> float:
        self.slow = True  # floats have an ECMAScript form of their own
        return float(text)

    def integer(self, text: str) -> int:
        if len(text) > 15:  # may lie beyond 2**53, where RFC 8785 reads a double
            self.slow = True
        return int(text)


def _decode(data: bytes | str, subject: str, max_bytes: int | None) -> str:
    if max_bytes is not None and len(data) > max_bytes:
        raise TooLargeError(f"{subject}: {len(data)} bytes is over the limit of {max_bytes}")
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"{subject}: not UTF-8 (byte {exc.start})") from exc
    else:
        text = data
    # Cheap gate first: fewer brackets than the limit cannot nest deeper than it.
    if text.count("[") + text.count("{") > MAX_DEPTH and _depth(text) > MAX_DEPTH:
        raise InputError(f"{subject}: nested deeper than {MAX_DEPTH} levels")
    return text


def _parse(text: str, subject: str, flags: _Flags) -> Any:
    try:
        return json.loads(
            text,
            object_pairs_hook=flags.pairs,
            parse_constant=_no_constant,
            parse_float=flags.number,
        )
    except _Reject as exc:
        cls = DuplicateKeyError if "duplicate key" in str(exc) else InputError
        raise cls(f"{subject}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"{subject}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc


def loads_strict(data: bytes | str, *, subject: str = "JSON", max_bytes: int | None = None) -> Any:
    """Parse JSON refusing duplicate keys, NaN/Infinity, deep nesting and non-UTF-8.

    Args:
        data: the document.
        subject: names the document in error messages (a file name, "envelope").
        max_bytes: refuse larger documents.

    Raises:
        TooLargeError: the document is over ``max_bytes``.
        DuplicateKeyError: an object repeats a key.
        InputError: anything else that is not strict JSON.
    """
    return _parse(_decode(data, subject, max_bytes), subject, _Flags())


def loads_canonical(data: bytes, *, subject: str = "JSON") -> tuple[Any, bool]:
    """Parse strictly and tell whether ``data`` is exactly its RFC 8785 form.

    Without floats, non-ASCII keys or integers beyond 2**53, RFC 8785 output equals
    ``json.dumps`` with sorted keys, compact separators and no ASCII escaping, which is
    C-fast; otherwise the reference implementation decides (and refuses what it cannot
    represent).
    """
    text = _decode(data, subject, None)
    flags = _Flags(text)
    obj = _parse(text, subject, flags)
    if flags.slow:
        # RFC 8785 reads every number as an IEEE double, large integers included
        doubles = json.loads(text, parse_int=lambda t: int(t) if len(t) < 16 else float(t))
        try:
            return obj, canonical_bytes(doubles) == data
        except InputError:
            return obj, False
    fast = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return obj, fast.encode("utf-8") == data


def canonical_bytes(obj: Any) -> bytes:
    """RFC 8785 canonical JSON of ``obj``: the only bytes vanfed ever signs."""
    try:
        return bytes(rfc8785.dumps(obj))
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise InputError(f"cannot canonicalise: {exc}") from exc


def atomic_write(path: str | os.PathLike[str], data: bytes, *, mode: int = 0o644) -> Path:
    """Write ``data`` to ``path`` so that a crash leaves either the old or the new file.

    Write to a temporary file in the same folder, fsync it, rename over the target, then
    fsync the folder so the rename itself is durable.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return target


def read_limited(
    path: str | os.PathLike[str], max_bytes: int, *, subject: str | None = None
) -> bytes:
    """Read a whole file, refusing one over ``max_bytes`` before reading it."""
    p = Path(path)
    name = subject or str(p)
    try:
        size = p.stat().st_size
        if size > max_bytes:
            raise TooLargeError(f"{name}: {size} bytes is over the limit of {max_bytes}")
        with p.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except FileNotFoundError as exc:
        raise InputError(f"{name}: no such file") from exc
    except IsADirectoryError as exc:
        raise InputError(f"{name}: is a folder, expected a file") from exc
    except PermissionError as exc:
        raise InputError(f"{name}: permission denied") from exc
    if len(data) > max_bytes:
        raise TooLargeError(f"{name}: over the limit of {max_bytes} bytes")
    return data
