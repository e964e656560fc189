"""What a SQL source is, without SQLAlchemy: the table to read and the grouped chunks it yields.

:class:`SqlTable` names a table (or view) for :func:`vanfed.ingest.open_source`; a large one is
counted in the database and arrives as :class:`WeightedChunk` objects (distinct value
combinations with their row counts). Nothing here needs the optional ``sql`` extra, so
:mod:`vanfed.ingest._sources` and :mod:`vanfed.ingest._ingest` can use these names whether
or not SQLAlchemy is installed; :mod:`vanfed.ingest._sql` does the reading.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vanfed.ingest._rows import Chunk
from vanfed.schema import Mapping

__all__ = ["PUSHDOWN_ROWS", "SqlTable", "WeightedChunk", "columns_of"]

PUSHDOWN_ROWS = 1_000_000  # above this many rows, "auto" groups in the database


@dataclass
class WeightedChunk(Chunk):
    """A chunk of distinct value combinations; ``weights[i]`` rows share combination i.

    ``duplicate[i]`` marks combinations made of rows whose record id repeats an earlier row.
    """

    weights: np.ndarray | None = None
    duplicate: np.ndarray | None = None
    no_id: np.ndarray | None = None


@dataclass(frozen=True)
class SqlTable:
    """A table (or view) in a SQL database, read through SQLAlchemy.

    Args:
        url: a SQLAlchemy URL (``sqlite:///casualties.db``,
            ``postgresql+psycopg://user@host/db``) or an ``Engine``.
        table: the table or view name.
        schema: its schema (PostgreSQL), if not the default.
        pushdown: ``"auto"`` groups in the database when the table has more than
            ``PUSHDOWN_ROWS`` rows; ``True``/``False`` force it either way.
    """

    url: Any
    table: str
    schema: str | None = None
    pushdown: bool | str = "auto"

    @property
    def name(self) -> str:
        """How rejects and messages name this source."""
        return f"{self.schema + '.' if self.schema else ''}{self.table}"


def columns_of(mapping: Mapping | None, available: Sequence[str]) -> list[str]:
    """The columns to read: the mapping's (in table order), or all of them."""
    if mapping is None:
        return list(available)
    wanted = set(mapping.columns())
    return [c for c in available if c in wanted]
