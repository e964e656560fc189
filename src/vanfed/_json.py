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
import orjson
import rfc8785

from vanfed.errors import DuplicateKeyError, InputError, TooLargeError

__all__ = [
    "MAX_DEPTH",
    "atomic_write",
    "canonical_bytes",
    "loads_canonical",
    "loads_strict",
    "read_limited",
]

MAX_DEPTH = 32


class _Reject(ValueError):
    pass


class _Duplicate(_Reject):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Duplicate(f"duplicate key {key!r}")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise _Reject(f"{name} is not allowed")


_STEP = np.zeros(256, np.int8)
_STEP[[ord("["), ord("{")]] = 1
_STEP[[ord("]"), ord("}")]] = -1
_QUOTE = ord('"')
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_BELOW_F0 = bytes(range(0xF0))  # lead bytes >= 0xF0 start characters beyond the BMP
_DIGIT_ZERO = bytes(b"0"[0] if chr(b).isdigit() else b" "[0] for b in range(256))


def _outside_strings(raw: bytes) -> bytes | None:
    """The bytes of a JSON text outside its strings; ``None`` if it has escapes."""
    if b"\\" in raw:
        return None
    return b"".join(raw.split(b'"')[::2])


def _too_deep(outside: bytes) -> bool:
    """Whether brackets (outside strings) nest deeper than :data:`MAX_DEPTH`.

    Each round deletes the innermost pairs, so a document nested d deep is empty after d.
    """
    kept = outside.translate(None, _NOT_BRACKET)
    for _ in range(MAX_DEPTH):
        if not kept:
            return False
        kept = kept.replace(b"[]", b"").replace(b"{}", b"")
    return bool(kept)


def _deep_text(text: str) -> bool:
    """:func:`_too_deep` for any text; with escapes, drop escaped backslashes and quotes,
    then a running quote count tells which bytes are inside strings (vectorised)."""
    raw = text.encode("utf-8")
    outside = _outside_strings(raw)
    if outside is not None:
        return _too_deep(outside)
    raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    arr = np.frombuffer(raw, np.uint8)
    steps = _STEP[arr]
    steps[(np.cumsum(arr == _QUOTE) & 1).astype(bool)] = 0
    return int(np.cumsum(steps, dtype=np.int64).max(initial=0)) > MAX_DEPTH


def _count_keys(obj: Any) -> int:
    """Members of every object in a parsed document (iterative: depth is not trusted)."""
    n, stack = 0, [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            n += len(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return n


def _fast_strict(data: bytes) -> Any:
    """orjson's parse when it provably equals the strict one, else ``None``.

    orjson refuses NaN, non-UTF-8 and bad syntax but keeps the last of duplicate keys; outside
    strings every ``:`` separates one member, so a count of them equal to the members
    parsed proves there were no duplicates.
    """
    outside = _outside_strings(data)
    if outside is None or _too_deep(outside):
        return None
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return obj if _count_keys(obj) == outside.count(b":") else None


def _plainly_canonical(data: bytes) -> Any:
    """The parsed document if ``data`` is provably RFC 8785 canonical the cheap way.

    Holds when there are no escapes, floats, integers of 16+ digits or characters beyond
    the BMP (where UTF-16 and code-point key order differ): then RFC 8785 is orjson's
    compact, key-sorted output, so equality proves canonical form, and also rules out
    duplicate keys (a repeated key shortens the output). ``None`` means "ask the slow way".
    """
    outside = _outside_strings(data)
    if outside is None or data.translate(None, _BELOW_F0) or _too_deep(outside):
        return None
    literals = outside.replace(b"true", b"").replace(b"false", b"")
    if b"." in literals or b"e" in literals or b"E" in literals:
        return None
    if b"0" * 16 in literals.translate(_DIGIT_ZERO):
        return None
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return obj if orjson.dumps(obj, option=orjson.OPT_SORT_KEYS) == data else None


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
    if text.count("[") + text.count("{") > MAX_DEPTH and _deep_text(text):
        raise InputError(f"{subject}: nested deeper than {MAX_DEPTH} levels")
    return text


def _parse(text: str, subject: str, flags: _Flags) -> Any:
    try:
        return json.loads(
            text,
            object_pairs_hook=flags.pairs,
            parse_constant=_no_constant,
            parse_float=flags.number,
            parse_int=flags.integer,
        )
    except _Duplicate as exc:
        raise DuplicateKeyError(f"{subject}: {exc}") from exc
    except _Reject as exc:
        raise InputError(f"{subject}: {exc}") from exc
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
    if isinstance(data, bytes) and (max_bytes is None or len(data) <= max_bytes):
        fast = _fast_strict(data)
        if fast is not None:
            return fast
    return _parse(_decode(data, subject, max_bytes), subject, _Flags())


def loads_canonical(data: bytes, *, subject: str = "JSON") -> tuple[Any, bool]:
    """Parse strictly and tell whether ``data`` is exactly its RFC 8785 form.

    Plain documents (see :func:`_plainly_canonical`) are decided by orjson at C speed;
    otherwise without floats, non-ASCII keys or integers beyond 2**53 RFC 8785 output
    equals ``json.dumps`` with sorted keys and compact separators; otherwise the reference
    implementation decides (and refuses what it cannot represent).
    """
    fast = _plainly_canonical(data)
    if fast is not None:
        return fast, True
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
    return obj, _fast_canonical(obj).encode("utf-8") == data


def _fast_canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


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
