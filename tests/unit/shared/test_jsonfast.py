"""Stored JSON decoded by msgspec where it agrees with json.loads, by json.loads where it would not."""
from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from confide.jsonfast import decode_json

texts = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, blacklist_categories=()), max_size=12)
scalars = st.one_of(
    st.none(), st.booleans(), texts,
    st.integers(),  # beyond 64 bits too: json.loads keeps them exact
    st.floats(allow_nan=True, allow_infinity=True),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(texts, inner, max_size=5)), max_leaves=30)


def _same(a, b) -> bool:
    """Equal values of equal types all the way down (1 != 1.0 here; NaN equals NaN; -0.0 is not 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return a == b


@settings(max_examples=1000, deadline=None)
@given(values, st.booleans())
def test_every_value_json_dumps_writes_decodes_as_json_loads_decodes_it(value, ascii_only):
    text = json.dumps(value, ensure_ascii=ascii_only)
    assert _same(decode_json(text), json.loads(text))
    assert _same(decode_json(text.encode("utf-8", "surrogatepass")) if ascii_only else decode_json(text),
                 json.loads(text))


@pytest.mark.parametrize("text", [
    '{"a": 1, "a": 2}',                     # the last duplicate key wins, as in json.loads
    "123456789012345678901234567890",       # beyond 64 bits: exact, never a float
    "-9223372036854775809",
    "18446744073709551616",
    "1e400", "-1e400", "NaN", "[Infinity, -Infinity]",  # msgspec refuses these; json.loads answers
    '"\\ud800"',                            # a lone surrogate
    "5e-324", "1.7976931348623157e308", "-0.0", "1E2", " {\"x\" : [ ] } ",
])
def test_where_msgspec_and_json_loads_would_differ_the_answer_is_json_loads(text):
    assert _same(decode_json(text), json.loads(text))


def test_text_that_is_not_json_raises_json_loads_error_naming_where():
    with pytest.raises(json.JSONDecodeError, match="line 1 column"):
        decode_json('{"a": ')
