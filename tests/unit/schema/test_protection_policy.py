"""The protection policy: its TOML file and its optional place in the registry policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from vanfed._json import canonical_bytes
from vanfed.anonymize import build_ptable
from vanfed.errors import InputError
from vanfed.schema import CkmParams, Policy, ProtectionPolicy, load_protection_policy


def test_policy_file_round_trip(tmp_path: Path) -> None:
    f = tmp_path / "policy.toml"
    f.write_text(
        "grand_totals = true\n"
        'public_margins = [["outcome"], ["sex"], ["age"]]\n'
        '[[known_cells]]\noutcome = "killed"\nsex = "f"\n'
    )
    p = load_protection_policy(f)
    assert p.public_margins == (("outcome",), ("sex",), ("age",))
    assert p.known_cells == ({"outcome": "killed", "sex": "f"},)
    assert p.margin_sets() == {frozenset({"outcome"}), frozenset({"sex"}), frozenset({"age"})}


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('public_margins = [["sex", "sex"]]', "public_margins"),
        ("grand_totals = 3", "grand_totals"),
        ('public_marginz = [["sex"]]', "public_marginz"),
        ("public_margins = [", "not a valid TOML"),
    ],
)
def test_bad_policy_files_name_the_file_and_field(tmp_path: Path, text: str, where: str) -> None:
    f = tmp_path / "policy.toml"
    f.write_text(text + "\n")
    with pytest.raises(InputError, match=rf"policy\.toml: .*{where}"):
        load_protection_policy(f)


def test_registry_policy_field_is_optional_and_absent_from_old_bytes() -> None:
    old = Policy()
    assert "protection" not in old.to_json_obj()  # registries signed before keep their bytes
    fields = {name for name in Policy.model_fields if name != "protection"}
    assert canonical_bytes(old.to_json_obj()) == canonical_bytes(
        old.model_dump(mode="json", include=fields)
    )
    new = Policy(protection=ProtectionPolicy(public_margins=(("outcome",),)))
    back = Policy.model_validate(new.to_json_obj())
    assert back == new and back.protection is not None
    assert back.protection.public_margins == (("outcome",),)


def test_registry_policy_keeps_protection_and_ckm_side_by_side() -> None:
    ckm = build_ptable(CkmParams(max_noise=3, variance=1.5, js=2)).record()
    margins = ProtectionPolicy(public_margins=(("outcome",),))
    only_ckm = Policy(ckm=ckm).to_json_obj()
    assert "ckm" in only_ckm and "protection" not in only_ckm
    both = Policy(protection=margins, ckm=ckm)
    back = Policy.model_validate(both.to_json_obj())
    assert back == both and back.ckm == ckm and back.protection == margins
