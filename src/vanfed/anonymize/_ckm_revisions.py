"""Revisions under the cell key method: the threshold rule on the change table.

A cell whose records are the same in two publications keeps its noise exactly; a cell a
late record joined gets new noise. So *which* cells changed between two revisions points
at the changed records' categories, just as the difference of two exact tables does. The
node therefore treats the change between a CKM revision and the latest earlier CKM
publication of the period as a table about people, under the threshold rule: every cell
that changed must have changed by 0 or at least ``k`` records, or the revision is refused.

A cell *changed* if its cell key differs (its records differ) or its true count differs.
The number of records that changed is taken as ``|new count - old count|``; a cell whose
key changed while its count did not (arrivals and withdrawals cancelling) is taken as
changed by fewer than ``k`` (nothing shows otherwise). Periods that overlap without being
the same (a year and its quarters) are not compared here.

The comparison needs each publication's true counts and cell keys, which are never
published: the node keeps them, per summary, in ``LEDGER/ckm-cells/<sha256-hex>.bin``
(the digest of the summary's canonical JSON), owner-only, written atomically::

    b"vanfed-ckm-cells/1\\n"  header length (u32 LE)  header (canonical JSON: summary
    digest, country, period, revision, the threshold k it was checked with, and per table
    its name, dims and axis codes)
    per table: counts (cells × i8 LE), keys (cells × u4 LE)   SHA-256 of all before it
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vanfed._json import atomic_write, canonical_bytes, loads_strict, read_limited
from vanfed.anonymize._cube import MAX_CELLS
from vanfed.errors import InputError, ProtectionError, ReasonCode
from vanfed.schema import Summary

__all__ = ["CKM_CELLS_FOLDER", "CellState", "CkmCells", "check_revision", "summary_digest"]

CKM_CELLS_FOLDER = "ckm-cells"
_MAGIC = b"vanfed-ckm-cells/1\n"
_MAX_TABLES = 64
_MAX_HEADER = 16 << 20
# Bounded: each table is at most MAX_CELLS cells of 12 bytes.
MAX_STATE_BYTES = len(_MAGIC) + 4 + _MAX_HEADER + _MAX_TABLES * 12 * MAX_CELLS + 32


def summary_digest(summary: Summary) -> str:
    """``sha256:`` of the summary's canonical JSON: the name of its private cell file."""
    return "sha256:" + hashlib.sha256(summary.canonical_bytes()).hexdigest()


@dataclass(frozen=True)
class CellState:
    """One table's true counts and cell keys (flattened, margins included)."""

    name: str
    dims: tuple[str, ...]
    codes: tuple[tuple[str, ...], ...]
    counts: np.ndarray
    keys: np.ndarray

    def label(self, flat: int) -> str:
        """``table[dim=code, …]`` of one cell (``_T`` is a margin)."""
        index = np.unravel_index(flat, tuple(len(c) for c in self.codes))
        where = ", ".join(
            f"{d}={c[int(i)]}" for d, c, i in zip(self.dims, self.codes, index, strict=True)
        )
        return f"{self.name}[{where}]"


class CkmCells:
    """The node's private store of CKM publications' true counts and cell keys."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def path(self, digest: str) -> Path:
        """The file of the summary with this digest."""
        return self.folder / f"{digest.removeprefix('sha256:')}.bin"

    def save(self, summary: Summary, tables: Sequence[CellState], *, k: int) -> str:
        """Keep a CKM summary's true cells and the threshold it was checked with
        (idempotent); returns the summary's digest."""
        if len(tables) > _MAX_TABLES:
            raise InputError(f"ckm: {len(tables)} tables; at most {_MAX_TABLES} are kept")
        digest = summary_digest(summary)
        header = canonical_bytes(
            {
                "summary": digest,
                "country": summary.country,
                "period": summary.period,
                "revision": summary.revision,
                "k": k,
                "tables": [
                    {"name": t.name, "dims": list(t.dims), "codes": [list(c) for c in t.codes]}
                    for t in tables
                ],
            }
        )
        parts = [_MAGIC, struct.pack("<I", len(header)), header]
        for t in tables:
            parts.append(np.asarray(t.counts, "<i8").ravel().tobytes())
            parts.append(np.asarray(t.keys, "<u4").ravel().tobytes())
        body = b"".join(parts)
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write(self.path(digest), body + hashlib.sha256(body).digest(), mode=0o600)
        return digest

    def load(self, digest: str) -> tuple[int, tuple[CellState, ...]] | None:
        """The threshold a summary was checked with and its kept cells, or ``None`` if the
        node never kept them.

        Raises:
            InputError: the file is damaged.
        """
        path = self.path(digest)
        if not path.exists():
            return None
        data = read_limited(path, MAX_STATE_BYTES)
        bad = InputError(f"{path}: ckm cell file is damaged; restore it from backup")
        if len(data) < len(_MAGIC) + 4 + 32 or not data.startswith(_MAGIC):
            raise bad
        if hashlib.sha256(data[:-32]).digest() != data[-32:]:
            raise bad
        (n,) = struct.unpack_from("<I", data, len(_MAGIC))
        at = len(_MAGIC) + 4
        try:
            header: Any = loads_strict(data[at : at + n], subject=str(path))
            if header["summary"] != digest or not isinstance(header["k"], int):
                raise bad
            k = int(header["k"])
            specs = [
                (str(t["name"]), tuple(t["dims"]), tuple(tuple(c) for c in t["codes"]))
                for t in header["tables"]
            ]
        except (InputError, KeyError, TypeError) as exc:
            raise bad from exc
        at += n
        out = []
        for name, dims, codes in specs:
            cells = int(np.prod([len(c) for c in codes]))
            if at + 12 * cells > len(data) - 32:
                raise bad
            counts = np.frombuffer(data, "<i8", cells, at).astype(np.int64)
            keys = np.frombuffer(data, "<u4", cells, at + 8 * cells).astype(np.int64)
            at += 12 * cells
            out.append(CellState(name, dims, codes, counts, keys))
        if at != len(data) - 32:
            raise bad
        return k, tuple(out)


def check_revision(
    label: str,
    new: Sequence[CellState],
    old: Sequence[CellState] | None,
    *,
    old_label: str,
    k: int,
) -> None:
    """Refuse a CKM revision whose change since ``old`` exposes fewer than ``k`` records.

    Args:
        label: the new publication (``KHM 2024 r2``), for the message.
        new: its true cells; old: those of the latest earlier CKM publication of the
            period (``None``: the node did not keep them, so nothing can be shown safe).
        old_label: the earlier publication, for the message.

    Raises:
        ProtectionError: reason ``history_disclosure``.
    """
    hint = (
        f"publish once at least k = {k} records changed in every changed cell, or a coarser period"
    )
    if old is None:
        raise ProtectionError(
            f"{label}: the true counts and cell keys of {old_label} are not kept in the "
            "ledger, so the change since it cannot be checked against the threshold rule; " + hint,
            reason=ReasonCode.HISTORY_DISCLOSURE,
        )
    before = {t.name: t for t in old}
    for table in new:
        prev = before.get(table.name)
        if prev is None:
            continue  # a table the period never published
        if (prev.dims, prev.codes) != (table.dims, table.codes):
            raise ProtectionError(
                f"{label}: table {table.name} has other axes than in {old_label}, so the "
                "change since it cannot be checked cell by cell; " + hint,
                reason=ReasonCode.HISTORY_DISCLOSURE,
            )
        diff = np.abs(table.counts - prev.counts)
        moved = table.keys != prev.keys
        # Changed by 1..k-1 records, or records swapped with the count unchanged.
        unsafe = ((diff > 0) & (diff < k)) | (moved & (diff == 0))
        if unsafe.any():
            cell = int(np.flatnonzero(unsafe)[0])
            d = int(diff[cell])
            what = (
                f"changed by {d} record{'s' if d != 1 else ''}"
                if d
                else "changed records with its count unchanged (how many is unknown)"
            )
            raise ProtectionError(
                f"{label}: cell {table.label(cell)} {what} since {old_label}; the change "
                f"between revisions is a table about people and needs 0 or at least "
                f"k = {k} changed records in every changed cell "
                f"({int(unsafe.sum())} cell(s) fail); " + hint,
                reason=ReasonCode.HISTORY_DISCLOSURE,
            )
