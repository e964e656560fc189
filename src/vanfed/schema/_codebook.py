"""Codebook v1: the shared vocabulary of dimensions, codes, labels and HXL tags.

The codebook is versioned data (``data/codebook_v1.json``), loaded into frozen models. Its
digest (SHA-256 of its RFC 8785 form) is cited by every summary, so two nodes agree on what
a code means only if they cite the same digest.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib import resources

from pydantic import Field, model_validator

from vanfed.errors import InputError
from vanfed.schema._base import Model

__all__ = [
    "TOTAL",
    "UNKNOWN",
    "Code",
    "Codebook",
    "Country",
    "Dimension",
    "load_codebook",
]

TOTAL = "_T"
UNKNOWN = "_U"


class Code(Model):
    """One code of a dimension; ``children`` makes it a subtotal of other codes."""

    id: str = Field(min_length=1, max_length=64)
    label: str
    hxl: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    children: tuple[str, ...] = ()


class Dimension(Model):
    """A classification variable with flat or hierarchical codes (never ``_T``)."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    codes: tuple[Code, ...]
    group: str | None = None
    bands: dict[str, tuple[int, int]] | None = None

    @model_validator(mode="after")
    def _check(self) -> Dimension:
        ids = [c.id for c in self.codes]
        if len(set(ids)) != len(ids) or TOTAL in ids:
            raise ValueError(f"dimension {self.id}: codes must be unique and exclude _T")
        seen: set[str] = set()
        for code in self.codes:
            for child in code.children:
                if child not in seen:
                    raise ValueError(
                        f"dimension {self.id}: child {child!r} of {code.id!r} must come first"
                    )
            seen.add(code.id)
        return self

    def leaves(self) -> tuple[str, ...]:
        """Codes that records carry (no children)."""
        return tuple(c.id for c in self.codes if not c.children)

    def top(self) -> tuple[str, ...]:
        """Codes that are nobody's child: they add up to ``_T``."""
        children = {ch for c in self.codes for ch in c.children}
        return tuple(c.id for c in self.codes if c.id not in children)

    def code(self, code_id: str) -> Code:
        """A code by id; InputError for an unknown one."""
        for c in self.codes:
            if c.id == code_id:
                return c
        raise InputError(f"dimension {self.id}: unknown code {code_id!r}")

    def level(self, name: str) -> tuple[str, ...]:
        """Codes of a publication level: ``top`` (groups) or ``full`` (all, with subtotals)."""
        if name == "top":
            return self.top()
        if name == "full":
            return tuple(c.id for c in self.codes)
        raise InputError(f"dimension {self.id}: unknown level {name!r} (use 'top' or 'full')")


class Country(Model):
    """A member state and its admin-1 units (ISO 3166-2 plus overrides)."""

    id: str = Field(pattern=r"^[A-Z]{3}$")
    label: str
    hxl: str
    admin1: tuple[Code, ...]
    admin1_aliases: dict[str, str] = {}
    admin1_source: str


class Codebook(Model):
    """The vocabulary that national tables and regional reports are written in."""

    id: str
    version: str
    title: str
    special_codes: dict[str, str]
    countries: tuple[Country, ...]
    dimensions: tuple[Dimension, ...]

    @property
    def digest(self) -> str:
        """``sha256:<hex>`` of the codebook's canonical JSON."""
        return "sha256:" + hashlib.sha256(self.canonical_bytes()).hexdigest()

    def country(self, iso3: str) -> Country:
        """A member state by ISO3; InputError for one the codebook lacks."""
        for c in self.countries:
            if c.id == iso3:
                return c
        known = ", ".join(c.id for c in self.countries)
        raise InputError(f"country {iso3!r} is not in codebook {self.id} v{self.version} ({known})")

    def dimension(self, dim_id: str, country: str | None = None) -> Dimension:
        """A dimension by id; ``admin1`` and ``country`` are built from the country list."""
        if dim_id == "admin1":
            if country is None:
                raise InputError("dimension 'admin1' needs a country")
            c = self.country(country)
            return Dimension(id="admin1", label="Admin-1 unit", codes=(*c.admin1, _unknown()))
        if dim_id == "country":
            codes = tuple(Code(id=c.id, label=c.label, hxl=c.hxl) for c in self.countries)
            return Dimension(id="country", label="Country", codes=codes)
        for d in self.dimensions:
            if d.id == dim_id:
                return d
        known = ", ".join(["admin1", *(d.id for d in self.dimensions)])
        raise InputError(f"codebook has no dimension {dim_id!r} (known: {known})")


def _unknown() -> Code:
    return Code(id=UNKNOWN, label="Unknown", hxl="unknown")


@cache
def load_codebook(version: str = "1") -> Codebook:
    """Load a codebook version shipped inside the package."""
    name = f"codebook_v{version}.json"
    try:
        text = resources.files("vanfed.schema").joinpath("data", name).read_text("utf-8")
    except FileNotFoundError as exc:
        raise InputError(f"codebook version {version!r} is not shipped with vanfed") from exc
    return Codebook.model_validate(json.loads(text))
