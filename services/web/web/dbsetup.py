"""Set-up of the front door's database: ``python -m web.dbsetup [--test]``.

Creates the role ``confide_web`` (password generated here, kept in the key directory as
``web-db.secret``, 0600) and the database ``confide_web`` (``--test``: also ``confide_web_test``)
owned by it, the Django secret key (``web-secret-key``, 0600), the assertion-signing pair, then
runs the migrations. Idempotent; needs the superuser DSN of ``confide.config.admin_dsn``.

The migrations reach the database on 127.0.0.1:5432, or on the server ``CONFIDE_WEB_DB_DSN`` names
(its host, port and TLS settings; another machine, a cluster's primary): the DSN the front door
itself is given, which need not carry the password (it is the generated one).
"""
from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import psycopg
from psycopg import sql

from confide import config
from confide.identity.keys import ensure_assertion_keys

ROLE = "confide_web"


def _secret(path: Path, make) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    value = make()
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value


def ensure_database(admin_dsn: str, database: str, password: str) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (ROLE,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(ROLE)))
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(ROLE), sql.Literal(password)))
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), sql.Identifier(ROLE)))
        conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(database)))


#: what of a configured DSN says where the server is and how to trust it (never who logs in)
SERVER_PARAMS = ("host", "hostaddr", "port", "sslmode", "sslrootcert", "target_session_attrs", "connect_timeout")


def dsn(database: str, password: str, server: str | None = None) -> str:
    """The web role's DSN on ``database``: on 127.0.0.1:5432, or on the server of the DSN ``server``
    (its host, port and TLS settings; its user, password and database are not taken)."""
    if not server:
        return f"postgresql://{ROLE}:{password}@127.0.0.1:5432/{database}"
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    where = {k: v for k, v in conninfo_to_dict(server).items() if k in SERVER_PARAMS}
    return make_conninfo("", **where, user=ROLE, password=password, dbname=database)


def migrate(database_dsn: str) -> None:
    import subprocess

    env = {**os.environ, "CONFIDE_WEB_DB_DSN": database_dsn, "DJANGO_SETTINGS_MODULE": "web.settings"}
    subprocess.run([sys.executable, "-m", "web", "migrate", "--noinput", "-v", "0"], env=env, check=True)


def main(argv: list[str]) -> None:
    key_dir = config.key_dir()
    password = _secret(key_dir / "web-db.secret", lambda: secrets.token_urlsafe(24))
    _secret(key_dir / "web-secret-key", lambda: secrets.token_urlsafe(50))
    ensure_assertion_keys(key_dir)
    databases = ["confide_web", "confide_web_test"] if "--test" in argv else ["confide_web"]
    for database in databases:
        ensure_database(config.admin_dsn(), database, password)
        migrate(dsn(database, password, os.environ.get("CONFIDE_WEB_DB_DSN")))
        print(f"web: database {database} ready")


if __name__ == "__main__":
    main(sys.argv[1:])
