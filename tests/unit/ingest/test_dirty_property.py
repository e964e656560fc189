"""Hypothesis: dirty exports never crash ingest and never lose a row."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from tempfile import TemporaryDirectory

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vanfed.errors import VanfedError
from vanfed.ingest import ingest
from vanfed.schema import Mapping

MAPPING = Mapping.model_validate(
    {
        "fields": {
            "record_id": {"column": "id"},
            "incident_date": {"column": "date", "format": "auto"},
            "age": {"column": "age"},
            "sex": {"column": "sex"},
            "device": {"column": "device"},
        }
    }
)
GOOD = {
    "date": ["2024-01-02", "03/04/2023", "45000"],
    "age": ["3", "40", ""],
    "sex": ["f", "Male", ""],
    "device": ["cmr", "AP mine", "_U"],
}
garbage = st.text(max_size=12)
cell = st.one_of(st.sampled_from(["", "x", "-1", "1e9", "2099-01-01", "NaN"]), garbage)


@st.composite
def export(draw: st.DrawFn) -> tuple[bytes, int]:
    columns = ["id", "date", "age", "sex", "device"]
    if draw(st.booleans()):
        columns.append("extra")
    n = draw(st.integers(1, 40))
    rows = []
    for _i in range(n):
        row = [str(draw(st.integers(0, 30)))]
        for c in columns[1:]:
            row.append(
                draw(st.sampled_from(GOOD.get(c, ["?"]))) if draw(st.booleans()) else draw(cell)
            )
        if draw(st.integers(0, 10)) == 0:
            row = row[: draw(st.integers(1, len(row)))]  # ragged
        rows.append(row)
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=draw(st.sampled_from([",", ";", "\t"])))
    w.writerow(columns)
    w.writerows(rows)
    enc = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]))
    return buf.getvalue().encode(enc, errors="replace"), n


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(export())
def test_no_row_vanishes(sample: tuple[bytes, int]) -> None:
    data, _n = sample
    with TemporaryDirectory() as d:
        src = Path(d) / "x.csv"
        src.write_bytes(data)
        rej = Path(d) / "r.csv"
        try:
            rec = ingest(src, MAPPING, country="LAO", rejects=rej, today=dt.date(2026, 1, 1))
        except VanfedError:
            return  # a typed, one-line error is an acceptable outcome for unusable files
        q = rec.quality
        assert q.records_read == q.records_accepted + q.records_rejected
        with rej.open(encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        assert {int(r["row"]) for r in rows} >= set() and all(r["reason_code"] for r in rows)
        assert len({r["row"] for r in rows}) == q.records_rejected
