"""Shared fixtures: a fixed clock, seeded keys, a synthetic federation."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import settings

from vanfed.testing import NOW, Trust, pin

settings.register_profile("ci", max_examples=40, deadline=None)
settings.register_profile("slow", max_examples=1000, deadline=None)
settings.load_profile("slow" if os.environ.get("VANFED_SLOW") else "ci")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("VANFED_SLOW"):
        return
    skip = pytest.mark.skip(reason="slow: set VANFED_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def trust() -> Trust:
    return Trust()


@pytest.fixture(scope="session")
def now() -> dt.datetime:
    return NOW


@pytest.fixture(scope="session")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo federation, run once for the session."""
    from vanfed._demo import run_demo

    out = tmp_path_factory.mktemp("federation")
    result = run_demo(out, now=NOW, seed=7)
    assert result.verdict is not None and result.verdict.ok, result.verdict
    return out


@pytest.fixture
def fed(federation: Path, tmp_path: Path) -> Path:
    """A copy of the demo federation for one test to change, its registry pinned as the trust
    root (some modules define their own ``fed``, which overrides this one there)."""
    d = tmp_path / "fed"
    shutil.copytree(federation, d)
    pin((d / "registry.dsse.json").read_bytes())
    return d


@pytest.fixture(autouse=True)
def _own_trust_root(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Each test keeps its own pinned trust root (never the user's ~/.config one); CLI
    subprocesses inherit it through VANFED_TRUST_ROOT."""
    path = tmp_path_factory.mktemp("trust") / "trust-root.json"
    monkeypatch.setenv("VANFED_TRUST_ROOT", str(path))
    # and its own node ledger: the CLI's default is ./vanfed-ledger in the working folder
    monkeypatch.setenv("VANFED_LEDGER", str(path.parent / "ledger"))
    return path
