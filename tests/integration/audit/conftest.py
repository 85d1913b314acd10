"""Fixtures of the audit integration tier."""
import pytest

from confide import config


@pytest.fixture(scope="session")
def auditor_dsn(admin_dsn, test_db_dsn):
    """The auditor's read-only role on the test database, as set-up gives it: its password in
    ``<key_dir>/db/confide_auditor.secret`` (generated on first use, kept after: the same call
    ``confide db install`` makes)."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from confide.eventstore import install

    secret = install.ensure_auditor_password(admin_dsn).read_text().strip()
    params = conninfo_to_dict(test_db_dsn)
    params.update(user=config.AUDITOR_ROLE, password=secret)
    return make_conninfo("", **params)


@pytest.fixture
def store(audit_store):
    """The audit service's scratch-schema store (a test module may define its own ``store``)."""
    return audit_store


@pytest.fixture
def people(audit_people):
    """Principals on file for the audit service's identity gate."""
    return audit_people


@pytest.fixture
def scratch_store(test_db_dsn, scratch_schema):
    """The services' login on a scratch schema of its own: appends and reads."""
    from confide.eventstore.store import PostgresEventStore

    s = PostgresEventStore(test_db_dsn, schema=scratch_schema, pool_size=4)
    yield s
    s.close()


@pytest.fixture
def projector(projector_db_dsn, scratch_schema):
    """The audit service's own login on the same scratch schema: relays (checkpoints) and projects."""
    from confide.eventstore.store import PostgresEventStore

    s = PostgresEventStore(projector_db_dsn, schema=scratch_schema, pool_size=2)
    yield s
    s.close()
