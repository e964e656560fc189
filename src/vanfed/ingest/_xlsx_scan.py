"""What openpyxl's streaming reader cannot tell: which cells read empty but are not.

Two things make a worksheet cell read as empty although it holds (or stands for) a value:

* a **formula with no saved value** (workbooks written by scripts, or saved without
  recalculation): openpyxl's ``data_only`` reading gives ``None``;
* a cell **covered by merged cells**: only the top-left cell of a merged range holds the
  value, the others read as empty although a person sees the value across them.

Read as empty, either would become "unknown" or "missing" without a word. This module scans
the worksheet's XML (ECMA-376 Part 1 §18.3.1.4 ``c``, §18.3.1.40 ``f``, §18.3.1.55
``mergeCell``) and names the rows to reject, with the cell and the reason.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import IO
from xml.etree.ElementTree import iterparse

__all__ = ["suspect_rows"]

_HINT = re.compile(rb"<(?:\w+:)?(?:f|mergeCell)[\s>/]")  # any formula or merge at all?
_COORD = re.compile(r"([A-Z]{1,3})(\d+)")
_OVERLAP = 64


def suspect_rows(
    path: Path, member: str, width: int, header_row: int
) -> tuple[dict[int, str], dict[int, str]]:
    """(formula rows, merged rows): data row number -> why, for cells within ``width``.

    Cheap when the sheet has neither (one pass over the decompressed XML, no parsing).
    """
    with zipfile.ZipFile(path) as archive:
        with archive.open(member) as src:
            if not _mentions_any(src):
                return {}, {}
        with archive.open(member) as src:
            return _scan(src, width, header_row)


def _mentions_any(src: IO[bytes]) -> bool:
    tail = b""
    while block := src.read(1 << 20):
        if _HINT.search(tail + block):
            return True
        tail = block[-_OVERLAP:]
    return False


def _cell(coord: str) -> tuple[int, int] | None:
    m = _COORD.fullmatch(coord)
    if m is None:
        return None
    col = 0
    for ch in m.group(1):
        col = col * 26 + ord(ch) - 64
    return int(m.group(2)), col


def _scan(src: IO[bytes], width: int, header_row: int) -> tuple[dict[int, str], dict[int, str]]:
    formulas: dict[int, str] = {}
    merged: dict[int, str] = {}
    # Same parser openpyxl reads the sheet with; expat >= 2.4 caps entity expansion and
    # ElementTree never fetches external entities.
    for _event, el in iterparse(src):  # noqa: S314
        tag = el.tag.rsplit("}", 1)[-1]
        if tag == "c":
            has_formula = has_value = False
            text_result = el.get("t") == "str"  # a formula's saved text may be "" (§18.18.11)
            for child in el:
                name = child.tag.rsplit("}", 1)[-1]
                has_formula |= name == "f"
                has_value |= name == "v" and (text_result or bool(child.text))
            where = _cell(el.get("r", ""))
            if has_formula and not has_value and where and _in_data(where, width, header_row):
                formulas.setdefault(
                    where[0],
                    f"cell {el.get('r')} holds a formula with no saved value (recalculate "
                    "and save the workbook in a spreadsheet program, or export values)",
                )
            el.clear()
        elif tag == "row":
            el.clear()
        elif tag == "mergeCell":
            _merged(el.get("ref", ""), width, header_row, merged)
    return formulas, merged


def _in_data(where: tuple[int, int], width: int, header_row: int) -> bool:
    return where[0] > header_row and where[1] <= width


def _merged(ref: str, width: int, header_row: int, out: dict[int, str]) -> None:
    first, _, last = ref.partition(":")
    a, b = _cell(first), _cell(last or first)
    if a is None or b is None:
        return
    (r0, c0), (r1, c1) = a, b
    for row in range(max(r0, header_row + 1), r1 + 1):
        start = c0 + 1 if row == r0 else c0  # the top-left cell holds the value
        if start <= min(c1, width):
            out.setdefault(
                row,
                f"a cell in merged cells {ref} reads as empty, the value is only in {first} "
                "(unmerge the cells and fill in the value on every row)",
            )
