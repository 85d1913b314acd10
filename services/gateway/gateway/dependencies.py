"""nameko providers of the gateway: SMART Backend Services (tokens, identity assertions) and the health probe."""
from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import eventlet
from kombu import Connection
from nameko.extensions import DependencyProvider

from confide import config, health
from confide.identity import assertions
from confide.identity.keys import ensure_assertion_keys, load_assertion_signing_key
from gateway import payers, smart, tokens

KEY_DIR_KEY = "KEY_DIR"
AMQP_URI_KEY = "AMQP_URI"
PUBLIC_URL_KEY = "PUBLIC_URL"
WEB_SERVER_ADDRESS_KEY = "WEB_SERVER_ADDRESS"
DEFAULT_WEB_SERVER_ADDRESS = "127.0.0.1:8000"  # nameko's default is 0.0.0.0:8000; config.yml sets this
TOKEN_PATH = "/oauth/token"
IDENTITY_CONTEXT_KEY = "confide_identity"
ASSERTION_ISSUER = "confide-gateway"
ASSERTION_AUDIENCE = "confide-services"
PAYER_ROLES = ("insurer",)
PAYER_AMR = ("swk",)  # RFC 8176: proof of possession of a software-secured key (the client assertion)
PROBE_TIMEOUT = 3


class Smart(DependencyProvider):
    """SMART Backend Services for payers (``gateway.smart``): the token endpoint and bearer checks.

    Set-up loads (or creates) the access-token key and the identity-assertion key in ``KEY_DIR``
    and keeps, for the process, one cache of payer look-ups (``PAYER_CACHE_TTL`` seconds, default 2,
    at most 5). Client-assertion ids are remembered by the directory, in the event store
    (:class:`DirectoryReplayRecord`), not in this process: a replay sent to another gateway replica
    is refused too. Workers get a :class:`SmartWorker`.
    """

    def setup(self):
        cfg = self.container.config
        key_dir = Path(cfg.get(KEY_DIR_KEY) or config.key_dir())
        self.key_dir = key_dir
        self.access_key = tokens.signing_key(key_dir)
        ensure_assertion_keys(key_dir)
        self.assertion_key = load_assertion_signing_key(key_dir)
        self.payer_cache = payers.PayerCache(float(cfg.get(payers.CACHE_TTL_CONFIG_KEY, payers.DEFAULT_CACHE_TTL)))
        self.token_url = token_url(cfg)

    def get_dependency(self, worker_ctx):
        return SmartWorker(self, worker_ctx)


def token_url(cfg: dict) -> str:
    """``<PUBLIC_URL>/oauth/token``; without PUBLIC_URL, ``http://<WEB_SERVER_ADDRESS>/oauth/token``
    (``https://`` when TLS is configured). Raises ValueError for half a TLS pair.

    The client assertion's ``aud`` must be exactly this, so a gateway behind a proxy (or listening
    on 0.0.0.0) must be told the URL its payers use (``CONFIDE_GATEWAY_URL``).
    """
    base = (cfg.get(PUBLIC_URL_KEY) or "").rstrip("/")
    if not base:
        from gateway.https import tls_files

        scheme = "https" if tls_files(cfg) else "http"
        base = f"{scheme}://" + (cfg.get(WEB_SERVER_ADDRESS_KEY) or DEFAULT_WEB_SERVER_ADDRESS)
    return base + TOKEN_PATH


class SmartWorker:
    """One worker's view: ``token(request) -> Grant``, ``authenticate(request, resource, action)``."""

    def __init__(self, provider: Smart, worker_ctx):
        self.provider, self.worker_ctx = provider, worker_ctx

    @property
    def token_url(self) -> str:
        return self.provider.token_url

    def registry(self) -> payers.PayerRegistry:
        """The payer registry: the directory, asked through this worker's ``RpcProxy("directory")``
        (the service's ``directory`` attribute) as the gateway itself, through the process's cache."""
        return payers.DirectoryPayerRegistry(self.worker_ctx.service.directory, self.provider.payer_cache)

    def token(self, request, now: Optional[datetime] = None) -> smart.Grant:
        """Answer ``POST /oauth/token``. Raises smart.OAuthError."""
        return smart.token_request(request.form, content_type=request.content_type, registry=self.registry(),
                                   token_url=self.provider.token_url, signing_key=self.provider.access_key,
                                   seen=DirectoryReplayRecord(self.worker_ctx.service.directory),
                                   now=now or datetime.now(timezone.utc))

    def authenticate(self, header: Optional[str], resource: str, action: str) -> tokens.AccessToken:
        """The verified access token of ``Authorization: <header>``, its payer still registered and
        active (asked of the directory on every call, through a cache of at most a few seconds), its scope covering ``action`` on ``resource``. Puts the payer's identity assertion
        in the worker's context data (``confide_identity``), so every RPC this call makes carries it.

        Raises tokens.TokenError (401) or tokens.InsufficientScope (403).
        """
        now = datetime.now(timezone.utc)
        access = tokens.verify_access_token(tokens.bearer(header), self.provider.access_key.public_key(), now)
        payer = self.registry().get(access.org)
        if payer is None or payer.client_id != access.client_id:
            raise tokens.TokenError("invalid token")
        if not payer.active:
            raise tokens.TokenError("payer deactivated")
        smart.require_scope(access, resource, action)
        self.worker_ctx.data[IDENTITY_CONTEXT_KEY] = assertions.mint(
            self.provider.assertion_key, subject=access.client_id, roles=PAYER_ROLES, org=access.org,
            session_id=access.token_id, auth_time=min(access.issued_at, now), amr=PAYER_AMR,
            audience=ASSERTION_AUDIENCE, issuer=ASSERTION_ISSUER, now=now)
        return access


class DirectoryReplayRecord:
    """The replay cache of payers' client assertions that every gateway replica shares: ``add``
    asks the directory to record the assertion (``directory.record_client_assertion``, as the
    gateway itself), which appends it as the first event of a stream of its own, so exactly one
    attempt, on whichever replica, succeeds (RFC 7523 3(7): a ``jti`` is used once).

    ``rpc``: the worker's ``RpcProxy("directory")``. ``add`` raises ReplayedAssertionError for an
    assertion already recorded, and smart.OAuthError (``temporarily_unavailable``, HTTP 503) when
    the directory cannot record it: never issues a token on an unrecorded assertion (fail closed)."""

    def __init__(self, rpc):
        self.rpc = rpc

    def add(self, assertion_id: str, *, until: datetime, now: datetime) -> None:
        from nameko.exceptions import RemoteError

        from confide.contracts.directory import client_assertion_digest

        timer = eventlet.Timeout(PROBE_TIMEOUT * 3)
        try:  # the digest only: the jti itself never leaves the gateway
            self.rpc.record_client_assertion(client_assertion_digest(assertion_id), until.isoformat())
        except RemoteError as exc:
            if exc.exc_type == "ClientAssertionReplayedError":
                raise assertions.ReplayedAssertionError("assertion id already used (replay)") from None
            raise smart.OAuthError("temporarily_unavailable", "the assertion could not be recorded; try again",
                                   503) from None
        except eventlet.Timeout as exc:
            if exc is not timer:
                raise
            raise smart.OAuthError("temporarily_unavailable", "the directory did not answer in time", 503) from None
        finally:
            timer.cancel()


class HealthProbe(DependencyProvider):
    """Checks the broker with a fresh, short-lived connection, and the database by asking the
    audit service (the gateway holds no database connection of its own)."""

    def setup(self):
        self.amqp_uri = self.container.config.get(AMQP_URI_KEY) or config.amqp_uri()
        self.amqp_ssl = self.container.config.get("AMQP_SSL")

    def get_dependency(self, worker_ctx):
        return _Probe(self.amqp_uri, self.amqp_ssl)


class _Probe:
    def __init__(self, amqp_uri: str, amqp_ssl=None):
        self.amqp_uri, self.amqp_ssl = amqp_uri, amqp_ssl

    def checks(self, audit, services: dict[str, bool]) -> list[health.Check]:
        """The broker and each of ``services`` (name → required) from their RPC queues, then the
        database as the audit service finds it (down when it cannot be asked)."""
        checks = health.probe_broker(self.amqp_uri, services, ssl=self.amqp_ssl, timeout=PROBE_TIMEOUT)
        started = time.monotonic()
        reason, usurped, halted = self.database(audit)
        checks.insert(1, health.timed("database", time.monotonic() - started, reason))
        if usurped:  # nothing is sealed or relayed until that session ends; the front door still answers
            checks.insert(2, health.Check("sealer_lease", health.DOWN, usurped, required=False))
        if halted:  # the audit trail stops growing at the event it cannot pass; the front door still answers
            checks.insert(2, health.Check("relay", health.DOWN, halted, required=False))
        return checks

    def broker(self) -> Optional[str]:
        """None when reachable, else a short reason (never the URI, which holds credentials)."""
        try:
            with Connection(self.amqp_uri, connect_timeout=PROBE_TIMEOUT) as conn:
                # one try per node of a failover list (a cluster)
                conn.ensure_connection(max_retries=max(1, self.amqp_uri.count(";")), timeout=PROBE_TIMEOUT)
        except Exception as exc:
            return type(exc).__name__
        return None

    def database(self, audit) -> tuple[Optional[str], Optional[str], Optional[str]]:
        """(None when the audit service says its database answers, else a short reason; None, or
        who holds the sealer/relay lease instead of the audit service; None, or why its sealing and
        relaying halted).

        ``audit``: the worker's ``RpcProxy("audit")``. Waits at most PROBE_TIMEOUT seconds. When
        the audit service cannot be asked (not running: ``UnknownService``; no reply: ``Timeout``)
        the database counts as unreachable: nothing here can tell otherwise.
        """
        timer = eventlet.Timeout(PROBE_TIMEOUT)
        try:
            reply = audit.health()
        except eventlet.Timeout as exc:
            if exc is not timer:
                raise
            return "Timeout", None, None
        except Exception as exc:
            return type(exc).__name__, None, None
        finally:
            timer.cancel()
        return health.event_store_reason(reply), health.sealer_lease_reason(reply), health.relay_reason(reply)
