"""The restore drill (issue 12, item 6): back up, wipe, restore onto a fresh server, and the
installation is whole again.

On a PostgreSQL server of the test's own (never the shared one: restoring recreates cluster-wide roles
with the archive's passwords), two clinicians write progress and psychotherapy notes through the
running notes service and read them back; the audit service seals and checkpoints. ``confide backup``
runs while the services are up. Then the services stop, the server is destroyed with its data and
roles, the key and checkpoint directories are deleted, and a fresh server starts where it was.
``confide restore`` brings everything back and verifies; ``confide audit verify`` is OK, ``confide
audit replay`` finds the live projections matching, the web database's account is there under its
restored password, and every note reads again, for its author, through the restarted services,
exactly as it read before. No plaintext is left in the temporary directory at any point, and a
second restore over the restored installation, or of a damaged archive, is refused with nothing
changed. Synthetic data only.
"""
import os
import secrets
import shutil
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

from confide import transport
from confide.eventstore import install
from confide.eventstore.chain import last_checkpoint
from confide.eventstore.store import PostgresEventStore
from confide.keys import ensure_keys
from confide.testing.identities import Identities
from confide.testing.notes import progress_content
from confide.testing.pgserver import PgServer
from confide.testing.polling import wait_for

REPO = Path(__file__).resolve().parents[2]
PASSPHRASE = "drill passphrase " + uuid.uuid4().hex[:8]
PRACTICE = "Northside Counseling Group"


def cli(env, *args):
    """``confide ARGS`` as an operator runs it (a process of its own); returns (exit code, stdout, stderr)."""
    done = subprocess.run([sys.executable, "-c", "from confide_app.cli import main; main()", *args],
                          env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    return done.returncode, done.stdout, done.stderr


def progress(marker):
    return progress_content(symptoms=f"low mood {marker}", medications=[], clinical_tests={"phq9": 12})


def write_notes(stack_config, author, patient):
    """``author`` writes and signs a progress note and a psychotherapy note about ``patient``."""
    from nameko.standalone.rpc import ServiceRpcProxy

    marker = uuid.uuid4().hex[:10]
    with ServiceRpcProxy("notes", stack_config, context_data=author.context()) as notes:
        prog = notes.write_progress_note({"patient_id": patient, "content": progress(marker)})
        notes.sign_note(prog["note_id"])
        psych = notes.write_psychotherapy_note({
            "patient_id": patient, "session_date": "2026-03-02",
            "sealed_text": transport.seal_for(notes.transport_public_key(), f"Countertransference noted {marker}")})
        notes.sign_note(psych["note_id"])
    return [prog["note_id"], psych["note_id"]], marker


def read_as_author(stack_config, author, note_id):
    """The note as its author reads it for treatment (psychotherapy text opened with her reply key)."""
    from nameko.standalone.rpc import ServiceRpcProxy

    key, reply = transport.ephemeral()
    with ServiceRpcProxy("notes", stack_config, context_data=author.context()) as notes:
        got = transport.open_tree(key, notes.read_note(note_id, "treatment", reply_public_key=reply))
    assert got["decision"]["decision"] == "permit", got["decision"]
    return got["note"]


def tree_modes(root: Path):
    return {p.relative_to(root).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in [root, *root.rglob("*")]}


@pytest.fixture
def servers():
    made = []

    def start(**kw):
        made.append(PgServer(**kw).start())
        return made[-1]

    yield start
    for server in made:
        server.destroy()


def test_back_up_wipe_restore_and_everything_reads_again(servers, rabbit_config, runner_factory, tmp_path,
                                                         monkeypatch):
    from audit.service import AuditService
    from notes.service import NotesService
    from web import dbsetup

    server = servers()
    key_dir, checkpoints, scratch = tmp_path / "keys", tmp_path / "checkpoints", tmp_path / "tmp"
    scratch.mkdir(mode=0o700)
    dbname, web_db = "confide_drill_" + uuid.uuid4().hex[:8], "confide_web_drill"
    for name, value in {"CONFIDE_ADMIN_DSN": server.admin_dsn, "CONFIDE_KEY_DIR": str(key_dir),
                        "CONFIDE_CHECKPOINT_DIR": str(checkpoints), "CONFIDE_DB_SCHEMA": "confide"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CONFIDE_AUDITOR_DSN", raising=False)

    # The installation: event store, roles with generated passwords, keys, web database with an account.
    install.install(admin_dsn=server.admin_dsn, dbname=dbname, schema="confide")
    app_secret = (key_dir / "db" / "confide_app.secret").read_text().strip()
    monkeypatch.setenv("CONFIDE_DB_DSN", server.dsn("confide_app", app_secret, dbname))
    ensure_keys(key_dir)
    web_secret = secrets.token_urlsafe(24)
    (key_dir / "web-db.secret").write_text(web_secret + "\n")
    os.chmod(key_dir / "web-db.secret", 0o600)
    web_dsn = server.dsn("confide_web", web_secret, web_db)
    monkeypatch.setenv("CONFIDE_WEB_DB_DSN", web_dsn)
    monkeypatch.setenv("CONFIDE_WEB_SECRET_KEY", "drill-only")
    dbsetup.ensure_database(server.admin_dsn, web_db, web_secret)
    dbsetup.migrate(web_dsn)
    with psycopg.connect(web_dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, "
                     "is_staff, is_active, date_joined) VALUES ('!', false, 'drill-clinician', '', '', '', "
                     "false, true, now())")

    config = {**rabbit_config, "DB_DSN": os.environ["CONFIDE_DB_DSN"], "DB_SCHEMA": "confide",
              "KEY_DIR": str(key_dir), "CHECKPOINT_DIR": str(checkpoints), "serializer": "json",
              "DISCLOSURES_RESUME_INTERVAL": 0}
    runner = runner_factory(config, NotesService, AuditService)
    runner.start()
    store = PostgresEventStore(config["DB_DSN"], schema="confide", pool_size=1)
    people = Identities(store, key_dir)
    authors = [people.member(m, "clinician", credentials="PhD", org=PRACTICE) for m in ("clin-a", "clin-b")]
    written = {}  # note id -> (author, the note as she read it before the backup)
    for author in authors:
        patient = "P-" + uuid.uuid4().hex[:8]
        people.patient(patient)
        ids, marker = write_notes(config, author, patient)
        for note_id in ids:
            written[note_id] = (author, read_as_author(config, author, note_id))
            assert marker in str(written[note_id][1])
    # The audit service sealed and checkpointed everything, and projected the reads.
    head = store.head_position()
    wait_for(lambda: (last_checkpoint(checkpoints) or {}).get("global_position", 0) >= head, timeout=30)
    wait_for(lambda: len(store.projections.select("access_log_view")) >= len(written), timeout=30)

    env = {**os.environ, "TMPDIR": str(scratch), "PYTHONWARNINGS": "ignore"}
    (tmp_path / "pass").write_text(PASSPHRASE + "\n")
    os.chmod(tmp_path / "pass", 0o600)
    archive = tmp_path / "out" / "confide.backup"
    archive.parent.mkdir()
    code, out, err = cli(env, "backup", str(archive), "--passphrase-file", str(tmp_path / "pass"))
    assert code == 0, err
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert list(scratch.iterdir()) == [] and list(archive.parent.iterdir()) == [archive]  # no plaintext left
    assert b"drill-clinician" not in archive.read_bytes() and b"BEGIN PRIVATE KEY" not in archive.read_bytes()
    assert f"event store {dbname}" in out and "web database confide_web_drill" in out

    # Wipe: the services stop, the server goes with its data and roles, the directories are deleted.
    runner.stop()
    store.close()
    port, password = server.port, server.password
    server.destroy()
    shutil.rmtree(key_dir)
    shutil.rmtree(checkpoints)

    server = servers(port=port, password=password)  # a fresh machine, configured as the old one was
    code, out, err = cli(env, "restore", str(archive), "--passphrase-file", str(tmp_path / "pass"))
    assert code == 0, out + err
    assert "verify: OK" in out
    created = next(line for line in out.splitlines() if line.startswith("roles created: "))
    with_secret = {p.name[:-len(".secret")] for p in (key_dir / "db").glob("*.secret")}  # every login role
    assert {"confide_owner", "confide_app", "confide_auditor", "confide_web"} | with_secret <= set(
        created[15:].split(", "))
    assert list(scratch.iterdir()) == []
    assert [p.name for p in tmp_path.iterdir() if "restoring" in p.name] == []
    modes = tree_modes(key_dir)
    assert modes["."] == 0o700 and modes["notes-transport.key"] == 0o600 and modes["db/confide_app.secret"] == 0o600
    assert all(m == 0o700 for p, m in modes.items() if (key_dir / p).is_dir())

    code, out, err = cli(env, "audit", "verify")
    assert code == 0 and "verify: OK" in out, out + err
    code, out, err = cli(env, "audit", "replay")
    assert code == 0 and "live projections match" in out, out + err
    with psycopg.connect(web_dsn) as conn:  # the web role logs in with its restored password
        assert conn.execute("SELECT username FROM auth_user").fetchall() == [("drill-clinician",)]

    runner = runner_factory(config, NotesService, AuditService)
    runner.start()
    for note_id, (author, before) in written.items():
        assert read_as_author(config, author, note_id) == before

    # Restoring again over the restored installation, or a damaged copy, is refused; nothing changes.
    runner.stop()
    code, out, err = cli(env, "restore", str(archive), "--passphrase-file", str(tmp_path / "pass"))
    assert code == 1 and "refusing to restore" in err and "holds events" in err, out + err
    damaged = tmp_path / "damaged.backup"
    blob = bytearray(archive.read_bytes())
    blob[len(blob) // 2] ^= 0x01
    damaged.write_bytes(bytes(blob))
    code, out, err = cli(env, "restore", str(damaged), "--passphrase-file", str(tmp_path / "pass"), "--force")
    assert code == 1 and "does not authenticate" in err, out + err
    (tmp_path / "wrong").write_text("not the drill passphrase\n")
    code, out, err = cli(env, "restore", str(archive), "--passphrase-file", str(tmp_path / "wrong"), "--force")
    assert code == 1 and "passphrase does not open this archive" in err, out + err
    assert list(scratch.iterdir()) == []
    with psycopg.connect(server.admin_dsn) as conn:
        assert [r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE '%restoring%'")] == []
    code, out, err = cli(env, "audit", "verify")
    assert code == 0 and "verify: OK" in out, out + err

    # With --force the restored installation is replaced, what was there renamed aside, never deleted.
    code, out, err = cli(env, "restore", str(archive), "--passphrase-file", str(tmp_path / "pass"), "--force")
    assert code == 0 and "verify: OK" in out, out + err
    aside = [line.split(" -> ")[1] for line in out.splitlines() if line.startswith("moved aside: ")]
    assert len(aside) == 4 and (Path(aside[2]) / "chain.key").exists(), out
    with psycopg.connect(server.admin_dsn) as conn:
        names = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
    assert {dbname, web_db, aside[0], aside[1]} <= names
