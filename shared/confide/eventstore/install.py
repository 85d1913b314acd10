"""Install the database: roles, database, schema, tables, functions, privileges.

SQL lives in ``deploy/sql`` one object kind per folder (message-db's layout);
this module runs it in order with a superuser connection. The files use the
psql variable form ``:"schema"`` for the schema name, substituted here with a
quoted identifier, so one set of files installs the production schema and the
throw-away schemas that tamper tests corrupt. Every statement is idempotent.
"""
from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

import psycopg
from psycopg import sql

from confide import config

SQL_DIR = config.REPO_ROOT / "deploy" / "sql"
ORDER = ("tables", "functions", "projections", "privileges")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _check_ident(name: str, what: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"{what} {name!r} must match {_IDENT.pattern}")
    return name


def sql_files() -> list[Path]:
    """The schema files in install order (roles are cluster-wide and run separately)."""
    files: list[Path] = []
    for folder in ORDER:
        files.extend(sorted((SQL_DIR / folder).glob("*.sql")))
    return files


def render(text: str, schema: str) -> str:
    """Substitute ``:"schema"`` with the quoted schema identifier and ``:patient_indexed_types``
    with the published list of event types indexed by patient
    (:data:`confide.contracts.patient_index.PATIENT_INDEXED_TYPES`)."""
    from confide.contracts.patient_index import sql_type_list

    text = text.replace(":patient_indexed_types", sql_type_list())
    return text.replace(':"schema"', '"' + _check_ident(schema, "schema") + '"')


def ensure_database(admin_dsn: str, dbname: str) -> None:
    """Create the roles and database ``dbname`` if missing. Raises psycopg.Error."""
    _check_ident(dbname, "database")
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute((SQL_DIR / "roles" / "roles.sql").read_text())
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER confide_owner").format(sql.Identifier(dbname)))
        conn.execute(sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO confide_app").format(sql.Identifier(dbname)))
        for role in (config.AUDITOR_ROLE, config.PROJECTOR_ROLE):
            conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(dbname),
                                                                              sql.Identifier(role)))


def install_schema(admin_dsn: str, dbname: str, schema: str) -> None:
    """Install (or upgrade in place) the event store and projections in ``schema``.

    Serialised with an advisory lock so concurrent set-ups do not collide.
    Raises psycopg.Error on SQL failure (nothing is committed then).
    """
    dsn = config.with_dbname(admin_dsn, dbname)
    with psycopg.connect(dsn) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(7240512000)")
        # The roles the privileges name (cluster-wide, idempotent): a scratch schema on a cluster
        # set up before a role was added still installs.
        conn.execute((SQL_DIR / "roles" / "roles.sql").read_text())
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        for path in sql_files():
            conn.execute(render(path.read_text(), schema))
        conn.commit()


def ensure_auditor_password(admin_dsn: str, secret_path: Path | None = None) -> Path:
    """Give ``confide_auditor`` its password (:func:`ensure_role_password`). Returns the secret's path."""
    return ensure_role_password(admin_dsn, config.AUDITOR_ROLE, Path(secret_path or config.auditor_secret_path()))


def ensure_app_password(admin_dsn: str, secret_path: Path | None = None) -> Path:
    """Give the services' role ``confide_app`` its password (:func:`ensure_role_password`): generated
    at set-up, never the development default. Returns the secret's path."""
    return ensure_role_password(admin_dsn, config.APP_ROLE, Path(secret_path or config.app_secret_path()))


def ensure_projector_password(admin_dsn: str, secret_path: Path | None = None) -> Path:
    """Give the audit service's own role ``confide_projector`` (the only login that writes the chain,
    the checkpoints and the projections) its password (:func:`ensure_role_password`). Returns the
    secret's path."""
    return ensure_role_password(admin_dsn, config.PROJECTOR_ROLE,
                                Path(secret_path or config.projector_secret_path()))


def ensure_role_password(admin_dsn: str, role: str, path: Path) -> Path:
    """Give ``role`` the password in ``path``, generated there first (0600) when missing, so re-runs
    keep it. Concurrent first runs agree (the file is created exclusively). Raises ValueError for an
    empty secret file, psycopg.Error when the server refuses."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    if not path.exists():
        # Written whole under a temporary name, then linked into place (fails if another run won).
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(32) + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    secret = path.read_text().strip()
    if not secret:
        raise ValueError(f"{path} is empty: remove it and run `confide db install` again")
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute((SQL_DIR / "roles" / "roles.sql").read_text())
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(secret)))
    return path


def drop_schema(admin_dsn: str, dbname: str, schema: str, attempts: int = 5) -> None:
    """Drop ``schema`` and everything in it (tests' throw-away schemas only).

    A service still finishing a query on the schema (a sealer's last pass) can make the DROP the
    victim of a deadlock; the DROP is then tried again (up to ``attempts`` times, the other side
    having finished). Raises ValueError for the production schema; the last psycopg error otherwise."""
    if schema == "confide":
        raise ValueError("refusing to drop the production schema 'confide'")
    dsn = config.with_dbname(admin_dsn, dbname)
    statement = sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(_check_ident(schema, "schema")))
    for attempt in range(1, attempts + 1):
        try:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(statement)
            return
        except (psycopg.errors.DeadlockDetected, psycopg.errors.LockNotAvailable):
            if attempt == attempts:
                raise


def install(admin_dsn: str | None = None, dbname: str | None = None, schema: str | None = None) -> None:
    """Roles, database and schema, with the configured defaults, and the login roles' passwords
    (``<key_dir>/db/<role>.secret``: confide_app, confide_auditor, confide_projector)."""
    admin_dsn = admin_dsn or config.admin_dsn()
    configured = os.environ.get(config.DB_DSN_KEY)  # not db_dsn(): its password is made below
    dbname = dbname or str((psycopg.conninfo.conninfo_to_dict(configured).get("dbname") if configured else None)
                           or config.DEFAULT_DB_NAME)
    schema = schema or config.db_schema()
    ensure_database(admin_dsn, dbname)
    install_schema(admin_dsn, dbname, schema)
    ensure_auditor_password(admin_dsn)
    ensure_app_password(admin_dsn)
    ensure_projector_password(admin_dsn)
