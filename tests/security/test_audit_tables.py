"""The audit trail's own tables (issue 12): what the services' login may do to the keyed chain, the
checkpoints and the audit projections, what the audit service's own login may do, and what tells an
auditor that the signed heads outside the database were removed or forked.

- ``confide_app`` (the services' login) reads the chain, the checkpoints and the projections and
  writes none of them: INSERT, UPDATE, DELETE and TRUNCATE are refused by PostgreSQL.
- ``confide_projector`` (the audit service's own login) appends chain rows, projection rows and
  checkpoints, moves checkpoints forward, and can UPDATE back, DELETE or TRUNCATE none of it; a
  checkpoint moved back is refused even to the administrator (a trigger).
- ``confide audit verify`` fails on a sealed log without signed checkpoints unless told
  ``--no-checkpoints-yet``; the audit service's ``verify_chain`` says the same.
- ``confide audit publish-head DEST`` keeps a second, verifiable, append-only copy of the signed
  heads; ``confide audit check-heads`` names two heads of one size with different roots.

Each refusal is shown beside an allowed act of the same login, so no test passes because a role
cannot connect at all. Everything runs on a scratch schema installed as set-up installs one.
"""
import json
import uuid

import psycopg
import pytest
from click.testing import CliRunner
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from audit.replay import apply_event, event_dict
from confide import config, treeheads
from confide.envelope import NewEvent
from confide.eventstore.chain import CHECKPOINT_FILE, ChainSealer, load_chain_key, verify, write_checkpoint
from confide.eventstore.store import PostgresEventStore
from confide.keys import ensure_keys, load_public_key, load_signing_key
from confide.relay import RELAY_CHECKPOINT
from confide.signing import sign_tree_head
from confide_app.audit_cli import audit

PROJECTIONS = ("access_log_view", "disclosure_log_view", "accounting_view", "note_version_view")
DERIVED = ("event_chain", "checkpoints") + PROJECTIONS


@pytest.fixture(scope="session")
def auditor_dsn(admin_dsn, test_db_dsn):
    """The auditor's read-only role, as set-up gives it (``confide audit verify`` connects as it)."""
    from confide.eventstore import install

    secret = install.ensure_auditor_password(admin_dsn).read_text().strip()
    params = conninfo_to_dict(test_db_dsn)
    params.update(user=config.AUDITOR_ROLE, password=secret)
    return make_conninfo("", **params)


class Log:
    """A scratch log: a few decisions appended as the services' login, sealed, relayed (a checkpoint)
    and projected as the projector's, with its key and checkpoint directories."""

    def __init__(self, app, projector, keys, checkpoints):
        self.app, self.projector, self.keys, self.checkpoints = app, projector, keys, checkpoints
        self.schema = app.schema

    def append(self, n, patient="P-tables"):
        for i in range(n):
            decision_id = str(uuid.uuid4())
            self.app.append(f"accessDecision-{decision_id}", [NewEvent("AccessDecided", {
                "decision_id": decision_id, "patient_id": patient, "note_id": f"n-{i}", "note_kind": "progress",
                "requester": {"id": "C-1", "role": "clinician_same_practice", "org": "North"},
                "purpose": "treatment", "action": "use", "decision": "permit", "rule": "45 CFR 164.506(c)"})], -1)

    def seal(self):
        return ChainSealer(self.projector, load_chain_key(self.keys), load_signing_key(self.keys),
                           self.checkpoints).seal()

    def project_all(self):
        for ev in self.app.read_all(1, 1000):
            apply_event(self.projector.projections, event_dict(ev))
        with self.projector.transaction() as conn:
            self.projector.write_checkpoint(RELAY_CHECKPOINT, self.app.head_position(), conn)

    def verify(self, checkpoint_dir=None, **kw):
        return verify(self.app, load_chain_key(self.keys), load_public_key(self.keys),
                      checkpoint_dir or self.checkpoints, **kw)

    def connect(self, dsn):
        conn = psycopg.connect(dsn, autocommit=True, connect_timeout=5)
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
        return conn


@pytest.fixture
def log(test_db_dsn, projector_db_dsn, scratch_schema, tmp_path):
    keys = tmp_path / "keys"
    ensure_keys(keys)
    app = PostgresEventStore(test_db_dsn, schema=scratch_schema, pool_size=2)
    projector = PostgresEventStore(projector_db_dsn, schema=scratch_schema, pool_size=2)
    sealed = Log(app, projector, keys, tmp_path / "checkpoints")
    sealed.append(4)
    sealed.seal()
    sealed.project_all()
    yield sealed
    projector.close()
    app.close()


def refused(conn, statement, params=None):
    """Run ``statement``; return PostgreSQL's refusal (fails if the database allowed it)."""
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as exc:
        conn.execute(statement, params)
    return exc.value


def ident(name):
    return sql.Identifier(name)


# -- the services' login ---------------------------------------------------------------------


def test_the_services_login_reads_the_derived_tables_and_can_change_none_of_them(log, test_db_dsn):
    with log.connect(test_db_dsn) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == config.APP_ROLE
        counts = {t: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(ident(t))).fetchone()[0]
                  for t in DERIVED}
        assert counts["event_chain"] == 4 and counts["access_log_view"] == 4 and counts["note_version_view"] == 0
        assert counts["checkpoints"] == 1  # the relay's
        for table in DERIVED:
            t = ident(table)
            exc = refused(conn, sql.SQL("DELETE FROM {}").format(t))
            assert table in str(exc)
            refused(conn, sql.SQL("TRUNCATE {}").format(t))
            refused(conn, sql.SQL("UPDATE {} SET global_position = global_position").format(t)
                    if table != "checkpoints" else sql.SQL("UPDATE checkpoints SET position = 0"))
            refused(conn, sql.SQL("INSERT INTO {} SELECT * FROM {} LIMIT 1").format(t, t))
        with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():  # what a rebuild takes
            conn.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(ident("access_log_view")))
        # Its own act still works: it appends events (through append_events) and reads them.
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 4
    log.append(1)
    with log.connect(test_db_dsn) as conn:
        after = {t: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(ident(t))).fetchone()[0] for t in DERIVED}
        assert after == counts  # nothing it tried changed anything
        assert conn.execute("SELECT position FROM checkpoints WHERE name = %s",
                            (RELAY_CHECKPOINT,)).fetchone()[0] == 4


def test_the_audit_services_writes_fail_as_the_services_login(log):
    """The sealer, the relay's checkpoint and the projections' live path, run with the services'
    login instead of the projector's, are refused by the database."""
    log.append(1)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        ChainSealer(log.app, load_chain_key(log.keys), load_signing_key(log.keys), log.checkpoints).seal()
    newest = log.app.read_all(1, 100)[-1]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        apply_event(log.app.projections, event_dict(newest))
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        with log.app.transaction() as conn:
            log.app.write_checkpoint(RELAY_CHECKPOINT, 0, conn)
    # The projector's login does the same work.
    assert log.seal().sealed == 1
    apply_event(log.projector.projections, event_dict(newest))
    assert len(log.app.projections.select("access_log_view")) == 5


# -- the projector's login -------------------------------------------------------------------


def test_the_projector_appends_and_moves_forward_but_rewrites_and_erases_nothing(log, projector_db_dsn):
    log.append(1)  # an event the relay has not handled yet: its checkpoint may move onto it
    with log.connect(projector_db_dsn) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == config.PROJECTOR_ROLE
        for table in DERIVED:
            t = ident(table)
            refused(conn, sql.SQL("DELETE FROM {}").format(t))
            refused(conn, sql.SQL("TRUNCATE {}").format(t))
        for table in PROJECTIONS:
            refused(conn, sql.SQL("UPDATE {} SET recorded_at = now()").format(ident(table)))
        # event_chain: UPDATE is no privilege of it, and its trigger refuses it to anyone.
        refused(conn, "UPDATE event_chain SET sealed_at = now()")
        # No event of its own: neither a bare INSERT nor append_events.
        refused(conn, "INSERT INTO events (global_position, stream_name, stream_version, event_id, type, data, "
                      "metadata, recorded_at, hash) VALUES (999, 'x-1', 0, gen_random_uuid(), 'Forged', '{}', '{}', "
                      "now(), sha256('x'))")
        exc = refused(conn, "SELECT append_events('accessDecision-x', NULL, ARRAY[gen_random_uuid()], "
                            "ARRAY['AccessDecided'], ARRAY['{}'], ARRAY[NULL]::text[], ARRAY[now()], "
                            "ARRAY[NULL]::bytea[])")
        assert "append_events" in str(exc)
        refused(conn, "SELECT nextval('events_position_seq')")
        # What it is for: a checkpoint moves forward (and a new one starts anywhere in the log; never
        # past its end: tests/security/test_redteam_issue12.py).
        conn.execute("UPDATE checkpoints SET position = position + 1 WHERE name = %s", (RELAY_CHECKPOINT,))
        conn.execute("INSERT INTO checkpoints (name, position) VALUES ('new-subscriber', 2)")
        row = conn.execute("SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles "
                           "WHERE rolname = current_user").fetchone()
        assert row == (False, False, False, False)
        for other in (config.APP_ROLE, config.OWNER_ROLE, config.AUDITOR_ROLE):
            assert conn.execute("SELECT pg_has_role(current_user, %s, 'MEMBER')", (other,)).fetchone()[0] is False
    assert log.app.read_checkpoint(RELAY_CHECKPOINT) == 5
    assert log.app.read_checkpoint("new-subscriber") == 2
    assert len(log.app.projections.select("access_log_view")) == 4 and log.verify().ok


def test_a_checkpoint_moved_back_is_refused_even_to_the_administrator(log, projector_db_dsn, admin_dsn, test_db_dsn):
    with log.connect(projector_db_dsn) as conn:
        exc = refused(conn, "UPDATE checkpoints SET position = 0 WHERE name = %s", (RELAY_CHECKPOINT,))
        assert "only move forward" in str(exc) and "back from 4 to 0" in str(exc)
        refused(conn, "UPDATE checkpoints SET name = 'other' WHERE name = %s", (RELAY_CHECKPOINT,))
        refused(conn, "INSERT INTO checkpoints (name, position) VALUES (%s, 1) "
                      "ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position", (RELAY_CHECKPOINT,))
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="only move forward"):
        with log.projector.transaction() as conn:  # through the store, as the relay writes it
            log.projector.write_checkpoint(RELAY_CHECKPOINT, 1, conn)
    dbname = conninfo_to_dict(test_db_dsn)["dbname"]
    with log.connect(config.with_dbname(admin_dsn, dbname)) as conn:
        for statement in ("UPDATE checkpoints SET position = 0", "DELETE FROM checkpoints", "TRUNCATE checkpoints"):
            exc = refused(conn, statement)
            assert "only move forward" in str(exc)
    assert log.app.read_checkpoint(RELAY_CHECKPOINT) == 4  # the relay would not publish everything again


def test_only_the_administrator_rebuilds_the_live_projections(log, test_db_dsn):
    """``replay --apply`` deletes and re-inserts the live rows: neither service login may, the
    administrator's deliberate act does (and the rebuild then matches the log again)."""
    from audit.replay import replay

    log.append(1)
    stale = event_dict(log.app.read_all(1, 100)[-1])
    with log.projector.transaction() as conn:  # a row as an older projection version wrote it
        conn.execute(sql.SQL("INSERT INTO {}.access_log_view (global_position, event_id, recorded_at, decision) "
                             "VALUES (%s, %s, %s, 'stale')").format(ident(log.schema)),
                     (stale["global_position"], stale["event_id"], stale["recorded_at"]))
    assert replay(log.app, ["access_log"]).projections["access_log"]["extra_live"] == 1
    for login in (log.app, log.projector):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            replay(login, ["access_log"], apply=True)
    result = CliRunner(env={config.DB_DSN_KEY: test_db_dsn}).invoke(
        audit, ["replay", "--schema", log.schema, "--projection", "access_log", "--apply"])
    assert result.exit_code == 0, result.output
    assert "live projections replaced by the rebuild" in result.output
    assert replay(log.app, ["access_log"]).matches
    rebuilt = {r["global_position"]: r for r in log.app.projections.select("access_log_view")}
    assert rebuilt[stale["global_position"]]["decision"] == "permit"


# -- verify without signed checkpoints -------------------------------------------------------


def test_verify_fails_when_the_signed_checkpoints_are_gone_unless_told_it_is_a_first_check(log, auditor_dsn):
    env = {config.AUDITOR_DSN_KEY: auditor_dsn, config.DB_DSN_KEY: "postgresql://nobody@127.0.0.1:1/none"}

    def cli(*extra):
        return CliRunner(env=env).invoke(audit, ["verify", "--schema", log.schema, "--key-dir", str(log.keys),
                                                 "--checkpoint-dir", str(log.checkpoints), *extra])

    assert cli().exit_code == 0
    heads = log.checkpoints / CHECKPOINT_FILE
    for gone in ("deleted", "emptied"):
        if gone == "deleted":
            heads.unlink()
        else:
            heads.write_text("")
        report = log.verify()
        assert not report.ok and report.checkpoints == 0 and report.sealed == 4
        assert "4 sealed events but no signed checkpoint" in report.problems[0]
        result = cli()
        assert result.exit_code == 1, result.output
        assert "no signed checkpoint" in result.output and "--no-checkpoints-yet" in result.output
        first = cli("--no-checkpoints-yet")
        assert first.exit_code == 0, first.output
        assert log.verify(no_checkpoints_yet=True).ok


def test_the_audit_services_verify_reports_the_same_problem(log):
    from audit import integrity

    (log.checkpoints / CHECKPOINT_FILE).unlink()
    result = integrity.run_verify(log.app, log.keys, log.checkpoints)
    assert result["ok"] is False and result["tree_head"] is None
    assert "no signed checkpoint" in result["problems"][0]


def test_an_unsealed_log_needs_no_checkpoint(test_db_dsn, scratch_schema, tmp_path):
    keys = tmp_path / "keys"
    ensure_keys(keys)
    store = PostgresEventStore(test_db_dsn, schema=scratch_schema, pool_size=2)
    try:
        store.append("accessDecision-unsealed", [NewEvent("AccessDecided", {"i": 1})], -1)
        report = verify(store, load_chain_key(keys), load_public_key(keys), tmp_path / "none")
        assert report.ok and report.unsealed_tail == 1 and report.checkpoints == 0
    finally:
        store.close()


# -- publishing the signed heads, and finding a fork -----------------------------------------


def run_cli(*args):
    return CliRunner().invoke(audit, [str(a) for a in args])


def test_publish_head_keeps_a_second_verifiable_append_only_copy(log, auditor_dsn, tmp_path):
    dest = tmp_path / "elsewhere" / "heads"
    published = run_cli("publish-head", dest, "--key-dir", log.keys, "--checkpoint-dir", log.checkpoints)
    assert published.exit_code == 0, published.output
    assert "1 new signed head(s)" in published.output and "tree size 4" in published.output
    copy = dest / CHECKPOINT_FILE
    first_text = copy.read_text()
    heads, problems = treeheads.read_heads(dest, load_public_key(log.keys))
    assert problems == [] and [h.tree_size for h in heads] == [4]
    primary, _ = treeheads.read_heads(log.checkpoints, load_public_key(log.keys))
    assert heads[0].root_hash == primary[0].root_hash and "merkle_state" not in json.loads(first_text)

    # Again with nothing new: nothing written. After more sealing: only the new heads, appended.
    assert "0 new signed head(s)" in run_cli("publish-head", dest, "--key-dir", log.keys, "--checkpoint-dir",
                                            log.checkpoints).output
    log.append(3)
    log.seal()
    again = run_cli("publish-head", dest, "--key-dir", log.keys, "--checkpoint-dir", log.checkpoints)
    assert again.exit_code == 0 and "1 new signed head(s)" in again.output and "tree size 7" in again.output
    assert copy.read_text().startswith(first_text) and len(copy.read_text().splitlines()) == 2

    # The copy is a checkpoint directory: the log verifies against it, and the primary and copy agree.
    assert log.verify(dest).ok and log.verify(dest).checkpoints == 2
    checked = run_cli("check-heads", dest, "--key-dir", log.keys, "--checkpoint-dir", log.checkpoints)
    assert checked.exit_code == 0, checked.output
    assert "check-heads: OK" in checked.output

    # The primary file deleted: verify fails there, the copy still holds what the log was.
    (log.checkpoints / CHECKPOINT_FILE).unlink()
    assert not log.verify().ok
    env = {config.AUDITOR_DSN_KEY: auditor_dsn}
    restored = CliRunner(env=env).invoke(audit, ["verify", "--schema", log.schema, "--key-dir", str(log.keys),
                                                 "--checkpoint-dir", str(dest)])
    assert restored.exit_code == 0, restored.output


def test_publish_head_refuses_into_the_checkpoint_directory_and_from_a_tampered_file(log, tmp_path):
    same = run_cli("publish-head", log.checkpoints, "--key-dir", log.keys, "--checkpoint-dir", log.checkpoints)
    assert same.exit_code != 0 and "checkpoint directory itself" in same.output
    path = log.checkpoints / CHECKPOINT_FILE
    line = json.loads(path.read_text().splitlines()[0])
    line["root_hash"] = "00" * 32  # edited without the key: the signature no longer verifies
    path.write_text(json.dumps(line) + "\n")
    dest = tmp_path / "copy"
    refused_run = run_cli("publish-head", dest, "--key-dir", log.keys, "--checkpoint-dir", log.checkpoints)
    assert refused_run.exit_code == 1 and "signature does not verify" in refused_run.output
    assert not dest.exists()  # nothing published


def forged_head(log, directory, root=b"\x42" * 32):
    """A checkpoint of the primary's newest tree size over a different root, signed with the real key:
    what a compromised writer holding the key shows one party while the log shows another."""
    newest = treeheads.read_heads(log.checkpoints, load_public_key(log.keys))[0][-1]
    return write_checkpoint(directory, load_signing_key(log.keys), newest.chain_index, newest.global_position,
                            bytes.fromhex(newest.mac), newest.tree_size, root, []), newest


def test_check_heads_names_two_signed_heads_of_one_size_with_different_roots(log, tmp_path):
    good = tmp_path / "published"
    assert run_cli("publish-head", good, "--key-dir", log.keys, "--checkpoint-dir", log.checkpoints).exit_code == 0
    split = tmp_path / "shown-to-someone-else"
    forged, newest = forged_head(log, split)
    assert treeheads.read_heads(split, load_public_key(log.keys))[1] == []  # it verifies: the key signed it

    result = run_cli("check-heads", good, split, "--key-dir", log.keys, "--checkpoint-dir", log.checkpoints)
    assert result.exit_code == 1, result.output
    assert f"FORK at tree size {newest.tree_size}" in result.output
    assert newest.root_hash in result.output and forged["root_hash"] in result.output
    assert str(log.checkpoints / CHECKPOINT_FILE) in result.output and str(split / CHECKPOINT_FILE) in result.output
    as_json = json.loads(run_cli("check-heads", split, "--key-dir", log.keys, "--checkpoint-dir", log.checkpoints,
                                 "--json").output)
    assert as_json["ok"] is False and {h["root_hash"] for h in as_json["forks"][0]["heads"]} == {
        newest.root_hash, forged["root_hash"]}

    # An outside auditor with only copies and the public key finds it too.
    offline = run_cli("check-heads", good, split, "--no-primary", "--public-key", log.keys / "audit-signing.pub")
    assert offline.exit_code == 1 and "FORK" in offline.output

    # Publishing into a copy that holds the other head is refused, and writes nothing.
    before = (split / CHECKPOINT_FILE).read_text()
    refused_run = run_cli("publish-head", split, "--key-dir", log.keys, "--checkpoint-dir", log.checkpoints)
    assert refused_run.exit_code == 1 and "FORK" in refused_run.output
    assert (split / CHECKPOINT_FILE).read_text() == before


def test_check_heads_finds_a_fork_in_a_signed_tree_head_handed_out_in_a_proof(log, tmp_path):
    newest = treeheads.read_heads(log.checkpoints, load_public_key(log.keys))[0][-1]
    sth = sign_tree_head(load_signing_key(log.keys), newest.tree_size, b"\x17" * 32)
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps({"format": "confide-consistency-proof/1", "old_tree_head": sth.to_dict(),
                                  "new_tree_head": sth.to_dict(), "proof": []}))
    result = run_cli("check-heads", bundle, "--key-dir", log.keys, "--checkpoint-dir", log.checkpoints)
    assert result.exit_code == 1 and f"FORK at tree size {newest.tree_size}" in result.output
    assert "(old_tree_head)" in result.output
    honest = sign_tree_head(load_signing_key(log.keys), newest.tree_size, bytes.fromhex(newest.root_hash))
    bundle.write_text(json.dumps({"tree_head": honest.to_dict()}))
    assert run_cli("check-heads", bundle, "--key-dir", log.keys, "--checkpoint-dir", log.checkpoints).exit_code == 0


def test_check_heads_notices_heads_the_checkpoint_file_lost_and_an_unreadable_place(log, tmp_path):
    dest = tmp_path / "published"
    log.append(2)
    log.seal()
    assert run_cli("publish-head", dest, "--key-dir", log.keys, "--checkpoint-dir", log.checkpoints).exit_code == 0
    path = log.checkpoints / CHECKPOINT_FILE
    path.write_text(path.read_text().splitlines()[0] + "\n")  # the newest head cut from the primary
    result = run_cli("check-heads", dest, "--key-dir", log.keys, "--checkpoint-dir", log.checkpoints)
    assert result.exit_code == 1 and "lost signed heads" in result.output
    refused_run = run_cli("publish-head", dest, "--key-dir", log.keys, "--checkpoint-dir", log.checkpoints)
    assert refused_run.exit_code == 1 and "lost signed heads" in refused_run.output
    missing = run_cli("check-heads", tmp_path / "nowhere", "--key-dir", log.keys, "--checkpoint-dir", log.checkpoints)
    assert missing.exit_code == 2 and "UNREADABLE" in missing.output
