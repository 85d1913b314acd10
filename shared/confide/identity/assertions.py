"""Short-lived signed identity assertions: who is asking, minted once at the front door, verified by every service.

After a person signs in, the front door mints an assertion (:func:`mint`): a compact JWS (RFC 7515)
carrying a JWT (RFC 7519), signed with Ed25519 (``alg`` ``EdDSA``, RFC 8037) under the key whose
RFC 7638 thumbprint is the ``kid`` header (:func:`confide.identity.keys.key_id`). Each service
verifies it (:func:`verify`) and takes the requester's id, roles and org from the resulting
:class:`Principal` alone -- never from the RPC's arguments. This is the mechanism of 45 CFR
164.312(d) (person or entity authentication: the service knows the person was authenticated, when
and how) and 164.312(a)(2)(i) (unique user identification: the subject is one canonical id).

Wire form::

    header  {"alg": "EdDSA", "typ": "confide-identity+jwt", "kid": "<RFC 7638 thumbprint>"}
    payload {"iss": issuer, "aud": one audience, "sub": person id, "org": organisation id,
             "roles": [catalogue roles], "sid": session id, "jti": assertion id,
             "iat": issued, "nbf": = iat, "exp": <= iat + 300, "auth_time": sign-in instant,
             "amr": [RFC 8176 methods, e.g. "pwd", "otp"],
             "act": {"sub": calling service}    # only on service-to-service calls (RFC 8693 4.1)
            }

Times are integer seconds since the epoch (NumericDate). The explicit ``typ`` keeps any other JWT
signed by a shared key from passing as an assertion (RFC 8725 3.11). Unknown payload claims are
ignored (a newer minter, an older verifier); unknown *header* parameters are refused, since
``jku``/``x5u``/``jwk``/``crit`` would ask the verifier to trust something it was not given.

:func:`verify` trusts only ``alg`` ``EdDSA`` with a key it was handed by ``kid``, so ``none``,
HS256 keyed with the public key, and keys named by the token are all refused before any
signature is checked. Every refusal is an :class:`AssertionRejectedError` subclass whose
``reason`` says what failed.
"""
from __future__ import annotations

import heapq
import json
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from confide.identity.ids import InvalidIdentifierError, normalise_id
from confide.identity.keys import key_id
from confide.identity.roles import UnknownRoleError, check_roles

__all__ = [
    "ALGORITHM",
    "TOKEN_TYPE",
    "MAX_TTL_SECONDS",
    "DEFAULT_TTL_SECONDS",
    "AMR_VALUES",
    "Principal",
    "ReplayCache",
    "mint",
    "verify",
    "key_id",
    "AssertionRejectedError",
    "MalformedAssertionError",
    "AlgorithmNotAllowedError",
    "UnknownKeyError",
    "BadSignatureError",
    "MissingClaimsError",
    "WrongIssuerError",
    "WrongAudienceError",
    "LifetimeTooLongError",
    "ExpiredAssertionError",
    "NotYetValidError",
    "InvalidIdentityClaimError",
    "RoleNotInCatalogueError",
    "ReplayedAssertionError",
    "ReplayCacheFullError",
]

ALGORITHM = "EdDSA"
TOKEN_TYPE = "confide-identity+jwt"
MAX_TTL_SECONDS = 300
"""The longest an assertion may live (``exp`` minus the earlier of ``iat`` and ``nbf``)."""
DEFAULT_TTL_SECONDS = 120
MAX_LEEWAY_SECONDS = 60
MAX_TOKEN_LENGTH = 8192
"""Longer input is refused unread (a real assertion is well under 1 KiB)."""

AMR_VALUES: frozenset[str] = frozenset({
    "face", "fpt", "geo", "hwk", "iris", "kba", "mca", "mfa", "otp", "pin", "pwd", "rba", "retina",
    "sc", "sms", "swk", "tel", "user", "vbm", "wia",
})
"""Authentication method references: the RFC 8176 section 2 registry."""

_HEADER_MEMBERS = frozenset({"alg", "typ", "kid"})
_REQUIRED_CLAIMS = ("iss", "aud", "sub", "org", "roles", "sid", "jti", "iat", "nbf", "exp", "auth_time", "amr")


# -- refusals --------------------------------------------------------------------------------

class AssertionRejectedError(Exception):
    """An identity assertion that must not be acted on. ``reason`` says what failed.

    Every subclass means the same to a caller: the request is refused as unauthenticated
    (164.312(d)); the subclass and reason are for the log, not for the person asking.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class MalformedAssertionError(AssertionRejectedError):
    """Not a compact JWS of the expected form: bad encoding, bad JSON, wrong ``typ``, a header
    parameter that is not allowed, or a claim of the wrong type or shape."""


class AlgorithmNotAllowedError(AssertionRejectedError):
    """The header's ``alg`` is not ``EdDSA`` (``none``, ``HS256``, ``RS256``, ``ES256``, ...)."""


class UnknownKeyError(AssertionRejectedError):
    """The header's ``kid`` names no key the verifier trusts."""


class BadSignatureError(AssertionRejectedError):
    """The signature does not verify under the key ``kid`` names (forged, or tampered with)."""


class MissingClaimsError(AssertionRejectedError):
    """Required claims are absent; ``claims`` lists them."""

    def __init__(self, claims: Iterable[str]) -> None:
        self.claims = tuple(claims)
        super().__init__(f"missing claim(s): {', '.join(self.claims)}")


class WrongIssuerError(AssertionRejectedError):
    """``iss`` is not the issuer the verifier expects."""


class WrongAudienceError(AssertionRejectedError):
    """``aud`` is not this verifier (an assertion minted for another service)."""


class LifetimeTooLongError(AssertionRejectedError):
    """The assertion was minted to live longer than :data:`MAX_TTL_SECONDS`."""


class ExpiredAssertionError(AssertionRejectedError):
    """``exp`` has passed (beyond the leeway)."""


class NotYetValidError(AssertionRejectedError):
    """``nbf`` or ``iat`` lies in the future (beyond the leeway)."""


class InvalidIdentityClaimError(AssertionRejectedError):
    """``sub``, ``org``, ``sid``, ``jti`` or ``act.sub`` is not an identifier in its canonical form
    (:func:`confide.identity.ids.normalise_id`); ``claim`` names it."""

    def __init__(self, claim: str, reason: str) -> None:
        self.claim = claim
        super().__init__(reason)


class RoleNotInCatalogueError(AssertionRejectedError):
    """A role in ``roles`` is not in :data:`confide.identity.roles.ROLE_CATALOGUE`."""


class ReplayedAssertionError(AssertionRejectedError):
    """This verifier has already accepted an assertion with this ``jti``."""


class ReplayCacheFullError(AssertionRejectedError):
    """The replay cache holds its maximum of unexpired ids; refusing is the only safe answer
    (forgetting an id would let it be replayed)."""


# -- the principal ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Principal:
    """Who is asking, as a verified assertion states it.

    ``subject`` is the person's canonical id (164.312(a)(2)(i)); ``roles`` catalogue roles;
    ``org`` the organisation they act for; ``session_id`` the sign-in session; ``auth_time`` when
    they authenticated and ``amr`` how (RFC 8176, e.g. ``("pwd", "otp")``: 164.312(d));
    ``acting_service`` the calling service on a service-to-service call, else ``None``;
    ``audience`` the service the assertion was minted for; ``expires_at`` its ``exp``;
    ``assertion_id`` its ``jti``. Instants are aware UTC datetimes.
    """

    subject: str
    roles: tuple[str, ...]
    org: str
    session_id: str
    auth_time: datetime
    amr: tuple[str, ...]
    acting_service: str | None
    audience: str
    expires_at: datetime
    assertion_id: str


# -- replay cache ----------------------------------------------------------------------------

class ReplayCache:
    """Assertion ids this verifier has accepted, each kept until its assertion can no longer verify.

    In memory, per process, thread-safe (also under eventlet's patched locks). Bounded: when
    ``max_entries`` unexpired ids are held, :meth:`add` refuses rather than forgets.
    """

    def __init__(self, max_entries: int = 100_000) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._until: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._until)

    def _purge(self, now: float) -> None:
        while self._heap and self._heap[0][0] <= now:
            until, assertion_id = heapq.heappop(self._heap)
            if self._until.get(assertion_id) == until:
                del self._until[assertion_id]

    def add(self, assertion_id: str, *, until: datetime, now: datetime) -> None:
        """Remember ``assertion_id`` until ``until`` (when it stops verifying anyway).

        Raises ReplayedAssertionError when it is already remembered and not yet expired,
        ReplayCacheFullError when ``max_entries`` unexpired ids are held, ValueError for a naive
        datetime.
        """
        now_s, until_s = _seconds(now, "now"), _seconds(until, "until")
        with self._lock:
            self._purge(now_s)
            if assertion_id in self._until:
                raise ReplayedAssertionError(f"assertion id already used (replay), remembered until {_iso(self._until[assertion_id])}")
            if len(self._until) >= self.max_entries:
                raise ReplayCacheFullError(f"replay cache full ({self.max_entries} unexpired assertion ids)")
            self._until[assertion_id] = until_s
            heapq.heappush(self._heap, (until_s, assertion_id))


# -- helpers ---------------------------------------------------------------------------------

def _seconds(moment: datetime, name: str) -> float:
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")
    return moment.timestamp()


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat().replace("+00:00", "Z")


def _shown(value: object) -> str:
    """An untrusted value for a message: repr (which escapes controls and bidi characters), cut short."""
    text = repr(value)
    return text if len(text) <= 64 else text[:61] + "..."


def _check_amr(amr: Iterable[object]) -> tuple[str, ...]:
    out = tuple(amr)
    if not out:
        raise ValueError("amr: no authentication method")
    for method in out:
        if not isinstance(method, str) or method not in AMR_VALUES:
            raise ValueError(f"amr: {_shown(method)} is not an RFC 8176 method")
    if len(set(out)) != len(out):
        raise ValueError("amr: a method is repeated")
    return out  # type: ignore[return-value]  # every element was checked to be a str


def _no_duplicate_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in pairs:
        if name in out:
            raise ValueError(f"duplicate member {name!r}")  # parsers disagree on which one wins
        out[name] = value
    return out


# -- mint ------------------------------------------------------------------------------------

def mint(
    signing_key: Ed25519PrivateKey,
    *,
    subject: str,
    roles: Iterable[str],
    org: str,
    session_id: str,
    auth_time: datetime,
    amr: Iterable[str],
    audience: str,
    issuer: str,
    now: datetime,
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
    acting_service: str | None = None,
    assertion_id: str | None = None,
) -> str:
    """A compact JWS asserting that ``subject`` (of ``org``, holding ``roles``) authenticated at
    ``auth_time`` by ``amr`` in session ``session_id``, for ``audience``, valid from ``now`` for
    ``ttl_seconds`` (at most :data:`MAX_TTL_SECONDS`). ``acting_service`` names the calling service
    on a service-to-service call; ``assertion_id`` defaults to a random UUID. Identifiers are
    normalised with :func:`~confide.identity.ids.normalise_id` (164.312(a)(2)(i)); the signature
    is what lets each service authenticate the person without seeing a password (164.312(d)).

    Raises InvalidIdentifierError (a ValueError) for a subject, org, session id, assertion id,
    acting service, audience or issuer that is not a canonical identifier; UnknownRoleError (a
    ValueError) for a role outside the catalogue; ValueError for no or repeated roles or amr
    methods, an amr method outside RFC 8176, ``ttl_seconds`` outside 1..300, a naive datetime, or
    ``auth_time`` after ``now``; TypeError when ``signing_key`` is not an Ed25519 private key.
    Everything it mints, :func:`verify` accepts at ``now``.
    """
    if not isinstance(signing_key, Ed25519PrivateKey):
        raise TypeError(f"signing_key must be an Ed25519 private key, got {type(signing_key).__name__}")
    if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int) or not 1 <= ttl_seconds <= MAX_TTL_SECONDS:
        raise ValueError(f"ttl_seconds must be an integer in 1..{MAX_TTL_SECONDS}, got {ttl_seconds!r}")
    issued = int(_seconds(now, "now") // 1)
    authenticated = int(_seconds(auth_time, "auth_time") // 1)
    if authenticated > issued:
        raise ValueError("auth_time is after now: a person cannot have signed in in the future")
    claims: dict[str, Any] = {
        "iss": normalise_id(issuer, "issuer"),
        "aud": normalise_id(audience, "audience"),
        "sub": normalise_id(subject, "subject"),
        "org": normalise_id(org, "org"),
        "roles": list(check_roles(roles)),
        "sid": normalise_id(session_id, "session_id"),
        "jti": normalise_id(str(uuid.uuid4()) if assertion_id is None else assertion_id, "assertion_id"),
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl_seconds,
        "auth_time": authenticated,
        "amr": list(_check_amr(amr)),
    }
    if acting_service is not None:
        claims["act"] = {"sub": normalise_id(acting_service, "acting_service")}
    return jwt.encode(claims, signing_key, algorithm=ALGORITHM, headers={"typ": TOKEN_TYPE, "kid": key_id(signing_key)})


# -- verify ----------------------------------------------------------------------------------

def _header(token: str) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise MalformedAssertionError(f"not a compact JWS: {exc}") from None
    if "alg" not in header:
        raise MalformedAssertionError("header has no alg")
    if header["alg"] != ALGORITHM:
        raise AlgorithmNotAllowedError(f"alg {_shown(header['alg'])} is not allowed; only {ALGORITHM}")
    extra = sorted(str(name) for name in header if name not in _HEADER_MEMBERS)
    if extra:
        raise MalformedAssertionError(f"header parameter(s) not allowed: {', '.join(_shown(n) for n in extra)}")
    if header.get("typ") != TOKEN_TYPE:
        raise MalformedAssertionError(f"header typ {_shown(header.get('typ'))} is not {TOKEN_TYPE!r}")
    if not isinstance(header.get("kid"), str):
        raise MalformedAssertionError("header has no kid")
    return header


def _payload(token: str, key: Ed25519PublicKey) -> dict[str, Any]:
    try:
        raw = jwt.PyJWS().decode(token, key, algorithms=[ALGORITHM])
    except jwt.InvalidSignatureError:
        raise BadSignatureError("signature does not verify under the key named by kid") from None
    except jwt.InvalidAlgorithmError as exc:
        raise AlgorithmNotAllowedError(f"alg not allowed: {exc}") from None
    except jwt.PyJWTError as exc:
        raise MalformedAssertionError(f"not a compact JWS: {exc}") from None
    try:
        claims = json.loads(raw, object_pairs_hook=_no_duplicate_members)
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise MalformedAssertionError(f"payload is not JSON: {exc}") from None
    if not isinstance(claims, dict):
        raise MalformedAssertionError("payload is not a JSON object")
    return claims


def _numeric_date(claims: Mapping[str, Any], name: str) -> int:
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedAssertionError(f"{name} is not an integer NumericDate")
    return value


def _identifier(value: object, claim: str) -> str:
    try:
        canonical = normalise_id(value, claim)
    except InvalidIdentifierError as exc:
        raise InvalidIdentityClaimError(claim, f"claim {exc}") from None
    if canonical != value:
        raise InvalidIdentityClaimError(claim, f"claim {claim}: not in canonical (NFC) form")
    return canonical


def verify(
    token: object,
    *,
    public_keys: Mapping[str, Ed25519PublicKey],
    audience: str,
    issuer: str | tuple[str, ...],
    now: datetime,
    leeway_seconds: int | float = 5,
    seen: ReplayCache | None = None,
) -> Principal:
    """The :class:`Principal` a valid assertion states, for this ``audience`` from this ``issuer`` at ``now``.

    The requester's id, roles and org are taken from here alone: this is the per-request
    authentication of 45 CFR 164.312(d), and the subject is a canonical unique user id
    (164.312(a)(2)(i)). ``public_keys`` maps key id (:func:`key_id`) to trusted key; ``leeway_seconds``
    (at most 60) absorbs clock skew on ``exp``, ``nbf`` and ``iat``; with ``seen``, an assertion id
    is accepted once (remembered until ``exp`` plus the leeway). ``issuer``: the one issuer, or a tuple
    of issuers any of which is accepted (the signature is checked once whichever it names).

    Raises (all AssertionRejectedError): MalformedAssertionError (not a compact JWS, bad JSON,
    duplicate members, wrong ``typ``, a header parameter other than alg/typ/kid, a claim of the
    wrong type, ``exp`` not after ``iat``, ``auth_time`` after ``iat``, empty/repeated roles, bad
    ``amr``); AlgorithmNotAllowedError (``alg`` other than EdDSA, ``none`` and HS256 included);
    UnknownKeyError; BadSignatureError (forged or tampered); MissingClaimsError; WrongIssuerError;
    WrongAudienceError; LifetimeTooLongError (over :data:`MAX_TTL_SECONDS`);
    ExpiredAssertionError; NotYetValidError; InvalidIdentityClaimError (sub, org, sid, jti or
    act.sub not a canonical identifier); RoleNotInCatalogueError; ReplayedAssertionError and
    ReplayCacheFullError (only with ``seen``). Raises ValueError for a naive ``now`` or a leeway
    outside 0..60 and TypeError for a trusted key that is not an Ed25519 public key (caller bugs,
    not refusals).
    """
    now_s = _seconds(now, "now")
    if isinstance(leeway_seconds, bool) or not 0 <= leeway_seconds <= MAX_LEEWAY_SECONDS:
        raise ValueError(f"leeway_seconds must be in 0..{MAX_LEEWAY_SECONDS}")
    if not isinstance(token, str) or not token.isascii():
        raise MalformedAssertionError("not a compact JWS: expected an ASCII string")
    if len(token) > MAX_TOKEN_LENGTH:
        raise MalformedAssertionError(f"longer than {MAX_TOKEN_LENGTH} characters")

    header = _header(token)
    key = public_keys.get(header["kid"])
    if key is None:
        raise UnknownKeyError(f"kid {_shown(header['kid'])} names no trusted key")
    if not isinstance(key, Ed25519PublicKey):
        raise TypeError(f"trusted key {header['kid']!r} is not an Ed25519 public key")
    claims = _payload(token, key)

    missing = [name for name in _REQUIRED_CLAIMS if name not in claims]
    if missing:
        raise MissingClaimsError(missing)
    if isinstance(issuer, str) and claims["iss"] != issuer:
        raise WrongIssuerError(f"issuer {_shown(claims['iss'])} is not {issuer!r}")
    if not isinstance(issuer, str) and not any(claims["iss"] == one for one in issuer):
        raise WrongIssuerError(f"issuer {_shown(claims['iss'])} is not one of {', '.join(map(repr, issuer))}")
    if claims["aud"] != audience:
        raise WrongAudienceError(f"audience {_shown(claims['aud'])} is not {audience!r}")

    issued, not_before, expires = (_numeric_date(claims, n) for n in ("iat", "nbf", "exp"))
    authenticated = _numeric_date(claims, "auth_time")
    if expires <= issued:
        raise MalformedAssertionError("exp is not after iat")
    lifetime = expires - min(issued, not_before)
    if lifetime > MAX_TTL_SECONDS:
        raise LifetimeTooLongError(f"lifetime {lifetime} s is over the {MAX_TTL_SECONDS} s limit")
    if now_s >= expires + leeway_seconds:
        raise ExpiredAssertionError(f"expired at {_iso(expires)} (now {_iso(now_s)}, leeway {leeway_seconds} s)")
    for name, moment in (("nbf", not_before), ("iat", issued)):
        if moment > now_s + leeway_seconds:
            raise NotYetValidError(f"{name} {_iso(moment)} is in the future (now {_iso(now_s)}, leeway {leeway_seconds} s)")
    if authenticated > issued:
        raise MalformedAssertionError("auth_time is after iat")

    subject = _identifier(claims["sub"], "sub")
    org = _identifier(claims["org"], "org")
    session_id = _identifier(claims["sid"], "sid")
    assertion_id = _identifier(claims["jti"], "jti")
    acting_service: str | None = None
    if "act" in claims:
        act = claims["act"]
        if not isinstance(act, dict) or set(act) != {"sub"}:
            raise MalformedAssertionError('act is not {"sub": <service>}')
        acting_service = _identifier(act["sub"], "act.sub")

    if not isinstance(claims["roles"], list):
        raise MalformedAssertionError("roles is not a list")
    try:
        roles = check_roles(claims["roles"])
    except UnknownRoleError as exc:
        raise RoleNotInCatalogueError(str(exc)) from None
    except ValueError as exc:
        raise MalformedAssertionError(f"roles: {exc}") from None
    if not isinstance(claims["amr"], list):
        raise MalformedAssertionError("amr is not a list")
    try:
        amr = _check_amr(claims["amr"])
    except ValueError as exc:
        raise MalformedAssertionError(str(exc)) from None

    expires_at = datetime.fromtimestamp(expires, timezone.utc)
    if seen is not None:  # last: an assertion refused for any other reason uses up no id
        seen.add(assertion_id, until=datetime.fromtimestamp(expires + leeway_seconds, timezone.utc), now=now)
    return Principal(
        subject=subject,
        roles=roles,
        org=org,
        session_id=session_id,
        auth_time=datetime.fromtimestamp(authenticated, timezone.utc),
        amr=amr,
        acting_service=acting_service,
        audience=audience,
        expires_at=expires_at,
        assertion_id=assertion_id,
    )
