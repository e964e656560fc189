"""Seeded synthetic exports for an ASEAN federation (no real record is ever used)."""

from vanfed.synthetic._generate import (
    SyntheticExport,
    generate_records,
    write_export,
    write_large_csv,
)
from vanfed.synthetic._profiles import PROFILES, ExportShape, Profile

__all__ = [
    "PROFILES",
    "ExportShape",
    "Profile",
    "SyntheticExport",
    "generate_records",
    "write_export",
    "write_large_csv",
]
