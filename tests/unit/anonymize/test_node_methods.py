"""``Node(method=...)``: suppression methods go into the settings, ``ckm`` to the noise."""

from __future__ import annotations

from pathlib import Path

import pytest

from vanfed import Node
from vanfed.anonymize import ProtectionSettings
from vanfed.errors import InputError


def test_suppression_method_goes_into_the_settings() -> None:
    node = Node("KHM", k=4, method="optimal")
    assert node.method == "optimal" and node.settings.method == "optimal"
    assert node.settings.k == 4
    assert Node("KHM").method == "heuristic"
    given = ProtectionSettings(k=6, method="optimal")
    assert Node("KHM", settings=given).method == "optimal"


def test_ckm_keeps_suppression_settings_apart(tmp_path: Path) -> None:
    node = Node("KHM", method="ckm", record_keys=tmp_path / "keys")
    assert node.method == "ckm" and node.settings.method == "heuristic"


def test_unknown_or_contradicting_method_is_refused() -> None:
    with pytest.raises(InputError, match="use one of heuristic, optimal, ckm"):
        Node("KHM", method="noise")
    with pytest.raises(InputError, match="the settings say 'optimal'"):
        Node("KHM", settings=ProtectionSettings(method="optimal"), method="heuristic")
