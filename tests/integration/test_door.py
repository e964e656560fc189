"""The coordinator's door re-audits what nodes sign: lying nodes over real HTTP.

Each case is a summary a correct node would never sign, signed with the country's real key
(so signature and authority checks pass) and sent to a real ``vanfed serve`` on 127.0.0.1.
Each must be refused with its stable reason code and HTTP 422, and must not reach the log;
the merge of the other countries goes on. The same envelopes dropped straight into an inbox
(as if accepted by older software) are skipped by the merge with the same reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from vanfed import Ledger, Node
from vanfed.aggregate import select_inputs
from vanfed.anonymize import Protected, primary_cells, protect
from vanfed.schema import PublishedAxis, PublishedTable, Summary, load_mapping
from vanfed.signing import envelope_digest, sign_summary
from vanfed.synthetic import write_export
from vanfed.testing import NOW, Service, Trust, small_summary
from vanfed.transport import fetch_publications

JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, trust: Trust) -> Iterator[Service]:
    with Service(tmp_path_factory.mktemp("door"), trust, body_deadline=5.0) as svc:
        yield svc


@pytest.fixture(scope="module")
def honest(tmp_path_factory: pytest.TempPathFactory) -> tuple[Node, Protected, Summary]:
    folder = tmp_path_factory.mktemp("lao")
    ex = write_export("LAO", folder, years=range(2024, 2025), seed=7)
    node = Node("LAO")
    rec = node.ingest(ex.path, load_mapping(ex.mapping_path), today=NOW.date())
    protected = protect(rec, node.codebook, period="2024")
    return node, protected, node.summarize(rec, period="2024", now=NOW)


def with_tables(summary: Summary, tables: tuple[PublishedTable, ...], **kw) -> Summary:
    return Summary.model_validate({**summary.model_dump(), "tables": tables, **kw})


def replace_table(summary: Summary, name: str, **changes) -> Summary:
    tables = tuple(t.model_copy(update=changes) if t.name == name else t for t in summary.tables)
    return with_tables(summary, tables)


def lie(case: str, honest: tuple[Node, Protected, Summary]) -> Summary:
    _, protected, good = honest
    if case == "only_primary_cells_hidden":
        values = protected.system.gather(protected.cubes)
        primary = primary_cells(values, 5)
        tables = Protected(protected.cubes, protected.system, primary, protected.audit).published()
        return with_tables(good, tables)
    if case == "not_additive":
        t = good.table("survivors_service_medical")
        vals = list(t.values)
        i = next(i for i, v in enumerate(vals[:-1]) if v is not None and v >= 5)
        vals[i] += 1  # yes + no + unknown ≠ total
        return replace_table(good, t.name, values=tuple(vals))
    if case == "linked_cell_with_two_values":
        t = good.table("casualties_by_device")
        vals = list(t.values)
        vals[-1] = (vals[-1] or 0) + 7  # the grand total, also published by other tables
        return replace_table(good, t.name, values=tuple(vals))
    if case == "infeasible":
        table = PublishedTable(
            name="casualties_by_sex",
            axes=(PublishedAxis(dim="sex", codes=("f", "m", "_U", "_T")),),
            values=(8, 6, None, 10),  # _U would be -4
        )
        return with_tables(good, (table,))
    if case == "unknown_filter_code":
        t = good.table("survivors_service_medical")
        return replace_table(good, t.name, filter={"outcome": "zombie"})
    if case == "oversized_table":
        codes = (*tuple(f"c{i}" for i in range(23)), "_T")
        table = PublishedTable(
            name="huge",
            axes=tuple(PublishedAxis(dim=d, codes=codes) for d in ("sex", "device", "outcome")),
            values=(None,) * 24**3,  # 13,824 cells, all suppressed
        )
        return with_tables(good, (*good.tables, table))
    raise AssertionError(case)


CASES = [
    ("only_primary_cells_hidden", "protection_failed"),
    ("not_additive", "not_additive"),
    ("linked_cell_with_two_values", "linked_mismatch"),
    ("infeasible", "infeasible"),
    ("unknown_filter_code", "unknown_code"),
    ("oversized_table", "table_too_large"),
]


@pytest.mark.parametrize(("case", "code"), CASES)
def test_lying_node_refused_over_http(
    service: Service, trust: Trust, honest, case: str, code: str
) -> None:
    summary = lie(case, honest)
    body = sign_summary(summary, trust.nodes["LAO"])
    before = httpx.get(f"{service.url}/v1/status").json()["log_size"]
    resp = httpx.post(f"{service.url}/v1/submissions", content=body, headers=JSON, timeout=60)
    # (an oversized table is refused on its size by the registry policy's cap, before any LP:
    # its code is table_too_large, not a verdict of the interval attack)
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"] == code
    assert httpx.get(f"{service.url}/v1/status").json()["log_size"] == before  # not logged


def test_honest_node_still_accepted(service: Service, trust: Trust, honest) -> None:
    _, _, good = honest
    resp = httpx.post(
        f"{service.url}/v1/submissions",
        content=sign_summary(good, trust.nodes["LAO"]),
        headers=JSON,
        timeout=60,
    )
    assert resp.status_code == 201, resp.text


def test_revision_too_close_to_the_last_is_refused(service: Service, trust: Trust) -> None:
    r1 = small_summary("VNM", "2012")
    bump = r1.tables[0].model_copy(
        update={
            "values": (
                r1.tables[0].values[0] + 1,
                *r1.tables[0].values[1:3],
                r1.tables[0].values[3] + 1,
            )
        }
    )
    from vanfed.signing import envelope_digest

    env1 = sign_summary(r1, trust.nodes["VNM"])
    r2 = with_tables(r1, (bump,), revision=2, supersedes=envelope_digest(env1))
    assert (
        httpx.post(f"{service.url}/v1/submissions", content=env1, headers=JSON).status_code == 201
    )
    resp = httpx.post(
        f"{service.url}/v1/submissions",
        content=sign_summary(r2, trust.nodes["VNM"]),
        headers=JSON,
        timeout=60,
    )
    assert resp.status_code == 422 and resp.json()["error"] == "history_disclosure", resp.text
    assert "change" in resp.json()["message"]  # names the change that would come out


def test_merge_skips_what_slipped_in_and_goes_on(tmp_path: Path, trust: Trust, honest) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for country in ("KHM", "THA"):
        (inbox / f"{country}.json").write_bytes(
            sign_summary(small_summary(country, "2024"), trust.nodes[country])
        )
    for case, _ in CASES:
        (inbox / f"lao-{case}.json").write_bytes(
            sign_summary(lie(case, honest), trust.nodes["LAO"])
        )
    chosen, skipped = select_inputs(inbox, trust.registry, period="2024", now=NOW)
    assert sorted(c.summary.country for c in chosen) == ["KHM", "THA"]
    reasons = {s.file: s.reason for s in skipped}
    assert reasons == {f"lao-{case}.json": code for case, code in CASES}


def test_node_rebuilds_its_ledger_from_the_coordinator(
    service: Service, trust: Trust, honest, tmp_path: Path
) -> None:
    _, _, good = honest
    env = sign_summary(good, trust.nodes["LAO"])
    assert httpx.post(f"{service.url}/v1/submissions", content=env, headers=JSON).status_code in (
        200,
        201,
    )
    book = Ledger(tmp_path / "ledger")
    for data in fetch_publications(service.url, "LAO", trust.registry):
        book.add(data)
    assert [e.digest for e in book.entries("LAO")] == [envelope_digest(env)]
    # a node protecting its next revision now sees what it published before
    node = Node("LAO", ledger=book)
    assert node.ledger is not None and node.ledger.latest("LAO", "2024") is not None
