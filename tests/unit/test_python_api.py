"""The Python API a national IT team scripts against: paths or models alike, clear errors."""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
from pathlib import Path
from random import Random

import pytest

from vanfed import Coordinator, Node
from vanfed.errors import InputError
from vanfed.schema import expand_periods, load_mapping
from vanfed.signing import verification_result
from vanfed.synthetic import write_export
from vanfed.testing import NOW, Trust

DOCUMENTED = (
    "vanfed",
    "vanfed.ingest",
    "vanfed.schema",
    "vanfed.signing",
    "vanfed.synthetic",
    "vanfed.anonymize",
)


def _undocumented(module: str) -> list[str]:
    mod = importlib.import_module(module)
    missing = []
    for name in mod.__all__:
        obj = getattr(mod, name)
        if inspect.isfunction(obj) and not obj.__doc__:
            missing.append(name)
        if not inspect.isclass(obj):
            continue
        if not obj.__doc__:
            missing.append(name)
        for attr, value in vars(obj).items():
            fn = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
            fn = fn.fget if isinstance(fn, property) else fn
            if not attr.startswith("_") and inspect.isfunction(fn) and not fn.__doc__:
                missing.append(f"{name}.{attr}")
    return missing


@pytest.mark.parametrize("module", DOCUMENTED)
def test_every_public_function_and_method_has_a_docstring(module: str) -> None:
    assert _undocumented(module) == []


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory):
    return write_export("MMR", tmp_path_factory.mktemp("mmr"), seed=2)


def test_mapping_as_path_or_model_gives_the_same_records(export) -> None:
    node = Node("MMR")
    a = node.ingest(export.path, load_mapping(export.mapping_path), today=NOW.date())
    b = node.ingest(export.path, export.mapping_path, today=NOW.date())
    c = node.ingest(export.path, str(export.mapping_path), today=NOW.date())
    assert a.quality == b.quality == c.quality
    for name in a.fields:
        assert (a.fields[name] == b.fields[name]).all() and (a.fields[name] == c.fields[name]).all()


@pytest.mark.parametrize("period", ["2024-Q5", "24", "2024Q1", "1850", "2024-13"])
def test_bad_periods_are_refused_with_a_clear_error(export, period: str) -> None:
    node = Node("MMR")
    records = node.ingest(export.path, export.mapping_path, today=NOW.date())
    with pytest.raises(InputError, match=r"is not YYYY or YYYY-Qn \(e\.g\. '2024' or '2024-Q3'"):
        node.summarize(records, period=period, now=NOW)


@pytest.mark.parametrize("period", ["2027", "2026-Q4..2027-Q1"])
def test_a_period_that_has_not_begun_is_refused(export, period: str) -> None:
    # Regression: summarize --zero-return --period 2030 published (and sign signed) a zero
    # return for a year that had not begun.
    node = Node("MMR")
    records = node.ingest(export.path, export.mapping_path, today=NOW.date())
    periods = expand_periods(period)
    with pytest.raises(InputError, match=r"period 2027(-Q1)?: begins 2027-01-01, after now"):
        node.summarize_many(records, periods=periods, now=NOW, allow_empty=True)
    with pytest.raises(InputError, match="after now"):
        node.plan(records, periods=periods, now=NOW)


def test_naive_datetimes_are_refused(export, tmp_path: Path) -> None:
    node = Node("MMR")
    records = node.ingest(export.path, export.mapping_path, today=NOW.date())
    naive = dt.datetime(2025, 1, 1, 12, 0)
    with pytest.raises(InputError, match="has no time zone; pass an aware datetime"):
        node.summarize(records, period="2024", now=naive)
    trust = Trust()
    with pytest.raises(InputError, match="has no time zone"):
        Coordinator(trust.registry, trust.coordinator).merge(tmp_path, period="2024", now=naive)


def test_sign_takes_a_summary_or_its_file_alike(export, tmp_path: Path) -> None:
    trust = Trust()
    node = Node("MMR")
    records = node.ingest(export.path, export.mapping_path, today=NOW.date())
    summary = node.summarize(records, period="2024", now=NOW, rng=Random(1))
    (tmp_path / "s.json").write_bytes(summary.canonical_bytes())
    from_model = node.sign(summary, trust.nodes["MMR"])
    from_file = node.sign(tmp_path / "s.json", trust.nodes["MMR"])
    assert from_model == from_file
    assert verification_result(from_file, trust.registry, now=NOW).ok
    (tmp_path / "bad.json").write_text('{"country": "MMR"}')
    with pytest.raises(InputError, match=r"bad\.json: not a summary"):
        node.sign(tmp_path / "bad.json", trust.nodes["MMR"])
