"""Five member states that published their 2024 national summaries, and a round among them."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from vanfed import Node, testing
from vanfed.testing import NOW, Member, Trust, members

COUNTRIES = ("KHM", "LAO", "MMR", "THA", "VNM")


@pytest.fixture(scope="session")
def _published(tmp_path_factory: pytest.TempPathFactory, trust: Trust) -> dict[str, Member]:
    return members(tmp_path_factory.mktemp("members"), trust, COUNTRIES, period="2024", now=NOW)


@pytest.fixture
def published(_published: dict[str, Member], tmp_path: Path) -> dict[str, Member]:
    """The five members, each with a copy of its ledger: a test's rounds are charged to the
    test's own privacy budgets."""
    out = {}
    for c, m in _published.items():
        copy = tmp_path / "ledgers" / c
        shutil.copytree(m.ledger.folder, copy)
        out[c] = replace(m, node=Node(c, ledger=copy))
    return out


@pytest.fixture
def fresh(tmp_path: Path, trust: Trust) -> dict[str, Member]:
    """Members of one's own (their ledgers, and so their privacy budgets, are the test's)."""
    return members(tmp_path, trust, ("KHM", "LAO", "THA"), period="2024", now=NOW)


def announce(
    trust: Trust, group: dict[str, Member], *, seed: str = "round", hours: int = 24, **kw: object
) -> bytes:
    """A round among ``group`` over the default regional tables, announced at NOW."""
    return testing.announce(trust, group, now=NOW, seed=seed, hours=hours, **kw)
