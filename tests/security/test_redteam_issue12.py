"""Red team (issue 12): an insider holding the services' database login (``confide_app``) or the audit
service's (``confide_projector``) goes after the audit trail's own tables.

- ``append_events`` runs as the owner (SECURITY DEFINER). Its search_path must name ``pg_temp`` last:
  otherwise PostgreSQL looks in the caller's temporary schema first, and ``confide_app`` (TEMPORARY on
  the database) shadows ``events`` with a table of its own whose trigger runs as ``confide_owner`` --
  erasing the log and granting itself everything. Every SECURITY DEFINER function is checked.
- ``confide_app`` draws no position itself (nextval, setval) and creates nothing in the schema or in
  ``public``.
- A checkpoint cannot be pushed (or created) past the log's end: the relay and the projections would
  skip every event still to come. A skip within the log shows in ``confide audit replay``.
- ``confide_projector`` appends projection rows only for stored events, with their own id and time: no
  access-log row for no event, no row pre-empting a future position (the real one would be dropped
  by ON CONFLICT DO NOTHING).
- A chain row forged with that login (it has no chain key) is named by ``verify`` and stops the sealer.

Everything runs on a scratch schema installed as set-up installs one (``log`` of test_audit_tables).
"""
import uuid
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from click.testing import CliRunner
from psycopg import sql

from audit.replay import apply_event, event_dict, replay
from confide import config, treeheads
from confide.envelope import NewEvent, content_hash
from confide.eventstore.chain import CHECKPOINT_FILE, ChainSealer, TamperDetectedError, load_chain_key
from confide.eventstore.store import prepare
from confide.keys import load_public_key, load_signing_key
from confide.relay import RELAY_CHECKPOINT
from confide.timestamps import format_ts
from confide_app.audit_cli import audit

from .test_audit_tables import PROJECTIONS, auditor_dsn, log, refused  # noqa: F401  (fixtures)


def ident(name):
    return sql.Identifier(name)


def count_events(conn, schema):
    return conn.execute(sql.SQL("SELECT count(*) FROM {}.events").format(ident(schema))).fetchone()[0]


# -- SECURITY DEFINER and the caller's temporary schema --------------------------------------


def test_a_temporary_table_named_events_does_not_run_as_the_owner(log, test_db_dsn):  # noqa: F811
    s = log.schema
    with psycopg.connect(test_db_dsn, autocommit=True) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == config.APP_ROLE
        before = count_events(conn, s)
        # What runs if append_events resolves "events" to this session's temporary table: as the
        # function's owner it could disable the append-only trigger, erase the log, grant anything.
        conn.execute(sql.SQL("""CREATE FUNCTION pg_temp.as_owner() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              INSERT INTO pg_temp.ran VALUES (current_user);
              EXECUTE 'ALTER TABLE {s}.events DISABLE TRIGGER USER';
              EXECUTE 'DELETE FROM {s}.events';
              EXECUTE 'ALTER TABLE {s}.events ENABLE TRIGGER USER';
              EXECUTE 'GRANT ALL ON ALL TABLES IN SCHEMA {s} TO confide_app';
              RETURN NULL;
            END $$""").format(s=ident(s)))
        conn.execute("CREATE TEMP TABLE ran (who text)")
        conn.execute(sql.SQL("CREATE TEMP TABLE events (LIKE {}.events)").format(ident(s)))
        conn.execute("CREATE TRIGGER hijack BEFORE INSERT ON pg_temp.events FOR EACH ROW "
                     "EXECUTE FUNCTION pg_temp.as_owner()")
        conn.execute("CREATE TEMP SEQUENCE events_position_seq")
        conn.execute("GRANT ALL ON pg_temp.events, pg_temp.ran TO PUBLIC")
        conn.execute("GRANT ALL ON SEQUENCE pg_temp.events_position_seq TO PUBLIC")
        # The append, from this very session (the temporary objects are visible only to it).
        position = _raw_append(conn, s, "accessDecision-hijack",
                               prepare("accessDecision-hijack", [NewEvent("AccessDecided", {"i": 1})], 0)[0])
        assert conn.execute("SELECT count(*) FROM pg_temp.ran").fetchone()[0] == 0  # never ran
        assert conn.execute("SELECT count(*) FROM pg_temp.events").fetchone()[0] == 0
        assert count_events(conn, s) == before + 1  # the append went to the event store itself
        assert conn.execute(sql.SQL("SELECT stream_name FROM {}.events WHERE global_position = %s")
                            .format(ident(s)), (position,)).fetchone()[0] == "accessDecision-hijack"
        assert position > 4  # a position from the event store's own sequence, not the temporary one
        for privilege in ("INSERT", "UPDATE", "DELETE", "TRUNCATE"):
            assert conn.execute("SELECT has_table_privilege(%s, %s)",
                                (f'"{s}".events', privilege)).fetchone()[0] is False


def test_every_security_definer_function_names_pg_temp_last(log, admin_dsn, test_db_dsn):  # noqa: F811
    dbname = psycopg.conninfo.conninfo_to_dict(test_db_dsn)["dbname"]
    with psycopg.connect(config.with_dbname(admin_dsn, dbname), autocommit=True) as conn:
        rows = conn.execute("SELECT p.proname, p.proconfig FROM pg_proc p WHERE p.pronamespace = %s::regnamespace "
                            "AND p.prosecdef", (f'"{log.schema}"',)).fetchall()
    assert [name for name, _ in rows] == ["append_events"]
    for name, proconfig in rows:
        paths = [c.split("=", 1)[1] for c in proconfig or () if c.startswith("search_path=")]
        assert paths and [p.strip() for p in paths[0].split(",")][-1] == "pg_temp", (name, proconfig)


# -- what the services' login may create or draw ---------------------------------------------


def test_the_services_login_draws_no_position_and_creates_nothing(log, test_db_dsn):  # noqa: F811
    with log.connect(test_db_dsn) as conn:
        last = conn.execute("SELECT last_value FROM events_position_seq").fetchone()[0]  # it may read it
        refused(conn, "SELECT nextval('events_position_seq')")
        refused(conn, "SELECT setval('events_position_seq', 1000000)")
        refused(conn, "CREATE TABLE events_shadow (x int)")  # in the event store's schema
        refused(conn, "CREATE TABLE public.events (x int)")  # in public, which precedes nothing here
        refused(conn, "CREATE FUNCTION public.read_frontier() RETURNS bigint LANGUAGE sql AS 'SELECT 1'")
        refused(conn, "CREATE SCHEMA confide_shadow")
        assert conn.execute("SELECT last_value FROM events_position_seq").fetchone()[0] == last
    log.append(1)  # its own act still works
    assert log.app.head_position() == last + 1


# -- checkpoints ------------------------------------------------------------------------------


def test_a_checkpoint_cannot_be_pushed_past_the_end_of_the_log(log, projector_db_dsn):  # noqa: F811
    head = log.app.head_position()
    with log.connect(projector_db_dsn) as conn:
        exc = refused(conn, "UPDATE checkpoints SET position = 1000000000000 WHERE name = %s", (RELAY_CHECKPOINT,))
        assert f"the log ends at position {head}" in str(exc)
        refused(conn, "INSERT INTO checkpoints (name, position) VALUES ('audit-projections', 1000000000000)")
        refused(conn, "INSERT INTO checkpoints (name, position) VALUES ('negative', -1)")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="the log ends at position"):
        with log.projector.transaction() as conn:  # through the store, as the relay writes it
            log.projector.write_checkpoint(RELAY_CHECKPOINT, head + 1, conn)
    assert log.app.read_checkpoint(RELAY_CHECKPOINT) == head and log.app.read_checkpoint("audit-projections") == 0
    # Up to the end of the log is the relay's ordinary work; a skip within it is what replay finds.
    log.append(2)
    with log.projector.transaction() as conn:
        log.projector.write_checkpoint(RELAY_CHECKPOINT, log.app.head_position(), conn)
    report = replay(log.app, ["access_log"])
    assert not report.matches and report.projections["access_log"]["missing_live"] == 2


# -- projection rows --------------------------------------------------------------------------


#: A row for each projection with its required columns, at a global position given as the parameter.
FORGED_ROWS = {
    "access_log_view": "INSERT INTO access_log_view (global_position, event_id, recorded_at, decision) "
                       "VALUES (%s, gen_random_uuid(), now(), 'permit')",
    "disclosure_log_view": "INSERT INTO disclosure_log_view (global_position, event_id, recorded_at, request_id, "
                           "event_type) VALUES (%s, gen_random_uuid(), now(), 'r', 'DisclosureReleased')",
    "accounting_view": "INSERT INTO accounting_view (global_position, event_id, recorded_at, patient_id) "
                       "VALUES (%s, gen_random_uuid(), now(), 'P')",
    "note_version_view": "INSERT INTO note_version_view (global_position, event_id, recorded_at, note_id, note_kind, "
                         "stream_version, event_type) VALUES (%s, gen_random_uuid(), now(), 'n', 'progress', 0, 'X')",
}


def test_the_projector_writes_no_row_for_an_event_that_is_not_stored(log, projector_db_dsn):  # noqa: F811
    head = log.app.head_position()
    first = log.app.read_all(1, 1)[0]
    assert set(FORGED_ROWS) == set(PROJECTIONS)
    with log.connect(projector_db_dsn) as conn:
        for table, statement in FORGED_ROWS.items():
            for position in (head + 1, 10**9):  # the next decision's position; none ever
                exc = refused(conn, statement, (position,))
                assert "no stored event" in str(exc) and table in str(exc)
        # An event that is stored, but the row names another event id.
        refused(conn, "INSERT INTO access_log_view (global_position, event_id, recorded_at, decision) "
                      "VALUES (%s, gen_random_uuid(), %s, 'deny')", (first.global_position, first.recorded_at))
    # The position tried above would have hidden this decision's row; it is projected as decided.
    log.append(1)
    newest = log.app.read_all(head + 1, 10)[0]
    assert newest.global_position == head + 1
    apply_event(log.projector.projections, event_dict(newest))
    rows = {r["global_position"]: r for r in log.app.projections.select("access_log_view")}
    assert rows[head + 1]["decision"] == "permit" and str(rows[head + 1]["event_id"]) == str(newest.event_id)
    assert replay(log.app, ["access_log"]).matches


# -- the keyed chain --------------------------------------------------------------------------


def test_a_chain_row_forged_with_the_projectors_login_is_named_and_stops_the_sealer(log, projector_db_dsn):  # noqa: F811
    log.append(1)
    unsealed = log.app.head_position()
    with log.connect(projector_db_dsn) as conn:  # the login can INSERT; it has no chain key
        conn.execute("INSERT INTO event_chain (chain_index, global_position, mac) VALUES (4, %s, %s)",
                     (unsealed, b"\x00" * 32))
    report = log.verify()
    assert not report.ok and report.first_bad_position == unsealed
    assert "chain MAC mismatch" in report.problems[0]
    with pytest.raises(TamperDetectedError) as exc:
        ChainSealer(log.projector, load_chain_key(log.keys), load_signing_key(log.keys), log.checkpoints).seal()
    assert exc.value.position == unsealed


# -- the signed heads outside the database: a rewritten history ------------------------------


def cut_back_to(sealed, admin_dsn, test_db_dsn, chain_index):
    """What someone with the administrator's login does to rewrite history: the events sealed after
    ``chain_index`` and their chain rows deleted, the triggers bypassed for that session."""
    dbname = psycopg.conninfo.conninfo_to_dict(test_db_dsn)["dbname"]
    with sealed.connect(config.with_dbname(admin_dsn, dbname)) as conn:
        conn.execute("SET session_replication_role = replica")
        keep = conn.execute("SELECT global_position FROM event_chain WHERE chain_index = %s",
                            (chain_index,)).fetchone()[0]
        conn.execute("DELETE FROM event_chain WHERE chain_index > %s", (chain_index,))
        conn.execute("DELETE FROM events WHERE global_position > %s", (keep,))


def heads_cli(sealed, *args):
    return CliRunner().invoke(audit, [*map(str, args), "--key-dir", str(sealed.keys), "--checkpoint-dir",
                                      str(sealed.checkpoints)])


def sizes(sealed, place):
    return [h.tree_size for h in treeheads.read_heads(place, load_public_key(sealed.keys))[0]]


def test_a_rewritten_history_is_not_published_and_check_heads_names_it(log, admin_dsn, test_db_dsn, tmp_path):  # noqa: F811,E501
    log.append(2)
    log.seal()
    copy = tmp_path / "privacy-office"
    assert heads_cli(log, "publish-head", copy).exit_code == 0
    assert sizes(log, copy) == [4, 6]
    published = (copy / CHECKPOINT_FILE).read_text()

    # The last two decisions erased, the primary's head for them cut, three others sealed instead:
    # the new heads are of sizes the copy has none of, so no two heads of one size disagree.
    cut_back_to(log, admin_dsn, test_db_dsn, 3)
    primary = log.checkpoints / CHECKPOINT_FILE
    primary.write_text(primary.read_text().splitlines()[0] + "\n")
    log.append(3, patient="P-rewritten")
    assert log.seal().sealed == 3
    assert sizes(log, log.checkpoints) == [4, 7]
    public = load_public_key(log.keys)
    assert treeheads.find_forks(treeheads.read_heads(copy, public)[0]
                                + treeheads.read_heads(log.checkpoints, public)[0]) == []

    checked = heads_cli(log, "check-heads", copy)
    assert checked.exit_code == 1, checked.output
    assert "tree size 6 that the checkpoint directory no longer holds" in checked.output
    refused_publish = heads_cli(log, "publish-head", copy)
    assert refused_publish.exit_code == 1 and "REFUSED" in refused_publish.output, refused_publish.output
    assert (copy / CHECKPOINT_FILE).read_text() == published  # the rewritten head was not added beside it
    # What settles it with the log: verify against the copy fails.
    assert not log.verify(copy).ok


def test_a_checkpoint_file_whose_tree_size_goes_back_is_named(log, admin_dsn, test_db_dsn):  # noqa: F811
    log.append(2)
    log.seal()  # heads of sizes 4, 6
    cut_back_to(log, admin_dsn, test_db_dsn, 3)  # the file keeps every line this time
    log.append(1, patient="P-rewritten")
    # A head of size 5 signed after the head of size 6: what a sealer that did not look signed (the
    # sealer now refuses a log cut back under its heads; the file set aside for it here).
    primary = log.checkpoints / CHECKPOINT_FILE
    genuine = primary.read_text()
    primary.unlink()
    assert log.seal().sealed == 1
    primary.write_text(genuine + primary.read_text())
    assert sizes(log, log.checkpoints) == [4, 6, 5]
    checked = heads_cli(log, "check-heads")
    assert checked.exit_code == 1, checked.output
    assert "signs tree size 5 after" in checked.output and "cut back and sealed again" in checked.output
    assert heads_cli(log, "publish-head", log.checkpoints.parent / "copy").exit_code == 1


def test_a_log_cut_back_is_not_sealed_over_and_verify_reads_every_signed_head(log, admin_dsn, test_db_dsn):  # noqa: F811,E501
    log.append(2)
    log.seal()  # heads of sizes 4 and 6
    assert log.verify().ok
    cut_back_to(log, admin_dsn, test_db_dsn, 3)  # the checkpoint file is not even touched
    log.append(2, patient="P-rewritten")  # two other decisions where the erased two were
    with pytest.raises(TamperDetectedError) as exc:
        log.seal()  # sealing them would sign a second head of size 6, over the rewritten log
    assert "cut back" in exc.value.reason
    assert sizes(log, log.checkpoints) == [4, 6]
    report = log.verify()
    assert not report.ok and "log truncated" in " ".join(report.problems)

    # What a sealer that did not look signed (the file set aside for it): a head of size 6 over the
    # rewritten log, after the genuine one. verify compares the log with every head of an index,
    # not only the last one in the file.
    primary = log.checkpoints / CHECKPOINT_FILE
    genuine = primary.read_text()
    primary.unlink()
    assert log.seal().sealed == 2
    primary.write_text(genuine + primary.read_text())
    assert sizes(log, log.checkpoints) == [4, 6, 6]
    report = log.verify()
    assert not report.ok, report
    assert any("chain index 5" in p for p in report.problems), report.problems


# -- what append_events takes from its caller -------------------------------------------------


def _raw_append(conn, schema, stream, row):
    """append_events called as an insider calls it, with rows of their own making (store.prepare's form)."""
    event_id, type_, data, metadata, recorded_at, digest = row
    return conn.execute(sql.SQL("SELECT out_position FROM {}.append_events(%s, -1, %s, %s, %s, %s, %s, %s)")
                        .format(ident(schema)), (stream, [event_id], [type_], [data], [metadata], [recorded_at],
                                                 [digest])).fetchone()[0]


def test_an_append_the_chain_could_never_seal_or_dated_in_the_past_is_refused(log, test_db_dsn):  # noqa: F811
    """One append whose hash is not its record's would stop the sealer for good (it refuses a row whose
    bytes do not match its hash, and the row can never be removed) and fail every verify from then on;
    one dated a year back would be a fact "on file" for decisions already made (as-of and re-judging
    read recorded_at). append_events refuses both, and data that is not JSON."""
    stream = "accessDecision-raw"
    good = prepare(stream, [NewEvent("AccessDecided", {"decision_id": "raw", "patient_id": "P-raw"})], 0)[0]
    back = prepare(stream, [NewEvent("AccessDecided", {"decision_id": "raw"})], 0,
                   now=datetime.now(timezone.utc) - timedelta(days=365))[0]
    ahead = prepare(stream, [NewEvent("AccessDecided", {"decision_id": "raw"})], 0,
                    now=datetime.now(timezone.utc) + timedelta(hours=2))[0]
    not_json, garbage_id = "not json at all", uuid.uuid4()
    garbage = (garbage_id, "AccessDecided", not_json, "{}", good[4], content_hash(
        stream_name=stream, stream_version=0, event_id=str(garbage_id), type="AccessDecided", data_json=not_json,
        metadata_json="{}", recorded_at=format_ts(good[4])))
    forged = {"a hash that is not the record's": good[:5] + (b"\x00" * 32,),
              "a hash of other data": good[:2] + ('{"decision_id":"other"}',) + good[3:],
              "dated a year back": back, "dated two hours ahead": ahead, "data that is not JSON": garbage}
    with psycopg.connect(test_db_dsn, autocommit=True) as conn:
        before = count_events(conn, log.schema)
        for what, row in forged.items():
            with pytest.raises(psycopg.Error) as exc:
                _raw_append(conn, log.schema, stream, row)
                pytest.fail(f"{what}: appended")
            assert exc.value.sqlstate in ("CF002", "22P02"), (what, exc.value)
        assert count_events(conn, log.schema) == before
        assert _raw_append(conn, log.schema, stream, good) > 0  # a record made as the store makes it
    # The database rebuilds the canonical record exactly as confide.envelope does, awkward strings too.
    awkward = 'quote " backslash \\ tab \t ctl \x01 del \x7f é 漢 🙂 \u2028'
    log.app.append(f"accessDecision-{awkward}", [NewEvent(f"Decided{awkward}", {"note": awkward, "n": 1.5})], -1)
    assert log.seal().sealed == 2 and log.verify().ok
