"""``confide backup`` to a recipient key, onto a machine already set up: the fresh set-up's keys are moved
aside (never deleted), its empty event store replaced, its roles given the archive's passwords, and the
chain verifies as the auditor. On a PostgreSQL server of the test's own (restoring sets cluster-wide
role passwords). The full drill with the services is tests/e2e/test_restore_drill.py."""
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg

from confide.eventstore import install
from confide.eventstore.store import PostgresEventStore
from confide.keys import ensure_keys
from confide.testing.identities import Identities
from confide.testing.pgserver import PgServer

REPO = Path(__file__).resolve().parents[3]


def cli(env, *args):
    done = subprocess.run([sys.executable, "-c", "from confide_app.cli import main; main()", *args],
                          env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    return done.returncode, done.stdout, done.stderr


def set_up(server, dbname, key_dir, monkeypatch):
    """What `make setup` does for the event store on a machine: roles, database, schema, passwords, keys."""
    install.install(admin_dsn=server.admin_dsn, dbname=dbname, schema="confide")
    secret = (key_dir / "db" / "confide_app.secret").read_text().strip()
    monkeypatch.setenv("CONFIDE_DB_DSN", server.dsn("confide_app", secret, dbname))
    ensure_keys(key_dir)
    return secret


def test_a_recipient_archive_restores_over_a_fresh_set_up(tmp_path, monkeypatch):
    key_dir, checkpoints = tmp_path / "keys", tmp_path / "checkpoints"
    dbname = "confide_bk_" + uuid.uuid4().hex[:8]
    server = PgServer().start()
    try:
        for name, value in {"CONFIDE_ADMIN_DSN": server.admin_dsn, "CONFIDE_KEY_DIR": str(key_dir),
                            "CONFIDE_CHECKPOINT_DIR": str(checkpoints), "CONFIDE_DB_SCHEMA": "confide",
                            "CONFIDE_WEB_DB_DSN": server.dsn("confide_web", "unused", "confide_web_none")}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("CONFIDE_AUDITOR_DSN", raising=False)
        old_secret = set_up(server, dbname, key_dir, monkeypatch)
        store = PostgresEventStore(os.environ["CONFIDE_DB_DSN"], schema="confide", pool_size=1)
        try:
            people = Identities(store, key_dir)
            for n in range(3):
                people.member(f"clin-{n}", "clinician")
            head = store.head_position()
        finally:
            store.close()
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        code, out, err = cli(env, "audit", "seal")
        assert code == 0 and f"up to global position {head}" in out, out + err

        # A backup that fails half-way (here: pg_dump of a database that is not there, after the
        # checkpoints were copied) leaves no plaintext behind and nothing at its path.
        scratch = tmp_path / "tmp"
        scratch.mkdir(mode=0o700)
        missing = {**env, "TMPDIR": str(scratch), "CONFIDE_DB_DSN": server.dsn("confide_app", old_secret, "nowhere"),
                   "CONFIDE_BACKUP_PASSPHRASE": "a long enough passphrase"}
        code, out, err = cli(missing, "backup", str(tmp_path / "failed.backup"), "--without-web")
        assert code == 1 and "backup failed" in err and '"nowhere" does not exist' in err, out + err
        assert list(scratch.iterdir()) == [] and not list(tmp_path.glob("*failed.backup*"))

        code, out, err = cli(env, "backup", "keygen", str(tmp_path / "backup-key"))
        assert code == 0 and (tmp_path / "backup-key.pub").exists(), out + err
        archive = tmp_path / "confide.backup"
        code, out, err = cli(env, "backup", str(archive), "--recipient", str(tmp_path / "backup-key.pub"))
        assert code == 1 and "confide_web_none" in err and "--without-web" in err and not archive.exists()
        code, out, err = cli(env, "backup", str(archive), "--recipient", str(tmp_path / "backup-key.pub"),
                             "--without-web")
        assert code == 0 and "no web database" in out and "encrypted to recipient" in out, out + err
        code, out, err = cli(env, "backup", str(archive), "--recipient", str(tmp_path / "backup-key.pub"),
                             "--without-web")
        assert code == 1 and "refusing to overwrite" in err
        chain_key = (key_dir / "chain.key").read_bytes()

        # A new machine where set-up already ran: other keys, other passwords, an empty event store.
        port, password = server.port, server.password
        server.destroy()
        shutil.rmtree(key_dir)
        shutil.rmtree(checkpoints)
        server = PgServer(port=port, password=password).start()
        new_secret = set_up(server, dbname, key_dir, monkeypatch)
        assert new_secret != old_secret and (key_dir / "chain.key").read_bytes() != chain_key

        code, out, err = cli(env, "restore", str(archive))
        assert code == 1 and "--identity" in err
        monkeypatch.setenv("CONFIDE_DB_DSN", server.dsn("confide_app", old_secret, dbname))
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        code, out, err = cli(env, "restore", str(archive), "--identity", str(tmp_path / "backup-key"))
        assert code == 0 and "verify: OK" in out, out + err
        moved = [line for line in out.splitlines() if line.startswith("moved aside: ")]
        assert len(moved) == 1 and moved[0].startswith(f"moved aside: {key_dir} -> "), out  # the empty DB went
        assert (key_dir / "chain.key").read_bytes() == chain_key
        assert (Path(moved[0].split(" -> ")[1]) / "chain.key").exists()  # the set-up's keys, kept aside

        with psycopg.connect(os.environ["CONFIDE_DB_DSN"]) as conn:  # the archive's password, not the set-up's
            assert conn.execute("SELECT max(global_position) FROM confide.events").fetchone() == (head,)
        code, out, err = cli(env, "audit", "verify")
        assert code == 0 and "verify: OK" in out and f"{head} events" in out, out + err
    finally:
        server.destroy()
