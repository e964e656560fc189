"""Regenerate ``src/vanfed/schema/data/codebook_v1.json``.

The codebook is versioned *data*: nodes and the coordinator cite its digest, so it must not
change when a library updates. This script freezes ISO 3166-2 admin-1 lists from pycountry
and applies the per-country overrides below; ``tests/unit/schema`` checks the shipped file
against pycountry and these overrides. Run it only when making a new codebook version.
"""

from __future__ import annotations

import json
from pathlib import Path

import pycountry

COUNTRIES = ["BRN", "KHM", "IDN", "LAO", "MYS", "MMR", "PHL", "SGP", "THA", "VNM"]

# Indonesia's top ISO level is "geographical units"; admin-1 are the provinces below them.
USE_CHILD_LEVEL = {"IDN"}

# Viet Nam: National Assembly Resolution 202/2025/QH15, effective 2025-07-01: 63 provincial
# units merged into 34. Each new unit keeps the ISO code of the unit whose name it keeps;
# the codes of absorbed units become aliases so that older exports still map.
VNM_2025 = {
    "VN-07": ["VN-03"],
    "VN-04": [],
    "VN-01": [],
    "VN-02": ["VN-06"],
    "VN-69": ["VN-53"],
    "VN-71": [],
    "VN-09": [],
    "VN-05": [],
    "VN-68": ["VN-70", "VN-14"],
    "VN-56": ["VN-54"],
    "VN-13": [],
    "VN-66": ["VN-20"],
    "VN-18": ["VN-63", "VN-67"],
    "VN-21": [],
    "VN-22": [],
    "VN-23": [],
    "VN-25": ["VN-24"],
    "VN-29": ["VN-28"],
    "VN-30": ["VN-31"],
    "VN-34": ["VN-36"],
    "VN-35": ["VN-72", "VN-40"],
    "VN-33": ["VN-32"],
    "VN-39": ["VN-58"],
    "VN-37": ["VN-41"],
    "VN-49": ["VN-50", "VN-51"],
    "VN-45": ["VN-46"],
    "VN-59": ["VN-55"],
    "VN-44": ["VN-47"],
    "VN-HN": [],
    "VN-26": [],
    "VN-HP": ["VN-61"],
    "VN-DN": ["VN-27"],
    "VN-SG": ["VN-57", "VN-43"],
    "VN-CT": ["VN-52", "VN-73"],
}
RENAMED = {"VN-26": "Huế", "VN-SG": "Thành phố Hồ Chí Minh"}


def _hxl(code: str) -> str:
    return code.lower().replace("-", "_")


def admin1(iso3: str) -> tuple[list[dict[str, str]], dict[str, str], str]:
    alpha2 = pycountry.countries.get(alpha_3=iso3).alpha_2
    subs = list(pycountry.subdivisions.get(country_code=alpha2))
    if iso3 in USE_CHILD_LEVEL:
        chosen = [s for s in subs if s.parent_code is not None]
    else:
        chosen = [s for s in subs if s.parent_code is None]
    names = {s.code: s.name for s in subs}
    aliases: dict[str, str] = {}
    version = getattr(pycountry, "__version__", "")
    source = f"ISO 3166-2:{alpha2} (pycountry {version})".replace(" ()", "")
    if iso3 == "VNM":
        chosen_codes = sorted(VNM_2025)
        for new, olds in VNM_2025.items():
            for old in olds:
                aliases[old] = new
        source += " with Resolution 202/2025/QH15 mergers"
        codes = [{"id": c, "label": RENAMED.get(c, names[c]), "hxl": _hxl(c)} for c in chosen_codes]
    else:
        codes = [
            {"id": s.code, "label": s.name, "hxl": _hxl(s.code)}
            for s in sorted(chosen, key=lambda s: s.code)
        ]
    return codes, aliases, source


def dim(
    id_: str, label: str, codes: list[tuple[str, str, str]], **extra: object
) -> dict[str, object]:
    return {
        "id": id_,
        "label": label,
        "codes": [{"id": c, "label": lab, "hxl": h} for c, lab, h in codes],
        **extra,
    }


UNKNOWN = ("_U", "Unknown", "unknown")
YES_NO = [("yes", "Received", "yes"), ("no", "Not received", "no"), UNKNOWN]


def build() -> dict[str, object]:
    dims = [
        dim("sex", "Sex", [("f", "Female", "f"), ("m", "Male", "m"), UNKNOWN]),
        {
            "id": "age",
            "label": "Age at the time of the incident",
            "codes": [
                {"id": "0-4", "label": "0-4 years", "hxl": "age0_4"},
                {"id": "5-11", "label": "5-11 years", "hxl": "age5_11"},
                {"id": "12-17", "label": "12-17 years", "hxl": "age12_17"},
                {
                    "id": "child",
                    "label": "Child (under 18)",
                    "hxl": "children",
                    "children": ["0-4", "5-11", "12-17"],
                },
                {"id": "18-59", "label": "18-59 years", "hxl": "age18_59"},
                {"id": "60+", "label": "60 years and over", "hxl": "age60plus"},
                {
                    "id": "adult",
                    "label": "Adult (18 and over)",
                    "hxl": "adults",
                    "children": ["18-59", "60+"],
                },
                {"id": "_U", "label": "Unknown", "hxl": "unknown"},
            ],
            "bands": {
                "0-4": [0, 4],
                "5-11": [5, 11],
                "12-17": [12, 17],
                "18-59": [18, 59],
                "60+": [60, 130],
            },
        },
        dim(
            "device",
            "Explosive ordnance type (Landmine Monitor)",
            [
                ("ap_mine", "Antipersonnel mine", "ap_mine"),
                ("av_mine", "Antivehicle mine", "av_mine"),
                ("improvised_mine", "Improvised mine", "improvised_mine"),
                ("unspecified_mine", "Unspecified mine type", "unspecified_mine"),
                ("cmr", "Cluster munition remnants", "cmr"),
                ("other_erw", "Other explosive remnants of war", "other_erw"),
                UNKNOWN,
            ],
        ),
        dim(
            "outcome",
            "Outcome",
            [("killed", "Killed", "killed"), ("injured", "Injured (survivor)", "injured"), UNKNOWN],
        ),
        dim(
            "civilian_status",
            "Civilian status",
            [
                ("civilian", "Civilian", "civilian"),
                ("deminer", "Deminer", "deminer"),
                ("military", "Military or security forces", "military"),
                UNKNOWN,
            ],
        ),
        dim(
            "impairment",
            "Main impairment",
            [
                ("amputation", "Amputation", "amputation"),
                ("visual", "Visual", "visual"),
                ("hearing", "Hearing", "hearing"),
                ("other", "Other impairment", "other"),
                ("none", "No lasting impairment", "none"),
                UNKNOWN,
            ],
        ),
        dim(
            "disability",
            "Disability (Washington Group short set cut-off)",
            [
                ("wg_yes", "With disability", "disabled"),
                ("wg_no", "Without disability", "not_disabled"),
                UNKNOWN,
            ],
        ),
        dim("service_medical", "Received medical care", YES_NO, group="service"),
        dim("service_rehabilitation", "Received physical rehabilitation", YES_NO, group="service"),
        dim("service_psychosocial", "Received psychosocial support", YES_NO, group="service"),
        dim(
            "service_socioeconomic",
            "Received socio-economic inclusion support",
            YES_NO,
            group="service",
        ),
        dim("service_education", "Received education support", YES_NO, group="service"),
    ]
    countries = []
    for iso3 in COUNTRIES:
        c = pycountry.countries.get(alpha_3=iso3)
        codes, aliases, source = admin1(iso3)
        countries.append(
            {
                "id": iso3,
                "label": getattr(c, "common_name", c.name),
                "hxl": iso3.lower(),
                "admin1": codes,
                "admin1_aliases": aliases,
                "admin1_source": source,
            }
        )
    return {
        "id": "vanfed-asean",
        "version": "1",
        "title": "vanfed ASEAN victim-assistance codebook",
        "special_codes": {"_T": "Total", "_U": "Unknown"},
        "countries": countries,
        "dimensions": dims,
    }


if __name__ == "__main__":
    out = Path(__file__).resolve().parents[1] / "src/vanfed/schema/data/codebook_v1.json"
    out.write_text(json.dumps(build(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}")
