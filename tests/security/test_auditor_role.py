"""The auditor's database role reads the record of what happened and can change none of it
(45 CFR 164.312(b), (c)(1)): ``confide_auditor`` (deploy/sql/roles, privileges/auditor.sql).

A scratch schema installed as set-up installs one; the role's password is set-up's own
(``<key_dir>/db/confide_auditor.secret``, made by ``confide db install``; generated here on first
use by the same call). Each refusal is shown next to the allowed read it differs from, so a test
cannot pass because the role cannot connect at all. ``confide audit verify`` and ``prove`` run with
only this role: the services' DSN points nowhere.
"""
import json
import uuid

import psycopg
import pytest
from click.testing import CliRunner
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from confide import config
from confide.envelope import NewEvent
from confide.eventstore.chain import ChainSealer, load_chain_key
from confide.eventstore.store import PostgresEventStore
from confide.keys import ensure_keys, load_signing_key
from confide_app.audit_cli import audit

TABLES = ("events", "event_chain", "checkpoints", "access_log_view", "disclosure_log_view", "accounting_view",
          "note_version_view")


@pytest.fixture(scope="session")
def auditor_dsn(admin_dsn, test_db_dsn):
    from confide.eventstore import install

    secret = install.ensure_auditor_password(admin_dsn).read_text().strip()
    params = conninfo_to_dict(test_db_dsn)
    params.update(user=config.AUDITOR_ROLE, password=secret)
    return make_conninfo("", **params)


@pytest.fixture
def sealed_log(test_db_dsn, projector_db_dsn, scratch_schema, tmp_path):
    """A scratch log of a few events, sealed into the chain, with a relay checkpoint (the chain and the
    checkpoint written as the audit service's own login, the only one that may)."""
    keys = tmp_path / "keys"
    ensure_keys(keys)
    store = PostgresEventStore(test_db_dsn, schema=scratch_schema, pool_size=2)
    ids = []
    for i in range(5):
        event = NewEvent("AccessDecided", {"decision_id": f"d-{i}", "patient_id": "P-audit-role", "i": i})
        store.append(f"accessDecision-{uuid.uuid4().hex[:8]}", [event], -1)
        ids.append(str(event.event_id))
    projector = PostgresEventStore(projector_db_dsn, schema=scratch_schema, pool_size=2)
    try:
        ChainSealer(projector, load_chain_key(keys), load_signing_key(keys), tmp_path / "cp").seal()
        projector.write_checkpoint("relay", 3)
    finally:
        projector.close()
    yield store, keys, tmp_path / "cp", ids
    store.close()


def as_auditor(dsn, schema):
    conn = psycopg.connect(dsn, autocommit=True, connect_timeout=5)
    conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
    return conn


def refused(conn, statement, params=None):
    """Run ``statement``; return PostgreSQL's refusal (fails if the database allowed it)."""
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as exc:
        conn.execute(statement, params)
    return exc.value


def test_the_auditor_reads_the_log_the_chain_the_checkpoints_and_the_projections(auditor_dsn, sealed_log):
    store, _, _, _ = sealed_log
    with as_auditor(auditor_dsn, store.schema) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == config.AUDITOR_ROLE
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 5
        assert conn.execute("SELECT count(*) FROM event_chain").fetchone()[0] == 5
        for table in TABLES:
            conn.execute(sql.SQL("SELECT * FROM {} LIMIT 1").format(sql.Identifier(table)))
        assert conn.execute("SELECT read_frontier()").fetchone()[0] == 6  # the head, through the store's path
    auditor_store = PostgresEventStore(auditor_dsn, schema=store.schema, pool_size=1)
    try:
        assert auditor_store.head_position() == 5 and len(auditor_store.read_all(1, 100)) == 5
    finally:
        auditor_store.close()


def test_the_auditor_can_append_change_or_erase_nothing(auditor_dsn, sealed_log):
    store, _, _, _ = sealed_log
    with as_auditor(auditor_dsn, store.schema) as conn:
        exc = refused(conn, "SELECT append_events('accessDecision-x', NULL, ARRAY[gen_random_uuid()], "
                            "ARRAY['AccessDecided'], ARRAY['{}'], ARRAY[NULL]::text[], ARRAY[now()], "
                            "ARRAY[NULL]::bytea[])")
        assert "append_events" in str(exc)
        refused(conn, "INSERT INTO events (stream_name, type, data) VALUES ('x-1', 'Forged', '{}')")
        refused(conn, "UPDATE events SET data = '{}'")
        refused(conn, "DELETE FROM events")
        refused(conn, "TRUNCATE events")
        refused(conn, "INSERT INTO event_chain SELECT * FROM event_chain LIMIT 1")
        refused(conn, "DELETE FROM event_chain")
        refused(conn, "UPDATE checkpoints SET position = 0")
        refused(conn, "INSERT INTO checkpoints (name, position) VALUES ('forged', 0)")
        for view in TABLES[3:]:
            refused(conn, sql.SQL("DELETE FROM {}").format(sql.Identifier(view)))
            refused(conn, sql.SQL("INSERT INTO {} SELECT * FROM {} LIMIT 1").format(sql.Identifier(view),
                                                                                   sql.Identifier(view)))
        refused(conn, "SELECT nextval('events_position_seq')")
        refused(conn, "SELECT setval('events_position_seq', 1)")
        refused(conn, "CREATE TABLE auditor_scratch (x int)")
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 5  # nothing changed
    with as_auditor(auditor_dsn, store.schema) as conn:
        # No other way in: no membership in the services' or the owner's role, no attribute to lean on.
        row = conn.execute("SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles "
                           "WHERE rolname = current_user").fetchone()
        assert row == (False, False, False, False)
        for other in (config.APP_ROLE, config.OWNER_ROLE, config.PROJECTOR_ROLE):
            assert conn.execute("SELECT pg_has_role(current_user, %s, 'MEMBER')", (other,)).fetchone()[0] is False
    assert len(store.read_all(1, 100)) == 5


def test_audit_verify_and_prove_need_only_the_auditor_role(auditor_dsn, sealed_log, tmp_path):
    store, keys, checkpoints, ids = sealed_log
    nowhere = "postgresql://nobody@127.0.0.1:1/none"
    env = {config.AUDITOR_DSN_KEY: auditor_dsn, config.DB_DSN_KEY: nowhere, config.PROJECTOR_DSN_KEY: nowhere}
    run = lambda *args: CliRunner(env=env).invoke(audit, list(args))  # noqa: E731
    verified = run("verify", "--schema", store.schema, "--key-dir", str(keys), "--checkpoint-dir",
                   str(checkpoints), "--json")
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.output)["events"] == 5
    proved = run("prove", "inclusion", ids[2], "--schema", store.schema, "--key-dir", str(keys))
    assert proved.exit_code == 0, proved.output
    assert ids[2] in proved.output
    # The projector's role is what seal needs (it alone writes the chain): with only the auditor's, it cannot.
    assert run("seal", "--schema", store.schema, "--key-dir", str(keys), "--checkpoint-dir",
               str(checkpoints)).exit_code != 0
