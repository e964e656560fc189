"""The node's settings from its arguments, and its check of a summary against the ledger."""

from __future__ import annotations

from typing import Literal

from vanfed._ledger import Ledger
from vanfed.aggregate import Refusal, check_history
from vanfed.anonymize import ProtectionSettings
from vanfed.errors import InputError, ProtectionError
from vanfed.schema import Codebook, Summary

__all__ = ["METHODS", "check_against", "node_settings"]

METHODS = ("heuristic", "optimal", "ckm")


def node_settings(
    settings: ProtectionSettings | None,
    k: int,
    s: int | None,
    protect_zeros: bool,
    method: str | None,
) -> ProtectionSettings:
    """The suppression settings: ``settings`` as given, or built from ``k``, ``s``,
    ``protect_zeros`` and a suppression ``method``."""
    if method is not None and method not in METHODS:
        raise InputError(f"method {method!r}: use one of {', '.join(METHODS)}")
    if settings is not None:
        if method in ("heuristic", "optimal") and method != settings.method:
            raise InputError(
                f"method {method!r}: the settings say {settings.method!r}; give one of the two"
            )
        return settings
    if k < 2:
        raise InputError(f"k = {k}: the threshold must be at least 2")
    if s is not None and s < 1:
        raise InputError(f"s = {s}: the protection level must be at least 1")
    suppression: Literal["heuristic", "optimal"] = "optimal" if method == "optimal" else "heuristic"
    return ProtectionSettings(k=k, s=s, protect_zeros=protect_zeros, method=suppression)


def check_against(summary: Summary, ledger: Ledger, codebook: Codebook) -> None:
    """Refuse a summary that the ledger's publications would expose.

    Raises:
        ProtectionError: reason ``history_disclosure``.
    """
    earlier = [e.summary for e in ledger.entries(summary.country) if e.summary != summary]
    try:
        check_history(summary, earlier, codebook)
    except Refusal as exc:
        raise ProtectionError(str(exc), reason=exc.reason) from exc
