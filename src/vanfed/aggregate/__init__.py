"""Selecting current national summaries and merging them into regional statistics."""

from vanfed.aggregate._merge import NATIONAL_ONLY, merge
from vanfed.aggregate._select import Selected, select_inputs

__all__ = ["NATIONAL_ONLY", "Selected", "merge", "select_inputs"]
