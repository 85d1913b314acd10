"""Integration tier: real PostgreSQL and RabbitMQ, no running Confide services.

Needs PostgreSQL on 127.0.0.1:5432 (database ``confide_test`` with the schema
installed, the services' role, and a superuser for scratch schemas: see
``confide.config``) and RabbitMQ on :5672 with its management API on :15672
(nameko's per-test vhosts); the report's browser test also needs Chromium.
`make test-integration` (``deploy/setup.sh --test``) sets all of that up. Each
test starts the services it needs in-process (nameko ``container_factory`` /
``runner_factory``). An absent server fails the test loudly; nothing is skipped.

Other runs may share the servers: tests use unique ids, per-test vhosts and
scratch schemas, and wait for a positive signal with a deadline
(``confide.testing.polling.wait_for``, ``entrypoint_waiter``), never a fixed sleep.
"""


import pytest

# -- the audit service on a scratch schema, with the people its identity gate trusts ----------

@pytest.fixture
def audit_config(service_config, scratch_schema):
    """The audit service's container config on a throw-away schema (a short identity cache)."""
    return {**service_config, "DB_SCHEMA": scratch_schema, "IDENTITY_CACHE_TTL": 0.5}


@pytest.fixture
def audit_store(test_db_dsn, audit_config):
    from confide.eventstore.store import PostgresEventStore

    store = PostgresEventStore(test_db_dsn, schema=audit_config["DB_SCHEMA"], pool_size=2)
    yield store
    store.close()


@pytest.fixture
def audit_people(audit_store, audit_config):
    """Principals on file; made before the service starts, since it reads the keys it trusts then."""
    from confide.testing.identities import Identities

    return Identities(audit_store, audit_config["KEY_DIR"])


@pytest.fixture
def audit(container_factory, audit_config, audit_people):
    from audit.service import AuditService

    container = container_factory(AuditService, audit_config)
    container.start()
    return container
