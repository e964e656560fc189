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


@given(json_values, st.sampled_from([None, 1, 2]))
def test_fast_paths_agree_with_the_strict_parser(value, indent) -> None:
    """The orjson paths decide exactly as the hooked parser, duplicates included."""
    text = json.dumps(value, indent=indent, ensure_ascii=False)
    compact = f'{{"dup":{json.dumps(value, separators=(",", ":"))},"dup":1}}'
    for dup in (f'[{{"dup": 0, "dup": 1}}, {text}]', f'{{"dup": {text}, "dup": 1}}', compact):
        for data in (dup, dup.encode()):
            with pytest.raises(InputError, match="duplicate key 'dup'"):
                loads_strict(data)
        with pytest.raises(InputError, match="duplicate key 'dup'"):
            loads_canonical(dup.encode())
    assert loads_strict(text.encode()) == loads_strict(text)


@pytest.mark.parametrize(
    ("data", "canonical"),
    [
        (b'{"a":1}', True),
        (b'{"a":1.0}', False),  # an integer written as a float is not canonical
        (b'{"a":1e2}', False),
        (b'{"a":1.5}', True),
        (b'{"a":"1.0","b":[true,false,null]}', True),
        (b'{"b":1,"a":2}', False),
        (b'{"a":12345678901234567}', False),  # beyond 2**53: RFC 8785 has no exact form
        (b'{"a":123456789012345}', True),
        (rb'{"\ud83d\ude00":1,"\uffff":2}', False),  # escapes are not canonical
        ('{"😀":1,"￿":2}'.encode(), True),  # UTF-16 order puts U+1F600 first
        ('{"￿":2,"😀":1}'.encode(), False),
    ],
)
def test_canonical_cases(data: bytes, canonical: bool) -> None:
    assert loads_canonical(data)[1] is canonical


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": 1, "a": 2}', "duplicate key 'a'"),
        ('[{"a:b": 1}, {"x": 1, "a:b": 2, "x": 3}]', "duplicate key 'x'"),
        ('{"a": NaN}', "NaN is not allowed"),
        ("[1, Infinity]", "Infinity is not allowed"),
        ("[" * 40 + "]" * 40, "nested deeper"),
        ('{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', None),
    ],
)
@pytest.mark.parametrize("as_bytes", [False, True])
def test_strict_parsing(text: str, message: str | None, as_bytes: bool) -> None:
    data = text.encode() if as_bytes else text
    if message is None:
        assert loads_strict(data) == json.loads(text)
        return
    with pytest.raises(InputError, match=message):
        loads_strict(data)
