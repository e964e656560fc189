"""The node's private record of its cell key method publications (never sent).

Under the cell key method a cell keeps its noise while its records stay the same, so the
node must remember, for every cell it published, what the published number was drawn from:
the *anchor* (the records' count and cell key when the noise was last drawn) and where that
was (a snapshot per quarter of the year: a quarter's own publication, a year's own, or each
quarter's anchor when a year repeats its quarters, see :mod:`._ckm_sticky`). It also keeps
each cell's true count, current cell key, the decision the sticky rule took (drawn fresh,
redrawn up or down, frozen, frozen to protect another cell) and, for the change-table audit
(:mod:`._ckm_audit`), the true count of each quarter's part of the cell.

One file per summary, ``LEDGER/ckm-cells/<sha256-hex>.bin`` (the digest of the summary's
canonical JSON), owner-only, written atomically::

    b"vanfed-ckm-cells/2\\n"  header length (u32 LE)  header (canonical JSON: summary
    digest, country, period, revision, created_at, the threshold k the rule used, the
    maximum noise D, the digests of the year group's publications its decisions rest on
    ("basis"), the snapshots its anchors point at, and per table its name, filter, dims
    and axis codes)
    per table: counts (i8), keys (u4), values (i8), anchor counts (i8), anchor keys (u4),
    kinds (u1), anchor snapshots (4 × i2), previous anchor snapshots (4 × i2), counts per
    quarter (4 × i8), each cells × that, little endian   SHA-256 of all before it

Files of format 1 (counts and keys only, written before the sticky rule) are still read:
every cell as drawn fresh at its own publication.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vanfed._json import atomic_write, canonical_bytes, loads_strict, read_limited
from vanfed.errors import InputError
from vanfed.schema import Summary, period_years

__all__ = [
    "CKM_CELLS_FOLDER",
    "DOWN",
    "FRESH",
    "FROZEN",
    "PARTS",
    "SECONDARY",
    "UP",
    "CellState",
    "CkmCells",
    "CkmState",
    "slots",
    "summary_digest",
]

CKM_CELLS_FOLDER = "ckm-cells"
# What the sticky rule did with a cell: drawn for the first time; redrawn because at least k
# records changed (up or down); republished because fewer did; republished although k did,
# because redrawing it would have pinned another cell's change (secondary freezing).
FRESH, UP, DOWN, FROZEN, SECONDARY = 0, 1, 2, 3, 4
PARTS = 4  # a year's records fall in four quarters
_MAGIC_V1 = b"vanfed-ckm-cells/1\n"
_MAGIC = b"vanfed-ckm-cells/2\n"
_MAX_TABLES = 64
_MAX_HEADER = 16 << 20
# Per table, one column after another: (field of CellState, dtype, values per cell).
_COLUMNS = (
    ("counts", "<i8", 1),
    ("keys", "<u4", 1),
    ("values", "<i8", 1),
    ("anchor_counts", "<i8", 1),
    ("anchor_keys", "<u4", 1),
    ("kind", "<u1", 1),
    ("anchor_at", "<i2", PARTS),
    ("ref_at", "<i2", PARTS),
    ("parts", "<i8", PARTS),
)
# Read whole (the reader allocates the limit): 256 MiB is about three million cells.
MAX_STATE_BYTES = 256 << 20


def summary_digest(summary: Summary) -> str:
    """``sha256:`` of the summary's canonical JSON: the name of its private cell file."""
    return "sha256:" + hashlib.sha256(summary.canonical_bytes()).hexdigest()


def slots(period: str) -> tuple[int, ...]:
    """The quarters (0-based) a period's records fall in: one for a quarter, four for a year."""
    quarter = period_years(period)[1]
    return tuple(range(PARTS)) if quarter is None else (quarter - 1,)


def _none_at(n: int) -> np.ndarray:
    return np.full((n, PARTS), "", "<U20")


@dataclass(frozen=True)
class CellState:
    """One table of a CKM publication, per cell (flattened, margins included).

    ``anchor_at`` / ``ref_at`` hold, per quarter, the snapshot (``created_at``) of the
    anchor and of the previous anchor (for redrawn cells), ``""`` where none.
    """

    name: str
    dims: tuple[str, ...]
    codes: tuple[tuple[str, ...], ...]
    counts: np.ndarray
    keys: np.ndarray
    filter: tuple[tuple[str, str], ...] = ()
    values: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    anchor_counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    anchor_keys: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    kind: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    anchor_at: np.ndarray = field(default_factory=lambda: _none_at(0))
    ref_at: np.ndarray = field(default_factory=lambda: _none_at(0))
    parts: np.ndarray = field(default_factory=lambda: np.zeros((0, PARTS), np.int64))

    @property
    def size(self) -> int:
        """Number of cells."""
        return int(np.asarray(self.counts).size)

    def label(self, flat: int) -> str:
        """``table[dim=code, …]`` of one cell (``_T`` is a margin)."""
        index = np.unravel_index(flat, tuple(len(c) for c in self.codes))
        where = ", ".join(
            f"{d}={c[int(i)]}" for d, c, i in zip(self.dims, self.codes, index, strict=True)
        )
        return f"{self.name}[{where}]"


@dataclass(frozen=True)
class CkmState:
    """A CKM publication's private state: the threshold and maximum noise its rule used,
    the publications its decisions rest on, and its tables."""

    k: int
    max_noise: int
    basis: tuple[str, ...]
    tables: tuple[CellState, ...]


class CkmCells:
    """The node's private store of CKM publications' cells, one file per summary."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def path(self, digest: str) -> Path:
        """The file of the summary with this digest."""
        return self.folder / f"{digest.removeprefix('sha256:')}.bin"

    def save(self, summary: Summary, state: CkmState) -> str:
        """Keep a CKM summary's private state (idempotent); returns the summary's digest."""
        if len(state.tables) > _MAX_TABLES:
            raise InputError(f"ckm: {len(state.tables)} tables; at most {_MAX_TABLES} are kept")
        digest = summary_digest(summary)
        snaps = sorted(
            {s for t in state.tables for a in (t.anchor_at, t.ref_at) for s in a.ravel() if s}
        )
        index = {s: i for i, s in enumerate(snaps)}
        header = _header(summary, digest, state, snaps)
        parts = [_MAGIC, struct.pack("<I", len(header)), header]
        for t in state.tables:
            for name, dtype, _ in _COLUMNS:
                col = getattr(t, name)
                col = _snap_index(col, index) if name.endswith("_at") else np.asarray(col, dtype)
                parts.append(col.tobytes())
        body = b"".join(parts)
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write(self.path(digest), body + hashlib.sha256(body).digest(), mode=0o600)
        return digest

    def load(self, summary: Summary) -> CkmState | None:
        """The kept state of a summary, or ``None`` if the node never kept it.

        Raises:
            InputError: the file is damaged.
        """
        digest = summary_digest(summary)
        path = self.path(digest)
        if not path.exists():
            return None
        data = read_limited(path, MAX_STATE_BYTES)
        bad = InputError(f"{path}: ckm cell file is damaged; restore it from backup")
        magic = data[: len(_MAGIC)]
        if len(data) < len(_MAGIC) + 4 + 32 or magic not in (_MAGIC, _MAGIC_V1):
            raise bad
        if hashlib.sha256(data[:-32]).digest() != data[-32:]:
            raise bad
        (n,) = struct.unpack_from("<I", data, len(_MAGIC))
        at = len(_MAGIC) + 4
        try:
            header: Any = loads_strict(data[at : at + n], subject=str(path))
            if header["summary"] != digest or not isinstance(header["k"], int):
                raise bad
            specs = [
                (str(t["name"]), tuple(t["dims"]), tuple(tuple(c) for c in t["codes"]), t)
                for t in header["tables"]
            ]
        except (InputError, KeyError, TypeError) as exc:
            raise bad from exc
        reader = _read_v2 if magic == _MAGIC else _read_v1
        return reader(data, at + n, header, specs, summary, bad)


def _header(summary: Summary, digest: str, state: CkmState, snaps: list[str]) -> bytes:
    return canonical_bytes(
        {
            "summary": digest,
            "country": summary.country,
            "period": summary.period,
            "revision": summary.revision,
            "created_at": summary.created_at,
            "k": state.k,
            "max_noise": state.max_noise,
            "basis": list(state.basis),
            "snapshots": snaps,
            "tables": [
                {
                    "name": t.name,
                    "filter": [list(f) for f in t.filter],
                    "dims": list(t.dims),
                    "codes": [list(c) for c in t.codes],
                }
                for t in state.tables
            ],
        }
    )


def _snap_index(at: np.ndarray, index: dict[str, int]) -> np.ndarray:
    flat = [index[s] if s else -1 for s in np.asarray(at).ravel()]
    return np.array(flat, "<i2")


def _take(data: bytes, at: int, dtype: str, count: int, bad: InputError) -> tuple[np.ndarray, int]:
    size = np.dtype(dtype).itemsize * count
    if at + size > len(data) - 32:
        raise bad
    return np.frombuffer(data, dtype, count, at), at + size


def _read_v2(
    data: bytes,
    at: int,
    header: Any,
    specs: list[tuple[str, tuple[str, ...], tuple[tuple[str, ...], ...], Any]],
    summary: Summary,
    bad: InputError,
) -> CkmState:
    try:
        snaps = np.array([""] + [str(s) for s in header["snapshots"]], "<U20")
        k, noise, basis = int(header["k"]), int(header["max_noise"]), tuple(header["basis"])
        filters = [tuple((str(a), str(b)) for a, b in t["filter"]) for *_, t in specs]
    except (KeyError, TypeError, ValueError) as exc:
        raise bad from exc
    out = []
    for (name, dims, codes, _), filt in zip(specs, filters, strict=True):
        cells = int(np.prod([len(c) for c in codes]))
        cols: dict[str, Any] = {}
        for col, dtype, width in _COLUMNS:
            raw, at = _take(data, at, dtype, cells * width, bad)
            value = raw.astype(np.int8 if col == "kind" else np.int64)
            if width > 1:
                value = value.reshape(cells, width)
            if col.endswith("_at"):
                if value.max(initial=-1) >= len(snaps) - 1:
                    raise bad
                value = snaps[value + 1]
            cols[col] = value
        out.append(CellState(name, dims, codes, filter=filt, **cols))
    if at != len(data) - 32:
        raise bad
    return CkmState(k, noise, basis, tuple(out))


def _read_v1(
    data: bytes,
    at: int,
    header: Any,
    specs: list[tuple[str, tuple[str, ...], tuple[tuple[str, ...], ...], Any]],
    summary: Summary,
    bad: InputError,
) -> CkmState:
    """Format 1: counts and keys; the rest from the summary (every cell drawn fresh)."""
    own = slots(summary.period)
    tables = {t.name: t for t in summary.tables}
    out = []
    for name, dims, codes, _ in specs:
        cells = int(np.prod([len(c) for c in codes]))
        counts, at = _take(data, at, "<i8", cells, bad)
        keys, at = _take(data, at, "<u4", cells, bad)
        table = tables.get(name)
        if table is None or len(table.values) != cells:
            raise bad
        values = np.array([v or 0 for v in table.values], np.int64)
        anchor_at = _none_at(cells)
        anchor_at[:, list(own)] = summary.created_at
        parts = np.zeros((cells, PARTS), np.int64)
        parts[:, own[0]] = counts  # a year's split by quarter was not kept
        out.append(
            CellState(
                name,
                dims,
                codes,
                counts.astype(np.int64),
                keys.astype(np.int64),
                tuple(sorted(table.filter.items())),
                values,
                counts.astype(np.int64),
                keys.astype(np.int64),
                np.full(cells, FRESH, np.int8),
                anchor_at,
                _none_at(cells),
                parts,
            )
        )
    if at != len(data) - 32:
        raise bad
    summary_k = summary.protection.ckm.max_noise if summary.protection.ckm else 0
    return CkmState(int(header["k"]), summary_k, (), tuple(out))
