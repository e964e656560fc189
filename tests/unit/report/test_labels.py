"""Labels are data for five languages: complete, human, and official country names."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from vanfed.errors import InputError
from vanfed.report import LANGUAGES, Labels
from vanfed.schema import load_codebook

CB = load_codebook()


def _data() -> dict:
    text = resources.files("vanfed.schema").joinpath("data", "labels_v1.json").read_text("utf-8")
    return json.loads(text)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_code_dimension_and_country_has_a_label_in_each_language(lang: str) -> None:
    data = _data()
    lab = Labels(CB, lang)
    for dim in CB.dimensions:
        assert lang in data["dimensions"][dim.id], (dim.id, lang)
        for code in dim.codes:
            if code.id == "_U":
                continue
            assert lang in data["codes"][dim.id][code.id], (dim.id, code.id, lang)
            label = lab.code(dim.id, code.id)
            assert label and label != code.id and "_" not in label
    for c in CB.countries:
        assert lang in data["countries"][c.id]
    for key, entry in data["ui"].items():
        assert lang in entry, (key, lang)
    assert lab.code("outcome", "_T") == data["special"]["_T"][lang]
    assert lab.code("sex", "_U") == data["special"]["_U"][lang]


def test_official_country_names_and_admin1_from_the_codebook() -> None:
    en = Labels(CB, "en")
    assert en.country("LAO") == "Lao PDR" and en.country("VNM") == "Viet Nam"
    assert en.country("_T").startswith("ASEAN region")
    assert Labels(CB, "vi").country("VNM") == "Việt Nam"
    assert en.code("admin1", "KH-17", "KHM") == "Siem Reab"
    assert en.table_title("#affected", ["sex", "age", "outcome"]) == (
        "Casualties by sex, age group and outcome"
    )
    assert Labels(CB, "th").table_title("#reached", ["service_medical"]).startswith("ผู้รอดชีวิต")


def test_scripts_are_the_languages_own() -> None:
    ranges = {"km": (0x1780, 0x17FF), "lo": (0x0E80, 0x0EFF), "th": (0x0E00, 0x0E7F)}
    for lang, (lo, hi) in ranges.items():
        title = Labels(CB, lang).ui("title")
        assert sum(lo <= ord(ch) <= hi for ch in title) > 10, lang


def test_unknown_language_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="language 'fr' is not available"):
        Labels(CB, "fr")
