"""EventStore: the nameko DependencyProvider for the event store (the only nameko import in shared/).

One pool per service container, built in ``setup()`` from the container config
keys ``DB_DSN`` and ``DB_SCHEMA`` (defaults from :mod:`confide.config`), closed
in ``stop()``. Each worker gets the store itself: it is safe to share between
green threads (psycopg_pool hands each call its own connection).
"""
from __future__ import annotations

from nameko.extensions import DependencyProvider

from confide import config
from confide.eventstore.store import PostgresEventStore
from confide.green import use_green_wait

DB_DSN_KEY = "DB_DSN"
DB_SCHEMA_KEY = "DB_SCHEMA"
DB_POOL_SIZE_KEY = "DB_POOL_SIZE"


class EventStore(DependencyProvider):
    """Injects a :class:`PostgresEventStore` into each worker."""

    def setup(self):
        use_green_wait()
        cfg = self.container.config
        self.store = PostgresEventStore(
            cfg.get(DB_DSN_KEY) or config.db_dsn(),
            schema=cfg.get(DB_SCHEMA_KEY) or config.db_schema(),
            pool_size=int(cfg.get(DB_POOL_SIZE_KEY) or 10),
        )

    def stop(self):
        self.store.close()

    def kill(self):
        self.store.close()

    def get_dependency(self, worker_ctx):
        return self.store
