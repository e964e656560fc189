"""Seeded synthetic exports for an ASEAN federation (no real record is ever used)."""

from vanfed.synthetic._generate import (
    SyntheticExport,
    generate_records,
    write_export,
    write_large_csv,
)
from vanfed.synthetic._profiles import ALL_PROFILES, PROFILES, ExportShape, Profile
from vanfed.synthetic._reshape import (
    RESHAPES,
    DraftScore,
    Reshape,
    ReshapedExport,
    reshape_export,
    score_draft,
)

__all__ = [
    "ALL_PROFILES",
    "PROFILES",
    "RESHAPES",
    "DraftScore",
    "ExportShape",
    "Profile",
    "Reshape",
    "ReshapedExport",
    "SyntheticExport",
    "generate_records",
    "reshape_export",
    "score_draft",
    "write_export",
    "write_large_csv",
]
