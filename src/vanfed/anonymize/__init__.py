"""Disclosure control: count cubes, threshold rule, secondary suppression, interval attack;
or the cell key method (record keys, ptables, perturbed counts)."""

from vanfed.anonymize._audit import AuditResult, interval_attack, judge
from vanfed.anonymize._ckm import Perturbed, cell_keys, perturb
from vanfed.anonymize._cube import AxisSpec, Cube, TableSpec, build_cube, published_cubes
from vanfed.anonymize._history import (
    Finding,
    Publication,
    audit_history,
    from_summary,
    protect_with_history,
)
from vanfed.anonymize._optimal import OptimalResult, optimal_suppress
from vanfed.anonymize._ptable import PTable, build_ptable
from vanfed.anonymize._record_keys import RecordKeys
from vanfed.anonymize._release import release_secondaries
from vanfed.anonymize._report import (
    CellStatus,
    ProtectionReport,
    protection_report,
    render_protection_report,
)
from vanfed.anonymize._settings import LossModel, ProtectionSettings, loss_weights, public_cells
from vanfed.anonymize._suppress import primary_cells, suppress
from vanfed.anonymize._system import LinkedSystem, build_system
from vanfed.anonymize._tables import (
    DEFAULT_TABLES,
    Protected,
    Solve,
    intervals,
    protect,
    protect_cubes,
    reaudit,
    select_period,
)

__all__ = [
    "DEFAULT_TABLES",
    "AuditResult",
    "AxisSpec",
    "CellStatus",
    "Cube",
    "Finding",
    "LinkedSystem",
    "LossModel",
    "OptimalResult",
    "PTable",
    "Perturbed",
    "Protected",
    "ProtectionReport",
    "ProtectionSettings",
    "Publication",
    "RecordKeys",
    "Solve",
    "TableSpec",
    "audit_history",
    "build_cube",
    "build_ptable",
    "build_system",
    "cell_keys",
    "from_summary",
    "interval_attack",
    "intervals",
    "judge",
    "loss_weights",
    "optimal_suppress",
    "perturb",
    "primary_cells",
    "protect",
    "protect_cubes",
    "protect_with_history",
    "protection_report",
    "public_cells",
    "published_cubes",
    "reaudit",
    "release_secondaries",
    "render_protection_report",
    "select_period",
    "suppress",
]
