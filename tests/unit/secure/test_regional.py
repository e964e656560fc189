"""A round's estimates in the regional report: region rows only, inside the national bounds."""

from __future__ import annotations

import numpy as np
from tests.unit.secure.conftest import announce

from vanfed.aggregate import Selected, merge
from vanfed.schema import RegionalReport, load_codebook
from vanfed.secure import apply_round, round_counts
from vanfed.signing import envelope_digest
from vanfed.testing import NOW, Member, Trust, run_round

CB = load_codebook()


def national(group: dict[str, Member]) -> RegionalReport:
    chosen = [Selected(m.summary, m.digest, f"{c}.dsse.json") for c, m in group.items()]
    return merge(
        chosen,
        period="2024",
        report_id="0" * 32,
        created_at=NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
        codebook=CB,
    )


def secure_report(
    trust: Trust, group: dict[str, Member], seed: str, only: tuple[str, ...] | None = None
) -> RegionalReport:
    who = {c: m for c, m in group.items() if only is None or c in only}
    ann_bytes = announce(trust, who, seed=seed)
    ann, book = run_round(trust, who, ann_bytes, now=NOW, seed=seed)
    result = book.rounds[ann.round_id].result_now(NOW)
    assert result is not None
    return apply_round(
        national(group),
        ann,
        result,
        announcement_digest=envelope_digest(ann_bytes),
        result_digest="sha256:" + "0" * 64,
    )


def truth(group: dict[str, Member], name: str, ann_tables) -> np.ndarray:
    return sum(round_counts(m.records, ann_tables, CB, "2024")[name] for m in group.values())


def test_region_rows_are_estimates_inside_the_national_bounds(
    trust: Trust, published: dict[str, Member]
) -> None:
    before = national(published)
    after = secure_report(trust, published, "regional")
    assert after.secure is not None and set(after.secure.tables) == {t.name for t in after.tables}
    for old, new in zip(before.tables, after.tables, strict=True):
        shape = new.shape
        # country rows are exactly what the countries published
        for field in ("values", "lo", "hi"):
            assert (
                np.array(getattr(old, field), object).reshape(shape)[:-1].tolist()
                == np.array(getattr(new, field), object).reshape(shape)[:-1].tolist()
            )
        est = np.array(new.estimated).reshape(shape)[-1]
        vals = np.array([-1 if v is None else v for v in new.values]).reshape(shape)[-1]
        lo = np.array(new.lo).reshape(shape)[-1]
        hi = np.array([np.inf if h is None else h for h in new.hi], float).reshape(shape)[-1]
        assert (vals >= 0).all()  # every region cell is a number now
        assert ((lo <= vals) & (vals <= hi)).all()
        assert (est == (lo != hi)).all()  # estimated exactly where the national path ranged


def test_estimates_are_close_to_the_truth_and_add_up(
    trust: Trust, published: dict[str, Member]
) -> None:
    report = secure_report(trust, published, "close")
    ann_tables = {t.name: t for t in report.tables}
    from vanfed.anonymize import DEFAULT_TABLES
    from vanfed.secure import regional_tables

    rts = regional_tables(DEFAULT_TABLES, CB)
    ok = []
    for t in report.tables:
        region = np.array(t.values).reshape(t.shape)[-1]
        true = truth(published, t.name, rts).reshape(region.shape)
        nz = true > 0
        within = np.where(
            true < 20, np.abs(region - true) <= 2, np.abs(region - true) <= 0.1 * true
        )
        ok += list(within[nz])
        # margins are the sums of their cells (the table adds up)
        inner = region[tuple(slice(0, n - 1) for n in region.shape)]
        from vanfed.secure._post import with_margins

        assert np.array_equal(with_margins(inner), region), t.name
    assert np.mean(ok) >= 0.9
    assert ann_tables


def test_a_country_outside_the_round_adds_its_published_cells(
    trust: Trust, published: dict[str, Member]
) -> None:
    """KHM dropped out and the round ran with the rest: where KHM published its cell the
    region is still an estimate (the rest's estimate plus KHM's count); where KHM hid it,
    the region stays an interval."""
    report = secure_report(trust, published, "without", only=("LAO", "MMR", "THA", "VNM"))
    khm = published["KHM"].summary
    assert report.secure is not None and report.secure.participants == ("LAO", "MMR", "THA", "VNM")
    table = next(t for t in report.tables if t.name == "casualties_by_sex_age")
    est = np.array(table.estimated).reshape(table.shape)[-1]
    national_khm = next(t for t in khm.tables if t.name == "casualties_by_sex_age")
    hidden = np.array([v is None for v in national_khm.values]).reshape(est.shape)
    assert not (est & hidden).any()
    assert est.any()
