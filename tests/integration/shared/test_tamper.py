"""`confide audit verify` catches every kind of tampering by someone with full database access.

Each test seals a small log in a throw-away schema, tampers with it as the
PostgreSQL superuser (with triggers and foreign keys disabled, as an attacker
with full access would), and checks verify fails naming the right position.
"""
import json

import psycopg
import pytest
from click.testing import CliRunner

from confide import config
from confide.envelope import NewEvent
from confide.eventstore.chain import ChainSealer, load_chain_key, verify
from confide.eventstore.store import PostgresEventStore
from confide.keys import ensure_keys, load_public_key, load_signing_key
from confide_app.audit_cli import audit


@pytest.fixture
def sealed_log(test_db_dsn, projector_db_dsn, scratch_schema, tmp_path):
    keys, checkpoints = tmp_path / "keys", tmp_path / "checkpoints"
    ensure_keys(keys)
    store = PostgresEventStore(test_db_dsn, schema=scratch_schema, pool_size=2)
    for i in range(12):
        kind = "psychotherapyNote" if i % 2 else "progressNote"
        store.append(f"{kind}-{i % 4}", [NewEvent("NoteWritten", {"i": i, "ciphertext": f"c1ph3r-{i:02d}" * 4})])
    sealing = PostgresEventStore(projector_db_dsn, schema=scratch_schema, pool_size=2)  # the sealer's own login
    try:
        ChainSealer(sealing, load_chain_key(keys), load_signing_key(keys), checkpoints, batch=5).seal()
    finally:
        sealing.close()

    class Log:
        schema = scratch_schema

        def check(self):
            return verify(store, load_chain_key(keys), load_public_key(keys), checkpoints)

        def tamper(self, *statements):
            dsn = config.with_dbname(config.admin_dsn(), "confide_test")
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("SET session_replication_role = replica")  # triggers and FKs off
                for statement in statements:
                    conn.execute(statement.replace("S.", f'"{scratch_schema}".'))

        def cli_verify(self):
            return CliRunner(env={config.DB_DSN_KEY: test_db_dsn}).invoke(audit, ["verify", "--schema", scratch_schema, "--key-dir", str(keys),
                                              "--checkpoint-dir", str(checkpoints)])

    yield Log()
    store.close()


def test_intact_log_verifies(sealed_log):
    report = sealed_log.check()
    assert report.ok and report.sealed == 12 and report.checkpoints == 3
    result = sealed_log.cli_verify()
    assert result.exit_code == 0 and "OK" in result.output


def test_altered_row(sealed_log):
    sealed_log.tamper("UPDATE S.events SET data = replace(data, '\"i\":4', '\"i\":40') WHERE global_position = 5")
    report = sealed_log.check()
    assert not report.ok and report.first_bad_position == 5
    result = sealed_log.cli_verify()
    assert result.exit_code == 1 and "first bad global position: 5" in result.output


def test_altered_row_with_recomputed_hash(sealed_log):
    """Rewriting the row *and* its SHA-256 still fails: the chain MAC is keyed."""
    from confide.envelope import content_hash
    from confide.timestamps import format_ts

    with psycopg.connect(config.with_dbname(config.admin_dsn(), "confide_test")) as conn:
        row = conn.execute(f'SELECT stream_name, stream_version, event_id, type, metadata, recorded_at '
                           f'FROM "{sealed_log.schema}".events WHERE global_position = 7').fetchone()
    forged = '{"ciphertext":"forged","i":6}'
    digest = content_hash(stream_name=row[0], stream_version=row[1], event_id=str(row[2]), type=row[3],
                          data_json=forged, metadata_json=row[4], recorded_at=format_ts(row[5]))
    sealed_log.tamper(f"UPDATE S.events SET data = '{forged}', hash = '\\x{digest.hex()}' WHERE global_position = 7")
    report = sealed_log.check()
    assert not report.ok and report.first_bad_position == 7 and "MAC" in report.problems[0]


def test_deleted_row(sealed_log):
    sealed_log.tamper("DELETE FROM S.event_chain WHERE global_position = 6",
                      "DELETE FROM S.events WHERE global_position = 6")
    report = sealed_log.check()
    assert not report.ok and report.first_bad_position == 7


def test_two_rows_swapped(sealed_log):
    # Swap everything that can move between two rows (the key columns stay unique).
    sealed_log.tamper(
        "UPDATE S.events a SET data = b.data, hash = b.hash, type = b.type, metadata = b.metadata, "
        "recorded_at = b.recorded_at FROM S.events b "
        "WHERE (a.global_position, b.global_position) IN ((3, 4), (4, 3))")
    report = sealed_log.check()
    assert not report.ok and report.first_bad_position == 3


def test_forged_row_inserted_into_a_gap(sealed_log):
    # A hole in the numbering (an aborted append) is where a forger would slip a row in.
    sealed_log.tamper(
        "INSERT INTO S.events (global_position, stream_name, stream_version, event_id, type, data, metadata,"
        " recorded_at, hash) SELECT 100, 'progressNote-forged', 0, gen_random_uuid(), 'NoteWritten',"
        " '{}', '{}', now(), sha256('x')",
        "INSERT INTO S.events (global_position, stream_name, stream_version, event_id, type, data, metadata,"
        " recorded_at, hash) SELECT 101, 'progressNote-forged2', 0, gen_random_uuid(), 'NoteWritten',"
        " '{}', '{}', now(), sha256('y')",
        "INSERT INTO S.event_chain (chain_index, global_position, mac) VALUES (12, 101, sha256('z'))")
    report = sealed_log.check()
    assert not report.ok and report.first_bad_position == 100


def test_forged_row_with_forged_chain_entry(sealed_log):
    sealed_log.tamper(
        "INSERT INTO S.events (global_position, stream_name, stream_version, event_id, type, data, metadata,"
        " recorded_at, hash) SELECT 50, 'progressNote-forged', 0, gen_random_uuid(), 'NoteWritten',"
        " '{}', '{}', now(), sha256('x')",
        "INSERT INTO S.event_chain (chain_index, global_position, mac) VALUES (12, 50, sha256('m'))")
    report = sealed_log.check()
    assert not report.ok and report.first_bad_position == 50


def test_last_rows_removed(sealed_log):
    sealed_log.tamper("DELETE FROM S.event_chain WHERE global_position > 9",
                      "DELETE FROM S.events WHERE global_position > 9")
    report = sealed_log.check()
    assert not report.ok and "truncated" in report.problems[0]
    assert report.first_bad_position == 12


def test_psychotherapy_ciphertext_moved_between_rows(sealed_log):
    sealed_log.tamper(
        "UPDATE S.events a SET data = b.data FROM S.events b WHERE a.global_position = 4 AND b.global_position = 2")
    report = sealed_log.check()
    assert not report.ok and report.first_bad_position == 4


def test_forged_checkpoint_signature_is_reported(sealed_log, tmp_path):
    path = tmp_path / "checkpoints" / "chain-heads.jsonl"
    lines = path.read_text().splitlines()
    cp = json.loads(lines[-1])
    cp["global_position"] = 3
    path.write_text("\n".join(lines[:-1] + [json.dumps(cp)]) + "\n")
    report = sealed_log.check()
    assert not report.ok and "signature" in report.problems[0]


def test_sealer_refuses_to_extend_a_chain_it_did_not_write(sealed_log, test_db_dsn, projector_db_dsn, tmp_path):
    """A key directory that does not belong to this database must not mix a second chain in."""
    from confide.eventstore.chain import TamperDetectedError

    other = tmp_path / "other-keys"
    ensure_keys(other)
    store = PostgresEventStore(test_db_dsn, schema=sealed_log.schema, pool_size=2)
    sealing = PostgresEventStore(projector_db_dsn, schema=sealed_log.schema, pool_size=2)
    try:
        store.append("progressNote-late", [NewEvent("NoteWritten", {"i": 99})])
        sealer = ChainSealer(sealing, load_chain_key(other), load_signing_key(other), tmp_path / "other-cp")
        with pytest.raises(TamperDetectedError, match="does not verify with this chain key"):
            sealer.seal()
    finally:
        sealing.close()
        store.close()
    assert sealed_log.check().ok  # nothing was sealed with the wrong key
