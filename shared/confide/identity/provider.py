"""nameko wiring of identity: :class:`Identity` (who is asking, per call) and :class:`ServiceCredential`
(this service's own credential on every call it makes). The checks themselves are
:mod:`confide.identity.gate` (pure); this module is the only one of :mod:`confide.identity` that
imports nameko.

A service adopts it like this::

    from confide.identity.errors import NotAuthenticatedError, NotAuthorizedError
    from confide.identity.provider import Identity, ServiceCredential

    USER_ERRORS = (errors.NotesError, NotAuthenticatedError, NotAuthorizedError)

    class NotesService:
        name = "notes"
        identity = Identity()
        credential = ServiceCredential()   # only if it calls other services

        @rpc(expected_exceptions=USER_ERRORS)
        def sign_note(self, note_id):
            principal = self.identity.require("clinician", "trainee", "supervisor")
            return handlers.sign_note(self.store, self.clock, {"note_id": note_id, "signed_by": principal.subject})

Clients (the CLI, tests) pass :func:`identity_context` as ``context_data`` to nameko's
``ClusterRpcProxy`` / ``ServiceRpcProxy``.
"""
from __future__ import annotations

import os
import uuid
from typing import Any

from nameko.extensions import DependencyProvider

from confide import config
from confide.eventstore.provider import DB_DSN_KEY, DB_SCHEMA_KEY
from confide.identity.assertions import mint
from confide.identity.directory_seal import DISCLOSURE_CATEGORIES, DISCLOSURES_SERVICE, SealedDirectory, SealedStreams
from confide.identity.gate import (
    AUDIENCE,
    DEFAULT_TTL_SECONDS,
    IDENTITY_KEY,
    SERVICE_KEY,
    CallIdentity,
    IdentityVerifier,
)
from confide.identity.keys import (
    SERVICE_KEYS_DIR,
    load_service_public_keys,
    load_service_signing_key,
    load_trusted_assertion_keys,
)
from confide.providers import key_dir_of
from confide.timestamps import now_utc

__all__ = ["Identity", "ServiceCredential", "DirectoryKeys", "DisclosureKeys", "identity_context", "mint_service_assertion", "IDENTITY_KEY",
           "SERVICE_KEY", "IDENTITY_CACHE_TTL_KEY"]

#: Config key: seconds a directory look-up is reused (<= 5; default 2).
IDENTITY_CACHE_TTL_KEY = "IDENTITY_CACHE_TTL"
SERVICE_ASSERTION_TTL_SECONDS = 60
SERVICE_ORG = "confide"
_CALLER_SERVICE_ATTR = "_confide_caller_service"


def identity_context(assertion: str | None, service_assertion: str | None = None) -> dict[str, str]:
    """``context_data`` for a nameko RPC proxy carrying a user's assertion (and a client's own)."""
    data = {}
    if assertion is not None:
        data[IDENTITY_KEY] = assertion
    if service_assertion is not None:
        data[SERVICE_KEY] = service_assertion
    return data


#: Signing keys already parsed, by (key file, its inode, size and modification time): a worker's
#: assertion is minted on every call, and parsing the PEM each time was a tenth of the gateway's CPU.
#: A key file replaced or rewritten (rotation) has another stat, so it is read again.
_SIGNING_KEYS: dict[tuple, Any] = {}


def _service_signing_key(key_dir, name: str):
    """``load_service_signing_key(key_dir, name)``, parsed once per version of the file. Raises as it does."""
    path = os.path.join(os.fspath(key_dir), SERVICE_KEYS_DIR, f"{name}.key")
    try:
        st = os.stat(path)
    except OSError:
        return load_service_signing_key(key_dir, name)  # raises FileNotFoundError naming the path
    memo = (path, st.st_ino, st.st_size, st.st_mtime_ns)
    key = _SIGNING_KEYS.get(memo)
    if key is None:
        key = load_service_signing_key(key_dir, name)
        if len(_SIGNING_KEYS) > 64:
            _SIGNING_KEYS.clear()
        _SIGNING_KEYS[memo] = key
    return key


def mint_service_assertion(key_dir, name: str, now=None, ttl_seconds: int = SERVICE_ASSERTION_TTL_SECONDS) -> str:
    """A short-lived assertion that service ``name`` is calling, signed with ``service-keys/<name>.key``
    (raises FileNotFoundError / ValueError when that key is missing or not one)."""
    now = now or now_utc()
    return mint(_service_signing_key(key_dir, name), subject=name, roles=("service",), org=SERVICE_ORG,
                session_id=str(uuid.uuid4()), auth_time=now, amr=("swk",), audience=AUDIENCE, issuer=name,
                now=now, ttl_seconds=ttl_seconds)


def caller_service_assertion(worker_ctx) -> Any:
    """The *caller's* ``confide_service`` (ServiceCredential replaces the propagated value with ours)."""
    if hasattr(worker_ctx, _CALLER_SERVICE_ATTR):
        return getattr(worker_ctx, _CALLER_SERVICE_ATTR)
    return worker_ctx.data.get(SERVICE_KEY)


class Identity(DependencyProvider):
    """Injects the call's :class:`~confide.identity.gate.CallIdentity` (``principal()``, ``require(*roles)``,
    ``calling_service(*names)``, ``refuse_requester_in_payload(payload)``), verified when the handler
    asks. Config: ``KEY_DIR`` (trusted keys, read at start), ``DB_DSN`` / ``DB_SCHEMA`` (the directory
    and the refusal log; its own small pool), ``IDENTITY_CACHE_TTL`` (<= 5 s).
    ``store`` may be given for tests (any object with ``read_stream`` and ``append``)."""

    def __init__(self, store=None, clock=now_utc):
        self._given_store, self.clock = store, clock

    def setup(self):
        cfg = self.container.config
        key_dir = key_dir_of(cfg)
        self.store = self._given_store
        if self.store is None:
            from confide.eventstore.store import PostgresEventStore
            from confide.green import use_green_wait

            use_green_wait()
            self.store = PostgresEventStore(cfg.get(DB_DSN_KEY) or config.db_dsn(),
                                            schema=cfg.get(DB_SCHEMA_KEY) or config.db_schema(), pool_size=2)
        self.verifier = IdentityVerifier(
            service=self.container.service_name, user_keys=load_trusted_assertion_keys(key_dir),
            service_keys=load_service_public_keys(key_dir),
            store=SealedDirectory.from_key_dir(self.store, key_dir), clock=self.clock,
            ttl_seconds=float(cfg.get(IDENTITY_CACHE_TTL_KEY, DEFAULT_TTL_SECONDS)))

    def _close(self):
        if self._given_store is None and getattr(self, "store", None) is not None:
            self.store.close()

    def stop(self):
        self._close()

    def kill(self):
        self._close()

    def get_dependency(self, worker_ctx) -> CallIdentity:
        return _LazyCall(self.verifier, worker_ctx)  # type: ignore[return-value]


class _LazyCall(CallIdentity):
    """Reads the context data when first asked (after every provider's worker_setup has run)."""

    def __init__(self, verifier: IdentityVerifier, worker_ctx) -> None:
        super().__init__(verifier, worker_ctx.entrypoint.method_name, None, None)
        self._ctx, self._read = worker_ctx, False

    def _load(self) -> None:
        if not self._read:
            self._user_token = self._ctx.data.get(IDENTITY_KEY)
            self._service_token = caller_service_assertion(self._ctx)
            self._read = True

    def principal(self):
        self._load()
        return super().principal()

    def calling_service(self, *names):
        self._load()
        return super().calling_service(*names)

    def service_alone(self):
        self._load()
        return super().service_alone()


class ServiceCredential(DependencyProvider):
    """At each worker's set-up, mints this service's own short-lived assertion (``service-keys/<name>.key``)
    into ``worker_ctx.data["confide_service"]``, so every RPC the worker makes carries it (nameko
    propagates context data). The caller's own value is kept aside for :class:`Identity`.
    Raises FileNotFoundError at start when the key is missing (``confide keys init`` makes it)."""

    def __init__(self, name: str | None = None):
        self.name = name

    def setup(self):
        self.key_dir = key_dir_of(self.container.config)
        self.name = self.name or self.container.service_name
        load_service_signing_key(self.key_dir, self.name)  # fail at start, not on the first call

    def worker_setup(self, worker_ctx):
        if not hasattr(worker_ctx, _CALLER_SERVICE_ATTR):
            setattr(worker_ctx, _CALLER_SERVICE_ATTR, worker_ctx.data.get(SERVICE_KEY))
        worker_ctx.data[SERVICE_KEY] = mint_service_assertion(self.key_dir, self.name)


class DirectoryKeys(DependencyProvider):
    """Injects a function wrapping a store so that directory facts are read only as the directory
    service sealed them (:class:`confide.identity.directory_seal.SealedDirectory`); with ``sign=True``
    (the directory service alone) its appends of directory state are sealed too. Raises
    FileNotFoundError at start when ``service-keys/directory.pub`` (or ``.key`` to sign) is missing."""

    def __init__(self, sign: bool = False):
        self.sign = sign

    def setup(self):
        key_dir = key_dir_of(self.container.config)
        probe = SealedDirectory.from_key_dir(None, key_dir, sign=self.sign)  # fail at start, not per call
        self._public, self._signing = probe._public, probe._signing

    def get_dependency(self, worker_ctx):
        return lambda store: SealedDirectory(store, self._public, self._signing)


class DisclosureKeys(DependencyProvider):
    """Injects a function wrapping a store so that disclosure requests and authorizations are read only
    as the disclosures service sealed them (:func:`confide.identity.directory_seal.SealedDisclosures`);
    with ``sign=True`` (the disclosures service alone) its appends there are sealed with
    ``service-keys/disclosures.key``. Raises FileNotFoundError at start when ``disclosures.pub`` (or
    ``.key`` to sign) is missing."""

    def __init__(self, sign: bool = False):
        self.sign = sign

    def setup(self):
        key_dir = key_dir_of(self.container.config)
        probe = SealedStreams.for_writer(None, key_dir, DISCLOSURES_SERVICE, DISCLOSURE_CATEGORIES,
                                         sign=self.sign)  # fail at start, not per call
        self._public, self._signing = probe._public, probe._signing

    def get_dependency(self, worker_ctx):
        return lambda store: SealedStreams(store, DISCLOSURES_SERVICE, DISCLOSURE_CATEGORIES, self._public,
                                           self._signing)
