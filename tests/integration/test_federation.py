"""Whole flows: node → coordinator → auditor, against the synthetic ground truth."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import shutil
from pathlib import Path
from random import Random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vanfed import Coordinator, Node, audit
from vanfed.aggregate import merge, select_inputs
from vanfed.anonymize import interval_attack
from vanfed.schema import load_codebook, load_mapping
from vanfed.signing import revoke_key, sign_envelope
from vanfed.synthetic import PROFILES, write_export
from vanfed.testing import NOW, Trust

COUNTRIES = ("KHM", "LAO", "MMR", "THA", "VNM")


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory, trust: Trust):
    root = tmp_path_factory.mktemp("fed")
    inbox = root / "inbox"
    inbox.mkdir()
    truth = {}
    rng = Random(3)
    for c in COUNTRIES:
        ex = write_export(c, root / "exports", seed=21)
        node = Node(c)
        rec = node.ingest(ex.path, load_mapping(ex.mapping_path), today=NOW.date())
        summary = node.summarize(rec, period="2024", now=NOW, rng=rng)
        (inbox / f"{c}.dsse.json").write_bytes(node.sign(summary, trust.nodes[c]))
        truth[c] = ex.truth
    out = Coordinator(trust.registry, trust.coordinator).merge(
        inbox, period="2024", now=NOW, rng=rng
    )
    out.write(root / "regional")
    return root, inbox, out, truth


def _true_count(country: str, truth: dict, fixed: dict[str, str]) -> int:
    mask = truth["year"] == 2024
    exported = PROFILES[country].shape.columns
    for dim, code in fixed.items():
        if dim not in exported:  # a field the export lacks is unknown for every record
            mask &= code == "_U"
        elif dim == "age":
            ages = truth["age"]
            mask &= {"child": ages < 18, "adult": ages >= 18}.get(code, ages < 0)
        else:
            mask &= truth[dim] == code
    return int(mask.sum())


def test_exact_cells_are_true_sums_and_intervals_contain_them(fed) -> None:
    _, _, out, truth = fed
    checked = exact = 0
    for table in out.report.tables:
        codes = [a.codes for a in table.axes]
        for i, combo in enumerate(itertools.product(*codes)):
            fixed = dict(table.filter)
            fixed.update(
                {
                    a.dim: c
                    for a, c in zip(table.axes, combo, strict=True)
                    if c != "_T" and a.dim != "country"
                }
            )
            country = combo[0]
            true = sum(_true_count(c, truth[c], fixed) for c in COUNTRIES if country in ("_T", c))
            checked += 1
            if table.values[i] is not None:
                exact += 1
                assert table.values[i] == true, (table.name, combo)
            else:
                hi = table.hi[i]
                assert table.lo[i] <= true and (hi is None or true <= hi), (table.name, combo)
    assert checked > 500 and exact > checked // 3


def test_report_discloses_nothing_beyond_the_national_publications(fed, trust: Trust) -> None:
    # The interval attack on the *combined* publication: every country's published tables in
    # one block-diagonal system, plus one row per exact regional cell (Σ countries = value).
    # No suppressed national cell may come out narrower than from its own country alone.
    import scipy.sparse as sp

    from vanfed.anonymize import LinkedSystem
    from vanfed.anonymize._tables import published_system

    _, inbox, out, _ = fed
    cb = load_codebook()
    chosen, _ = select_inputs(inbox, trust.registry, period="2024", now=NOW)
    systems, values, offsets, alone = [], [], [], []
    offset = 0
    for sel in sorted(chosen, key=lambda s: s.summary.country):
        system, vals = published_system(sel.summary.tables, cb, sel.summary.country)
        alone.append(interval_attack(system, vals, vals < 0))
        systems.append(system)
        values.append(vals)
        offsets.append(offset)
        offset += system.size
    rows = []
    for table in out.report.tables:
        countries = table.axes[0].codes[:-1]
        rest = [a.codes for a in table.axes[1:]]
        n_rest = int(np.prod([len(r) for r in rest]))
        for j in range(n_rest):
            region = len(countries) * n_rest + j
            if table.values[region] is None:
                continue
            row = np.zeros(offset)
            for country in countries:
                k = [
                    s.summary.country for s in sorted(chosen, key=lambda s: s.summary.country)
                ].index(country)
                sel = sorted(chosen, key=lambda s: s.summary.country)[k]
                t_index = [t.name for t in sel.summary.tables].index(table.name)
                national = sel.summary.tables[t_index]
                ids = systems[k].cell_var[t_index]
                # national-only axes (admin1) sit at _T in the regional table
                index = tuple(
                    len(a.codes) - 1 if a.dim == "admin1" else slice(None) for a in national.axes
                )
                row[offsets[k] + ids[index].ravel()[j]] += 1.0
            rows.append((row, table.values[region]))
    extra = sp.csr_matrix(np.array([r for r, _ in rows]))
    # rows "Σ x - value·t = 0" with t a published helper variable fixed at 1
    helper = sp.csr_matrix(-np.array([[v] for _, v in rows], float))
    blocks = sp.block_diag([s.matrix for s in systems], format="csr")
    matrix = sp.vstack(
        [sp.hstack([blocks, sp.csr_matrix((blocks.shape[0], 1))]), sp.hstack([extra, helper])]
    ).tocsr()
    combined = LinkedSystem(
        keys=tuple(("x",) for _ in range(offset + 1)),
        cell_var=(),
        matrix=matrix,
        key_codes=np.zeros((offset + 1, 1), np.int32),
        ancestors={},
    )
    all_values = np.concatenate([*values, [1]])
    lo, hi = interval_attack(combined, all_values, all_values < 0)
    assert len(rows) > 50
    for k, (a_lo, a_hi) in enumerate(alone):
        part = slice(offsets[k], offsets[k] + systems[k].size)
        hidden = values[k] < 0
        np.testing.assert_allclose(lo[part][hidden], a_lo[hidden], atol=1e-6)
        np.testing.assert_allclose(hi[part][hidden], a_hi[hidden], atol=1e-6)


def test_audit_passes_then_fails_for_each_kind_of_tampering(
    fed, trust: Trust, tmp_path: Path
) -> None:
    root, inbox, _, _ = fed
    reg = trust.registry
    good = audit(root / "regional" / "regional.dsse.json", inputs=inbox, registry=reg, now=NOW)
    assert good.ok, good.reasons

    def copy() -> tuple[Path, Path]:
        d = tmp_path / f"case{len(list(tmp_path.iterdir()))}"
        shutil.copytree(root / "regional", d / "regional")
        shutil.copytree(inbox, d / "inbox")
        return d / "regional", d / "inbox"

    def codes(rdir: Path, idir: Path, registry=reg) -> set[str]:
        v = audit(rdir / "regional.dsse.json", inputs=idir, registry=registry, now=NOW)
        assert not v.ok
        return {r.code for r in v.reasons}

    r, i = copy()  # altered input
    data = json.loads((i / "KHM.dsse.json").read_text())
    data["payload"] = data["payload"][:-8] + "AAAAAAA="
    (i / "KHM.dsse.json").write_text(json.dumps(data))
    assert "missing_input" in codes(r, i)

    r, i = copy()  # missing input
    (i / "LAO.dsse.json").unlink()
    assert "missing_input" in codes(r, i)

    r, i = copy()  # altered CSV
    csv = (r / "regional.csv").read_bytes()
    (r / "regional.csv").write_bytes(csv.replace(b",", b";", 1))
    assert "artifact_mismatch" in codes(r, i)

    r, i = copy()  # altered workbook
    book = (r / "regional.xlsx").read_bytes()
    (r / "regional.xlsx").write_bytes(book[:-1] + bytes([book[-1] ^ 1]))
    assert "artifact_mismatch" in codes(r, i)

    r, i = copy()  # altered report (signature breaks)
    env = json.loads((r / "regional.dsse.json").read_text())
    env["payload"] = env["payload"].replace("A", "B", 1)
    (r / "regional.dsse.json").write_text(json.dumps(env))
    assert "report_invalid" in codes(r, i)

    r, i = copy()  # report signed by a non-coordinator key
    from vanfed.signing import Envelope

    body = Envelope.from_bytes((r / "regional.dsse.json").read_bytes()).payload
    forged = sign_envelope(body, "application/vnd.vanfed.report.v1+json", [trust.nodes["KHM"]])
    (r / "regional.dsse.json").write_bytes(forged.to_bytes())
    assert "report_invalid" in codes(r, i)

    r, i = copy()  # input signed by a key revoked since
    revoked = revoke_key(
        reg, trust.nodes["MMR"].keyid, reason="compromised", now=NOW - dt.timedelta(minutes=1)
    )
    assert "input_invalid" in codes(r, i, revoked)

    r, i = copy()  # the coordinator dropped a valid submission
    (r.parent / "inbox" / "extra").mkdir()
    shutil.copy(root / "regional" / "regional.dsse.json", i / "zz-not-an-input.json")
    body_dropped = audit(r / "regional.dsse.json", inputs=i, registry=reg, now=NOW)
    assert body_dropped.ok  # garbage in the inbox is skipped, not fatal


def test_merge_skips_garbage_other_periods_and_conflicts(fed, trust: Trust, tmp_path: Path) -> None:
    _root, inbox, _, _ = fed
    d = tmp_path / "inbox"
    shutil.copytree(inbox, d)
    (d / "garbage.json").write_text("not json at all")
    (d / "empty.json").write_bytes(b"")
    cb = load_codebook()
    node = Node("THA")
    ex = write_export("THA", tmp_path / "tha", years=range(2022, 2025), seed=99)
    rec = node.ingest(ex.path, load_mapping(ex.mapping_path), today=NOW.date())
    other = node.summarize(rec, period="2023", now=NOW, rng=Random(5))
    (d / "tha-2023.json").write_bytes(node.sign(other, trust.nodes["THA"]))
    conflict = node.summarize(rec, period="2024", now=NOW, rng=Random(6))
    (d / "tha-conflict.json").write_bytes(node.sign(conflict, trust.nodes["THA"]))
    chosen, skipped = select_inputs(d, trust.registry, period="2024", now=NOW)
    reasons = {s.file: s.reason for s in skipped}
    assert reasons["garbage.json"] == "malformed_envelope"
    assert reasons["tha-2023.json"] == "other_period"
    assert reasons["tha-conflict.json"] == "conflicting_revision"
    assert "THA" not in {c.summary.country for c in chosen}
    body = merge(
        chosen,
        period="2024",
        report_id="0" * 32,
        created_at="2026-11-22T12:00:00Z",
        codebook=cb,
        skipped=skipped,
    )
    assert "THA" in body.coverage.missing


@settings(max_examples=8, deadline=None)
@given(st.permutations(COUNTRIES), st.integers(0, 4))
def test_merge_is_independent_of_order_and_duplicates(fed, trust: Trust, order, dup) -> None:
    _, inbox, out, _ = fed
    chosen, skipped = select_inputs(inbox, trust.registry, period="2024", now=NOW)
    by = {s.summary.country: s for s in chosen}
    shuffled = [by[c] for c in order] + [by[order[dup]]]
    unique = {s.digest: s for s in shuffled}.values()
    body = merge(
        list(unique),
        period="2024",
        report_id=out.report.report_id,
        created_at=out.report.created_at,
        codebook=load_codebook(),
        skipped=skipped,
    )
    assert body.tables == out.report.tables


def test_regional_csv_is_valid_hxl(fed) -> None:
    hxl = pytest.importorskip("hxl")
    root, _, out, _ = fed
    import csv

    with (root / "regional" / "regional.csv").open(encoding="utf-8", newline="") as fh:
        raw = list(csv.reader(fh))
    assert raw[0][0] == "table"  # human header first, hashtag row second
    source = hxl.data(raw)
    tags = [c.display_tag for c in source.columns]
    assert len(set(tags)) == len(tags)  # every hashtag+attributes spec names one column
    assert "#country+code" in tags and "#adm1+code" in tags
    rows = list(source)
    regional = [r for r in rows if r.get("#meta+scope") == "regional"]
    assert len(regional) == sum(len(t.values) for t in out.report.tables)
    report = hxl.validate(
        source, schema=hxl.schema([{"#valid_tag": "#country+code", "#valid_required": "true"}])
    )
    assert report is True or getattr(report, "is_valid", True)
