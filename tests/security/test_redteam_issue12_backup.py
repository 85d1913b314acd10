"""Red team (issue 12): the backups, attacked by an operator who reads or writes the archives, holds a
recipient's *public* key (which is all it takes to write an archive a restore opens), or watches the
processes of the machine.

- The archive's framing holds: a chunk flipped, dropped, repeated, swapped or spliced from another
  archive, a header field downgraded, and a cut tail are all refused before anything is restored.
- pg_dump and pg_restore inherit no secret of the backup command's environment (the passphrase in
  ``CONFIDE_BACKUP_PASSPHRASE``, the services' DSNs): only the connection's own PG* variables.
- A restore never drops a database that gained records while it ran (services started meanwhile),
  not without ``--force``, which moves it aside.
- An archive's manifest cannot make the restore reset the server administrator's password nor grant a
  role membership in ``pg_execute_server_program`` (commands on the database server) or a superuser.

The restores run on a PostgreSQL server of the test's own (a restore sets cluster-wide passwords).
"""
import io
import json
import os
import stat
import tarfile
import uuid
from pathlib import Path

import psycopg
import pytest

from confide.backup import archive, crypto
from confide.envelope import NewEvent
from confide.eventstore import dump, install
from confide.eventstore.store import PostgresEventStore
from confide.keys import ensure_keys
from confide.testing.pgserver import PgServer

PASS = "an operator's long passphrase " + uuid.uuid4().hex[:6]
FAST = 2 ** 10  # scrypt cost for tests


# -- the framing ------------------------------------------------------------------------------


def _frames(blob):
    """(prefix: magic, length, header, key check; [each frame with its length])."""
    hlen = int.from_bytes(blob[8:12], "big")
    at = 12 + hlen + 32
    prefix, frames = blob[:at], []
    while at < len(blob):
        flen = int.from_bytes(blob[at:at + 4], "big")
        frames.append(blob[at:at + 4 + flen])
        at += 4 + flen
    return prefix, frames


def _encrypt(data, chunk=64):
    out = io.BytesIO()
    writer = crypto.EncryptingWriter(out, passphrase=PASS, chunk_size=chunk, scrypt_n=FAST)
    writer.write(data)
    writer.close()
    return out.getvalue()


def _open(blob):
    return crypto.DecryptingReader(io.BytesIO(blob), passphrase=PASS).read()


def test_every_way_of_rearranging_an_archive_is_refused():
    data = os.urandom(64 * 5 + 10)
    blob = _encrypt(data)
    assert _open(blob) == data
    prefix, frames = _frames(blob)
    other_prefix, other_frames = _frames(_encrypt(data))  # same plaintext, another archive's key
    flipped = bytearray(frames[2])
    flipped[10] ^= 1
    header = json.loads(prefix[12:-32])
    variants = {
        "flipped": prefix + b"".join(frames[:2] + [bytes(flipped)] + frames[3:]),
        "dropped": prefix + b"".join(frames[:2] + frames[3:]),
        "repeated": prefix + b"".join(frames[:3] + frames[2:]),
        "swapped": prefix + b"".join([frames[1], frames[0]] + frames[2:]),
        "spliced": prefix + b"".join(frames[:2] + [other_frames[2]] + frames[3:]),
        "cut": prefix + b"".join(frames[:-1]),
        "extended": blob + frames[-1],
        "other header": other_prefix + b"".join(frames),
    }
    for name, forged in variants.items():
        with pytest.raises(crypto.BackupCryptoError):
            _open(forged)
            pytest.fail(f"{name}: opened")
    for field, value in (("n", 2), ("chunk", 32), ("mode", "recipient")):  # a downgraded header field
        body = json.dumps({**header, field: value}, sort_keys=True, separators=(",", ":")).encode()
        forged = prefix[:8] + len(body).to_bytes(4, "big") + body + prefix[-32:] + b"".join(frames)
        with pytest.raises(crypto.BackupCryptoError):
            _open(forged)


# -- what the children of a backup see -----------------------------------------------------


def test_pg_dump_inherits_no_secret_of_the_backup_commands_environment(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "pg_dump"  # records its environment where the dump would go
    fake.write_text('#!/bin/sh\nfor a in "$@"; do case "$a" in --file=*) env > "${a#--file=}";; esac; done\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv(dump.PG_BINDIR_KEY, str(bindir))
    monkeypatch.setenv("CONFIDE_BACKUP_PASSPHRASE", PASS)
    monkeypatch.setenv("CONFIDE_DB_DSN", "postgresql://confide_app:app-secret-xyz@127.0.0.1/confide")
    monkeypatch.setenv("CONFIDE_PROJECTOR_DSN", "postgresql://confide_projector:proj-secret-xyz@127.0.0.1/confide")
    monkeypatch.setenv("PGPASSWORD", "a stale one from the shell")
    out = tmp_path / "env.txt"
    dump.dump_database("postgresql://postgres:admin-secret@127.0.0.1:5432/postgres", "some_db", out)
    env = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)
    assert PASS not in out.read_text() and "app-secret-xyz" not in out.read_text()
    assert "proj-secret-xyz" not in out.read_text() and "a stale one" not in out.read_text()
    assert not [k for k in env if k.startswith("CONFIDE_")]
    assert env["PGPASSWORD"] == "admin-secret" and env["PGDATABASE"] == "some_db"  # its own connection
    assert env["PATH"] == os.environ["PATH"]


# -- restoring: a server of the test's own -------------------------------------------------


@pytest.fixture(scope="module")
def server():
    pg = PgServer().start()
    yield pg
    pg.destroy()


def installation(server, tmp_path, name, events=2):
    """An installed event store database ``name`` with ``events`` events, its key and checkpoint dirs."""
    install.ensure_database(server.admin_dsn, name)
    install.install_schema(server.admin_dsn, name, "confide")
    keys = tmp_path / f"keys-{name}"
    ensure_keys(keys)
    for role in ("confide_app", "confide_auditor", "confide_projector"):
        install.ensure_role_password(server.admin_dsn, role, keys / "db" / f"{role}.secret")
    if events:
        store = PostgresEventStore(server.dsn("confide_app", (keys / "db" / "confide_app.secret").read_text().strip(),
                                              name), schema="confide", pool_size=1)
        try:
            for _ in range(events):
                store.append(f"accessDecision-{uuid.uuid4().hex[:8]}", [NewEvent("AccessDecided", {"x": 1})], -1)
        finally:
            store.close()
    return archive.Target(admin_dsn=server.admin_dsn, database=name, schema="confide", web_database=name + "_noweb",
                          key_dir=keys, checkpoint_dir=tmp_path / f"cp-{name}")


@pytest.fixture(scope="module")
def backup(server, tmp_path_factory):
    """A genuine archive of a two-event installation."""
    tmp = tmp_path_factory.mktemp("source")
    source = installation(server, tmp, "confide_src_" + uuid.uuid4().hex[:6])
    out = tmp / "confide.backup"
    archive.create_backup(out, target=source, passphrase=PASS, with_web=False, scrypt_n=FAST)
    return out


def events_in(server, dbname):
    with psycopg.connect(server.dsn("postgres", server.password, dbname)) as conn:
        return conn.execute("SELECT count(*) FROM confide.events").fetchone()[0]


def test_a_restore_never_drops_a_database_that_gained_records_meanwhile(server, backup, tmp_path):
    target = installation(server, tmp_path, "confide_dst_" + uuid.uuid4().hex[:6], events=0)
    assert archive.refusals(target) == []  # an empty installation: a restore may replace it

    def services_start_meanwhile(message):
        if message.startswith("restoring database"):
            store = PostgresEventStore(server.dsn("postgres", server.password, target.database), schema="confide",
                                       pool_size=1)
            try:
                store.append("accessDecision-meanwhile", [NewEvent("AccessDecided", {"x": 1})], -1)
            finally:
                store.close()

    with pytest.raises(archive.RestoreRefusedError, match="holds records since the restore began"):
        archive.restore_backup(backup, target=target, passphrase=PASS, echo=services_start_meanwhile)
    assert events_in(server, target.database) == 1  # the decision written meanwhile is still there
    with psycopg.connect(server.admin_dsn) as conn:
        left = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                            (target.database[:40] + "_restoring_%",)).fetchall()
    assert left == []  # nothing half-restored left behind

    # With --force the same restore moves it aside, never deletes it.
    result = archive.restore_backup(backup, target=target, passphrase=PASS, force=True)
    assert events_in(server, target.database) == 2
    aside = [m for m in result.moved_aside if m.startswith(f"database {target.database} -> ")]
    assert len(aside) == 1 and events_in(server, aside[0].split(" -> ")[1]) == 1


def forge(genuine, out, tmp_path, edit):
    """What anyone holding the recipient's public key (or the passphrase) can do: a new archive from
    the members of another, its manifest edited by ``edit``, every hash consistent again."""
    work = tmp_path / ("forge-" + uuid.uuid4().hex[:6])
    work.mkdir()
    digests = archive._extract(genuine, work, PASS, None)
    manifest = json.loads((work / archive.MANIFEST).read_text())
    edit(manifest)
    with open(out, "wb") as raw:
        writer = crypto.EncryptingWriter(raw, passphrase=PASS, scrypt_n=FAST)
        with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            body = json.dumps(manifest).encode()
            info = tarfile.TarInfo(archive.MANIFEST)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
            for name in sorted(set(digests) - {archive.MANIFEST}):
                path = work / name
                info = tarfile.TarInfo(name)
                info.size = path.stat().st_size
                with open(path, "rb") as fh:
                    tar.addfile(info, fh)
        writer.close()
    return out


def test_a_manifest_cannot_reset_the_administrators_password_or_grant_server_powers(server, backup, tmp_path):
    def to_postgres(manifest):  # the restored confide_app secret becomes the administrator's password
        manifest["secrets"]["postgres"] = manifest["secrets"]["confide_app"]
        manifest["roles"].append({"name": "postgres", "login": True, "inherit": True, "createdb": False,
                                  "bypassrls": False, "connection_limit": -1, "member_of": []})

    def server_programs(manifest):  # confide_app may then run programs on the database server
        for role in manifest["roles"]:
            if role["name"] == "confide_app":
                role["member_of"] = ["pg_execute_server_program"]

    def out_of_keys(manifest):  # a secret read from a file outside the archive's keys
        manifest["secrets"]["confide_app"] = "keys/../../../etc/hostname"

    for edit, named in ((to_postgres, "'postgres'"), (server_programs, "pg_execute_server_program"),
                        (out_of_keys, "not a key file of the archive")):
        target = installation(server, tmp_path, "confide_dst_" + uuid.uuid4().hex[:6], events=0)
        forged = forge(backup, tmp_path / f"{edit.__name__}.backup", tmp_path, edit)
        with pytest.raises((archive.RestoreError, dump.DumpError)) as exc:
            archive.restore_backup(forged, target=target, passphrase=PASS)
        assert named in str(exc.value), exc.value
        with psycopg.connect(server.admin_dsn) as conn:  # the administrator's password still works
            assert conn.execute("SELECT pg_has_role('confide_app', 'pg_execute_server_program', 'MEMBER')"
                                ).fetchone()[0] is False
        assert archive.refusals(target) == [] and Path(target.key_dir).is_dir()
