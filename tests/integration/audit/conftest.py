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
