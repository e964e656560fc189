"""Shared fixtures: a fixed clock, seeded keys, a synthetic federation."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from random import Random

import pytest
from hypothesis import settings

from vanfed.schema import (
    AuditRecord,
    CodebookRef,
    Protection,
    PublishedAxis,
    PublishedTable,
    Summary,
    load_codebook,
)
from vanfed.signing import (
    EncryptionKeyPair,
    KeyPair,
    init_registry,
    key_entry,
    pin_trust_root,
    sign_registry,
    verify_registry,
)

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
    """Keys and a registry for tests: 3 roots (threshold 2), a coordinator with its log and
    encryption keys, and nodes for the ten ASEAN member states."""

    COUNTRIES = ("BRN", "IDN", "KHM", "LAO", "MMR", "MYS", "PHL", "SGP", "THA", "VNM")

    def __init__(self) -> None:
        self.roots = [seeded(f"root{i}") for i in range(3)]
        self.coordinator = seeded("coordinator")
        self.log = seeded("log")
        self.encryption = EncryptionKeyPair.from_seed(Random("encryption").randbytes(32))
        self.nodes = {c: seeded(f"node-{c}") for c in self.COUNTRIES}
        entries = [
            key_entry(self.coordinator.public, "coordinator", now=NOW),
            key_entry(self.log.public, "log", now=NOW),
            key_entry(self.encryption.public, "encryption", now=NOW),
        ]
        entries += [key_entry(k.public, "node", now=NOW, country=c) for c, k in self.nodes.items()]
        self.registry = init_registry(
            [r.public for r in self.roots],
            threshold=2,
            now=NOW - dt.timedelta(days=1),
            keys=entries,
        )
        self.registry_bytes = sign_registry(self.registry, self.roots[:2])
        verify_registry(self.registry_bytes, now=NOW)


def small_summary(
    country: str, period: str, *, revision: int = 1, supersedes: str | None = None, seed: int = 0
) -> Summary:
    """A valid, tiny summary for transport tests (not produced by protection: the tables are
    a fixed, safe pattern; verification does not rerun the audit)."""
    cb = load_codebook()
    rng = Random(f"{country}{period}{seed}")
    # each revision adds k records per cell: a change the history audit lets through
    a, b = rng.randint(5, 40) + 5 * (revision - 1), rng.randint(5, 40) + 5 * (revision - 1)
    rng = Random(f"{country}{period}{revision}{seed}")
    table = PublishedTable(
        name="casualties_by_sex",
        axes=(PublishedAxis(dim="sex", codes=("f", "m", "_U", "_T")),),
        values=(a, b, 0, a + b),
    )
    return Summary(
        country=country,
        period=period,
        revision=revision,
        supersedes=supersedes,
        report_id=f"{rng.getrandbits(128):032x}",
        created_at="2026-11-22T11:00:00Z",
        codebook=CodebookRef(id=cb.id, version=cb.version, digest=cb.digest),
        protection=Protection(
            k=5, s=5, audit=AuditRecord(passed=True, published_cells=4, suppressed_cells=0)
        ),
        software="vanfed tests",
        tables=(table,),
    )


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


def pin(registry_bytes: bytes) -> None:
    """Pin a registry's roots as the test's trust root (what a user does once)."""
    reg = verify_registry(registry_bytes, now=NOW)
    path = Path(os.environ["VANFED_TRUST_ROOT"])
    path.write_bytes(pin_trust_root(reg).canonical_bytes())
