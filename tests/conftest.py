"""Shared fixtures for all three tiers.

eventlet must patch the standard library before anything imports socket or
threading (nameko's fixtures hang otherwise), and psycopg must then wait
through the patched ``select`` so a slow query yields to other green threads.

Services are never skipped: a test that needs PostgreSQL or RabbitMQ fails
loudly, with the address it tried, when they are absent.
"""
import eventlet

eventlet.monkey_patch()  # noqa: E402  (must run first)

from confide.green import is_green_wait, use_green_wait  # noqa: E402

use_green_wait()
assert is_green_wait(), "psycopg would block the eventlet hub"

import os  # noqa: E402
import secrets  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import uuid  # noqa: E402

import psycopg  # noqa: E402
import pytest  # noqa: E402

from confide import config  # noqa: E402

TEST_DB = os.environ.get("CONFIDE_TEST_DB", "confide_test")
CLUSTER_TESTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cluster")


def pytest_ignore_collect(collection_path, config):
    """tests/cluster (``make test-cluster``: clusters of their own, faults under load) is collected
    only when named on the command line (``pytest tests/cluster``), never by ``pytest tests``."""
    path = str(collection_path)
    if path != CLUSTER_TESTS and not path.startswith(CLUSTER_TESTS + os.sep):
        return None
    for arg in config.args:
        named = os.path.abspath(os.path.join(str(config.invocation_params.dir), arg.split("::", 1)[0]))
        if named == CLUSTER_TESTS or named.startswith(CLUSTER_TESTS + os.sep):
            return None
    return True


@pytest.fixture(scope="session")
def test_db_dsn() -> str:
    """DSN of the services' role on the test database (fails loudly if unreachable)."""
    dsn = config.with_dbname(config.db_dsn(), TEST_DB)
    try:
        psycopg.connect(dsn, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL test database unreachable at {TEST_DB}: {exc}. Run `make test`.")
    return dsn


@pytest.fixture(scope="session")
def admin_dsn() -> str:
    return config.admin_dsn()


@pytest.fixture(scope="session")
def projector_db_dsn(admin_dsn, test_db_dsn) -> str:
    """DSN of the audit service's own role (``confide_projector``: the chain, the checkpoints, the
    projections) on the test database: ``CONFIDE_PROJECTOR_DSN``'s server if set, else the services'
    server with the role's password as set-up gives it (``<key_dir>/db/confide_projector.secret``,
    generated on first use by the same call ``confide db install`` makes). Fails loudly if unreachable."""
    from confide.eventstore import install

    if not os.environ.get(config.PROJECTOR_DSN_KEY):
        install.ensure_projector_password(admin_dsn)
    dsn = config.with_dbname(config.projector_dsn(), TEST_DB)
    try:
        psycopg.connect(dsn, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        pytest.fail(f"the projector's role cannot reach the test database {TEST_DB}: {exc}. Run `make test`.")
    return dsn


@pytest.fixture(scope="session")
def pg_store(test_db_dsn):
    """A PostgresEventStore on the shared test schema. Tests use unique stream ids."""
    from confide.eventstore.store import PostgresEventStore

    store = PostgresEventStore(test_db_dsn, schema="confide")
    yield store
    store.close()


@pytest.fixture
def scratch_schema(admin_dsn, test_db_dsn):
    """A throw-away schema installed fresh (for tests that corrupt or count the whole log)."""
    from confide.eventstore import install

    name = "t_" + uuid.uuid4().hex[:12]
    install.install_schema(admin_dsn, TEST_DB, name)
    yield name
    install.drop_schema(admin_dsn, TEST_DB, name)


@pytest.fixture
def unique_id():
    return lambda prefix="": f"{prefix}{uuid.uuid4().hex[:12]}"


@pytest.fixture
def rabbit_config(request, vhost_pipeline, rabbit_manager):
    """nameko's per-test vhost, with Confide's exchanges and queues declared in it."""
    from urllib.parse import urlparse

    from confide.broker import declare_topology

    uri = urlparse(request.config.getoption("RABBIT_AMQP_URI"))
    with vhost_pipeline.get() as vhost:
        amqp_uri = f"{uri.scheme}://{uri.netloc}/{vhost}"
        declare_topology(amqp_uri)
        yield {"AMQP_URI": amqp_uri, "username": uri.username, "vhost": vhost}


@pytest.fixture
def service_config(rabbit_config, test_db_dsn, projector_db_dsn, tmp_path):
    """Container config for a service under test: per-test vhost, test database (the services' login,
    and the projector's that only the audit service reads), temp keys and checkpoints."""
    key_dir = tmp_path / "keys"
    key_dir.mkdir()
    return {
        **rabbit_config,
        "DB_DSN": test_db_dsn,
        "PROJECTOR_DSN": projector_db_dsn,
        "DB_SCHEMA": "confide",
        "KEY_DIR": str(key_dir),
        "CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
        "serializer": "json",
        # The disclosures process manager scans every request of its schema: off on the shared test
        # schema (tests of it start the service on a scratch schema of their own with it on).
        "DISCLOSURES_RESUME_INTERVAL": 0,
    }


@pytest.fixture(scope="session")
def web_db_dsn() -> str:
    """The web front door's test database (``confide_web_test``), created and migrated once."""
    from web import dbsetup

    password = dbsetup._secret(config.key_dir() / "web-db.secret", lambda: secrets.token_urlsafe(24))
    dbsetup.ensure_database(config.admin_dsn(), "confide_web_test", password)
    dsn = dbsetup.dsn("confide_web_test", password)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
           "CONFIDE_WEB_SECRET_KEY": "migrate-only", "CONFIDE_WEB_DB_DSN": dsn}
    subprocess.run([sys.executable, "-m", "web", "migrate", "--noinput", "-v", "0"], env=env, check=True)
    return dsn
