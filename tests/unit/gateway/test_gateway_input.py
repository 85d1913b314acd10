"""Gateway input checks that run before any RPC: NUL characters are refused, naming the field."""
import jwt
import pytest

from confide.validation import first_bad_text
from gateway.errors import InvalidBody
from gateway.schemas import DisclosureRequestBodySchema
from gateway.service import _load


@pytest.mark.parametrize("body, field", [
    ({"patient_id": "P\x00"}, "patient_id"),
    ({"patient_id": "P", "claim_id": "ok", "nested": {"list": ["a", "b\x00"]}}, "nested.list.1"),
    ({"patient_id": "P"}, None),
])
def test_nul_field_names_the_first_offending_path(body, field):
    found = first_bad_text(body)
    assert (found[0] if found else None) == field


def test_a_nul_in_the_body_is_a_422_naming_the_field():
    with pytest.raises(InvalidBody) as err:
        _load(DisclosureRequestBodySchema(), {"patient_id": "P-1\x00", "purpose": "payment"})
    assert err.value.field == "patient_id" and "NUL" in str(err.value.messages)


def test_deeply_nested_bodies_are_a_400_not_a_stack_overflow():
    from types import SimpleNamespace

    from gateway.errors import MalformedJSON
    from gateway.service import _body

    for depth in (40, 100_000):
        raw = '{"a": ' + "[" * depth + "]" * depth + "}"
        with pytest.raises(MalformedJSON, match="deeper"):
            _body(SimpleNamespace(get_data=lambda as_text=True, raw=raw: raw))
    ok = '{"a": ' + "[" * 10 + "]" * 10 + "}"
    assert _body(SimpleNamespace(get_data=lambda as_text=True: ok)) == {"a": [[[[[[[[[[]]]]]]]]]]}


def test_a_lone_surrogate_is_a_422_naming_the_field():
    with pytest.raises(InvalidBody) as err:
        _load(DisclosureRequestBodySchema(), {"patient_id": "P-\ud800"})
    assert err.value.field == "patient_id"


@pytest.mark.parametrize("raw", ["x\x00y", "../../etc", "a" * 200, "%00", "id with space"])
def test_impossible_request_ids_are_not_found(raw):
    from gateway.errors import RequestNotFound
    from gateway.service import _request_id

    with pytest.raises(RequestNotFound):
        _request_id(raw)
    assert _request_id("0f3c8a52-1b2d-5e6f-8a9b-0c1d2e3f4a5b") == "0f3c8a52-1b2d-5e6f-8a9b-0c1d2e3f4a5b"


def _signed(claims, key):
    from confide.identity.keys import key_id
    from gateway import tokens

    return jwt.encode(claims, key, algorithm=tokens.ALGORITHM, headers={"typ": tokens.TOKEN_TYPE, "kid": key_id(key)})


def _claims(**kw):
    import time

    from gateway import tokens

    now = int(time.time())
    return {"iss": tokens.ISSUER, "aud": tokens.AUDIENCE, "sub": "x", "client_id": "x", "org": "Acme",
            "role": "insurer_health_plan", "scope": "system/*.read", "iat": now, "exp": now + 60, "jti": "j", **kw}


def test_a_token_with_a_non_string_claim_is_refused_not_a_crash(tmp_path):
    from datetime import datetime, timezone

    from gateway import tokens

    key = tokens.signing_key(tmp_path)
    for bad in (_claims(role=["insurer_health_plan"]), _claims(org=7), _claims(exp="soon")):
        with pytest.raises(tokens.TokenError):
            tokens.verify_access_token(_signed(bad, key), key.public_key(), datetime.now(timezone.utc))


@pytest.mark.parametrize("org", ["Acme\x00", "Acme\u202e", "Acme\n"])
def test_a_token_whose_claims_hold_control_characters_is_refused(tmp_path, org):
    from datetime import datetime, timezone

    from gateway import tokens

    key = tokens.signing_key(tmp_path)
    with pytest.raises(tokens.TokenError):
        tokens.verify_access_token(_signed(_claims(org=org), key), key.public_key(), datetime.now(timezone.utc))
