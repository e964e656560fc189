"""Strict JSON: duplicate keys, NaN, nesting; and the fast canonical check agrees with RFC 8785."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vanfed._json import canonical_bytes, loads_canonical, loads_strict
from vanfed.errors import InputError

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.text(max_size=8)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_fast_canonical_check_agrees_with_reference(value) -> None:
    try:
        reference = canonical_bytes(value)
    except InputError:
        return  # integers outside the I-JSON range have no canonical form
    assert loads_canonical(reference)[1] is True
    pretty = json.dumps(value, indent=1).encode()
    assert loads_canonical(pretty)[1] is (pretty == reference)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": 1, "a": 2}', "duplicate key 'a'"),
        ('{"a": NaN}', "NaN is not allowed"),
        ("[1, Infinity]", "Infinity is not allowed"),
        ("[" * 40 + "]" * 40, "nested deeper"),
        ('{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', None),
    ],
)
def test_strict_parsing(text: str, message: str | None) -> None:
    if message is None:
        assert loads_strict(text) == json.loads(text)
        return
    with pytest.raises(InputError, match=message):
        loads_strict(text)
