"""Re-shape a synthetic export the way another database would write it, keeping the truth.

Mapping drafts are tested on exports nobody tuned them for: :func:`reshape_export` renames the
columns of a :class:`~vanfed.synthetic.SyntheticExport` and relabels its values (headers in
camelCase, snake_case or capitals; other spellings of codes; common romanisations of admin-1
names) and returns, for every new column and value, the field and code it really holds.
The spellings here are written independently of the draft's own word lists.
"""

from __future__ import annotations

import csv
import io
import tomllib
from dataclasses import dataclass
from pathlib import Path

from vanfed._json import atomic_write
from vanfed.ingest import read_chunks
from vanfed.schema import Codebook, SourceOptions, load_codebook
from vanfed.synthetic._generate import SyntheticExport
from vanfed.synthetic._profiles import PROFILES

__all__ = ["RESHAPES", "DraftScore", "Reshape", "ReshapedExport", "reshape_export", "score_draft"]


@dataclass(frozen=True)
class Reshape:
    """New headers (field -> header) and new spellings (field -> code -> spelling)."""

    name: str
    headers: dict[str, str]
    labels: dict[str, dict[str, str]]
    delimiter: str = ","
    admin1_romanised: bool = True
    native_admin1: bool = False


@dataclass(frozen=True)
class ReshapedExport:
    """The re-shaped file and its truth: which field each column is, which code each value."""

    path: Path
    columns: dict[str, str]  # field -> header (age from a birth date: field "age")
    values: dict[str, dict[str, str]]  # field -> raw value -> true code
    birth_date: bool


# Common spellings of admin-1 units as national exports write them (not the ISO labels).
ROMANISED: dict[str, dict[str, str]] = {
    "KHM": {
        "KH-1": "Banteay Meanchey",
        "KH-2": "Battambang",
        "KH-3": "Kampong Cham",
        "KH-4": "Kampong Chhnang",
        "KH-5": "Kampong Speu",
        "KH-6": "Kampong Thom",
        "KH-8": "Kandal",
        "KH-9": "Koh Kong",
        "KH-10": "Kratie",
        "KH-11": "Mondulkiri",
        "KH-13": "Preah Vihear Province",
        "KH-14": "Prey Veng",
        "KH-15": "Pursat",
        "KH-16": "Ratanakiri",
        "KH-17": "Siem Reap",
        "KH-18": "Sihanoukville",
        "KH-19": "Stung Treng",
        "KH-20": "Svay Rieng",
        "KH-21": "Takeo",
        "KH-22": "Oddar Meanchey",
        "KH-23": "Kep",
        "KH-24": "PAILIN",
        "KH-25": "Tboung Khmum",
    },
    "LAO": {
        "LA-AT": "Attapeu",
        "LA-BK": "Bokeo",
        "LA-BL": "Bolikhamxay",
        "LA-CH": "Champasack",
        "LA-HO": "Houaphanh",
        "LA-KH": "Khammouane",
        "LA-LM": "Luang Namtha",
        "LA-LP": "Luang Prabang",
        "LA-OU": "Oudomxay",
        "LA-PH": "Phongsaly",
        "LA-SL": "Saravane",
        "LA-SV": "Savannakhet",
        "LA-VI": "Vientiane Province",
        "LA-VT": "Vientiane Capital",
        "LA-XA": "Xayaboury",
        "LA-XE": "Sekong",
        "LA-XI": "Xiengkhouang",
        "LA-XS": "Xaysomboun",
    },
    "MMR": {
        "MM-01": "Sagaing Region",
        "MM-02": "Bago Region",
        "MM-03": "Magway Region",
        "MM-04": "Mandalay Region",
        "MM-05": "Tanintharyi Region",
        "MM-06": "Yangon Region",
        "MM-07": "Ayeyarwady Region",
        "MM-11": "Kachin State",
        "MM-12": "Kayah State",
        "MM-13": "Kayin State",
        "MM-14": "Chin State",
        "MM-15": "Mon State",
        "MM-16": "Rakhine State",
        "MM-17": "Shan State",
        "MM-18": "Naypyitaw",
    },
    "THA": {
        "TH-10": "Bangkok",
        "TH-20": "Chonburi",
        "TH-23": "Trat",
        "TH-27": "Sa Kaew",
        "TH-31": "Buriram",
        "TH-32": "Surin",
        "TH-33": "Sisaket",
        "TH-34": "Ubon Ratchathani",
        "TH-63": "Tak",
        "TH-71": "Kanchanaburi",
        "TH-22": "Chanthaburi",
    },
    "VNM": {
        "VN-25": "Quang Tri",
        "VN-29": "Quang Ngai",
        "VN-22": "Nghe An",
        "VN-23": "Ha Tinh",
        "VN-26": "Thua Thien Hue",
        "VN-DN": "Da Nang",
        "VN-HN": "Ha Noi",
        "VN-SG": "Ho Chi Minh City",
        "VN-30": "Gia Lai",
        "VN-33": "Dak Lak",
    },
}
_SERVICES = ("medical", "rehabilitation", "psychosocial", "socioeconomic", "education")

RESHAPES: tuple[Reshape, ...] = (
    Reshape(
        name="camel",
        headers={
            "record_id": "VictimID",
            "incident_date": "AccidentDate",
            "admin1": "ProvinceName",
            "sex": "Gender",
            "age": "AgeYears",
            "device": "DeviceType",
            "outcome": "Status",
            "civilian_status": "VictimCategory",
            "impairment": "InjuryType",
            "disability": "WGDisability",
            "service_medical": "MedicalCare",
            "service_rehabilitation": "RehabilitationServices",
            "service_psychosocial": "PsychosocialSupport",
            "service_socioeconomic": "EconomicInclusion",
            "service_education": "EducationSupport",
        },
        labels={
            "sex": {"f": "Woman", "m": "Man"},
            "outcome": {"killed": "Dead", "injured": "Survivor"},
            "device": {
                "ap_mine": "Anti-personnel mine",
                "av_mine": "Anti-tank mine",
                "improvised_mine": "IED",
                "unspecified_mine": "Mine",
                "cmr": "Submunition",
                "other_erw": "UXO",
                "_U": "Unknown",
            },
            "civilian_status": {
                "civilian": "Civilian",
                "deminer": "Deminer",
                "military": "Soldier",
                "_U": "Unknown",
            },
            "impairment": {
                "amputation": "Amputee",
                "visual": "Blind",
                "hearing": "Deaf",
                "other": "Other",
                "none": "None",
            },
            "disability": {"wg_yes": "Yes", "wg_no": "No"},
            **{f"service_{s}": {"yes": "Yes", "no": "No"} for s in _SERVICES},
        },
    ),
    Reshape(
        name="snake",
        delimiter=";",
        headers={
            "record_id": "casualty_id",
            "incident_date": "date_of_accident",
            "admin1": "province",
            "sex": "sex",
            "age": "age_at_incident",
            "device": "eo_type",
            "outcome": "killed_injured",
            "civilian_status": "victim_status",
            "impairment": "impairment_type",
            "disability": "wg_disability",
            "service_medical": "received_medical",
            "service_rehabilitation": "received_rehab",
            "service_psychosocial": "received_psychosocial",
            "service_socioeconomic": "received_livelihood",
            "service_education": "received_education",
        },
        labels={
            "sex": {"f": "female", "m": "male"},
            "outcome": {"killed": "killed", "injured": "injured"},
            "device": {
                "ap_mine": "antipersonnel landmine",
                "av_mine": "antivehicle mine",
                "improvised_mine": "improvised explosive device",
                "unspecified_mine": "landmine",
                "cmr": "cluster munition remnant",
                "other_erw": "unexploded ordnance",
                "_U": "unknown",
            },
            "civilian_status": {
                "civilian": "civilian",
                "deminer": "deminer",
                "military": "military",
                "_U": "unknown",
            },
            "impairment": {
                "amputation": "amputation",
                "visual": "visual impairment",
                "hearing": "hearing loss",
                "other": "other",
                "none": "none",
            },
            "disability": {"wg_yes": "a lot of difficulty", "wg_no": "no difficulty"},
            **{f"service_{s}": {"yes": "1", "no": "0"} for s in _SERVICES},
        },
    ),
    Reshape(
        name="capitals",
        delimiter="\t",
        headers={
            "record_id": "REF NO",
            "incident_date": "DATE",
            "admin1": "STATE/PROVINCE",
            "sex": "M/F",
            "age": "AGE",
            "device": "TYPE OF ORDNANCE",
            "outcome": "RESULT",
            "civilian_status": "CATEGORY",
            "impairment": "INJURY",
            "disability": "DISABILITY (WG)",
            "service_medical": "MEDICAL",
            "service_rehabilitation": "PHYSIO/PROSTHETICS",
            "service_psychosocial": "COUNSELLING",
            "service_socioeconomic": "INCOME SUPPORT",
            "service_education": "SCHOOLING",
        },
        labels={
            "sex": {"f": "F", "m": "M"},
            "outcome": {"killed": "FATAL", "injured": "NON-FATAL"},
            "device": {
                "ap_mine": "AP MINE",
                "av_mine": "AT MINE",
                "improvised_mine": "IED",
                "unspecified_mine": "MINE",
                "cmr": "BOMBLET",
                "other_erw": "MORTAR",
                "_U": "UNKNOWN",
            },
            "civilian_status": {
                "civilian": "CIVILIAN",
                "deminer": "EOD",
                "military": "MILITARY",
                "_U": "N/A",
            },
            "impairment": {
                "amputation": "LIMB LOSS",
                "visual": "EYE",
                "hearing": "EAR",
                "other": "BURNS",
                "none": "NIL",
            },
            "disability": {"wg_yes": "Y", "wg_no": "N"},
            **{f"service_{s}": {"yes": "TRUE", "no": "FALSE"} for s in _SERVICES},
        },
        admin1_romanised=False,
    ),
    Reshape(
        name="terse",
        headers={
            "record_id": "No.",
            "incident_date": "Dt",
            "admin1": "Prov",
            "sex": "Sx",
            "age": "Yrs",
            "device": "Item",
            "outcome": "Fate",
            "civilian_status": "Grp",
            "impairment": "Inj",
            "disability": "WG-SS",
            "service_medical": "Hosp",
            "service_rehabilitation": "Prosth",
            "service_psychosocial": "PSS",
            "service_socioeconomic": "Livelihood",
            "service_education": "School",
        },
        labels={
            "sex": {"f": "fem", "m": "masc"},
            "outcome": {"killed": "Deceased", "injured": "Wounded"},
            "device": {
                "ap_mine": "PMN-2",
                "av_mine": "TM-46",
                "improvised_mine": "VOIED",
                "unspecified_mine": "Mine",
                "cmr": "BLU-26",
                "other_erw": "105mm shell",
                "_U": "?",
            },
            "civilian_status": {
                "civilian": "Villager",
                "deminer": "Clearance team",
                "military": "Armed forces",
                "_U": "-",
            },
            "impairment": {
                "amputation": "Leg amputated",
                "visual": "Lost sight",
                "hearing": "Deafness",
                "other": "Shrapnel",
                "none": "None",
            },
            "disability": {"wg_yes": "Yes", "wg_no": "No"},
            **{f"service_{s}": {"yes": "y", "no": "n"} for s in _SERVICES},
        },
        delimiter="|",
        admin1_romanised=False,
        native_admin1=True,
    ),
)

# Admin-1 names in the country's own script, as a local database writes them.
NATIVE: dict[str, dict[str, str]] = {
    "KHM": {
        "KH-2": "បាត់ដំបង",
        "KH-1": "បន្ទាយមានជ័យ",
        "KH-22": "ឧត្ដរមានជ័យ",
        "KH-24": "ប៉ៃលិន",
        "KH-13": "ព្រះវិហារ",
        "KH-17": "សៀមរាប",
        "KH-15": "ពោធិ៍សាត់",
    },
    "LAO": {
        "LA-XI": "ຊຽງຂວາງ",
        "LA-SV": "ສະຫວັນນະເຂດ",
        "LA-SL": "ສາລະວັນ",
        "LA-HO": "ຫົວພັນ",
        "LA-CH": "ຈຳປາສັກ",
    },
    "THA": {
        "TH-27": "สระแก้ว",
        "TH-33": "ศรีสะเกษ",
        "TH-32": "สุรินทร์",
        "TH-23": "ตราด",
        "TH-34": "อุบลราชธานี",
    },
    "MMR": {
        "MM-17": "ရှမ်း",
        "MM-01": "စစ်ကိုင်း",
        "MM-13": "ကရင်",
        "MM-16": "ရခိုင်",
        "MM-11": "ကချင်",
        "MM-02": "ပဲခူး",
    },
    "VNM": {
        "VN-25": "Tỉnh Quảng Trị",
        "VN-29": "Tỉnh Quảng Ngãi",
        "VN-22": "Tỉnh Nghệ An",
        "VN-23": "Tỉnh Hà Tĩnh",
        "VN-26": "Thành phố Huế",
    },
}


def _true_codes(export: SyntheticExport, cb: Codebook) -> dict[str, dict[str, str]]:
    """Field -> raw value in the original export -> its code."""
    shape = PROFILES[export.country].shape
    country = cb.country(export.country)
    out: dict[str, dict[str, str]] = {
        f: {s: code for code, spellings in labels.items() for s in spellings}
        for f, labels in shape.labels.items()
    }
    admin = {u.label: u.id for u in country.admin1} | {u.id: u.id for u in country.admin1}
    out["admin1"] = admin | dict(country.admin1_aliases)
    return out


def reshape_export(
    export: SyntheticExport,
    reshape: Reshape,
    out_dir: str | Path,
    *,
    codebook: Codebook | None = None,
) -> ReshapedExport:
    """Write ``export`` re-shaped as ``reshape`` (CSV) into ``out_dir``, with its truth."""
    cb = codebook or load_codebook()
    shape = PROFILES[export.country].shape
    truth = _true_codes(export, cb)
    labels = {u.id: u.label for u in cb.country(export.country).admin1}
    romanised = ROMANISED.get(export.country, {}) if reshape.admin1_romanised else {}
    if reshape.native_admin1:
        romanised = NATIVE.get(export.country, {})
    fields = {header: field for field, header in shape.columns.items()}
    cols: dict[str, list[str]] = {}
    values: dict[str, dict[str, str]] = {}
    for chunk in read_chunks(export.path, SourceOptions()):
        for header, arr in chunk.columns.items():
            field = fields[header]
            new = reshape.headers[field] if not (field == "age" and shape.age_from_birth) else "DOB"
            out = cols.setdefault(new, [])
            for raw in arr.to_pylist():
                if field not in truth or not raw.strip():
                    out.append(raw)
                    continue
                code = truth[field][raw]
                spelled = (
                    romanised.get(code, labels.get(code, raw))
                    if field == "admin1"
                    else reshape.labels.get(field, {}).get(code, raw)
                )
                out.append(spelled)
                if spelled.strip():
                    values.setdefault(field, {})[spelled] = code
    path = Path(out_dir) / f"{export.country.lower()}_{reshape.name}.csv"
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=reshape.delimiter, lineterminator="\n")
    writer.writerow(list(cols))
    writer.writerows(zip(*cols.values(), strict=True))
    atomic_write(path, buf.getvalue().encode("utf-8"))
    columns = {
        f: ("DOB" if f == "age" and shape.age_from_birth else reshape.headers[f])
        for f in shape.columns
    }
    return ReshapedExport(path, columns, values, shape.age_from_birth)


@dataclass(frozen=True)
class DraftScore:
    """How much of a mapping draft is right: columns and distinct values."""

    columns_right: int
    columns_total: int
    values_right: int
    values_wrong: int
    values_unplaced: int  # "?" or the field's column not found
    wrong: tuple[str, ...]  # "field: value -> guessed (true)" and "field: column ..."

    @property
    def values_total(self) -> int:
        """Distinct values judged."""
        return self.values_right + self.values_wrong + self.values_unplaced


def score_draft(draft: str, truth: ReshapedExport) -> DraftScore:
    """Compare a mapping draft (TOML text) with the truth of a re-shaped export."""
    fields = tomllib.loads(draft).get("fields", {})
    wrong: list[str] = []
    right_cols = 0
    for field, header in truth.columns.items():
        got = fields.get(field, {})
        found = got.get("birth_date") if field == "age" and truth.birth_date else got.get("column")
        if found == header:
            right_cols += 1
        else:
            wrong.append(f"{field}: column {found!r} (true {header!r})")
    right = bad = unplaced = 0
    for field, values in truth.values.items():
        guessed = fields.get(field, {})
        mapped = guessed.get("values", {}) if guessed.get("column") == truth.columns[field] else {}
        for raw, code in values.items():
            got = mapped.get(raw, "?")
            if got == code:
                right += 1
            elif got == "?":
                unplaced += 1
                wrong.append(f"{field}: {raw!r} unplaced (true {code})")
            else:
                bad += 1
                wrong.append(f"{field}: {raw!r} -> {got} (true {code})")
    return DraftScore(right_cols, len(truth.columns), right, bad, unplaced, tuple(wrong))
