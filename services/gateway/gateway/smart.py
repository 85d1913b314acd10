"""SMART Backend Services for payers: the client-credentials token endpoint (``POST /oauth/token``).

The convention Da Vinci CDex payers use (SMART App Launch 2, "Backend Services"; RFC 6749 4.4
client credentials; RFC 7521/7523 ``private_key_jwt`` client authentication). A request::

    POST /oauth/token   Content-Type: application/x-www-form-urlencoded
    grant_type=client_credentials
    &client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer
    &client_assertion=<JWT>&scope=system/Task.write system/Task.read

The client assertion is signed RS384 or ES384 by a key of the payer's registered JWKS (header
``kid`` names it), with ``iss`` = ``sub`` = the payer's client id, ``aud`` = this endpoint's URL,
``exp`` at most 300 s ahead, and a ``jti`` never seen before (remembered until ``exp``). Only
the algorithms above are accepted: ``none``, every ``HS*`` (a JWKS public key used as an HMAC
secret) and ``RS256`` are refused before any key is used; so are header parameters that would
name a key (``jku``, ``jwk``, ``x5u``, ``x5c``) or ``crit``.

Refusals are the OAuth error JSON ``{"error", "error_description"}`` (RFC 6749 5.2), the
description naming what failed, all HTTP 400 (RFC 6749 5.2: a 401 would have to name an HTTP
authentication scheme, and private_key_jwt is none): ``invalid_request`` (not a form, a parameter
missing or repeated), ``unsupported_grant_type``, ``invalid_scope``, and ``invalid_client`` for
every client-authentication failure -- alg, unknown client, deactivated payer, unknown kid, bad
signature, expired, wrong ``aud``, reused ``jti``, lifetime too long -- as RFC 7523 3.2 and SMART
Backend Services require. ``invalid_grant`` is not used: client credentials has no grant to be
invalid. The reply is ``{access_token, token_type: "bearer", expires_in: 300, scope}``
(``gateway.tokens``).

Scopes: ``system/<Task|DisclosureRequest|*>.<read|write|*>`` (SMART v1) or ``.<cruds subset>``
(SMART v2). Read covers the GETs of that resource, write (v2: ``c``) the POSTs. A request asking
for anything else (``patient/``, ``user/``, other resources) is refused with ``invalid_scope``; the
granted scope is what was asked for, recorded in the access token and the log.
"""
from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Optional

import jwt

from confide.identity.assertions import ReplayCache, ReplayCacheFullError, ReplayedAssertionError
from gateway import tokens
from gateway.payers import ALGORITHMS, Payer, PayerRegistry

log = logging.getLogger(__name__)

GRANT_TYPE = "client_credentials"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
FORM = "application/x-www-form-urlencoded"
MAX_ASSERTION_LIFETIME = 300  # seconds between now (or iat) and exp
LEEWAY_SECONDS = 30  # clock skew allowed on expiry and not-before, never on the lifetime limit
MAX_ASSERTION_LENGTH = 16384
MAX_JTI_LENGTH = 256
_ALLOWED_HEADER = frozenset({"alg", "kid", "typ"})
RESOURCES = ("Task", "DisclosureRequest")
_SCOPE = re.compile(r"\Asystem/(Task|DisclosureRequest|\*)\.(read|write|\*|c?r?u?d?s?)\Z")


class OAuthError(Exception):
    """A refused token request: ``error`` (the RFC 6749 code), ``reason`` (what failed), HTTP ``status``."""

    def __init__(self, error: str, reason: str, status: int = 400) -> None:
        super().__init__(f"{error}: {reason}")
        self.error, self.reason, self.status = error, reason, status

    def body(self) -> dict:
        return {"error": self.error, "error_description": self.reason}


def _client(reason: str) -> OAuthError:
    return OAuthError("invalid_client", reason)


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 64 else text[:61] + "..."


# -- scopes -----------------------------------------------------------------------------------

def parse_scope(raw: Optional[str]) -> str:
    """The scope to grant (the requested scopes, space-separated, duplicates dropped). Raises
    OAuthError(invalid_scope) for no scope or one this API does not offer."""
    words = (raw or "").split(" ")
    scopes = [w for w in words if w]
    if not scopes:
        raise OAuthError("invalid_scope", "scope is required (e.g. system/Task.write system/Task.read)")
    for scope in scopes:
        match = _SCOPE.match(scope)
        if not match or match.group(2) == "":
            raise OAuthError("invalid_scope", f"scope {_shown(scope)} is not offered: only system/<Task|"
                                              "DisclosureRequest|*>.<read|write|*> (or SMART v2 cruds)")
    return " ".join(dict.fromkeys(scopes))


def allows(scope: str, resource: str, action: str) -> bool:
    """Whether the granted ``scope`` covers ``action`` (``read`` or ``write``) on ``resource``."""
    for granted in scope.split(" "):
        match = _SCOPE.match(granted)
        if not match or match.group(1) not in (resource, "*"):
            continue
        perm = match.group(2)
        if perm == "*" or perm == action:
            return True
        if perm not in ("read", "write") and ((action == "read" and ("r" in perm or "s" in perm))
                                              or (action == "write" and "c" in perm)):
            return True
    return False


def require_scope(access: tokens.AccessToken, resource: str, action: str) -> None:
    """Raises tokens.InsufficientScope (HTTP 403) unless the token's scope covers the call."""
    if not allows(access.scope, resource, action):
        raise tokens.InsufficientScope(f"the token's scope does not cover {action} of {resource}")


# -- the client assertion ---------------------------------------------------------------------

def _int_date(claims: dict, name: str) -> int:
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _client(f"{name} is not a NumericDate")
    return int(value)


def _key_for(payer: Payer, kid: Any, alg: str) -> Any:
    keys = payer.jwks.get("keys") if isinstance(payer.jwks, dict) else None
    for jwk in keys or []:
        if isinstance(jwk, dict) and jwk.get("kid") == kid:
            if jwk.get("kty") != ALGORITHMS[alg] or jwk.get("alg", alg) != alg:
                raise _client(f"kid {_shown(kid)} is a {jwk.get('kty')} key registered for "
                              f"{jwk.get('alg', 'any alg')}, not for {alg}")
            try:
                return jwt.PyJWK(jwk, alg).key
            except jwt.PyJWTError:
                raise _client(f"kid {_shown(kid)}: the registered key is unusable") from None
    raise _client(f"kid {_shown(kid)} is not in the registered JWKS of {payer.client_id!r}")


def verify_client_assertion(assertion: Any, *, registry: PayerRegistry, token_url: str, now: datetime,
                            seen: ReplayCache, client_id: Optional[str] = None) -> Payer:
    """The payer whose valid client assertion this is. Raises OAuthError(invalid_client) naming what failed.

    ``client_id``: the form's optional ``client_id``, which must then name the assertion's issuer.
    The ``jti`` is remembered (in ``seen``) only once everything else has passed.
    """
    if not isinstance(assertion, str) or not assertion.isascii() or len(assertion) > MAX_ASSERTION_LENGTH:
        raise _client("client_assertion is not a compact JWS")
    try:
        header = jwt.get_unverified_header(assertion)
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise _client(f"client_assertion is not a compact JWS: {exc}") from None
    alg = header.get("alg")
    allowed = ", ".join(ALGORITHMS)
    if not isinstance(alg, str) or alg.lower() == "none":
        raise _client(f"alg {_shown(alg)} is not allowed: the assertion must be signed ({allowed})")
    if alg.upper().startswith("HS"):
        raise _client(f"alg {_shown(alg)} is not allowed: a shared secret is no client credential (only {allowed})")
    if alg not in ALGORITHMS:
        raise _client(f"alg {_shown(alg)} is not allowed (only {allowed})")
    extra = sorted(str(name) for name in header if name not in _ALLOWED_HEADER)
    if extra:
        raise _client(f"header parameter(s) not allowed: {', '.join(_shown(n) for n in extra)}")
    if "typ" in header and str(header["typ"]).upper() != "JWT":
        raise _client(f"typ {_shown(header['typ'])} is not JWT")
    if not isinstance(header.get("kid"), str) or not header["kid"]:
        raise _client("header has no kid")

    missing = [n for n in ("iss", "sub", "aud", "exp", "jti") if n not in unverified]
    if missing:
        raise _client(f"missing claim(s): {', '.join(missing)}")
    issuer = unverified["iss"]
    if not isinstance(issuer, str) or issuer != unverified["sub"]:
        raise _client("iss and sub must both be the client id")
    if client_id is not None and client_id != issuer:
        raise _client("client_id does not name the assertion's issuer")
    payer = registry.get(issuer)
    if payer is None or payer.client_id != issuer:
        raise _client(f"unknown client {_shown(issuer)}: no payer is registered with that client id")
    if not payer.active:
        raise _client(f"payer {payer.org!r} is deactivated")

    key = _key_for(payer, header["kid"], alg)
    try:
        claims = jwt.decode(assertion, key, algorithms=[alg],
                            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False,
                                     "verify_aud": False, "verify_iss": False, "verify_sub": False,
                                     "verify_jti": False})
    except jwt.InvalidSignatureError:
        raise _client(f"bad signature: not signed by the key {header['kid']!r} registered for {payer.client_id!r}") from None
    except jwt.PyJWTError as exc:
        raise _client(f"client_assertion is not a valid JWS: {exc}") from None

    audience = claims["aud"]
    audiences = audience if isinstance(audience, list) else [audience]
    if token_url not in audiences:
        raise _client(f"wrong aud {_shown(audience)}: the assertion must be addressed to {token_url}")
    now_s = int(now.timestamp())
    expires = _int_date(claims, "exp")
    if now_s >= expires + LEEWAY_SECONDS:
        raise _client(f"expired: exp {_iso(expires)} has passed (now {_iso(now_s)})")
    if expires - now_s > MAX_ASSERTION_LIFETIME:
        raise _client(f"lifetime too long: exp is {expires - now_s} s ahead (at most {MAX_ASSERTION_LIFETIME} s)")
    for name in ("iat", "nbf"):
        if name in claims:
            moment = _int_date(claims, name)
            if moment > now_s + LEEWAY_SECONDS:
                raise _client(f"{name} {_iso(moment)} is in the future (now {_iso(now_s)})")
            if name == "iat" and expires - moment > MAX_ASSERTION_LIFETIME:
                raise _client(f"lifetime too long: exp - iat is {expires - moment} s (at most {MAX_ASSERTION_LIFETIME} s)")
    jti = claims["jti"]
    if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_LENGTH:
        raise _client("jti is not a non-empty string of at most 256 characters")
    try:
        seen.add(f"{payer.client_id}\x00{jti}", until=datetime.fromtimestamp(expires + LEEWAY_SECONDS, timezone.utc),
                 now=now)
    except ReplayedAssertionError:
        raise _client(f"reused jti {_shown(jti)}: this client assertion was already used") from None
    except ReplayCacheFullError:
        raise _client("too many client assertions in flight; try again shortly") from None
    return payer


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat().replace("+00:00", "Z")


# -- the endpoint -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Grant:
    payer: Payer
    scope: str
    access_token: str

    def body(self) -> dict:
        return {"access_token": self.access_token, "token_type": "bearer", "expires_in": tokens.TTL_SECONDS,
                "scope": self.scope}


def _single(form: Any, name: str) -> Optional[str]:
    values = form.getlist(name) if hasattr(form, "getlist") else ([form[name]] if name in form else [])
    if len(values) > 1:
        raise OAuthError("invalid_request", f"parameter {name} is repeated")
    return values[0] if values else None


def token_request(form: Mapping[str, str], *, content_type: Optional[str], registry: PayerRegistry,
                  token_url: str, signing_key: Any, seen: ReplayCache, now: datetime) -> Grant:
    """Answer one token request (``form``: the decoded body, a werkzeug MultiDict or a dict).

    Raises OAuthError; on success the access token is signed with ``signing_key`` (Ed25519).
    """
    if (content_type or "").split(";")[0].strip().lower() != FORM:
        raise OAuthError("invalid_request", f"the body must be {FORM}")
    grant_type = _single(form, "grant_type")
    if not grant_type:
        raise OAuthError("invalid_request", "grant_type is required")
    if grant_type != GRANT_TYPE:
        raise OAuthError("unsupported_grant_type", f"grant_type {_shown(grant_type)} is not supported (only {GRANT_TYPE})")
    assertion_type, assertion = _single(form, "client_assertion_type"), _single(form, "client_assertion")
    client_id = _single(form, "client_id")
    if assertion_type != ASSERTION_TYPE:
        raise _client(f"client_assertion_type must be {ASSERTION_TYPE} (private_key_jwt)")
    if not assertion:
        raise _client("client_assertion is required")
    scope = parse_scope(_single(form, "scope"))
    payer = verify_client_assertion(assertion, registry=registry, token_url=token_url, now=now, seen=seen,
                                    client_id=client_id)
    if payer.engine_role not in tokens.TOKEN_ROLES:
        raise _client(f"payer {payer.org!r} has engine role {payer.engine_role!r}, which holds no API token")
    access_token = tokens.issue_access_token(signing_key, client_id=payer.client_id, org=payer.org,
                                             role=payer.engine_role, scope=scope, now=now)
    return Grant(payer=payer, scope=scope, access_token=access_token)
