"""Registered payers (insurer organisations) as the gateway needs them: who may ask for a token, with which keys.

The directory is the one payer registry: a practice admin registers a payer there
(``confide directory register-payer``, a sealed ``PayerRegistered``), every service's identity gate
checks the same record for an insurer principal, and the gateway reads it over RPC
(:class:`DirectoryPayerRegistry`, ``directory.get_payer(org) -> {org, name, engine_role, jwks,
active}``, asked as the gateway itself) through a :class:`PayerCache` of a few seconds
(``PAYER_CACHE_TTL`` in the gateway's config, default 2, at most 5): a deactivation or re-keying
bites within that. :class:`PayerRegistry` is the one interface the token endpoint and the API calls
use (``get(org) -> Payer | None``).

A payer's ``client_id`` (the ``iss``/``sub`` of its client assertions and the ``sub`` of its
access tokens) is its ``org`` id: the directory contract has no separate client id.

A registered JWKS holds public keys only (RFC 7517): each with a ``kid``, ``kty`` ``RSA``
(2048 bits or more, for RS384) or ``EC`` on ``P-384`` (for ES384), ``use`` ``sig`` if present,
``alg`` RS384/ES384 if present. :func:`check_jwks` is what ``confide directory register-payer``
checks before sending a JWKS, so the token endpoint never meets a key it cannot judge.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Protocol

import jwt

from confide.identity.ids import InvalidIdentifierError, normalise_id

CACHE_TTL_CONFIG_KEY = "PAYER_CACHE_TTL"  # nameko config of the gateway: seconds a look-up is reused
DEFAULT_CACHE_TTL = 2.0
MAX_CACHE_TTL = 5.0
MAX_CACHE_ENTRIES = 1024

# The engine roles a payer decides as (docs/identity.md, "Payers").
ENGINE_ROLES = frozenset({"insurer_health_plan", "insurer_non_covered", "workers_comp_carrier"})
ALGORITHMS = {"RS384": "RSA", "ES384": "EC"}  # the only client-assertion algorithms (SMART Backend Services)
MIN_RSA_BITS = 2048
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


class PayerRegistrationError(ValueError):
    """A payer that cannot be registered (bad org, role or JWKS); the message says what."""


@dataclass(frozen=True)
class Payer:
    org: str
    client_id: str
    engine_role: str
    jwks: dict = field(repr=False)
    active: bool = True
    name: str = ""

    def to_json(self) -> dict:
        return {"org": self.org, "name": self.name, "engine_role": self.engine_role, "jwks": self.jwks,
                "active": self.active}

    @classmethod
    def from_record(cls, record: dict) -> "Payer":
        """From the directory's ``get_payer`` reply."""
        return cls(org=record["org"], client_id=record["org"], engine_role=record["engine_role"],
                   jwks=record["jwks"], active=bool(record.get("active", True)), name=record.get("name") or "")


class PayerRegistry(Protocol):
    def get(self, org: str) -> Optional[Payer]:
        """The payer registered as ``org`` (active or deactivated), or None."""


def check_org(org: Any) -> str:
    try:
        return normalise_id(org, "org")
    except InvalidIdentifierError as exc:
        raise PayerRegistrationError(str(exc)) from None


def check_jwks(jwks: Any) -> dict:
    """``jwks`` if it is a JWKS of public RS384/ES384 signing keys with unique ``kid``s. Raises
    PayerRegistrationError naming the first key and what is wrong with it."""
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        raise PayerRegistrationError('a JWKS is {"keys": [...]} with at least one key')
    kids: set[str] = set()
    for i, jwk in enumerate(jwks["keys"]):
        where = f"key {i}"
        if not isinstance(jwk, dict):
            raise PayerRegistrationError(f"{where} is not a JSON object")
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not kid:
            raise PayerRegistrationError(f"{where} has no kid")
        where = f"key {kid!r}"
        if kid in kids:
            raise PayerRegistrationError(f"{where} appears twice")
        kids.add(kid)
        if _PRIVATE_MEMBERS & set(jwk):
            raise PayerRegistrationError(f"{where} holds private key material: register the public key only")
        if jwk.get("use", "sig") != "sig":
            raise PayerRegistrationError(f"{where} is not a signing key (use {jwk.get('use')!r})")
        kty = jwk.get("kty")
        if kty not in ALGORITHMS.values():
            raise PayerRegistrationError(f"{where}: kty {kty!r} is not RSA or EC")
        algs = [a for a, k in ALGORITHMS.items() if k == kty]
        if "alg" in jwk and jwk["alg"] not in algs:
            raise PayerRegistrationError(f"{where}: alg {jwk['alg']!r} is not allowed (only {', '.join(algs)})")
        if kty == "EC" and jwk.get("crv") != "P-384":
            raise PayerRegistrationError(f"{where}: curve {jwk.get('crv')!r} is not P-384 (ES384)")
        try:
            key = jwt.PyJWK(jwk, algs[0]).key
        except jwt.PyJWTError as exc:
            raise PayerRegistrationError(f"{where} is not a valid {kty} public key: {exc}") from None
        if kty == "RSA" and key.key_size < MIN_RSA_BITS:
            raise PayerRegistrationError(f"{where}: RSA key of {key.key_size} bits (at least {MIN_RSA_BITS})")
    return jwks


def check_registration(org: Any, name: Any, engine_role: Any, jwks: Any) -> tuple[str, str, str, dict]:
    org = check_org(org)
    if engine_role not in ENGINE_ROLES:
        raise PayerRegistrationError(f"engine role {engine_role!r} is not one of {', '.join(sorted(ENGINE_ROLES))}")
    if not isinstance(name, str) or not name.strip():
        raise PayerRegistrationError("name must be non-empty")
    return org, name.strip(), engine_role, check_jwks(jwks)


class PayerCache:
    """``org -> Payer | None`` for at most ``ttl`` seconds, shared by the gateway's workers, so a
    deactivation or re-keying in the directory bites within ``ttl`` (<= :data:`MAX_CACHE_TTL`).
    A failed look-up (the directory not answering) is never cached."""

    def __init__(self, ttl: float = DEFAULT_CACHE_TTL, monotonic: Callable[[], float] = time.monotonic):
        if not 0 <= ttl <= MAX_CACHE_TTL:
            raise ValueError(f"payer cache TTL {ttl!r} s is not between 0 and {MAX_CACHE_TTL}")
        self.ttl, self.monotonic = float(ttl), monotonic
        self._entries: dict[str, tuple[float, Optional[Payer]]] = {}

    def get(self, org: str, load: Callable[[], Optional[Payer]]) -> Optional[Payer]:
        now = self.monotonic()
        hit = self._entries.get(org)
        if hit is not None and now < hit[0]:
            return hit[1]
        payer = load()
        if self.ttl > 0:
            if len(self._entries) >= MAX_CACHE_ENTRIES:  # unknown client ids must not grow it without bound
                self._entries = {k: v for k, v in self._entries.items() if now < v[0]}
                if len(self._entries) >= MAX_CACHE_ENTRIES:
                    self._entries.clear()
            self._entries[org] = (now + self.ttl, payer)
        return payer


class DirectoryPayerRegistry:
    """The ``directory`` service over RPC: ``directory.get_payer(org) -> {org, name, engine_role,
    jwks, active}``, asked as the gateway itself (its ``ServiceCredential``, no user's assertion:
    the directory answers that for ``get_payer`` alone). ``rpc`` is the gateway worker's
    ``RpcProxy("directory")``; ``cache`` (optional) holds answers a few seconds.

    An org id that is not a valid id, or that the directory has no record of, is no payer (None).
    Any other failure (the directory down or not answering) raises: it is not "no such payer"."""

    NOT_FOUND = ("PayerNotRegisteredError", "ValidationError")

    def __init__(self, rpc: Any, cache: Optional[PayerCache] = None):
        self.rpc, self.cache = rpc, cache

    def get(self, org: str) -> Optional[Payer]:
        try:
            org = normalise_id(org, "org")
        except InvalidIdentifierError:
            return None
        if self.cache is None:
            return self._load(org)
        return self.cache.get(org, lambda: self._load(org))

    def _load(self, org: str) -> Optional[Payer]:
        try:
            record = self.rpc.get_payer(org)
        except Exception as exc:
            if getattr(exc, "exc_type", "") in self.NOT_FOUND:
                return None
            raise
        return Payer.from_record(record) if record else None
