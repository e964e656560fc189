"""CSV that is safe to open in a spreadsheet: every CSV vanfed writes goes through here.

A cell whose text starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a
formula to Excel, LibreOffice Calc and Google Sheets, which can run commands or send data
away when the file is opened (OWASP "CSV injection"). Values from exports and from other
countries' publications reach the rejects file and the regional table, so :func:`cell`
prefixes such a text with an apostrophe (OWASP's mitigation; the spreadsheet shows the text
as typed). Plain numbers such as ``-3`` are left alone: they are not formulas. Text that is
not valid Unicode (lone surrogates from a damaged export) is written as U+FFFD.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import IO

__all__ = ["FORMULA_START", "SafeWriter", "cell"]

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")
_SURROGATE = re.compile("[\ud800-\udfff]")


def cell(value: object) -> str:
    """The text of one CSV cell, neutralised if a spreadsheet would run it as a formula."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_START) and not _NUMBER.fullmatch(text):
        text = "'" + text
    return _SURROGATE.sub("\ufffd", text)


class SafeWriter:
    """``csv.writer`` whose every cell goes through :func:`cell`."""

    def __init__(self, fh: IO[str], *, delimiter: str = ",", lineterminator: str = "\r\n") -> None:
        self._writer = csv.writer(fh, delimiter=delimiter, lineterminator=lineterminator)

    def writerow(self, row: Iterable[object]) -> None:
        self._writer.writerow([cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)
