"""The append path's canonical JSON (C encoder where exact) writes what rfc8785 writes, or raises as it does."""
from __future__ import annotations

import enum

import pytest
import rfc8785
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from confide.envelope import batch_hasher, canonical_json, content_hash

# Every kind of string: control characters, non-BMP, lone surrogates, U+E000..U+FFFF (UTF-16 order).
texts = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, blacklist_categories=()), max_size=12)
keys = st.one_of(texts, st.sampled_from(["a", "b", "\ue000", "\U0001f600", "A", "_", "é"]))
scalars = st.one_of(
    st.none(), st.booleans(), texts,
    st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
    st.integers(min_value=-(2**60), max_value=2**60),
    st.floats(allow_nan=True, allow_infinity=True),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.tuples(inner, inner), st.dictionaries(keys, inner, max_size=5)), max_leaves=30)


def _reference(value):
    try:
        return ("ok", rfc8785.dumps(value).decode("utf-8"))
    except Exception as exc:  # noqa: BLE001 - the error type is what is compared
        return ("error", type(exc))


def _ours(value):
    try:
        return ("ok", canonical_json(value))
    except Exception as exc:  # noqa: BLE001
        return ("error", type(exc))


@settings(max_examples=1000, deadline=None)
@given(st.dictionaries(keys, values, max_size=6))
def test_same_bytes_or_same_error_as_rfc8785(value):
    assert _ours(value) == _reference(value)


class Colour(str, enum.Enum):
    RED = "red"


class Size(enum.IntEnum):
    BIG = 7


@pytest.mark.parametrize("value", [
    {"a": Colour.RED}, {"n": Size.BIG}, {"x": 1.0}, {"x": 1e21}, {"x": 2**53}, {"x": -(2**53)},
    {1: "non-str key"}, {"s": "\ud800"}, {"k": "\x00\x1f\x7f\u2028"}, {"\U0001f600": 1, "\uffff": 2},
    {"shared": [[1], [1]]}, {"set": {1, 2}}, {"b": b"bytes"}, {}, {"nested": {"z": [], "a": {}}},
])
def test_edge_values(value):
    assert _ours(value) == _reference(value)


def _nested(depth: int):
    value: object = {"leaf": 1}
    for i in range(depth):
        value = {"k": [value, i]} if i % 2 else [value]
    return value


@pytest.mark.parametrize("depth", [3, 63, 64, 65, 200])
def test_deep_values_written_as_rfc8785_writes_them(depth):
    assert _ours({"deep": _nested(depth)}) == _reference({"deep": _nested(depth)})


def test_shared_containers_and_cycles():
    inner = [1, 2]
    assert canonical_json({"a": inner, "b": inner}) == rfc8785.dumps({"a": inner, "b": inner}).decode()
    loop: dict = {}
    loop["self"] = loop
    with pytest.raises(RecursionError):
        canonical_json(loop)



def _outcome(fn):
    try:
        return ("ok", fn())
    except Exception as exc:  # noqa: BLE001 - the error type is what is compared
        return ("error", type(exc))


@settings(max_examples=300, deadline=None)
@given(stream=texts, recorded_at=texts, version=st.integers(min_value=0, max_value=2**40), event_id=texts,
       type_=texts, data=st.dictionaries(keys, texts, max_size=3), metadata=st.dictionaries(keys, texts, max_size=3))
def test_batch_hasher_is_content_hash(stream, recorded_at, version, event_id, type_, data, metadata):
    """An append's batch hashes (constant parts encoded once) are content_hash's, byte for byte, and
    a text UTF-8 cannot carry (a lone surrogate) is refused by both alike."""
    texts_ = _outcome(lambda: (canonical_json(data), canonical_json(metadata)))
    assume(texts_[0] == "ok")
    data_json, metadata_json = texts_[1]
    ours = _outcome(lambda: batch_hasher(stream, recorded_at)(version, event_id, type_, data_json, metadata_json))
    reference = _outcome(lambda: content_hash(stream_name=stream, stream_version=version, event_id=event_id,
                                              type=type_, data_json=data_json, metadata_json=metadata_json,
                                              recorded_at=recorded_at))
    assert ours == reference
