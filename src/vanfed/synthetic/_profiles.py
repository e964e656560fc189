"""Country profiles for synthetic exports: magnitudes and each country's export shape.

Magnitudes follow the published figures quoted in DESIGN.md (Landmine Monitor, national
authorities): Cambodia ~35 casualties a year, ~80 % male; Lao PDR ~45 a year, ~40 % children,
mostly cluster munition remnants; Myanmar ~1,000 a year, ~1/3 children, mostly mines and
improvised mines; Thailand ~11 a year; Viet Nam large historical totals. The export shapes
(column names, labels, date formats, encodings) are invented to resemble what national
databases produce; no real record is used.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ALL_PROFILES", "PROFILES", "ExportShape", "Profile"]


@dataclass(frozen=True)
class ExportShape:
    """How a country's database export looks."""

    format: str  # csv | xlsx | jsonl
    filename: str
    columns: dict[str, str]  # codebook field -> export header
    labels: dict[str, dict[str, tuple[str, ...]]]  # field -> code -> raw spellings
    date_format: str  # strptime format, "iso" or "excel"
    encoding: str = "utf-8"
    delimiter: str = ","
    bom: bool = False
    age_from_birth: bool = False
    admin1_style: str = "label"  # label | code | old_code


@dataclass(frozen=True)
class Profile:
    country: str
    per_year: float
    p_male: float
    p_child: float
    p_killed: float
    devices: dict[str, float]
    civilian: dict[str, float]
    hotspots: tuple[str, ...]
    shape: ExportShape
    notes: str = ""
    cumulative: int = 0
    first_year: int = 1979
    extra: dict[str, str] = field(default_factory=dict)


_YES_NO = {"yes": ("Yes",), "no": ("No",)}
_SERVICES = (
    "service_medical",
    "service_rehabilitation",
    "service_psychosocial",
    "service_socioeconomic",
    "service_education",
)

KHM = Profile(
    country="KHM",
    per_year=35,
    p_male=0.8,
    p_child=0.25,
    p_killed=0.3,
    devices={
        "ap_mine": 0.25,
        "av_mine": 0.15,
        "unspecified_mine": 0.05,
        "cmr": 0.1,
        "other_erw": 0.43,
        "_U": 0.02,
    },
    civilian={"civilian": 0.93, "deminer": 0.04, "military": 0.02, "_U": 0.01},
    hotspots=("KH-2", "KH-1", "KH-22", "KH-24", "KH-13"),
    cumulative=64_954,
    first_year=1979,
    shape=ExportShape(
        format="csv",
        filename="khm_cmvis_export.csv",
        bom=True,
        date_format="%d/%m/%Y",
        columns={
            "record_id": "CaseNo",
            "incident_date": "Date of Incident",
            "admin1": "Province",
            "sex": "Sex",
            "age": "Age",
            "device": "Device Type",
            "outcome": "Casualty Type",
            "civilian_status": "Victim Status",
            "impairment": "Impairment",
            "disability": "WG Disability",
            **{s: s.split("_")[1].title() + " Assistance" for s in _SERVICES},
        },
        labels={
            "sex": {"f": ("Female", "F", "ស្រី"), "m": ("Male", "M", "ប្រុស"), "_U": ("",)},
            "device": {
                "ap_mine": ("AP Mine",),
                "av_mine": ("AT Mine",),
                "unspecified_mine": ("Mine",),
                "cmr": ("Cluster Munition",),
                "other_erw": ("UXO", "ERW"),
                "_U": ("Unknown",),
            },
            "outcome": {"killed": ("Killed",), "injured": ("Injured",)},
            "civilian_status": {
                "civilian": ("Civilian",),
                "deminer": ("Deminer",),
                "military": ("Military",),
                "_U": ("",),
            },
            "impairment": {
                "amputation": ("Amputation",),
                "visual": ("Visual",),
                "hearing": ("Hearing",),
                "other": ("Other",),
                "none": ("None",),
                "_U": ("",),
            },
            "disability": {"wg_yes": ("Yes",), "wg_no": ("No",), "_U": ("",)},
            **{s: {**_YES_NO, "_U": ("",)} for s in _SERVICES},
        },
    ),
)

LAO = Profile(
    country="LAO",
    per_year=45,
    p_male=0.7,
    p_child=0.4,
    p_killed=0.25,
    devices={"cmr": 0.62, "other_erw": 0.3, "unspecified_mine": 0.06, "_U": 0.02},
    civilian={"civilian": 0.97, "deminer": 0.02, "_U": 0.01},
    hotspots=("LA-XI", "LA-SV", "LA-SL", "LA-HO", "LA-CH"),
    shape=ExportShape(
        format="xlsx",
        filename="lao_nra_casualties.xlsx",
        date_format="excel",
        age_from_birth=True,
        columns={
            "record_id": "Victim ID",
            "incident_date": "Accident date",
            "admin1": "Khoueng",
            "sex": "Gender",
            "age": "Date of birth",
            "device": "Item",
            "outcome": "Result",
            "civilian_status": "Category",
            "impairment": "Injury type",
            "service_medical": "Medical",
            "service_rehabilitation": "Rehab",
            "service_psychosocial": "Psychosocial",
            "service_education": "Education",
        },
        labels={
            "sex": {"f": ("F", "ຍິງ"), "m": ("M", "ຊາຍ"), "_U": ("",)},
            "device": {
                "cmr": ("Bombie", "Cluster submunition"),
                "other_erw": ("UXO", "Mortar"),
                "unspecified_mine": ("Landmine",),
                "_U": ("",),
            },
            "outcome": {"killed": ("Dead",), "injured": ("Injured",)},
            "civilian_status": {
                "civilian": ("Civilian",),
                "deminer": ("EOD/Deminer",),
                "_U": ("",),
            },
            "impairment": {
                "amputation": ("Amputation",),
                "visual": ("Eye injury",),
                "hearing": ("Ear injury",),
                "other": ("Other",),
                "none": ("None",),
                "_U": ("",),
            },
            **{s: {"yes": ("Y",), "no": ("N",), "_U": ("",)} for s in _SERVICES},
        },
    ),
)

MMR = Profile(
    country="MMR",
    per_year=1000,
    p_male=0.75,
    p_child=0.33,
    p_killed=0.3,
    devices={
        "ap_mine": 0.2,
        "improvised_mine": 0.35,
        "unspecified_mine": 0.2,
        "other_erw": 0.2,
        "_U": 0.05,
    },
    civilian={"civilian": 0.8, "military": 0.15, "_U": 0.05},
    hotspots=("MM-17", "MM-01", "MM-13", "MM-16", "MM-11", "MM-02"),
    shape=ExportShape(
        format="csv",
        filename="mmr_casualties.csv",
        delimiter=";",
        date_format="iso",
        admin1_style="code",
        columns={
            "record_id": "victim_id",
            "incident_date": "incident_date",
            "admin1": "state_region_pcode",
            "sex": "sex",
            "age": "age_years",
            "device": "device",
            "outcome": "outcome",
            "civilian_status": "status",
        },
        labels={
            "sex": {"f": ("F",), "m": ("M",), "_U": ("U",)},
            "device": {
                "ap_mine": ("AP landmine",),
                "improvised_mine": ("IED (victim-activated)",),
                "unspecified_mine": ("Landmine",),
                "other_erw": ("UXO",),
                "_U": ("Unknown",),
            },
            "outcome": {"killed": ("killed",), "injured": ("injured",)},
            "civilian_status": {
                "civilian": ("civilian",),
                "military": ("military",),
                "_U": ("unknown",),
            },
        },
    ),
)

THA = Profile(
    country="THA",
    per_year=11,
    p_male=0.85,
    p_child=0.1,
    p_killed=0.2,
    devices={"ap_mine": 0.7, "other_erw": 0.25, "_U": 0.05},
    civilian={"civilian": 0.6, "military": 0.35, "deminer": 0.05},
    hotspots=("TH-27", "TH-33", "TH-32", "TH-23", "TH-34"),
    shape=ExportShape(
        format="csv",
        filename="tha_tmac_export.txt",
        encoding="utf-16",
        delimiter="\t",
        date_format="%d/%m/%Y",
        columns={
            "record_id": "Ref",
            "incident_date": "Incident date",
            "admin1": "Province",
            "sex": "Sex",
            "age": "Age",
            "device": "Device",
            "outcome": "Outcome",
            "civilian_status": "Victim type",
            "impairment": "Impairment",
        },
        labels={
            "sex": {"f": ("หญิง", "Female"), "m": ("ชาย", "Male")},
            "device": {"ap_mine": ("AP mine",), "other_erw": ("UXO",), "_U": ("Unknown",)},
            "outcome": {"killed": ("Killed",), "injured": ("Injured",)},
            "civilian_status": {
                "civilian": ("Civilian",),
                "military": ("Military",),
                "deminer": ("Deminer",),
            },
            "impairment": {
                "amputation": ("Amputation",),
                "visual": ("Visual",),
                "hearing": ("Hearing",),
                "other": ("Other",),
                "none": ("None",),
                "_U": ("",),
            },
        },
    ),
)

VNM = Profile(
    country="VNM",
    per_year=60,
    p_male=0.85,
    p_child=0.3,
    p_killed=0.35,
    devices={"cmr": 0.3, "other_erw": 0.55, "unspecified_mine": 0.1, "_U": 0.05},
    civilian={"civilian": 0.95, "deminer": 0.03, "_U": 0.02},
    hotspots=("VN-25", "VN-29", "VN-22", "VN-23", "VN-26"),
    cumulative=105_000,
    first_year=1975,
    shape=ExportShape(
        format="jsonl",
        filename="vnm_vnmac_records.jsonl",
        date_format="iso",
        admin1_style="old_code",
        columns={
            "record_id": "ma_so",
            "incident_date": "ngay_tai_nan",
            "admin1": "tinh",
            "sex": "gioi_tinh",
            "age": "tuoi",
            "device": "loai_bom_min",
            "outcome": "hau_qua",
            "impairment": "thuong_tat",
            "service_medical": "y_te",
            "service_rehabilitation": "phuc_hoi_chuc_nang",
        },
        labels={
            "sex": {"f": ("Nữ",), "m": ("Nam",), "_U": ("",)},
            "device": {
                "cmr": ("Bom bi",),
                "other_erw": ("Bom", "Đạn pháo", "Lựu đạn"),
                "unspecified_mine": ("Mìn",),
                "_U": ("Không rõ",),
            },
            "outcome": {"killed": ("Chết",), "injured": ("Bị thương",)},
            "impairment": {
                "amputation": ("Cụt chi",),
                "visual": ("Mù",),
                "hearing": ("Điếc",),
                "other": ("Khác",),
                "none": ("Không",),
                "_U": ("",),
            },
            **{s: {"yes": ("Có",), "no": ("Không",), "_U": ("",)} for s in _SERVICES},
        },
    ),
)

PROFILES: dict[str, Profile] = {p.country: p for p in (KHM, LAO, MMR, THA, VNM)}


def _plain(country: str, per_year: float, hotspots: tuple[str, ...], notes: str) -> Profile:
    """A member state with few or no recorded casualties, in one plain CSV shape: the load
    tests and benchmarks of a ten-node federation need them; the demo does not."""
    return Profile(
        country=country,
        per_year=per_year,
        p_male=0.8,
        p_child=0.2,
        p_killed=0.3,
        devices={"other_erw": 0.6, "improvised_mine": 0.3, "_U": 0.1},
        civilian={"civilian": 0.85, "military": 0.1, "_U": 0.05},
        hotspots=hotspots,
        notes=notes,
        shape=ExportShape(
            format="csv",
            filename=f"{country.lower()}_casualties.csv",
            date_format="iso",
            admin1_style="code",
            columns={
                "record_id": "id",
                "incident_date": "date",
                "admin1": "admin1",
                "sex": "sex",
                "age": "age",
                "device": "device",
                "outcome": "outcome",
                "civilian_status": "status",
            },
            labels={
                "sex": {"f": ("F",), "m": ("M",), "_U": ("",)},
                "device": {
                    "other_erw": ("ERW",),
                    "improvised_mine": ("IED",),
                    "_U": ("Unknown",),
                },
                "outcome": {"killed": ("killed",), "injured": ("injured",)},
                "civilian_status": {
                    "civilian": ("civilian",),
                    "military": ("military",),
                    "_U": ("",),
                },
            },
        ),
    )


# The other five member states, at rough orders of magnitude (not in DESIGN.md's figures:
# the Philippines and Indonesia record a few dozen and a few ERW/IED casualties a year;
# Brunei, Malaysia and Singapore about none, floored at two so that a node has something to
# count). For load tests and benchmarks only.
OTHERS: dict[str, Profile] = {
    p.country: p
    for p in (
        _plain("PHL", 40, ("PH-14", "PH-12"), "ERW and IEDs, mostly in Mindanao"),
        _plain("IDN", 6, ("ID-AC", "ID-PA"), "legacy ERW"),
        _plain("MYS", 2, ("MY-12",), "about none recorded"),
        _plain("BRN", 2, ("BN-TE",), "about none recorded"),
        _plain("SGP", 2, ("SG-01",), "about none recorded"),
    )
}
# Every member state: the demo's five (PROFILES) and the others.
ALL_PROFILES: dict[str, Profile] = {**PROFILES, **OTHERS}
