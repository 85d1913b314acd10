"""confide.validation names a bad key without carrying the bad text itself into the field path.

Before the refactor the gateway reported a key holding NUL as ``repr(key)`` (``facts.'a\\x00b'``); the
shared helper escapes lone surrogates (backslashreplace) but passes NUL through raw, so the 422's
``field``, the exception text and any log line carry a NUL (the one character no record may hold).
"""
import pytest
from marshmallow import INCLUDE, Schema

from confide import validation


class Loose(Schema):
    class Meta:
        unknown = INCLUDE


@pytest.mark.parametrize("payload", [{"a\x00b": "x"}, {"facts": {"k\x00": "v"}}, {"facts": {"ok": {"\x00": 1}}}])
def test_a_bad_key_is_named_without_a_raw_nul(payload):
    with pytest.raises(validation.PayloadError) as err:
        validation.load(Loose, payload)
    assert "\x00" not in err.value.field
    assert "\x00" not in str(err.value)
    assert all("\x00" not in k for k in err.value.messages)


def test_a_surrogate_key_is_named_escaped():
    with pytest.raises(validation.PayloadError) as err:
        validation.load(Loose, {"facts": {"k\ud800": "v"}})
    assert err.value.field == "facts.k\\ud800"
