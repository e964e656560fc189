"""Shared fixtures: a fixed clock, seeded keys, a synthetic federation."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from random import Random

import pytest
from hypothesis import settings

from vanfed.signing import KeyPair, init_registry, key_entry, sign_registry, verify_registry

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
TODAY = NOW.date()

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


def seeded(label: str) -> KeyPair:
    return KeyPair.from_seed(Random(label).randbytes(32))


class Trust:
    """Keys and a registry for tests: 3 roots (threshold 2), a coordinator, five nodes."""

    def __init__(self) -> None:
        self.roots = [seeded(f"root{i}") for i in range(3)]
        self.coordinator = seeded("coordinator")
        self.nodes = {c: seeded(f"node-{c}") for c in ("KHM", "LAO", "MMR", "THA", "VNM")}
        entries = [key_entry(self.coordinator.public, "coordinator", now=NOW)]
        entries += [key_entry(k.public, "node", now=NOW, country=c) for c, k in self.nodes.items()]
        self.registry = init_registry(
            [r.public for r in self.roots],
            threshold=2,
            now=NOW - dt.timedelta(days=1),
            keys=entries,
        )
        self.registry_bytes = sign_registry(self.registry, self.roots[:2])
        verify_registry(self.registry_bytes, now=NOW)


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
