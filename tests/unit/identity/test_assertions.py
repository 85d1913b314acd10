"""mint/verify: round trips, and every refusal (forgery, alg confusion, tampering, time, audience, replay, ids, roles)."""
import base64
import dataclasses
import hashlib
import hmac
import json
import re
import uuid
from datetime import datetime, timedelta, timezone

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from confide.identity import assertions as a
from confide.identity.ids import InvalidIdentifierError
from confide.identity.keys import key_id, key_set
from confide.identity.roles import UnknownRoleError

from .conftest import AUDIENCE, ISSUER, NOW, SIGNED_IN

T0 = int(NOW.timestamp())


def _mint(key, **overrides):
    args = dict(subject="clin-0001", roles=("clinician", "supervisor"), org="practice-1", session_id="sess-1",
                auth_time=SIGNED_IN, amr=("pwd", "otp"), audience=AUDIENCE, issuer=ISSUER, now=NOW, ttl_seconds=120)
    args.update(overrides)
    return a.mint(key, **args)


def _verify(token, trusted, **overrides):
    args = dict(public_keys=trusted, audience=AUDIENCE, issuer=ISSUER, now=NOW)
    args.update(overrides)
    return a.verify(token, **args)


_DROP = object()


def _claims(**overrides):
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "clin-0001", "org": "practice-1", "roles": ["clinician"],
              "sid": "sess-1", "jti": "a-1", "iat": T0, "nbf": T0, "exp": T0 + 120,
              "auth_time": T0 - 1200, "amr": ["pwd", "otp"]}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not _DROP}


def _sign(key, claims=None, *, payload=None, header=None):
    """A properly Ed25519-signed token over any payload: the signature is fine, the content is on trial."""
    body = payload if payload is not None else json.dumps(claims).encode()
    headers = {"typ": a.TOKEN_TYPE, "kid": key_id(key)}
    headers.update(header or {})
    return jwt.PyJWS().encode(body, key, algorithm="EdDSA", headers=headers)


def _b64(data) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# -- round trips -----------------------------------------------------------------------------

def test_round_trip(signing_key, trusted):
    token = _mint(signing_key, assertion_id="a-0001")
    p = _verify(token, trusted)
    assert p == a.Principal(
        subject="clin-0001", roles=("clinician", "supervisor"), org="practice-1", session_id="sess-1",
        auth_time=SIGNED_IN, amr=("pwd", "otp"), acting_service=None, audience=AUDIENCE,
        expires_at=NOW + timedelta(seconds=120), assertion_id="a-0001",
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.subject = "someone-else"


def test_round_trip_service_to_service_and_default_assertion_id(signing_key, trusted):
    p = _verify(_mint(signing_key, acting_service="disclosures", roles=["billing"]), trusted)
    assert p.acting_service == "disclosures" and p.roles == ("billing",)
    assert uuid.UUID(p.assertion_id)


def test_wire_form(signing_key):
    token = _mint(signing_key, acting_service="disclosures")
    assert jwt.get_unverified_header(token) == {"alg": "EdDSA", "typ": "confide-identity+jwt", "kid": key_id(signing_key)}
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["iat"] == claims["nbf"] == T0 and claims["exp"] == T0 + 120
    assert claims["act"] == {"sub": "disclosures"} and claims["amr"] == ["pwd", "otp"]


def test_mint_normalises_identifiers(signing_key, trusted):
    p = _verify(_mint(signing_key, subject="rene\u0301", org="\u212bngstr\u00f6m"), trusted)
    assert p.subject == "ren\u00e9" and p.org == "\u00c5ngstr\u00f6m"


def test_key_rollover_old_and_new_keys_both_verify(signing_key, other_key):
    both = key_set([signing_key.public_key(), other_key.public_key()])
    assert _verify(_mint(signing_key), both).subject == "clin-0001"
    assert _verify(_mint(other_key), both).subject == "clin-0001"


def test_sub_second_now_and_max_ttl(signing_key, trusted):
    now = NOW + timedelta(microseconds=999_999)
    p = _verify(_mint(signing_key, now=now, ttl_seconds=300), trusted, now=now)
    assert p.expires_at == NOW + timedelta(seconds=300)


# -- forgery and algorithm confusion ---------------------------------------------------------

def test_forged_with_another_key_under_the_trusted_kid(signing_key, other_key, trusted):
    forged = _sign(other_key, _claims(), header={"kid": key_id(signing_key)})
    with pytest.raises(a.BadSignatureError, match="signature does not verify"):
        _verify(forged, trusted)


def test_signed_by_an_untrusted_key(other_key, trusted):
    with pytest.raises(a.UnknownKeyError, match="names no trusted key"):
        _verify(_mint(other_key), trusted)


def test_alg_none(signing_key, trusted):
    header = {"alg": "none", "typ": a.TOKEN_TYPE, "kid": key_id(signing_key)}
    for token in (f"{_b64(header)}.{_b64(_claims())}.", f"{_b64(header)}.{_b64(_claims())}"):
        with pytest.raises(a.AssertionRejectedError) as err:
            _verify(token, trusted)
        assert isinstance(err.value, (a.AlgorithmNotAllowedError, a.MalformedAssertionError))
    with pytest.raises(a.AlgorithmNotAllowedError, match="'none' is not allowed"):
        _verify(f"{_b64(header)}.{_b64(_claims())}.", trusted)


@pytest.mark.parametrize("encoding", ["pem", "raw"])
def test_hs256_keyed_with_the_public_key(signing_key, trusted, encoding):
    public = signing_key.public_key()
    secret = (public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
              if encoding == "pem" else public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))
    signing_input = f"{_b64({'alg': 'HS256', 'typ': a.TOKEN_TYPE, 'kid': key_id(signing_key)})}.{_b64(_claims())}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    with pytest.raises(a.AlgorithmNotAllowedError, match="'HS256' is not allowed; only EdDSA"):
        _verify(f"{signing_input}.{_b64(mac)}", trusted)


@pytest.mark.parametrize("alg", ["eddsa", "Ed25519", "RS256", "ES256", "", None])
def test_other_algs(signing_key, trusted, alg):
    token = f"{_b64({'alg': alg, 'typ': a.TOKEN_TYPE, 'kid': key_id(signing_key)})}.{_b64(_claims())}.{_b64(b'x' * 64)}"
    with pytest.raises(a.AlgorithmNotAllowedError):
        _verify(token, trusted)


@pytest.mark.parametrize("extra, match", [
    ({"jku": "https://evil.example/keys"}, "header parameter"),
    ({"jwk": {"kty": "OKP"}}, "header parameter"),
    ({"x5u": "https://evil.example/cert"}, "header parameter"),
    ({"crit": ["exp"]}, "critical extension"),  # PyJWT refuses it before we look
])
def test_header_parameters_that_name_keys_are_refused(signing_key, trusted, extra, match):
    with pytest.raises(a.MalformedAssertionError, match=match):
        _verify(_sign(signing_key, _claims(), header=extra), trusted)


def test_tampered_payload(signing_key, trusted):
    head, _, sig = _mint(signing_key).split(".")
    tampered = f"{head}.{_b64(_claims(roles=['privacy_officer']))}.{sig}"
    with pytest.raises(a.BadSignatureError):
        _verify(tampered, trusted)


def test_tampered_signature_and_header(signing_key, other_key):
    both = key_set([signing_key.public_key(), other_key.public_key()])
    head, body, sig = _mint(signing_key).split(".")
    flipped = sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]
    with pytest.raises(a.BadSignatureError):
        _verify(f"{head}.{body}.{flipped}", both)
    swapped = _b64({"alg": "EdDSA", "kid": key_id(other_key), "typ": a.TOKEN_TYPE})
    with pytest.raises(a.BadSignatureError):
        _verify(f"{swapped}.{body}.{sig}", both)


# -- malformed -------------------------------------------------------------------------------

@pytest.mark.parametrize("token", ["", "abc", "a.b", "a.b.c", "a.b.c.d", "...", b"a.b.c", None, 42,
                                   "\u00e9.b.c", "x" * 9000])
def test_not_a_compact_jws(trusted, token):
    with pytest.raises(a.MalformedAssertionError):
        _verify(token, trusted)


@pytest.mark.parametrize("header, match", [
    ({"typ": "JWT"}, "typ 'JWT'"),
    ({"typ": None}, "typ None"),
])
def test_bad_header(signing_key, trusted, header, match):
    with pytest.raises(a.MalformedAssertionError, match=match):
        _verify(_sign(signing_key, _claims(), header=header), trusted)


@pytest.mark.parametrize("kid", [None, 7, _DROP])
def test_kid_must_be_a_string(signing_key, trusted, kid):
    header = {k: v for k, v in {"alg": "EdDSA", "typ": a.TOKEN_TYPE, "kid": kid}.items() if v is not _DROP}
    with pytest.raises(a.MalformedAssertionError, match="kid|Key ID"):
        _verify(f"{_b64(header)}.{_b64(_claims())}.{_b64(b'x' * 64)}", trusted)


@pytest.mark.parametrize("payload, match", [
    (b"not json", "payload is not JSON"),
    (b"[1, 2]", "not a JSON object"),
    (b'{"sub": "clin-0001", "sub": "admin"}', "duplicate member 'sub'"),
    (b"\xff\xfe", "payload is not JSON"),
])
def test_bad_payload(signing_key, trusted, payload, match):
    with pytest.raises(a.MalformedAssertionError, match=match):
        _verify(_sign(signing_key, payload=payload), trusted)


@pytest.mark.parametrize("claim", ["iat", "nbf", "exp", "auth_time"])
@pytest.mark.parametrize("value", [float(T0), str(T0), True, None])
def test_numeric_dates_must_be_integers(signing_key, trusted, claim, value):
    with pytest.raises(a.MalformedAssertionError, match=f"{claim} is not an integer"):
        _verify(_sign(signing_key, _claims(**{claim: value})), trusted)


@pytest.mark.parametrize("overrides, match", [
    ({"exp": T0}, "exp is not after iat"),
    ({"auth_time": T0 + 1}, "auth_time is after iat"),
    ({"roles": "clinician"}, "roles is not a list"),
    ({"roles": []}, "no roles"),
    ({"roles": ["billing", "billing"]}, "repeated"),
    ({"amr": "pwd"}, "amr is not a list"),
    ({"amr": []}, "no authentication method"),
    ({"amr": ["password"]}, "not an RFC 8176 method"),
    ({"act": "disclosures"}, "act is not"),
    ({"act": {"sub": "disclosures", "act": {"sub": "gateway"}}}, "act is not"),
])
def test_claims_of_the_wrong_shape(signing_key, trusted, overrides, match):
    with pytest.raises(a.MalformedAssertionError, match=match):
        _verify(_sign(signing_key, _claims(**overrides)), trusted)


@pytest.mark.parametrize("dropped", [["sub"], ["auth_time"], ["exp", "jti"], ["roles", "org", "sid", "amr"]])
def test_missing_claims(signing_key, trusted, dropped):
    with pytest.raises(a.MissingClaimsError) as err:
        _verify(_sign(signing_key, _claims(**{c: _DROP for c in dropped})), trusted)
    assert set(err.value.claims) == set(dropped)
    assert all(c in err.value.reason for c in dropped)


# -- time ------------------------------------------------------------------------------------

def test_expired(signing_key, trusted):
    token = _mint(signing_key, ttl_seconds=120)
    assert _verify(token, trusted, now=NOW + timedelta(seconds=124, microseconds=999_999))
    with pytest.raises(a.ExpiredAssertionError, match="expired at 2026-05-01T15:02:00Z"):
        _verify(token, trusted, now=NOW + timedelta(seconds=125))
    with pytest.raises(a.ExpiredAssertionError):
        _verify(token, trusted, now=NOW + timedelta(seconds=120), leeway_seconds=0)


def test_not_yet_valid(signing_key, trusted):
    token = _mint(signing_key)
    assert _verify(token, trusted, now=NOW - timedelta(seconds=5))
    with pytest.raises(a.NotYetValidError, match="nbf .* is in the future"):
        _verify(token, trusted, now=NOW - timedelta(seconds=6))
    with pytest.raises(a.NotYetValidError, match="iat"):
        _verify(_sign(signing_key, _claims(iat=T0 + 60, nbf=T0, exp=T0 + 120, auth_time=T0)), trusted)


@pytest.mark.parametrize("overrides", [
    {"exp": T0 + 301},
    {"nbf": T0 - 200, "exp": T0 + 120},          # the window counts from the earlier of iat and nbf
    {"iat": T0 - 86_400, "exp": T0 + 60},
])
def test_lifetime_over_300_seconds(signing_key, trusted, overrides):
    with pytest.raises(a.LifetimeTooLongError, match="over the 300 s limit"):
        _verify(_sign(signing_key, _claims(**overrides)), trusted)


def test_leeway_is_bounded(signing_key, trusted):
    with pytest.raises(ValueError):
        _verify(_mint(signing_key), trusted, leeway_seconds=3600)
    with pytest.raises(ValueError):
        _verify(_mint(signing_key), trusted, now=datetime(2026, 5, 1, 15, 0))  # naive


# -- audience and issuer ---------------------------------------------------------------------

def test_wrong_audience(signing_key, trusted):
    with pytest.raises(a.WrongAudienceError, match="audience 'notes' is not 'disclosures'"):
        _verify(_mint(signing_key), trusted, audience="disclosures")
    with pytest.raises(a.WrongAudienceError):  # a list naming us among others is not "for us"
        _verify(_sign(signing_key, _claims(aud=[AUDIENCE, "disclosures"])), trusted)


def test_wrong_issuer(signing_key, trusted):
    with pytest.raises(a.WrongIssuerError, match="issuer 'evil' is not"):
        _verify(_sign(signing_key, _claims(iss="evil")), trusted)


# -- identifiers and roles -------------------------------------------------------------------

@pytest.mark.parametrize("claim, value, code", [
    ("sub", "clin-0001\u200b", "U+200B"),
    ("sub", "\u202e1000-nilc", "U+202E"),
    ("org", "\ufeffpractice-1", "U+FEFF"),
    ("sid", "sess\x00", "U+0000"),
    ("jti", " a-1", "whitespace"),
    ("sub", "rene\u0301", "canonical"),   # NFD: verify wants exactly what mint writes
    ("sub", 1001, "expected a string"),
    ("org", "", "empty"),
])
def test_identity_claims_must_be_canonical_ids(signing_key, trusted, claim, value, code):
    with pytest.raises(a.InvalidIdentityClaimError, match=re.escape(code)) as err:
        _verify(_sign(signing_key, _claims(**{claim: value})), trusted)
    assert err.value.claim == claim and claim in err.value.reason


def test_acting_service_must_be_a_canonical_id(signing_key, trusted):
    with pytest.raises(a.InvalidIdentityClaimError) as err:
        _verify(_sign(signing_key, _claims(act={"sub": "notes\u200b"})), trusted)
    assert err.value.claim == "act.sub"


@pytest.mark.parametrize("roles", [["admin"], ["clinician", "superuser"], ["billing_staff"], ["Clinician"], [7]])
def test_roles_not_from_the_catalogue(signing_key, trusted, roles):
    with pytest.raises(a.RoleNotInCatalogueError, match="not in the role catalogue"):
        _verify(_sign(signing_key, _claims(roles=roles)), trusted)


# -- replay ----------------------------------------------------------------------------------

def test_replay_is_refused(signing_key, trusted):
    seen = a.ReplayCache()
    token = _mint(signing_key)
    first = _verify(token, trusted, seen=seen)
    with pytest.raises(a.ReplayedAssertionError, match="already used"):
        _verify(token, trusted, seen=seen, now=NOW + timedelta(seconds=1))
    assert _verify(_mint(signing_key), trusted, seen=seen).assertion_id != first.assertion_id
    assert _verify(token, trusted) == first  # without a cache, no replay check


def test_replay_cache_remembers_until_the_assertion_could_no_longer_verify(signing_key, trusted):
    seen = a.ReplayCache()
    token = _mint(signing_key, ttl_seconds=60)
    _verify(token, trusted, seen=seen)
    with pytest.raises(a.ReplayedAssertionError):
        _verify(token, trusted, seen=seen, now=NOW + timedelta(seconds=64))
    with pytest.raises(a.ExpiredAssertionError):  # once forgotten, expiry refuses it anyway
        _verify(token, trusted, seen=seen, now=NOW + timedelta(seconds=65))
    _verify(_mint(signing_key, now=NOW + timedelta(seconds=65)), trusted, seen=seen, now=NOW + timedelta(seconds=65))
    assert len(seen) == 1  # the first id was purged


def test_a_refused_assertion_uses_up_no_id(signing_key, trusted):
    seen = a.ReplayCache()
    token = _mint(signing_key, assertion_id="a-9")
    with pytest.raises(a.WrongAudienceError):
        _verify(token, trusted, seen=seen, audience="disclosures")
    assert len(seen) == 0
    assert _verify(token, trusted, seen=seen).assertion_id == "a-9"


def test_replay_cache_full_refuses_rather_than_forgets(signing_key, trusted):
    seen = a.ReplayCache(max_entries=2)
    for i in range(2):
        _verify(_mint(signing_key, assertion_id=f"a-{i}"), trusted, seen=seen)
    with pytest.raises(a.ReplayCacheFullError):
        _verify(_mint(signing_key, assertion_id="a-2"), trusted, seen=seen)
    later = NOW + timedelta(seconds=200)
    _verify(_mint(signing_key, assertion_id="a-2", now=later), trusted, seen=seen, now=later)


# -- mint's own refusals ---------------------------------------------------------------------

@pytest.mark.parametrize("overrides, error", [
    ({"ttl_seconds": 301}, ValueError),
    ({"ttl_seconds": 0}, ValueError),
    ({"ttl_seconds": True}, ValueError),
    ({"roles": ["root"]}, UnknownRoleError),
    ({"roles": []}, ValueError),
    ({"amr": ["password"]}, ValueError),
    ({"amr": []}, ValueError),
    ({"subject": "clin\u200b"}, InvalidIdentifierError),
    ({"org": "\u202epractice"}, InvalidIdentifierError),
    ({"acting_service": ""}, InvalidIdentifierError),
    ({"auth_time": NOW + timedelta(seconds=1)}, ValueError),
    ({"now": datetime(2026, 5, 1, 15, 0)}, ValueError),
])
def test_mint_refuses_what_verify_would(signing_key, overrides, error):
    with pytest.raises(error):
        _mint(signing_key, **overrides)


def test_mint_needs_an_ed25519_private_key(signing_key):
    with pytest.raises(TypeError):
        _mint(signing_key.public_key())
    with pytest.raises(TypeError):
        _mint(b"secret")


def test_trusted_keys_must_be_ed25519_public_keys(signing_key):
    with pytest.raises(TypeError):
        _verify(_mint(signing_key), {key_id(signing_key): b"secret"})
    with pytest.raises(TypeError):
        key_set([Ed25519PrivateKey.generate()])


def test_every_refusal_is_an_assertion_rejected_error():
    refusals = [v for v in vars(a).values() if isinstance(v, type) and issubclass(v, Exception) and v.__module__ == a.__name__]
    assert len(refusals) == 15 and all(issubclass(r, a.AssertionRejectedError) for r in refusals)


def test_pinned_clock_is_utc():
    assert NOW.tzinfo is timezone.utc
