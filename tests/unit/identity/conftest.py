"""Keys and a fixed clock for the identity tests (no sleeps: every instant is given)."""
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from confide.identity.keys import key_set

NOW = datetime(2026, 5, 1, 15, 0, 0, tzinfo=timezone.utc)
SIGNED_IN = NOW - timedelta(minutes=20)
ISSUER = "confide-frontdoor"
AUDIENCE = "notes"


@pytest.fixture(scope="module")
def signing_key():
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def other_key():
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def trusted(signing_key):
    return key_set([signing_key.public_key()])
