"""Hypothesis: random publication histories never give the independent attacker a person.

A node publishes a random sequence of periods (the year and its quarters) while records
arrive late and are withdrawn between publications; every publication goes through the
real path (protect jointly with the ledger, sign, keep), and a refusal is allowed. The
attacker of ``tests/attacker.py`` then gets everything that was published.
"""

from __future__ import annotations

import datetime as dt
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.attacker import Attacker

from vanfed import Node
from vanfed.anonymize import AxisSpec, TableSpec, select_period
from vanfed.errors import InputError, ProtectionError
from vanfed.ingest import CodedRecords
from vanfed.schema import load_mapping
from vanfed.synthetic import write_export
from vanfed.testing import NOW, Trust

TABLES = (
    TableSpec(name="by_sex", axes=(AxisSpec(dim="sex"), AxisSpec(dim="outcome"))),
    TableSpec(name="by_age", axes=(AxisSpec(dim="age"), AxisSpec(dim="outcome"))),
)
PERIODS = ["2024", "2024-Q1", "2024-Q2", "2024-Q3", "2024-Q4"]
EXAMPLES = 40 if os.environ.get("VANFED_SLOW") else 4


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> CodedRecords:
    ex = write_export("LAO", tmp_path_factory.mktemp("lao"), years=range(2024, 2025), seed=5)
    rec = Node("LAO").ingest(ex.path, load_mapping(ex.mapping_path), today=NOW.date())
    keep = select_period(rec, "2024")
    return CodedRecords(
        rec.country, {f: v[keep] for f, v in rec.fields.items()}, rec.codes, rec.quality, ""
    )


steps = st.lists(st.tuples(st.sampled_from(PERIODS), st.integers(-3, 8)), min_size=2, max_size=4)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(steps=steps, seed=st.integers(0, 2**16))
def test_random_histories_do_not_disclose(
    pool: CodedRecords, trust: Trust, tmp_path_factory, steps, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    known = rng.random(len(pool)) < 0.7
    node = Node("LAO", tables=TABLES, ledger=tmp_path_factory.mktemp("ledger"))
    published = []
    clock = NOW - dt.timedelta(days=100)
    for period, delta in steps:
        if delta > 0:  # late records arrive
            arriving = rng.permutation(np.flatnonzero(~known))[:delta]
            known[arriving] = True
        else:  # corrections withdraw records
            known[rng.permutation(np.flatnonzero(known))[:-delta]] = False
        clock += dt.timedelta(days=1)
        records = CodedRecords(
            pool.country, {f: v[known] for f, v in pool.fields.items()}, pool.codes, pool.quality
        )
        try:
            summary = node.summarize(records, period=period, now=clock, allow_empty=True)
        except ProtectionError as exc:
            assert exc.reason == "history_disclosure"
            continue
        except InputError:
            continue
        node.sign(summary, trust.nodes["LAO"])
        published.append(summary)
    if len(published) >= 2:
        assert Attacker(published).exposures(k=5, s=5) == []
