"""``vanfed mapping init``: draft a mapping from an export's headers and distinct values.

Guesses which column feeds which codebook field (by multilingual keywords in the header) and
which code each distinct value means (by labels and common synonyms in the region's
languages). Every guess is written into the draft and listed under ``review`` so a person
checks it; values it cannot place are left mapped to ``"?"``, which the loader refuses until
someone decides.
"""

from __future__ import annotations

import json

from vanfed.ingest._guess import Guesser, birth_column, date_format, guess_columns
from vanfed.ingest._sources import Source, open_source, source_name
from vanfed.schema import CATEGORICAL_FIELDS, Codebook, SourceOptions, load_codebook

__all__ = ["scaffold_mapping"]

SAMPLE_ROWS = 200_000
MAX_DISTINCT = 200


def sample_values(path: Source) -> tuple[list[str], dict[str, dict[str, int]], int]:
    """Header, distinct values with counts per column (up to ``MAX_DISTINCT`` + 1), rows read."""
    distinct: dict[str, dict[str, int]] = {}
    header: list[str] = []
    seen = 0
    for chunk in open_source(path, SourceOptions()):
        header = header or list(chunk.columns)
        for name, arr in chunk.columns.items():
            counts = distinct.setdefault(name, {})
            if len(counts) <= MAX_DISTINCT:
                vc = arr.value_counts()
                for v, n in zip(vc.field(0).to_pylist(), vc.field(1).to_pylist(), strict=True):
                    counts[v] = counts.get(v, 0) + n
        seen += len(chunk)
        if seen >= SAMPLE_ROWS:
            break
    return header, distinct, seen


def scaffold_mapping(
    path: Source, *, country: str | None = None, codebook: Codebook | None = None
) -> str:
    """Draft mapping TOML for an export, with every guess listed for review.

    Args:
        path: the export (CSV, XLSX, JSON Lines or Parquet), a data frame or a
            :class:`~vanfed.ingest.SqlTable`; up to 200,000 rows are sampled.
        country: ISO3 of the node, needed to guess admin-1 codes.
        codebook: defaults to the shipped v1.

    Returns:
        TOML text that :func:`vanfed.schema.load_mapping` refuses until every ``"?"`` is
        replaced by a code.
    """
    cb = codebook or load_codebook()
    if country is not None:
        cb.country(country)
    header, distinct, seen = sample_values(path)
    guesser = Guesser(cb, country)
    columns = guess_columns(header, distinct, guesser, rows=seen, max_distinct=MAX_DISTINCT)
    birth = birth_column(header)
    lines = [
        f"# vanfed mapping drafted from {source_name(path)} ({seen} rows sampled).",
        "# Check every field listed under 'review', then replace each \"?\" with a code.",
        "mapping_version = 1",
        'codebook = "vanfed-asean/1"',
        "",
        "[source]",
        'format = "auto"',
        'encoding = "auto"',
        'delimiter = "auto"',
        "",
        f"# columns in the export: {', '.join(header)}",
    ]
    for field in ("record_id", "incident_date", "age", *CATEGORICAL_FIELDS):
        guess = columns.get(field)
        if field == "age" and guess is None and birth is not None:
            lines += [
                "",
                "[fields.age]",
                f"birth_date = {_q(birth)}",
                f'birth_date_format = "{date_format(distinct.get(birth, {}))}"',
                'review = ["age computed from the birth date and the incident date"]',
            ]
        elif guess is None:
            lines += ["", f"# [fields.{field}]  no column found; add one if the export has it"]
        else:
            values = distinct.get(guess.column, {})
            lines += ["", *_field_lines(field, guess.column, guess.why, values, guesser)]
    return "\n".join(lines) + "\n"


def _field_lines(
    field: str, column: str, why: str, values: dict[str, int], guesser: Guesser
) -> list[str]:
    lines = [f"[fields.{field}]", f"column = {_q(column)}"]
    review = [f"column {column!r} guessed from {why}"]
    if field == "incident_date":
        lines.append(f'format = "{date_format(values)}"')
        review.append("date format guessed from the values")
    if field not in CATEGORICAL_FIELDS:
        return [*lines, f"review = {_q_list(review)}"]
    if len(values) > MAX_DISTINCT:
        review.append(f"more than {MAX_DISTINCT} distinct values; only some listed")
    review.append("value codes guessed; '?' marks values to decide")
    lines += [f"review = {_q_list(review)}", f"[fields.{field}.values]"]
    labels = _labels(guesser, field)
    for value in sorted(values, key=lambda v: (-values[v], v)):
        if value.strip():
            code = guesser.code(field, value) or "?"
            note = f"  # {labels[code]}" if code in labels and labels[code] != value else ""
            lines.append(f"{_q(value)} = {_q(code)}{note}")
    return lines


def _labels(guesser: Guesser, field: str) -> dict[str, str]:
    if field == "admin1" and guesser.country is None:
        return {}
    dim = guesser.codebook.dimension(field, guesser.country)
    return {c.id: c.label for c in dim.codes}


def _q_list(items: list[str]) -> str:
    return json.dumps(items, ensure_ascii=False)


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)
