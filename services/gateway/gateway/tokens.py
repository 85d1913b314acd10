"""The gateway's own access tokens: what ``POST /oauth/token`` answers and every API call presents.

A compact JWS signed with Ed25519 (``alg`` ``EdDSA``) by ``<key dir>/gateway-access-token.key``
(PEM PKCS#8, 0600, created on first use, never in the database), ``typ`` ``at+jwt`` (RFC 9068)
and ``kid`` the RFC 7638 thumbprint of its public key::

    {"iss": "confide-gateway", "aud": "confide-insurer-api", "sub": <payer client id>,
     "client_id": <same>, "org": <payer org>, "role": <payer engine role>, "scope": "<granted>",
     "iat": now, "nbf": now, "exp": now + 300, "jti": <random>}

The org a call acts for comes from this token alone. The HS256 shared-secret tokens (and
``confide token``) are gone: a token is only had from the token endpoint, by a client assertion.
"""
from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from confide import config
from confide.identity.ids import InvalidIdentifierError, normalise_id
from confide.identity.keys import key_id

KEY_FILE = "gateway-access-token.key"
ISSUER = "confide-gateway"
AUDIENCE = "confide-insurer-api"
ALGORITHM = "EdDSA"
TOKEN_TYPE = "at+jwt"
TTL_SECONDS = 300
LEEWAY_SECONDS = 5
MAX_TOKEN_LENGTH = 4096

# Who may hold a token for this API: outside organisations only (workforce
# members use the services from inside the practice).
TOKEN_ROLES = frozenset({
    "insurer_health_plan", "insurer_non_covered", "workers_comp_carrier",
    "external_clinician", "external_clinician_group", "business_associate",
})
_REQUIRED = ("iss", "aud", "sub", "client_id", "org", "role", "scope", "iat", "exp", "jti")


class TokenError(Exception):
    """A token is missing, malformed, forged, expired or lacks a claim (HTTP 401)."""


class InsufficientScope(Exception):
    """A valid token whose granted scope does not cover this call (HTTP 403)."""


@dataclass(frozen=True)
class AccessToken:
    """The verified claims of an access token."""

    client_id: str
    org: str
    role: str
    scope: str
    issued_at: datetime
    expires_at: datetime
    token_id: str


def signing_key(key_dir: Optional[Path | str] = None) -> Ed25519PrivateKey:
    """The Ed25519 access-token key from ``key_dir`` (default ``confide.config.key_dir()``), created if missing."""
    directory = Path(key_dir) if key_dir else config.key_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:  # O_EXCL: when two processes race to create the key, exactly one writes it.
        with os.fdopen(fd, "wb") as fh:
            fh.write(Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 private key")
    return key


def issue_access_token(key: Ed25519PrivateKey, *, client_id: str, org: str, role: str, scope: str,
                       now: datetime, ttl_seconds: int = TTL_SECONDS) -> str:
    """A signed access token for the payer ``client_id`` of ``org`` deciding as ``role``, granted ``scope``.

    Raises ValueError for a role outside TOKEN_ROLES, a non-canonical org or client id, or a ttl
    outside 1..300.
    """
    if role not in TOKEN_ROLES:
        raise ValueError(f"role must be one of {sorted(TOKEN_ROLES)}")
    if not 1 <= ttl_seconds <= TTL_SECONDS:
        raise ValueError(f"ttl_seconds must be in 1..{TTL_SECONDS}")
    issued = int(now.timestamp())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": normalise_id(client_id, "client_id"),
              "client_id": client_id, "org": normalise_id(org, "org"), "role": role, "scope": scope,
              "iat": issued, "nbf": issued, "exp": issued + ttl_seconds, "jti": uuid.uuid4().hex}
    return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"typ": TOKEN_TYPE, "kid": key_id(key)})


#: Claims of tokens whose header and signature verified, by (token, public key bytes): that check is a
#: pure function of exactly these, and a payer presents the same token on every call for its five
#: minutes, so each call re-checks the claims and the clock but not the Ed25519 signature and the
#: JOSE parsing already done (a sixth of the gateway's CPU per request). Bounded: cleared when full.
_SIGNED: dict[tuple[str, bytes], dict] = {}
_SIGNED_MAX = 4096


def _signed_claims(token: str, public_key: Ed25519PublicKey) -> dict:
    """The claims of ``token`` when its header (alg, typ, kid) and signature under ``public_key``
    verify, with issuer and audience and every required claim present. Raises TokenError."""
    memo = (token, public_key.public_bytes_raw())
    claims = _SIGNED.get(memo)
    if claims is not None:
        return dict(claims)
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise TokenError("invalid token") from None
    if header.get("alg") != ALGORITHM or header.get("typ") != TOKEN_TYPE or header.get("kid") != key_id(public_key):
        raise TokenError("invalid token")
    try:
        claims = jwt.decode(token, public_key, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER,
                            options={"require": list(_REQUIRED), "verify_exp": False, "verify_iat": False,
                                     "verify_nbf": False})
    except jwt.PyJWTError:
        raise TokenError("invalid token") from None
    if len(_SIGNED) >= _SIGNED_MAX:
        _SIGNED.clear()
    _SIGNED[memo] = dict(claims)
    return claims


def verify_access_token(token: str, public_key: Ed25519PublicKey, now: datetime) -> AccessToken:
    """The verified token. Raises TokenError with a short reason (signature, alg, typ, kid, issuer,
    audience, expiry, claim types)."""
    if not isinstance(token, str) or not token.isascii() or len(token) > MAX_TOKEN_LENGTH:
        raise TokenError("invalid token")
    claims = _signed_claims(token, public_key)
    times = [claims.get(n) for n in ("iat", "exp")]
    if not all(isinstance(t, int) and not isinstance(t, bool) for t in times):
        raise TokenError("invalid token")
    issued, expires = times
    now_s = now.timestamp()
    if now_s >= expires + LEEWAY_SECONDS:
        raise TokenError("token expired")
    if issued > now_s + LEEWAY_SECONDS or expires - issued > TTL_SECONDS:
        raise TokenError("invalid token")
    strings = [claims.get(n) for n in ("sub", "client_id", "org", "role", "scope", "jti")]
    if not all(isinstance(v, str) for v in strings):
        raise TokenError("invalid token")
    try:
        org = normalise_id(claims["org"], "org")
        client_id = normalise_id(claims["client_id"], "client_id")
    except InvalidIdentifierError:
        raise TokenError("invalid token") from None
    if org != claims["org"] or client_id != claims["sub"] or claims["role"] not in TOKEN_ROLES:
        raise TokenError("invalid token")
    return AccessToken(client_id=client_id, org=org, role=claims["role"], scope=claims["scope"],
                       issued_at=datetime.fromtimestamp(issued, timezone.utc),
                       expires_at=datetime.fromtimestamp(expires, timezone.utc), token_id=claims["jti"])


def bearer(header: Optional[str]) -> str:
    """The token of an ``Authorization: Bearer <token>`` header. Raises TokenError."""
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenError("missing bearer token")
    return token.strip()
