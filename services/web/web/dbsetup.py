"""Set-up of the front door's database: ``python -m web.dbsetup [--test]``.

Creates the role ``confide_web`` (password generated here, kept in the key directory as
``web-db.secret``, 0600) and the database ``confide_web`` (``--test``: also ``confide_web_test``)
owned by it, the Django secret key (``web-secret-key``, 0600), the assertion-signing pair, then
runs the migrations. Idempotent; needs the superuser DSN of ``confide.config.admin_dsn``.
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


def dsn(database: str, password: str) -> str:
    return f"postgresql://{ROLE}:{password}@127.0.0.1:5432/{database}"


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
        migrate(dsn(database, password))
        print(f"web: database {database} ready")


if __name__ == "__main__":
    main(sys.argv[1:])
