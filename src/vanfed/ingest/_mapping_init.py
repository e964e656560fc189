"""``vanfed mapping init``: draft a mapping from an export's headers and distinct values.

Guesses which column feeds which codebook field (by multilingual keywords in the header) and
which code each distinct value means (by labels and common synonyms in the region's
languages). Every guess is written into the draft and listed under ``review`` so a person
checks it; values it cannot place are left mapped to ``"?"``, which the loader refuses until
someone decides.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from vanfed.ingest._readers import read_chunks
from vanfed.ingest._values import normalise, parse_date
from vanfed.schema import CATEGORICAL_FIELDS, Codebook, SourceOptions, load_codebook

__all__ = ["scaffold_mapping"]

SAMPLE_ROWS = 200_000
MAX_DISTINCT = 200

HEADER_HINTS: dict[str, tuple[str, ...]] = {
    "record_id": ("id", "caseno", "case", "record", "casualty no", "victim no", "ref", "ma so"),
    "incident_date": ("date of incident", "incident date", "accident", "incident", "date"),
    "age": ("age",),
    "admin1": ("province", "state", "region", "admin1", "adm1", "khaet", "khoueng", "tinh"),
    "sex": ("sex", "gender"),
    "device": ("device", "ordnance", "item", "munition", "weapon", "type of eo", "eo type"),
    "outcome": ("outcome", "casualty type", "result", "killed", "hau qua"),
    "civilian_status": (
        "civilian",
        "victim status",
        "victim type",
        "status",
        "category",
        "deminer",
    ),
    "impairment": ("impairment", "injury", "amputation"),
    "disability": ("disability", "washington", "wg"),
    "service_medical": ("medical", "hospital", "emergency"),
    "service_rehabilitation": ("rehab", "prosthe", "physio"),
    "service_psychosocial": ("psycho", "counsel", "mental"),
    "service_socioeconomic": ("socio", "economic", "livelihood", "income"),
    "service_education": ("education", "school"),
}
BIRTH_HINTS = ("birth", "dob", "born")

SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "sex": {
        "f": (
            "female",
            "f",
            "woman",
            "girl",
            "women",
            "ស្រី",
            "ຍິງ",
            "nữ",
            "หญิง",
            "ma",
            "ကျား မ",
            "perempuan",
            "wanita",
            "babae",
        ),
        "m": (
            "male",
            "m",
            "man",
            "boy",
            "men",
            "ប្រុស",
            "ຊາຍ",
            "nam",
            "ชาย",
            "ကျား",
            "laki-laki",
            "lelaki",
            "lalaki",
        ),
        "_U": ("unknown", "u", "n/a", "na", "-", "not recorded"),
    },
    "outcome": {
        "killed": ("killed", "dead", "death", "died", "fatal", "k", "ស្លាប់", "ເສຍຊີວິດ", "chết"),
        "injured": (
            "injured",
            "injury",
            "survivor",
            "wounded",
            "i",
            "w",
            "របួស",
            "ບາດເຈັບ",
            "bị thương",
        ),
    },
    "device": {
        "ap_mine": ("ap mine", "antipersonnel mine", "anti-personnel mine", "ap", "landmine"),
        "av_mine": (
            "av mine",
            "antivehicle mine",
            "anti-vehicle mine",
            "at mine",
            "av",
            "anti-tank mine",
        ),
        "improvised_mine": ("improvised mine", "ied", "improvised", "victim-activated ied"),
        "unspecified_mine": ("mine", "unknown mine", "mine (unspecified)"),
        "cmr": (
            "cmr",
            "cluster munition",
            "cluster munition remnant",
            "bomblet",
            "submunition",
            "bombie",
            "cluster bomb",
        ),
        "other_erw": (
            "uxo",
            "erw",
            "other erw",
            "unexploded ordnance",
            "mortar",
            "grenade",
            "shell",
            "rocket",
            "bomb",
            "aircraft bomb",
            "abandoned ordnance",
        ),
    },
    "civilian_status": {
        "civilian": ("civilian", "farmer", "villager", "child", "student"),
        "deminer": ("deminer", "eod", "clearance"),
        "military": ("military", "soldier", "police", "army", "security"),
    },
    "impairment": {
        "amputation": ("amputation", "amputee", "limb loss"),
        "visual": ("visual", "blind", "eye", "sight"),
        "hearing": ("hearing", "deaf", "ear"),
        "none": ("none", "no impairment", "no"),
        "other": ("other", "burns", "fracture", "multiple"),
    },
    "disability": {
        "wg_yes": ("yes", "y", "disabled", "a lot of difficulty", "cannot do at all"),
        "wg_no": ("no", "n", "not disabled", "some difficulty", "no difficulty"),
    },
}
YES_NO = {
    "yes": ("yes", "y", "1", "true", "received", "x"),
    "no": ("no", "n", "0", "false", "not received"),
}


def _guess_columns(header: list[str]) -> dict[str, str]:
    chosen: dict[str, str] = {}
    used: set[str] = set()
    for field, hints in HEADER_HINTS.items():
        for hint in hints:
            pattern = re.compile(rf"(^|[^a-z0-9]){re.escape(hint)}([^a-z0-9]|$)")
            match = next(
                (
                    h
                    for h in header
                    if h not in used
                    and pattern.search(normalise(h))
                    and not any(b in normalise(h) for b in BIRTH_HINTS)
                ),
                None,
            )
            if match:
                chosen[field] = match
                used.add(match)
                break
    return chosen


def _guess_code(field: str, value: str, cb: Codebook, country: str | None) -> str | None:
    dim = cb.dimension(field, country) if (field != "admin1" or country) else None
    norm = normalise(value)
    if dim is not None:
        for code in dim.codes:
            if norm in (normalise(code.id), normalise(code.label)):
                return code.id if not code.children else None
    table = YES_NO if field.startswith("service_") else SYNONYMS.get(field, {})
    for code_id, words in table.items():
        if norm in words:
            return code_id
    return None


def scaffold_mapping(
    path: str | Path, *, country: str | None = None, codebook: Codebook | None = None
) -> str:
    """Draft mapping TOML for an export, with every guess listed for review."""
    cb = codebook or load_codebook()
    distinct: dict[str, dict[str, int]] = {}
    header: list[str] = []
    seen = 0
    for chunk in read_chunks(path, SourceOptions()):
        header = header or list(chunk.columns)
        for name, arr in chunk.columns.items():
            counts = distinct.setdefault(name, {})
            if len(counts) <= MAX_DISTINCT:
                for v in arr.unique().to_pylist():
                    counts[v] = counts.get(v, 0) + 1
        seen += len(chunk)
        if seen >= SAMPLE_ROWS:
            break
    columns = _guess_columns(header)
    birth = next((h for h in header if any(b in normalise(h) for b in BIRTH_HINTS)), None)
    lines = [
        f"# vanfed mapping drafted from {Path(path).name} ({seen} rows sampled).",
        "# Check every field listed under 'review', then replace each \"?\" with a code.",
        "mapping_version = 1",
        'codebook = "vanfed-asean/1"',
        "",
        "[source]",
        'format = "auto"',
        'encoding = "auto"',
        'delimiter = "auto"',
        "",
        f"# columns in the export: {', '.join(header)}",
    ]
    for field in ("record_id", "incident_date", "age", *CATEGORICAL_FIELDS):
        column = columns.get(field)
        if field == "age" and column is None and birth is not None:
            lines += [
                "",
                "[fields.age]",
                f"birth_date = {_q(birth)}",
                f'birth_date_format = "{_date_format(distinct.get(birth, {}))}"',
                'review = ["age computed from the birth date and the incident date"]',
            ]
            continue
        if column is None:
            lines += ["", f"# [fields.{field}]  no column found; add one if the export has it"]
            continue
        lines += ["", f"[fields.{field}]", f"column = {_q(column)}"]
        review = [f"column {column!r} guessed from its header"]
        if field == "incident_date":
            lines.append(f'format = "{_date_format(distinct.get(column, {}))}"')
            review.append("date format guessed from the values")
        elif field in CATEGORICAL_FIELDS:
            values = distinct.get(column, {})
            if len(values) > MAX_DISTINCT:
                review.append(f"more than {MAX_DISTINCT} distinct values; only some listed")
            review.append("value codes guessed; '?' marks values to decide")
            lines.append(f"review = {json.dumps(review, ensure_ascii=False)}")
            lines.append(f"[fields.{field}.values]")
            for value in sorted(values, key=lambda v: (-values[v], v)):
                if value.strip():
                    code = _guess_code(field, value, cb, country)
                    lines.append(f"{_q(value)} = {_q(code or '?')}")
            continue
        lines.append(f"review = {json.dumps(review, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _date_format(values: dict[str, int]) -> str:
    sample = [v for v in list(values)[:50] if v.strip()]
    for fmt in ("iso", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%m/%d/%Y", "excel"):
        if sample and all(not isinstance(parse_date(v, fmt), str) for v in sample):
            return fmt
    return "auto"
