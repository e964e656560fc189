"""Seeded synthetic exports for the federation: records, dirty rows, files and mappings.

``generate_records`` draws coded records from a :class:`Profile`; ``write_export`` renders them
in the country's export shape (with a few dirty rows that ingest must reject) and writes the
matching mapping TOML. The returned truth lets tests compare published statistics with the
real sums. Everything is a function of the seed.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from vanfed._json import atomic_write
from vanfed.schema import Codebook, load_codebook
from vanfed.synthetic._profiles import ALL_PROFILES, PROFILES, Profile

__all__ = ["SyntheticExport", "generate_records", "write_export", "write_large_csv"]

IMPAIRMENT = {
    "amputation": 0.4,
    "visual": 0.1,
    "hearing": 0.05,
    "other": 0.3,
    "none": 0.1,
    "_U": 0.05,
}
SERVICE_P = {
    "service_medical": 0.85,
    "service_rehabilitation": 0.45,
    "service_psychosocial": 0.2,
    "service_socioeconomic": 0.25,
    "service_education": 0.1,
}
DIRTY = [  # (field, raw value, reason ingest must give)
    ("age", "twelve", "not_a_number"),
    ("age", "140", "age_out_of_range"),
    ("age", "-3", "age_out_of_range"),
    ("incident_date", "future", "future_date"),
    ("incident_date", "", "missing_value"),
    ("device", "Flying saucer", "unknown_code"),
    ("record_id", "duplicate", "duplicate_record_id"),
]


@dataclass(frozen=True)
class SyntheticExport:
    """A written export, its mapping, and the truth behind it."""

    country: str
    path: Path
    mapping_path: Path
    truth: dict[str, np.ndarray]  # clean records: field -> code strings, plus "year", "age"
    dirty_reasons: dict[str, int]


def _choice(rng: np.random.Generator, probs: dict[str, float], n: int) -> np.ndarray:
    keys = list(probs)
    p = np.array([probs[k] for k in keys], float)
    return np.array(keys, dtype=object)[rng.choice(len(keys), size=n, p=p / p.sum())]


def _admin1_weights(profile: Profile, codes: list[str], rng: np.random.Generator) -> np.ndarray:
    w = rng.pareto(1.5, len(codes)) + 0.05
    hot = [codes.index(h) for h in profile.hotspots if h in codes]
    w = w / w.sum() * 0.3
    w[hot] += 0.7 / max(len(hot), 1)
    return w / w.sum()


def generate_records(
    country: str,
    years: range,
    *,
    seed: int = 0,
    n: int | None = None,
    codebook: Codebook | None = None,
) -> dict[str, np.ndarray]:
    """Coded records for ``country`` over ``years`` (Poisson counts around the profile)."""
    profile = ALL_PROFILES[country]
    cb = codebook or load_codebook()
    rng = np.random.default_rng([seed, sum(map(ord, country))])
    if n is None:
        counts = rng.poisson(profile.per_year, len(years))
        year = np.repeat(np.array(list(years), np.int64), counts)
    else:
        year = rng.choice(np.array(list(years), np.int64), size=n)
    size = len(year)
    day = rng.integers(0, 365, size)
    dates = (year - 1970).astype("datetime64[Y]").astype("datetime64[D]") + day
    child = rng.random(size) < profile.p_child
    age = np.where(child, rng.integers(3, 18, size), rng.integers(18, 75, size))
    p_male = np.where(child, profile.p_male - 0.1, profile.p_male)
    sex = np.where(rng.random(size) < p_male, "m", "f").astype(object)
    sex[rng.random(size) < 0.01] = "_U"
    admin_codes = [c.id for c in cb.country(country).admin1]
    admin1 = np.array(admin_codes, dtype=object)[
        rng.choice(len(admin_codes), size=size, p=_admin1_weights(profile, admin_codes, rng))
    ]
    killed = rng.random(size) < profile.p_killed
    outcome = np.where(killed, "killed", "injured").astype(object)
    impairment = _choice(rng, IMPAIRMENT, size)
    impairment[killed] = "_U"
    disability = np.where(rng.random(size) < 0.6, "wg_yes", "wg_no").astype(object)
    disability[killed] = "_U"
    rec: dict[str, np.ndarray] = {
        "record_id": np.array([f"{country}-{i:07d}" for i in range(size)], dtype=object),
        "incident_date": dates,
        "year": year,
        "age": age,
        "sex": sex,
        "admin1": admin1,
        "device": _choice(rng, profile.devices, size),
        "outcome": outcome,
        "civilian_status": _choice(rng, profile.civilian, size),
        "impairment": impairment,
        "disability": disability,
    }
    for service, p in SERVICE_P.items():
        got = np.where(
            rng.random(size) < (p * 1.5 if service == "service_education" else p), "yes", "no"
        ).astype(object)
        got[killed] = "_U"
        rec[service] = got
    return rec


def _render_date(dates: np.ndarray, fmt: str) -> list[str]:
    out = []
    epoch = dt.date(1899, 12, 30)
    for d in dates.astype("datetime64[D]").astype(object):
        if fmt == "iso":
            out.append(d.isoformat())
        elif fmt == "excel":
            out.append(str((d - epoch).days))
        else:
            out.append(d.strftime(fmt))
    return out


def _render(
    profile: Profile, rec: dict[str, np.ndarray], rng: np.random.Generator, cb: Codebook
) -> dict[str, list[str]]:
    shape = profile.shape
    country = cb.country(profile.country)
    labels = {c.id: c.label for c in country.admin1}
    merged_from: dict[str, list[str]] = {}
    for old, new in country.admin1_aliases.items():
        merged_from.setdefault(new, []).append(old)
    cols: dict[str, list[str]] = {}
    for field, header in shape.columns.items():
        values = rec[field]
        if field == "incident_date":
            cols[header] = _render_date(values, shape.date_format)
        elif field == "age":
            if shape.age_from_birth:
                birth = rec["incident_date"] - (
                    rec["age"] * 365.25 + rng.integers(1, 300, len(values))
                ).astype("timedelta64[D]")
                cols[header] = _render_date(birth, shape.date_format)
            else:
                cols[header] = [str(int(a)) for a in values]
        elif field == "record_id":
            cols[header] = [str(v) for v in values]
        elif field == "admin1":
            if shape.admin1_style == "code":
                cols[header] = [str(v) for v in values]
            elif shape.admin1_style == "old_code":
                cols[header] = [str(rng.choice([v, *merged_from.get(v, [])])) for v in values]
            else:
                cols[header] = [labels[v] for v in values]
        else:
            spell = shape.labels[field]
            cols[header] = [str(rng.choice(spell[v])) if v in spell else "" for v in values]
    return cols


def _mapping_toml(profile: Profile) -> str:
    shape = profile.shape
    q = lambda s: json.dumps(s, ensure_ascii=False)  # noqa: E731 - TOML basic string
    lines = [
        f"# Mapping for the synthetic {profile.country} export ({shape.filename}).",
        "mapping_version = 1",
        'codebook = "vanfed-asean/1"',
        "",
        "[source]",
        f'format = "{shape.format}"',
        f"encoding = {q(shape.encoding)}",
        f"delimiter = {q(shape.delimiter)}",
    ]
    for field, header in shape.columns.items():
        lines += ["", f"[fields.{field}]"]
        if field == "age" and shape.age_from_birth:
            lines += [f"birth_date = {q(header)}", f'birth_date_format = "{shape.date_format}"']
            continue
        lines.append(f"column = {q(header)}")
        if field == "incident_date":
            lines += [f'format = "{shape.date_format}"', 'missing = "reject"']
        if field in shape.labels:
            lines.append(f"[fields.{field}.values]")
            for code, spellings in shape.labels[field].items():
                lines += [f"{q(s)} = {q(code)}" for s in spellings if s]
    return "\n".join(lines) + "\n"


def write_export(
    country: str,
    out_dir: str | Path,
    years: range = range(2022, 2025),
    *,
    seed: int = 0,
    dirty: bool = True,
    codebook: Codebook | None = None,
) -> SyntheticExport:
    """Write a country's synthetic export and mapping into ``out_dir``."""
    profile = ALL_PROFILES[country]
    cb = codebook or load_codebook()
    rng = np.random.default_rng([seed, 7, sum(map(ord, country))])
    rec = generate_records(country, years, seed=seed, codebook=cb)
    truth = {k: v for k, v in rec.items() if k not in ("incident_date",)}
    cols = _render(profile, rec, rng, cb)
    reasons: dict[str, int] = {}
    if dirty:
        cols, reasons = _add_dirty(profile, cols, years)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / profile.shape.filename
    _write(path, profile, cols)
    mapping_path = out / f"{country.lower()}_mapping.toml"
    atomic_write(mapping_path, _mapping_toml(profile).encode("utf-8"))
    return SyntheticExport(country, path, mapping_path, truth, reasons)


def _add_dirty(
    profile: Profile, cols: dict[str, list[str]], years: range
) -> tuple[dict[str, list[str]], dict[str, int]]:
    shape = profile.shape
    headers = list(cols)
    first = {h: cols[h][0] if cols[h] else "" for h in headers}
    reasons: dict[str, int] = {}
    for i, (field, raw, reason) in enumerate(DIRTY):
        header = shape.columns.get(field)
        if header is None or (field == "age" and shape.age_from_birth):
            continue
        row = dict(first)
        row[shape.columns["record_id"]] = f"{profile.country}-DIRTY-{i}"
        value = raw
        if raw == "future":
            future = np.array([np.datetime64(f"{years.stop + 30}-01-01")])
            value = _render_date(future, shape.date_format)[0]
        if raw == "duplicate":
            value = first[shape.columns["record_id"]]
        row[header] = value
        for h in headers:
            cols[h].append(row[h])
        reasons[reason] = reasons.get(reason, 0) + 1
    return cols, reasons


def _write(path: Path, profile: Profile, cols: dict[str, list[str]]) -> None:
    shape = profile.shape
    if shape.format == "jsonl":
        rows = zip(*cols.values(), strict=True)
        text = "".join(
            json.dumps(dict(zip(cols, r, strict=True)), ensure_ascii=False) + "\n" for r in rows
        )
        atomic_write(path, text.encode("utf-8"))
    elif shape.format == "xlsx":
        import openpyxl

        book = openpyxl.Workbook(write_only=True)
        sheet = book.create_sheet("Casualties")
        sheet.append(list(cols))
        for r in zip(*cols.values(), strict=True):
            sheet.append([int(v) if v.isdigit() and len(v) < 9 else v for v in r])
        book.save(path)
    else:
        import io

        from vanfed._csv import SafeWriter

        buf = io.StringIO()
        writer = SafeWriter(buf, delimiter=shape.delimiter, lineterminator="\r\n")
        writer.writerow(list(cols))
        writer.writerows(zip(*cols.values(), strict=True))
        data = buf.getvalue().encode(shape.encoding)
        if shape.bom:
            data = b"\xef\xbb\xbf" + data
        atomic_write(path, data)


def write_large_csv(path: str | Path, rows: int, *, seed: int = 0, batch: int = 1_000_000) -> Path:
    """A large KHM-shaped CSV for benchmarks, written in batches with pyarrow."""
    profile = PROFILES["KHM"]
    cb = load_codebook()
    p = Path(path)
    writer = None
    try:
        for start in range(0, rows, batch):
            n = min(batch, rows - start)
            rec = generate_records("KHM", range(1990, 2025), seed=seed + start, n=n, codebook=cb)
            rec["record_id"] = np.char.add("KHM-", np.arange(start, start + n).astype(str))
            table = _fast_table(profile, rec, cb)
            if writer is None:
                writer = pacsv.CSVWriter(p, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    return p


def _fast_table(profile: Profile, rec: dict[str, np.ndarray], cb: Codebook) -> pa.Table:
    shape = profile.shape
    labels = {c.id: c.label for c in cb.country(profile.country).admin1}
    arrays = {}
    for field, header in shape.columns.items():
        v = rec[field]
        if field == "incident_date":
            arrays[header] = _dmy(v.astype("datetime64[D]").astype(str))
        elif field in ("age", "record_id"):
            arrays[header] = pa.array(v.astype(str))
        elif field == "admin1":
            lut = {k: labels[k] for k in set(v)}
            arrays[header] = pa.array(np.vectorize(lut.__getitem__, otypes=[object])(v))
        else:
            spell = {code: s[0] for code, s in shape.labels[field].items()}
            arrays[header] = pa.array(
                np.vectorize(lambda c, sp=spell: sp.get(c, ""), otypes=[object])(v)
            )
    return pa.table(arrays)


def _dmy(iso: np.ndarray) -> pa.Array:
    import pyarrow.compute as pc

    s = pa.array(iso)
    return pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(s, 8, 10),
        pc.utf8_slice_codeunits(s, 5, 7),
        pc.utf8_slice_codeunits(s, 0, 4),
        "/",
    )
