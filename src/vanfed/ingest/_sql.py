"""Reading a SQL table through SQLAlchemy: streamed rows, or counts grouped in the database.

SQLAlchemy Core builds the same queries for SQLite and PostgreSQL (and other databases), with
identifiers quoted by the dialect: a table or column name from a mapping never becomes SQL
text. The grouped query is::

    SELECT c1, ..., dup, noid, COUNT(*) FROM (
        SELECT c1, ..., ROW_NUMBER() OVER (PARTITION BY id ORDER BY id) > 1 AS dup,
               id IS NULL OR TRIM(id) = '' AS noid
        FROM t) GROUP BY c1, ..., dup, noid
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import sqlalchemy as sa

from vanfed.errors import InputError
from vanfed.ingest._rows import CHUNK_ROWS, Chunk
from vanfed.ingest._sql_table import PUSHDOWN_ROWS, SqlTable, WeightedChunk, columns_of
from vanfed.schema import Mapping

__all__ = ["sql_chunks"]


def sql_chunks(
    src: SqlTable, mapping: Mapping | None, text: Callable[[object], str]
) -> Iterator[Chunk]:
    """Chunks from a SQL table: streamed rows, or grouped counts for a large table."""
    owned = not isinstance(src.url, sa.engine.Engine)
    try:
        engine = sa.create_engine(src.url) if owned else src.url
        table = sa.Table(src.table, sa.MetaData(), schema=src.schema, autoload_with=engine)
        cols = columns_of(mapping, [c.name for c in table.columns])
        with engine.connect() as conn:
            rows = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            group = src.pushdown is True or (src.pushdown == "auto" and rows > PUSHDOWN_ROWS)
            if group and mapping is not None:
                yield from _grouped(conn, table, cols, mapping, text)
            else:
                yield from _streamed(conn, table, cols, text)
    except sa.exc.NoSuchTableError as exc:
        raise InputError(f"{src.name}: no such table in the database") from exc
    except (sa.exc.SQLAlchemyError, sa.exc.ArgumentError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{src.name}: cannot read from the database ({first})") from exc
    finally:
        if owned and "engine" in locals():
            engine.dispose()


def _order(table: sa.Table) -> list[Any]:
    """A stable order for row numbers: the primary key, if the table has one."""
    return list(table.primary_key.columns)


def _strings(rows: list[Any], width: int, text: Callable[[object], str]) -> list[pa.Array]:
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in range(width)]
    return [pa.array([text(v) for v in col], pa.string()) for col in columns]


def _streamed(
    conn: sa.Connection, table: sa.Table, cols: list[str], text: Callable[[object], str]
) -> Iterator[Chunk]:
    query = sa.select(*(table.c[c] for c in cols)).order_by(*_order(table))
    result = conn.execution_options(stream_results=True, yield_per=CHUNK_ROWS).execute(query)
    row = 2  # as if exported to a file with a header row
    for part in result.partitions(CHUNK_ROWS):
        arrays = _strings(list(part), len(cols), text)
        yield Chunk(
            np.arange(row, row + len(part), dtype=np.int64), dict(zip(cols, arrays, strict=True))
        )
        row += len(part)


def _grouped(
    conn: sa.Connection,
    table: sa.Table,
    cols: list[str],
    mapping: Mapping,
    text: Callable[[object], str],
) -> Iterator[Chunk]:
    fm = mapping.fields.get("record_id")
    id_col = fm.column if fm is not None else None
    keys = [c for c in cols if c != id_col]
    if id_col is not None:
        ident = table.c[id_col]
        as_text = sa.cast(ident, sa.String)
        rank = sa.func.row_number().over(partition_by=ident, order_by=_order(table) or ident)
        noid = sa.or_(ident.is_(None), sa.func.trim(as_text) == "")
        inner = sa.select(
            *(table.c[c] for c in keys),
            sa.case((rank > 1, 1), else_=0).label("dup"),
            sa.case((noid, 1), else_=0).label("noid"),
        ).subquery()
        flags = [inner.c.dup, inner.c.noid]
        grouped = [*(inner.c[c] for c in keys), *flags]
    else:
        grouped = [table.c[c] for c in keys]
        flags = []
    query = sa.select(*grouped, sa.func.count().label("n")).group_by(*grouped)
    result = conn.execution_options(stream_results=True, yield_per=CHUNK_ROWS).execute(query)
    group = 1
    for part in result.partitions(CHUNK_ROWS):
        rows = list(part)
        arrays = _strings([r[: len(keys)] for r in rows], len(keys), text)
        n = np.array([r[-1] for r in rows], np.int64)
        flag = np.array([r[len(keys) : len(keys) + 2] for r in rows], bool).reshape(len(rows), -1)
        yield WeightedChunk(
            np.arange(group, group + len(rows), dtype=np.int64),
            dict(zip(keys, arrays, strict=True)),
            weights=n,
            duplicate=flag[:, 0] if flags else None,
            no_id=flag[:, 1] if flags else None,
        )
        group += len(rows)
