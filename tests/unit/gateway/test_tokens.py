"""Insurer API tokens: accepted, expired, forged, wrong audience, and the org scoping they carry."""
from datetime import datetime, timedelta, timezone

import jwt
import pytest
from click.testing import CliRunner

from gateway import tokens
from gateway.commands import token as token_command


@pytest.fixture
def key_dir(tmp_path):
    return tmp_path / "keys"


def test_accepted_token_carries_org_and_role(key_dir):
    raw = tokens.issue_token("Acme Health Plan", "insurer_health_plan", 60, key_dir=key_dir)
    claims = tokens.verify_token(raw, tokens.signing_key(key_dir))
    assert (claims["org"], claims["role"]) == ("Acme Health Plan", "insurer_health_plan")
    assert (key_dir / tokens.KEY_FILE).stat().st_mode & 0o077 == 0


def test_expired_token_is_refused(key_dir):
    raw = tokens.issue_token("Acme", "insurer_health_plan", 60, key_dir=key_dir,
                             now=datetime.now(timezone.utc) - timedelta(hours=2))
    with pytest.raises(tokens.TokenError, match="expired"):
        tokens.verify_token(raw, tokens.signing_key(key_dir))


def test_forged_token_is_refused(key_dir, tmp_path):
    forged = tokens.issue_token("Acme", "insurer_health_plan", 60, key_dir=tmp_path / "other-keys")
    with pytest.raises(tokens.TokenError):
        tokens.verify_token(forged, tokens.signing_key(key_dir))
    unsigned = jwt.encode({"org": "Acme", "role": "insurer_health_plan", "sub": "Acme", "iat": 0,
                           "exp": 4102444800, "iss": tokens.ISSUER, "aud": tokens.AUDIENCE}, None, algorithm="none")
    with pytest.raises(tokens.TokenError):
        tokens.verify_token(unsigned, tokens.signing_key(key_dir))


def test_tampered_org_claim_is_refused(key_dir):
    raw = tokens.issue_token("Acme", "insurer_health_plan", 60, key_dir=key_dir)
    header, payload, sig = raw.split(".")
    other = tokens.issue_token("Other Plan", "insurer_health_plan", 60, key_dir=key_dir).split(".")[1]
    with pytest.raises(tokens.TokenError):
        tokens.verify_token(".".join([header, other, sig]), tokens.signing_key(key_dir))


def test_workforce_roles_get_no_token(key_dir):
    with pytest.raises(ValueError):
        tokens.issue_token("Acme", "billing_staff", 60, key_dir=key_dir)


def test_bearer_header():
    assert tokens.bearer("Bearer abc") == "abc"
    for bad in (None, "", "Basic abc", "Bearer "):
        with pytest.raises(tokens.TokenError):
            tokens.bearer(bad)


def test_cli_token_command(key_dir):
    result = CliRunner().invoke(token_command, ["--org", "Acme", "--role", "insurer_health_plan",
                                                "--key-dir", str(key_dir)])
    assert result.exit_code == 0, result.output
    assert tokens.verify_token(result.output.strip(), tokens.signing_key(key_dir))["org"] == "Acme"
