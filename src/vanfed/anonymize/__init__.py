"""Disclosure control: count cubes, threshold rule, secondary suppression, interval attack."""

from vanfed.anonymize._audit import AuditResult, interval_attack, judge
from vanfed.anonymize._cube import AxisSpec, Cube, TableSpec, build_cube
from vanfed.anonymize._suppress import primary_cells, suppress
from vanfed.anonymize._system import LinkedSystem, build_system
from vanfed.anonymize._tables import (
    DEFAULT_TABLES,
    Protected,
    intervals,
    protect,
    published_cubes,
    reaudit,
    select_period,
)

__all__ = [
    "DEFAULT_TABLES",
    "AuditResult",
    "AxisSpec",
    "Cube",
    "LinkedSystem",
    "Protected",
    "TableSpec",
    "build_cube",
    "build_system",
    "interval_attack",
    "intervals",
    "judge",
    "primary_cells",
    "protect",
    "published_cubes",
    "reaudit",
    "select_period",
    "suppress",
]
