"""Registered payers (insurer organisations) as the gateway needs them: who may ask for a token, with which keys.

:class:`PayerRegistry` is the one interface the token endpoint and the API calls use
(``get(org) -> Payer | None``). Two implementations:

- :class:`DirectoryPayerRegistry`: the ``directory`` service over nameko RPC
  (``directory.get_payer(org) -> {org, name, engine_role, jwks, active}``,
  ``directory.register_payer(org=, name=, engine_role=, jwks=)``). The directory service is
  being built in parallel; this codes against that contract.
- :class:`FilePayerRegistry`: ``<key dir>/payers/<org>.json`` (0600 files in a 0700 folder),
  so the gateway works before the directory service lands.

Which one is used is :func:`registry_kind` (``PAYER_REGISTRY`` in the gateway's nameko config,
``CONFIDE_PAYER_REGISTRY`` for the CLI; :data:`DEFAULT_REGISTRY` otherwise). When the directory
service is merged, :data:`DEFAULT_REGISTRY` becomes ``"directory"``.

A payer's ``client_id`` (the ``iss``/``sub`` of its client assertions and the ``sub`` of its
access tokens) is its ``org`` id: the directory contract has no separate client id.

A registered JWKS holds public keys only (RFC 7517): each with a ``kid``, ``kty`` ``RSA``
(2048 bits or more, for RS384) or ``EC`` on ``P-384`` (for ES384), ``use`` ``sig`` if present,
``alg`` RS384/ES384 if present. :func:`check_jwks` refuses anything else at registration, so the
token endpoint never meets a key it cannot judge.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Protocol

import jwt

from confide import config
from confide.identity.ids import InvalidIdentifierError, normalise_id

FILE = "file"
DIRECTORY = "directory"
DEFAULT_REGISTRY = FILE  # becomes DIRECTORY when the directory service is merged
REGISTRY_CONFIG_KEY = "PAYER_REGISTRY"  # nameko config of the gateway
REGISTRY_ENV_KEY = "CONFIDE_PAYER_REGISTRY"  # the CLI
PAYERS_DIR = "payers"

# The engine roles a payer decides as (docs/identity.md, "Payers").
ENGINE_ROLES = frozenset({"insurer_health_plan", "insurer_non_covered", "workers_comp_carrier"})
ALGORITHMS = {"RS384": "RSA", "ES384": "EC"}  # the only client-assertion algorithms (SMART Backend Services)
MIN_RSA_BITS = 2048
_PLAIN = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9 ._-]{0,127}\Z")
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
        """From the directory's ``get_payer`` reply (or a registry file, the same shape)."""
        return cls(org=record["org"], client_id=record["org"], engine_role=record["engine_role"],
                   jwks=record["jwks"], active=bool(record.get("active", True)), name=record.get("name") or "")


class PayerRegistry(Protocol):
    def get(self, org: str) -> Optional[Payer]:
        """The payer registered as ``org``, or None."""

    def register(self, org: str, name: str, engine_role: str, jwks: dict) -> Payer:
        """Register (or re-key) ``org``; returns it. Raises PayerRegistrationError."""

    def deactivate(self, org: str) -> Payer:
        """Stop ``org`` getting tokens (and using the ones it has). Raises LookupError if unknown."""


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


class FilePayerRegistry:
    """``<key dir>/payers/<org>.json``: until the directory service holds payers."""

    def __init__(self, key_dir: Optional[Path | str] = None):
        self.folder = (Path(key_dir) if key_dir else config.key_dir()) / PAYERS_DIR

    def _path(self, org: str) -> Path:
        # A plain org id is the file name as is; anything else (a slash, a dot first, non-ASCII) is
        # hex-encoded, so an org id can never name a path outside the folder.
        safe = org if _PLAIN.match(org) and not org.startswith("x-") else "x-" + org.encode("utf-8").hex()
        return self.folder / f"{safe}.json"

    def get(self, org: str) -> Optional[Payer]:
        try:
            org = normalise_id(org, "org")
        except InvalidIdentifierError:
            return None
        try:
            record = json.loads(self._path(org).read_text())
        except FileNotFoundError:
            return None
        if record.get("org") != org:
            return None
        return Payer.from_record(record)

    def _write(self, payer: Payer) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        path = self._path(payer.org)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(payer.to_json(), fh, indent=2, sort_keys=True)
        os.replace(tmp, path)  # readers see the old or the new file, never half of one

    def register(self, org: str, name: str, engine_role: str, jwks: dict) -> Payer:
        org, name, engine_role, jwks = check_registration(org, name, engine_role, jwks)
        payer = Payer(org=org, client_id=org, engine_role=engine_role, jwks=jwks, active=True, name=name)
        self._write(payer)
        return payer

    def deactivate(self, org: str) -> Payer:
        payer = self.get(org)
        if payer is None:
            raise LookupError(f"no payer {org!r} is registered")
        payer = Payer(**{**payer.__dict__, "active": False})
        self._write(payer)
        return payer


class DirectoryPayerRegistry:
    """The ``directory`` service over RPC. ``rpc`` is a nameko proxy of that service (the gateway
    worker's ``RpcProxy("directory")``, or ``ClusterRpcProxy(...).directory`` from the CLI)."""

    NOT_FOUND = ("PayerNotFoundError", "UnknownPayerError", "NotFoundError")

    def __init__(self, rpc: Any):
        self.rpc = rpc

    def get(self, org: str) -> Optional[Payer]:
        try:
            record = self.rpc.get_payer(org)
        except Exception as exc:
            if getattr(exc, "exc_type", "") in self.NOT_FOUND:
                return None
            raise
        return Payer.from_record(record) if record else None

    def register(self, org: str, name: str, engine_role: str, jwks: dict) -> Payer:
        org, name, engine_role, jwks = check_registration(org, name, engine_role, jwks)
        self.rpc.register_payer(org=org, name=name, engine_role=engine_role, jwks=jwks)
        return Payer(org=org, client_id=org, engine_role=engine_role, jwks=jwks, active=True, name=name)

    def deactivate(self, org: str) -> Payer:
        raise NotImplementedError("deactivate payers through the directory service (PayerDeactivated)")


def registry_kind(value: Optional[str]) -> str:
    kind = (value or DEFAULT_REGISTRY).strip().lower()
    if kind not in (FILE, DIRECTORY):
        raise ValueError(f"payer registry {value!r} is not {FILE!r} or {DIRECTORY!r}")
    return kind


def make_registry(kind: Optional[str], key_dir: Optional[Path | str] = None,
                  directory: Any = None) -> PayerRegistry:
    """The registry ``kind`` names (default :data:`DEFAULT_REGISTRY`). ``directory``: the directory
    RPC proxy, needed for ``"directory"``."""
    if registry_kind(kind) == DIRECTORY:
        if directory is None:
            raise ValueError("the directory payer registry needs an RPC proxy of the directory service")
        return DirectoryPayerRegistry(directory)
    return FilePayerRegistry(key_dir)
