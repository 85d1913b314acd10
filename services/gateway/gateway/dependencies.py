"""nameko providers of the gateway: token verification and the health probe."""
from __future__ import annotations

from typing import Optional

import psycopg
from kombu import Connection
from nameko.extensions import DependencyProvider

from confide import config
from gateway import tokens

KEY_DIR_KEY = "KEY_DIR"
AMQP_URI_KEY = "AMQP_URI"
DB_DSN_KEY = "DB_DSN"
PROBE_TIMEOUT = 3


class Tokens(DependencyProvider):
    """Loads (or creates) the signing key once at set-up; workers get ``verify(header) -> claims``."""

    def setup(self):
        self.key = tokens.signing_key(self.container.config.get(KEY_DIR_KEY) or None)

    def get_dependency(self, worker_ctx):
        key = self.key
        return lambda header: tokens.verify_token(tokens.bearer(header), key)


class HealthProbe(DependencyProvider):
    """Checks broker and database reachability with fresh, short-lived connections."""

    def setup(self):
        cfg = self.container.config
        self.amqp_uri = cfg.get(AMQP_URI_KEY) or config.amqp_uri()
        self.dsn = cfg.get(DB_DSN_KEY) or config.db_dsn()

    def get_dependency(self, worker_ctx):
        return _Probe(self.amqp_uri, self.dsn)


class _Probe:
    def __init__(self, amqp_uri: str, dsn: str):
        self.amqp_uri, self.dsn = amqp_uri, dsn

    def broker(self) -> Optional[str]:
        """None when reachable, else a short reason (never the URI, which holds credentials)."""
        try:
            with Connection(self.amqp_uri, connect_timeout=PROBE_TIMEOUT) as conn:
                conn.ensure_connection(max_retries=1, timeout=PROBE_TIMEOUT)
        except Exception as exc:
            return type(exc).__name__
        return None

    def database(self) -> Optional[str]:
        try:
            with psycopg.connect(self.dsn, connect_timeout=PROBE_TIMEOUT) as conn:
                conn.execute("SELECT 1")
        except Exception as exc:
            return type(exc).__name__
        return None
