"""The SMART Backend Services token endpoint (``gateway.smart``): every refusal names what failed.

Clocks are fixed (``NOW``); nothing sleeps. Payers live in a fake directory (``conftest.FakeDirectory``) read through the directory registry.
"""
import base64
import hashlib
import hmac
import json
from datetime import datetime, timedelta, timezone

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from werkzeug.datastructures import MultiDict

from confide.identity.assertions import ReplayCache
from gateway import client, smart
from gateway.payers import DirectoryPayerRegistry

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)
TOKEN_URL = "https://gateway.example/oauth/token"
FORM = "application/x-www-form-urlencoded"
ORG = "Payer123"


@pytest.fixture
def registry(directory):
    return DirectoryPayerRegistry(directory)


@pytest.fixture
def key():
    return client.new_key()


@pytest.fixture
def payer(directory, key):
    return directory.register(ORG, "Payer 123 Health Plan", "insurer_health_plan", client.public_jwks(key))


@pytest.fixture
def seen():
    return ReplayCache()


def ask(registry, seen, assertion, *, now=NOW, scope=client.DEFAULT_SCOPE, content_type=FORM, **overrides):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    form = {**client.token_form(assertion, scope), **overrides}
    form = MultiDict({k: v for k, v in form.items() if v is not None})
    return smart.token_request(form, content_type=content_type, registry=registry, token_url=TOKEN_URL,
                               signing_key=Ed25519PrivateKey.generate(), seen=seen, now=now)


def refused(registry, seen, assertion, error="invalid_client", **kw) -> str:
    with pytest.raises(smart.OAuthError) as info:
        ask(registry, seen, assertion, **kw)
    assert info.value.error == error, info.value.reason
    assert info.value.body() == {"error": error, "error_description": info.value.reason}
    return info.value.reason


def assertion(key, **kw):
    return client.client_assertion(key, ORG, TOKEN_URL, now=kw.pop("now", NOW), **kw)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def hand_made(header: dict, claims: dict, secret: bytes | None = None, alg="sha384") -> str:
    signing_input = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())
    sig = hmac.new(secret, signing_input.encode(), getattr(hashlib, alg)).digest() if secret is not None else b""
    return signing_input + "." + _b64(sig)


def claims(**kw):
    issued = int(NOW.timestamp())
    return {"iss": ORG, "sub": ORG, "aud": TOKEN_URL, "iat": issued, "exp": issued + 240, "jti": "j-1", **kw}


# -- accepted -----------------------------------------------------------------------------------

def test_a_valid_es384_assertion_gets_a_300_second_access_token_bound_to_the_org(registry, seen, key, payer):
    grant = ask(registry, seen, assertion(key), scope="system/Task.write system/Task.read")
    body = grant.body()
    assert body["token_type"] == "bearer" and body["expires_in"] == 300
    assert body["scope"] == "system/Task.write system/Task.read"
    decoded = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert (decoded["org"], decoded["sub"], decoded["role"]) == (ORG, ORG, "insurer_health_plan")
    assert decoded["exp"] - decoded["iat"] == 300
    assert jwt.get_unverified_header(body["access_token"])["alg"] == "EdDSA"


def test_an_rs384_key_is_accepted_too(registry, seen, directory):
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
    directory.register("RsaPlan", "RSA Plan", "insurer_non_covered", {"keys": [{**jwk, "kid": "r1", "alg": "RS384"}]})
    token = jwt.encode({**claims(iss="RsaPlan", sub="RsaPlan")}, rsa_key, algorithm="RS384", headers={"kid": "r1"})
    assert ask(registry, seen, token).payer.org == "RsaPlan"
    token = jwt.encode({**claims(iss="RsaPlan", sub="RsaPlan", jti="j-2")}, rsa_key, algorithm="RS256",
                       headers={"kid": "r1"})
    assert "RS256" in refused(registry, seen, token)


# -- algorithm refusals -------------------------------------------------------------------------

def test_alg_none_is_refused(registry, seen, payer, key):
    unsigned = hand_made({"alg": "none", "kid": client.public_jwk(key)["kid"]}, claims())
    assert "alg 'none' is not allowed" in refused(registry, seen, unsigned)


def test_alg_confusion_hs384_keyed_with_the_public_key_is_refused(registry, seen, payer, key):
    """The classic attack: sign with HMAC, using the registered public key's bytes as the secret."""
    kid = client.public_jwk(key)["kid"]
    for public_bytes in (key.public_key().public_bytes(serialization.Encoding.PEM,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo),
                         json.dumps(client.public_jwk(key)).encode()):
        forged = hand_made({"alg": "HS384", "kid": kid, "typ": "JWT"}, claims(), secret=public_bytes)
        reason = refused(registry, seen, forged)
        assert "alg 'HS384' is not allowed" in reason and "shared secret" in reason
    forged = hand_made({"alg": "HS256", "kid": kid}, claims(), secret=b"x", alg="sha256")
    assert "HS256" in refused(registry, seen, forged)


def test_es256_and_a_key_naming_header_are_refused(registry, seen, payer, key):
    p256 = ec.generate_private_key(ec.SECP256R1())
    assert "ES256" in refused(registry, seen, jwt.encode(claims(), p256, algorithm="ES256", headers={"kid": "k"}))
    embedded = jwt.encode(claims(), key, algorithm="ES384",
                          headers={"kid": client.public_jwk(key)["kid"], "jwk": client.public_jwk(key)})
    assert "'jwk'" in refused(registry, seen, embedded)


# -- client and key refusals --------------------------------------------------------------------

def test_unknown_client_is_refused(registry, seen, payer):
    stranger = client.new_key()
    token = client.client_assertion(stranger, "Nobody", TOKEN_URL, now=NOW)
    assert "unknown client 'Nobody'" in refused(registry, seen, token)


def test_deactivated_payer_is_refused(registry, seen, payer, key, directory):
    directory.deactivate(ORG)
    assert "deactivated" in refused(registry, seen, assertion(key))


def test_bad_signature_is_refused(registry, seen, payer, key):
    other = client.new_key()
    forged = jwt.encode(claims(), other, algorithm="ES384", headers={"kid": client.public_jwk(key)["kid"]})
    assert "bad signature" in refused(registry, seen, forged)
    header, body, sig = assertion(key).split(".")
    tampered = _b64(json.dumps(claims(sub=ORG, iss=ORG, jti="j-9", scope="x")).encode())
    assert "bad signature" in refused(registry, seen, ".".join([header, tampered, sig]))


def test_a_kid_not_in_the_registered_jwks_is_refused(registry, seen, payer):
    other = client.new_key()
    assert "is not in the registered JWKS" in refused(registry, seen, client.client_assertion(other, ORG, TOKEN_URL,
                                                                                               now=NOW))


def test_iss_must_equal_sub(registry, seen, payer, key):
    token = jwt.encode(claims(sub="Someone"), key, algorithm="ES384", headers={"kid": client.public_jwk(key)["kid"]})
    assert "iss and sub" in refused(registry, seen, token)


# -- claim refusals, fixed clocks ---------------------------------------------------------------

def test_expired_assertion_is_refused(registry, seen, payer, key):
    old = assertion(key, now=NOW - timedelta(minutes=10))
    assert "expired" in refused(registry, seen, old)
    just_expired = assertion(key, now=NOW - timedelta(seconds=240 + smart.LEEWAY_SECONDS))
    assert "expired" in refused(registry, seen, just_expired)
    within_leeway = assertion(key, now=NOW - timedelta(seconds=240 + smart.LEEWAY_SECONDS - 1))
    assert ask(registry, seen, within_leeway).payer.org == ORG


def test_wrong_audience_is_refused(registry, seen, payer, key):
    token = client.client_assertion(key, ORG, "https://elsewhere.example/token", now=NOW)
    assert "wrong aud" in refused(registry, seen, token)


def test_lifetime_over_five_minutes_is_refused(registry, seen, payer, key):
    assert "lifetime too long" in refused(registry, seen, assertion(key, ttl_seconds=301))
    issued_earlier = assertion(key, now=NOW - timedelta(seconds=10), ttl_seconds=305)  # exp 295 s ahead, iat-exp 305
    assert "lifetime too long" in refused(registry, seen, issued_earlier)
    assert ask(registry, seen, assertion(key, ttl_seconds=300)).payer.org == ORG


def test_a_reused_jti_is_refused_until_the_assertion_expires(registry, seen, payer, key):
    first = assertion(key, jti="once")
    ask(registry, seen, first)
    assert "reused jti 'once'" in refused(registry, seen, first)
    again_later = assertion(key, jti="once", now=NOW + timedelta(seconds=60))
    assert "reused jti" in refused(registry, seen, again_later, now=NOW + timedelta(seconds=60))
    after_expiry = NOW + timedelta(seconds=240 + smart.LEEWAY_SECONDS + 1)
    assert ask(registry, seen, assertion(key, jti="once", now=after_expiry), now=after_expiry).payer.org == ORG


def test_a_refused_assertion_uses_up_no_jti(registry, seen, payer, key):
    refused(registry, seen, client.client_assertion(key, ORG, "https://elsewhere/", now=NOW, jti="j"))
    assert ask(registry, seen, assertion(key, jti="j")).payer.org == ORG


def test_missing_claims_are_refused(registry, seen, payer, key):
    c = claims()
    del c["jti"]
    token = jwt.encode(c, key, algorithm="ES384", headers={"kid": client.public_jwk(key)["kid"]})
    assert "missing claim(s): jti" in refused(registry, seen, token)


# -- request refusals ---------------------------------------------------------------------------

def test_other_grant_types_are_refused(registry, seen, payer, key):
    assert "password" in refused(registry, seen, assertion(key), "unsupported_grant_type", grant_type="password")
    assert "grant_type is required" in refused(registry, seen, assertion(key), "invalid_request", grant_type=None)


def test_the_assertion_type_and_form_body_are_required(registry, seen, payer, key):
    assert "private_key_jwt" in refused(registry, seen, assertion(key), client_assertion_type="urn:x")
    assert "client_assertion is required" in refused(registry, seen, None)
    assert FORM in refused(registry, seen, assertion(key), "invalid_request", content_type="application/json")


def test_scopes_outside_the_api_are_refused(registry, seen, payer, key):
    for scope in ("", "patient/*.read", "user/Task.read", "system/Patient.read", "system/Task.admin", "openid"):
        refused(registry, seen, assertion(key), "invalid_scope", scope=scope)


def test_a_repeated_parameter_is_refused(registry, seen, payer, key):
    form = MultiDict(client.token_form(assertion(key)))
    form.add("scope", "system/Task.read")
    with pytest.raises(smart.OAuthError) as info:
        smart.token_request(form, content_type=FORM, registry=registry, token_url=TOKEN_URL,
                            signing_key=None, seen=seen, now=NOW)
    assert info.value.error == "invalid_request" and "scope" in info.value.reason


# -- scopes -------------------------------------------------------------------------------------

@pytest.mark.parametrize("scope,resource,action,ok", [
    ("system/Task.read", "Task", "read", True),
    ("system/Task.read", "Task", "write", False),
    ("system/Task.read", "DisclosureRequest", "read", False),
    ("system/*.read", "DisclosureRequest", "read", True),
    ("system/*.write", "Task", "write", True),
    ("system/Task.*", "Task", "write", True),
    ("system/Task.cr", "Task", "write", True),
    ("system/Task.rs", "Task", "write", False),
    ("system/Task.rs", "Task", "read", True),
])
def test_scope_coverage(scope, resource, action, ok):
    assert smart.allows(smart.parse_scope(scope), resource, action) is ok
