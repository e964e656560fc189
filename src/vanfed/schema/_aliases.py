"""Admin-1 aliases: common romanisations, local-script and former names of admin-1 units.

Versioned data (``data/admin1_aliases_v1.json``) kept apart from the codebook: aliases help a
person draft a mapping (``vanfed mapping init``) but do not change what a code means, so they
are not part of the codebook digest that summaries cite.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from vanfed.errors import InputError
from vanfed.schema._base import Model
from vanfed.schema._codebook import load_codebook

__all__ = ["Admin1Aliases", "load_admin1_aliases"]


class Admin1Aliases(Model):
    """Alias -> admin-1 code, per country (ISO 3166-1 alpha-3)."""

    id: str
    version: str
    about: str = ""
    countries: dict[str, dict[str, str]]

    def of(self, country: str) -> dict[str, str]:
        """The aliases of one country (empty if it has none)."""
        return self.countries.get(country, {})


@cache
def load_admin1_aliases(version: str = "1") -> Admin1Aliases:
    """Load the alias list shipped with the package, checked against codebook ``version``.

    Raises:
        InputError: the version is not shipped, or an alias names a code the codebook lacks.
    """
    name = f"admin1_aliases_v{version}.json"
    try:
        text = resources.files("vanfed.schema").joinpath("data", name).read_text("utf-8")
    except FileNotFoundError as exc:
        raise InputError(f"admin-1 aliases version {version!r} are not shipped") from exc
    aliases = Admin1Aliases.model_validate(json.loads(text))
    cb = load_codebook(version)
    for country, table in aliases.countries.items():
        codes = {c.id for c in cb.country(country).admin1}
        bad = sorted({code for code in table.values() if code not in codes})
        if bad:
            raise InputError(f"{name}: {country} aliases name unknown admin-1 codes {bad}")
    return aliases
