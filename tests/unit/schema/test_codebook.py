import pycountry
import pytest

from vanfed.errors import InputError
from vanfed.schema import TOTAL, UNKNOWN, load_codebook


def test_codebook_digest_is_stable_and_cited_form() -> None:
    cb = load_codebook()
    assert cb.digest.startswith("sha256:") and len(cb.digest) == 71
    assert cb.digest == load_codebook().digest


def test_admin1_are_iso_3166_2_codes() -> None:
    cb = load_codebook()
    for country in cb.countries:
        alpha2 = pycountry.countries.get(alpha_3=country.id).alpha_2
        iso = {s.code for s in pycountry.subdivisions.get(country_code=alpha2)}
        for code in country.admin1:
            assert code.id in iso, (country.id, code.id)


def test_viet_nam_has_34_units_after_2025_merger_with_aliases() -> None:
    vnm = load_codebook().country("VNM")
    assert len(vnm.admin1) == 34
    # every former province either survives or is an alias of a surviving one
    old = {s.code for s in pycountry.subdivisions.get(country_code="VN")}
    kept = {c.id for c in vnm.admin1}
    assert old == kept | set(vnm.admin1_aliases)
    assert set(vnm.admin1_aliases.values()) <= kept


def test_age_hierarchy_and_special_codes() -> None:
    age = load_codebook().dimension("age")
    assert age.top() == ("child", "adult", UNKNOWN)
    assert age.code("child").children == ("0-4", "5-11", "12-17")
    assert TOTAL not in [c.id for c in age.codes]


def test_unknown_dimension_and_country_are_clear_errors() -> None:
    cb = load_codebook()
    with pytest.raises(InputError, match="no dimension 'colour'"):
        cb.dimension("colour")
    with pytest.raises(InputError, match="'XYZ' is not in codebook"):
        cb.country("XYZ")
