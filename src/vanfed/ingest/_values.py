"""Parsing one distinct value at a time: codes, ages and dates.

Ingest maps the *distinct* values of each column (a few dozen per chunk) and spreads the
result to every row with ``numpy.take``; these functions are the per-distinct-value part.
Each returns either a parsed value or a stable reason code from :data:`REASONS`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from functools import lru_cache

from vanfed.schema import UNKNOWN, Dimension

__all__ = ["REASONS", "CodeTable", "normalise", "parse_age", "parse_date"]

REASONS = {
    "missing_value": "is empty and the mapping says missing = 'reject'",
    "unknown_code": "is not a code, label or mapped value for this field; add it to the mapping",
    "not_a_number": "is not a whole number of years",
    "age_out_of_range": "is not an age between 0 and 130",
    "bad_date": "is not a date in the mapping's format",
    "date_out_of_range": "is before 1940",
    "future_date": "is after today",
    "birth_after_incident": "gives a birth date after the incident date",
    "duplicate_record_id": "repeats an earlier record id",
    "malformed_row": "cannot be split into the header's fields",
}

EXCEL_EPOCH = dt.date(1899, 12, 30)
AUTO_DATE_FORMATS = (
    "%d/%m/%Y",
    "%d-%m-%Y",
    "%d.%m.%Y",
    "%Y/%m/%d",
    "%d/%m/%y",
    "%d %b %Y",
    "%d %B %Y",
)
_SPACES = re.compile(r"\s+")


def normalise(value: str) -> str:
    """Case-, width- and space-insensitive form used to match values to the mapping."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", value)).strip().casefold()


class CodeTable:
    """Resolves a field's raw values to code indices in a dimension's leaf codes."""

    def __init__(self, dim: Dimension, values: dict[str, str], aliases: dict[str, str]) -> None:
        self.codes = dim.leaves()
        index = {c: i for i, c in enumerate(self.codes)}
        self.unknown = index.get(UNKNOWN, -1)
        table: dict[str, int] = {}
        # Weakest first, so that the mapping's own values win.
        for code in dim.codes:
            if code.id in index:
                table[normalise(code.label)] = index[code.id]
        for old, new in aliases.items():
            table[normalise(old)] = index[new]
        for code_id, i in index.items():
            table[normalise(code_id)] = i
        mine: dict[str, str] = {}
        for raw, code_id in values.items():
            if code_id not in index:
                raise ValueError(
                    f"maps {raw!r} to {code_id!r}, which is not one of {', '.join(self.codes)}"
                )
            key = normalise(raw)
            if key in mine and values[mine[key]] != code_id:  # values match case/space-blind
                raise ValueError(
                    f"maps {mine[key]!r} to {values[mine[key]]!r} but {raw!r} (the same value "
                    f"once case and spaces are ignored) to {code_id!r}"
                )
            mine[key] = raw
            table[key] = index[code_id]
        self.table = table

    def lookup(self, raw: str) -> int | None:
        return self.table.get(normalise(raw))


def parse_age(raw: str) -> int | str:
    """Whole years 0..130, or a reason code."""
    text = raw.strip()
    try:
        number = float(text)
    except ValueError:
        return "not_a_number"
    if math.isnan(number) or not number.is_integer():  # NaN or 12.5
        return "not_a_number"
    if not 0 <= number <= 130:
        return "age_out_of_range"
    return int(number)


@lru_cache(maxsize=1 << 17)  # a national export has a few thousand distinct dates
def parse_date(raw: str, fmt: str) -> dt.date | str:
    """A date in ``fmt`` ("iso", "excel", "auto" or a strptime format), or a reason code."""
    text = raw.strip()
    try:
        if fmt == "iso":
            return dt.date.fromisoformat(text[:10])
        if fmt == "excel":
            return _excel(text)
        if fmt != "auto":
            return dt.datetime.strptime(text, fmt).date()
    except (ValueError, OverflowError):
        return "bad_date"
    return _auto_date(text)


def _excel(text: str) -> dt.date:
    serial = float(text)
    if not 1 <= serial < 2958466:
        raise ValueError("serial out of range")
    return EXCEL_EPOCH + dt.timedelta(days=int(serial))


def _auto_date(text: str) -> dt.date | str:
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        pass
    if re.fullmatch(r"\d{5}(\.\d+)?", text):
        try:
            return _excel(text)
        except ValueError:
            return "bad_date"
    for fmt in AUTO_DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return "bad_date"
