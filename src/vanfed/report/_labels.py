"""Human labels for reports, by language, read from ``schema/data/labels_v1.json``.

Translations are data beside the codebook (not inside it, so the codebook's digest does not
change when a label is reworded). English is the reference; a missing translation falls back
to English, then to the codebook's own label, so a report never shows a bare code.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from vanfed.errors import InputError
from vanfed.schema import TOTAL, UNKNOWN, Codebook

__all__ = ["LANGUAGES", "Labels", "load_labels"]

LANGUAGES = ("en", "km", "lo", "th", "vi")
_SUBJECT = {"#affected": "casualties", "#reached": "survivors"}


@cache
def _data() -> dict[str, Any]:
    text = resources.files("vanfed.schema").joinpath("data", "labels_v1.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


class Labels:
    """Labels in one language for one codebook."""

    def __init__(self, codebook: Codebook, lang: str = "en") -> None:
        if lang not in LANGUAGES:
            raise InputError(f"language {lang!r} is not available (use one of {LANGUAGES})")
        self.lang = lang
        self.codebook = codebook
        self._d = _data()

    def _pick(self, entry: dict[str, str] | None, fallback: str) -> str:
        if not entry:
            return fallback
        return entry.get(self.lang) or entry.get("en") or fallback

    def ui(self, key: str, **fmt: str) -> str:
        """A user-interface string (``KeyError`` for an unknown key: a bug, not input)."""
        text = self._d["ui"][key]
        out = str(text.get(self.lang) or text["en"])
        return out.format(**fmt) if fmt else out

    def language_name(self, lang: str) -> str:
        return str(self._d["languages"][lang])

    def country(self, iso3: str) -> str:
        """Official short name; ``_T`` is the region of reporting countries."""
        if iso3 == TOTAL:
            return self._pick(self._d["region"], "Region")
        fallback = next((c.label for c in self.codebook.countries if c.id == iso3), iso3)
        return self._pick(self._d["countries"].get(iso3), fallback)

    def dimension(self, dim: str) -> str:
        entry = self._d["dimensions"].get(dim)
        if entry is None and dim not in ("admin1", "country"):
            return self._pick(None, self.codebook.dimension(dim).label)
        return self._pick(entry, dim)

    def code(self, dim: str, code: str, country: str | None = None) -> str:
        """A code's label (``_T`` = Total, ``_U`` = Unknown, countries by name)."""
        if dim == "country":
            return self.country(code)
        if code in (TOTAL, UNKNOWN):
            return self._pick(self._d["special"][code], code)
        if dim == "admin1":
            if country is None:
                return code
            units = self.codebook.country(country).admin1
            return next((u.label for u in units if u.id == code), code)
        fallback = self.codebook.dimension(dim).code(code).label
        return self._pick(self._d["codes"].get(dim, {}).get(code), fallback)

    def table_title(self, hxl: str, dims: list[str]) -> str:
        """``Casualties by sex, age group and outcome`` from the table's tag and axes."""
        subject = self._pick(self._d["subjects"][_SUBJECT.get(hxl, "casualties")], "")
        names = [self.dimension(d) for d in dims]
        if self.lang in ("en", "vi"):  # "Casualties by sex, age group and outcome"
            names = [n[:1].lower() + n[1:] for n in names]
        joined = names[-1] if names else ""
        if len(names) > 1:
            joined = ", ".join(names[:-1]) + self.ui("and") + joined
        return self.ui("by", subject=subject, dims=joined)


def load_labels(codebook: Codebook, lang: str = "en") -> Labels:
    """Labels in ``lang`` (one of :data:`LANGUAGES`)."""
    return Labels(codebook, lang)
