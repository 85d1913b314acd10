"""The gateway's access tokens (Ed25519, ``typ`` at+jwt): accepted, expired, forged, tampered, wrong alg,
and the org scoping they carry. Clocks are fixed."""
from datetime import datetime, timedelta, timezone

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway import tokens

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def key_dir(tmp_path):
    return tmp_path / "keys"


def issue(key, org="Acme Health Plan", now=NOW, **kw):
    return tokens.issue_access_token(key, client_id=org, org=org, role=kw.pop("role", "insurer_health_plan"),
                                     scope=kw.pop("scope", "system/*.read"), now=now, **kw)


def test_accepted_token_carries_org_role_and_scope(key_dir):
    key = tokens.signing_key(key_dir)
    access = tokens.verify_access_token(issue(key), key.public_key(), NOW)
    assert (access.org, access.client_id, access.role, access.scope) == (
        "Acme Health Plan", "Acme Health Plan", "insurer_health_plan", "system/*.read")
    assert access.expires_at - access.issued_at == timedelta(seconds=300)
    assert (key_dir / tokens.KEY_FILE).stat().st_mode & 0o077 == 0
    assert tokens.signing_key(key_dir).public_key() == key.public_key()  # created once, then loaded


def test_expired_token_is_refused(key_dir):
    key = tokens.signing_key(key_dir)
    raw = issue(key)
    with pytest.raises(tokens.TokenError, match="expired"):
        tokens.verify_access_token(raw, key.public_key(), NOW + timedelta(seconds=300 + tokens.LEEWAY_SECONDS))


def test_a_token_verified_once_is_still_checked_against_the_clock_and_its_key(key_dir):
    key = tokens.signing_key(key_dir)
    raw = issue(key)
    assert tokens.verify_access_token(raw, key.public_key(), NOW).org == "Acme Health Plan"
    assert tokens.verify_access_token(raw, key.public_key(), NOW + timedelta(seconds=60)).org == "Acme Health Plan"
    with pytest.raises(tokens.TokenError, match="expired"):
        tokens.verify_access_token(raw, key.public_key(), NOW + timedelta(seconds=300 + tokens.LEEWAY_SECONDS))
    with pytest.raises(tokens.TokenError):  # another gateway key (rotated): the remembered check does not apply
        tokens.verify_access_token(raw, Ed25519PrivateKey.generate().public_key(), NOW)
    header, payload, sig = raw.split(".")
    with pytest.raises(tokens.TokenError):  # a different signature is a different token: verified afresh
        tokens.verify_access_token(".".join([header, payload, sig[:-4] + ("AAAA" if sig[-4:] != "AAAA" else "BBBB")]),
                                   key.public_key(), NOW)


def test_forged_token_is_refused(key_dir):
    key = tokens.signing_key(key_dir)
    with pytest.raises(tokens.TokenError):
        tokens.verify_access_token(issue(Ed25519PrivateKey.generate()), key.public_key(), NOW)
    unsigned = jwt.encode({"org": "Acme", "role": "insurer_health_plan", "sub": "Acme", "client_id": "Acme",
                           "scope": "system/*.read", "iat": 0, "exp": 4102444800, "jti": "j", "iss": tokens.ISSUER,
                           "aud": tokens.AUDIENCE}, None, algorithm="none", headers={"typ": tokens.TOKEN_TYPE})
    with pytest.raises(tokens.TokenError):
        tokens.verify_access_token(unsigned, key.public_key(), NOW)


def test_tampered_org_claim_is_refused(key_dir):
    key = tokens.signing_key(key_dir)
    header, _, sig = issue(key, "Acme").split(".")
    other = issue(key, "Other Plan").split(".")[1]
    with pytest.raises(tokens.TokenError):
        tokens.verify_access_token(".".join([header, other, sig]), key.public_key(), NOW)


def test_a_long_lived_token_is_refused_even_if_signed():
    key = Ed25519PrivateKey.generate()
    with pytest.raises(ValueError):
        issue(key, ttl_seconds=3600)


def test_workforce_roles_get_no_token(key_dir):
    with pytest.raises(ValueError):
        issue(tokens.signing_key(key_dir), role="billing_staff")


def test_bearer_header():
    assert tokens.bearer("Bearer abc") == "abc"
    for bad in (None, "", "Basic abc", "Bearer "):
        with pytest.raises(tokens.TokenError):
            tokens.bearer(bad)
