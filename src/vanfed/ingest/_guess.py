"""Guessing for mapping drafts: which column is which field, and which code a value means.

A column is matched to a field by two kinds of evidence, added up: its *header* (words in the
region's languages, split from camelCase, snake_case and spaces, so ``AccidentDate``,
``accident_date`` and ``Date of accident`` read alike) and its *values* (a column whose values
are mostly ``killed``/``injured`` is the outcome whatever its header says). Fields are then
assigned greedily, strongest evidence first, each column used once.

Values are compared in a folded form (case, width, Latin diacritics, spaces and punctuation
ignored: ``Chon Buri`` = ``Chonburi``, ``Quang Ninh`` = ``Quảng Ninh``); admin-1 names also
through the shipped alias list (romanisations, local scripts, former names).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from vanfed.ingest._guess_words import (
    ADMIN_WORDS,
    BIRTH_HINTS,
    HEADER_HINTS,
    SYNONYMS,
    UNKNOWN_WORDS,
    VALUE_DECISIVE,
    YES_NO,
)
from vanfed.ingest._values import parse_age, parse_date
from vanfed.schema import CATEGORICAL_FIELDS, UNKNOWN, Codebook, load_admin1_aliases

__all__ = [
    "ColumnGuess",
    "Guesser",
    "birth_column",
    "date_format",
    "fold",
    "guess_columns",
    "tokens",
]

DATE_FORMATS = ("iso", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%m/%d/%Y", "%Y/%m/%d", "excel")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[A-Za-z])(?=\d)")
_PAREN = re.compile(r"\(([^)]*)\)")


def fold(text: str) -> str:
    """Case-, width-, diacritic-, space- and punctuation-insensitive form of a value."""
    decomposed = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
    kept = (ch for ch in decomposed if not unicodedata.combining(ch) or ord(ch) >= 0x0E00)
    return "".join(ch for ch in "".join(kept).casefold() if ch.isalnum() or _is_mark(ch))


def _is_mark(ch: str) -> bool:
    return unicodedata.category(ch).startswith("M")  # Thai, Lao, Khmer, Myanmar vowel signs


def tokens(header: str) -> list[str]:
    """Words of a header: ``AccidentDate`` and ``accident_date`` give ``[accident, date]``."""
    spaced = _CAMEL.sub(" ", header)
    return [f for f in (fold(w) for w in re.split(r"[^\w]+|_", spaced)) if f]


@dataclass(frozen=True)
class ColumnGuess:
    """Why a column was chosen for a field."""

    column: str
    header_score: float
    value_score: float

    @property
    def why(self) -> str:
        parts = []
        if self.header_score:
            parts.append("its header")
        if self.value_score:
            parts.append(f"{self.value_score:.0%} of its values")
        return " and ".join(parts) or "its position"


def _header_score(field: str, words: list[str]) -> float:
    joined = "".join(words)
    best = 0.0
    for hint, weight in HEADER_HINTS.get(field, {}).items():
        if hint.endswith("*"):  # a stem: "rehab*" matches "rehabilitation"
            if any(w.startswith(fold(hint)) for w in words):
                best = max(best, weight)
            continue
        hint_words = tokens(hint)
        n = len(hint_words)
        if any(words[i : i + n] == hint_words for i in range(len(words) - n + 1)):
            best = max(best, weight)
        elif len(joined) > len("".join(hint_words)) >= 5 and "".join(hint_words) in joined:
            best = max(best, weight * 0.5)  # "accidentdate": one word, written together
    return best


class Guesser:
    """Guesses codes for values of one country's fields."""

    def __init__(self, codebook: Codebook, country: str | None) -> None:
        self.codebook, self.country = codebook, country
        self._tables: dict[str, dict[str, str | None]] = {}

    def table(self, field: str) -> dict[str, str | None]:
        """Folded value -> code (None where two codes claim the same spelling)."""
        if field not in self._tables:
            self._tables[field] = self._build(field)
        return self._tables[field]

    def _build(self, field: str) -> dict[str, str | None]:
        table: dict[str, str | None] = {}

        def put(name: str, code: str) -> None:
            key = fold(name)
            if key:
                table[key] = code if table.get(key, code) == code else None

        vocab = YES_NO if field.startswith("service_") else SYNONYMS.get(field, {})
        for code, words in vocab.items():
            for w in words:
                put(w, code)
        for w in UNKNOWN_WORDS:
            put(w, UNKNOWN)
        if field == "admin1":
            if self.country is None:
                return {}
            c = self.codebook.country(self.country)
            for name, code in c.admin1_aliases.items():
                put(name, code)
            for name, code in load_admin1_aliases().of(self.country).items():
                put(name, code)
            for unit in c.admin1:
                for name in (unit.label, _PAREN.sub("", unit.label), *_PAREN.findall(unit.label)):
                    put(name, unit.id)
            return table
        for entry in self.codebook.dimension(field).codes:
            if not entry.children:
                put(entry.label, entry.id)
        return table

    def code(self, field: str, value: str) -> str | None:
        """The code a raw value most likely means, or None if unsure."""
        table = self.table(field)
        if field == "admin1" and self.country is not None:
            unit = {u.id for u in self.codebook.country(self.country).admin1}
            if value.strip().upper() in unit:
                return value.strip().upper()
        key = fold(value)
        if key in table:
            return table[key]
        if field == "admin1":
            words = [w for w in tokens(value) if w not in ADMIN_WORDS]
            return table.get("".join(words)) if words else None
        return None

    def value_score(self, field: str, values: Mapping[str, int]) -> float:
        """Share of the non-empty rows whose value gets a (non-unknown) code."""
        total = hit = 0
        for value, count in values.items():
            if not value.strip():
                continue
            total += count
            code = self.code(field, value)
            hit += count if code not in (None, UNKNOWN) else 0
        return hit / total if total else 0.0


def date_format(values: Mapping[str, int]) -> str:
    """The first date format that parses every sampled non-empty value, else ``auto``."""
    sample = [v for v in list(values)[:50] if v.strip()]
    for fmt in DATE_FORMATS:
        if sample and all(not isinstance(parse_date(v, fmt), str) for v in sample):
            return fmt
    return "auto"


def _other_value_score(field: str, values: Mapping[str, int], rows: int, capped: bool) -> float:
    non_empty = [v for v in values if v.strip()]
    if not non_empty:
        return 0.0
    if field == "record_id":
        return 1.0 if capped or len(values) >= 0.9 * rows else 0.0
    if field == "incident_date":
        return 1.0 if date_format(values) != "auto" else 0.0
    if field == "age":
        ok = sum(values[v] for v in non_empty if not isinstance(parse_age(v), str))
        return ok / sum(values[v] for v in non_empty)
    return 0.0


def _qualifies(field: str, h: float, v: float) -> bool:
    if field in VALUE_DECISIVE:
        return h >= 1 or v >= 0.5 or (h >= 0.5 and v >= 0.2)
    if field == "incident_date":
        return h >= 1 or v >= 1  # the only column of dates that is not a birth date
    if field in ("record_id", "age"):
        return h >= 1 or (h > 0 and v >= 0.8)
    return h > 0  # yes/no fields look alike: only the header tells them apart


def guess_columns(
    header: list[str],
    distinct: Mapping[str, Mapping[str, int]],
    guesser: Guesser,
    *,
    rows: int,
    max_distinct: int,
) -> dict[str, ColumnGuess]:
    """Field -> the column that most likely holds it, from headers and values together."""
    candidates: list[tuple[float, int, str, ColumnGuess]] = []  # score, field order, field
    order = {f: i for i, f in enumerate(HEADER_HINTS)}
    for column in header:
        words = tokens(column)
        if any(w.startswith(b) for w in words for b in BIRTH_HINTS):
            continue
        values = distinct.get(column, {})
        capped = len(values) > max_distinct
        for field in HEADER_HINTS:
            h = _header_score(field, words)
            if field in CATEGORICAL_FIELDS:
                v = guesser.value_score(field, values)
            else:
                v = _other_value_score(field, values, rows, capped)
            if _qualifies(field, h, v):
                candidates.append((h + v, order[field], field, ColumnGuess(column, h, v)))
    chosen: dict[str, ColumnGuess] = {}
    used: set[str] = set()
    for _, _, field, guess in sorted(candidates, key=lambda c: (-c[0], c[1])):
        if field not in chosen and guess.column not in used:
            chosen[field] = guess
            used.add(guess.column)
    return chosen


def birth_column(header: list[str]) -> str | None:
    """The first column whose header says it holds a birth date."""
    for column in header:
        if any(w.startswith(b) for w in tokens(column) for b in BIRTH_HINTS):
            return column
    return None
