"""nameko providers of the gateway: token verification and the health probe."""
from __future__ import annotations

from typing import Optional

import eventlet
from kombu import Connection
from nameko.extensions import DependencyProvider

from confide import config
from gateway import tokens

KEY_DIR_KEY = "KEY_DIR"
AMQP_URI_KEY = "AMQP_URI"
PROBE_TIMEOUT = 3


class Tokens(DependencyProvider):
    """Loads (or creates) the signing key once at set-up; workers get ``verify(header) -> claims``."""

    def setup(self):
        self.key = tokens.signing_key(self.container.config.get(KEY_DIR_KEY) or None)

    def get_dependency(self, worker_ctx):
        key = self.key
        return lambda header: tokens.verify_token(tokens.bearer(header), key)


class HealthProbe(DependencyProvider):
    """Checks the broker with a fresh, short-lived connection, and the database by asking the
    audit service (the gateway holds no database connection of its own)."""

    def setup(self):
        self.amqp_uri = self.container.config.get(AMQP_URI_KEY) or config.amqp_uri()

    def get_dependency(self, worker_ctx):
        return _Probe(self.amqp_uri)


class _Probe:
    def __init__(self, amqp_uri: str):
        self.amqp_uri = amqp_uri

    def broker(self) -> Optional[str]:
        """None when reachable, else a short reason (never the URI, which holds credentials)."""
        try:
            with Connection(self.amqp_uri, connect_timeout=PROBE_TIMEOUT) as conn:
                conn.ensure_connection(max_retries=1, timeout=PROBE_TIMEOUT)
        except Exception as exc:
            return type(exc).__name__
        return None

    def database(self, audit) -> Optional[str]:
        """None when the audit service says its database answers, else a short reason.

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
            return "Timeout"
        except Exception as exc:
            return type(exc).__name__
        finally:
            timer.cancel()
        status = reply.get("database") if isinstance(reply, dict) else None
        if status == "ok":
            return None
        if isinstance(status, str) and status.startswith("unreachable: "):
            return status[len("unreachable: "):]
        return "unexpected reply from the audit service"
