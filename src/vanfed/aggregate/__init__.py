"""Selecting current national summaries and merging them into regional statistics."""

from vanfed.aggregate._checks import (
    DOOR_REASONS,
    Refusal,
    check_history,
    check_summary,
    check_window,
)
from vanfed.aggregate._merge import NATIONAL_ONLY, merge
from vanfed.aggregate._select import Selected, select_inputs

__all__ = [
    "DOOR_REASONS",
    "NATIONAL_ONLY",
    "Refusal",
    "Selected",
    "check_history",
    "check_summary",
    "check_window",
    "merge",
    "select_inputs",
]
