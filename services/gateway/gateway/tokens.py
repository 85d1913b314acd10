"""Insurer API tokens: HS256 JWTs with ``org``, ``role`` and ``exp``, one key in the key dir.

The signing key is a random 256-bit secret in ``<key dir>/gateway-jwt.key``
(mode 0600), created on first use; it is never stored in the database. Each
insurer organisation gets its own token; the ``org`` claim scopes what it sees.
"""
from __future__ import annotations

import os
import secrets
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Optional

import jwt

from confide import config

KEY_FILE = "gateway-jwt.key"
ISSUER = "confide"
AUDIENCE = "confide-insurer-api"
ALGORITHM = "HS256"
DEFAULT_TTL = timedelta(hours=1)

# Who may hold a token for this API: outside organisations only (workforce
# members use the services from inside the practice).
TOKEN_ROLES = frozenset({
    "insurer_health_plan", "insurer_non_covered", "workers_comp_carrier",
    "external_clinician", "external_clinician_group", "business_associate",
})


class TokenError(Exception):
    """A token is missing, malformed, forged, expired or lacks a claim (HTTP 401)."""


def signing_key(key_dir: Optional[Path | str] = None) -> bytes:
    """The HS256 secret from ``key_dir`` (default ``confide.config.key_dir()``), created if missing."""
    directory = Path(key_dir) if key_dir else config.key_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return bytes.fromhex(path.read_text().strip())
    # O_EXCL: when two processes race to create the key, exactly one writes it.
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


def _ttl(ttl) -> timedelta:
    return ttl if isinstance(ttl, timedelta) else timedelta(seconds=int(ttl))


def issue_token(org: str, role: str, ttl=DEFAULT_TTL, key_dir=None, subject: Optional[str] = None,
                now: Optional[datetime] = None) -> str:
    """A signed token for ``org`` acting as ``role``, valid for ``ttl`` (timedelta or seconds).

    Raises ValueError for an empty org, a role outside TOKEN_ROLES or a non-positive ttl.
    """
    if not org or not str(org).strip():
        raise ValueError("org must be non-empty")
    if role not in TOKEN_ROLES:
        raise ValueError(f"role must be one of {sorted(TOKEN_ROLES)}")
    ttl = _ttl(ttl)
    if ttl.total_seconds() <= 0:
        raise ValueError("ttl must be positive")
    issued = now or datetime.now(timezone.utc)
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": subject or org, "org": org, "role": role,
              "iat": issued, "exp": issued + ttl, "jti": uuid.uuid4().hex}
    return jwt.encode(claims, signing_key(key_dir), algorithm=ALGORITHM)


def verify_token(token: str, key: bytes) -> dict:
    """The verified claims {sub, org, role, exp, ...}. Raises TokenError (never says which check failed
    beyond a short reason)."""
    try:
        claims = jwt.decode(token, key, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER,
                            options={"require": ["exp", "iat", "org", "role", "sub"]})
    except jwt.ExpiredSignatureError:
        raise TokenError("token expired") from None
    except jwt.PyJWTError:
        raise TokenError("invalid token") from None
    role, org, sub = claims["role"], claims["org"], claims["sub"]
    if not all(isinstance(v, str) and v.isprintable() for v in (role, org, sub)) or role not in TOKEN_ROLES or not org:
        raise TokenError("invalid token") from None
    return claims


def bearer(header: Optional[str]) -> str:
    """The token of an ``Authorization: Bearer <token>`` header. Raises TokenError."""
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenError("missing bearer token")
    return token.strip()
