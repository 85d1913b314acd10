"""The databases' side of backup and restore: pg_dump / pg_restore (Debian's PostgreSQL client) and the
few statements around them, all as the superuser of ``confide.config.admin_dsn``.

- :func:`dump_event_store` dumps the event store's database (custom format) inside a REPEATABLE READ
  snapshot it exports to pg_dump, and reads the log's head and the chain head in that same snapshot,
  so the archive's manifest says exactly what the dump holds.
- :func:`roles_in_use` names the roles a database needs to be restored (owners and grantees of its
  objects, its own owner and grantees, and the roles these are members of), with their attributes;
  :func:`ensure_roles` creates the missing ones on a fresh server (never SUPERUSER, never touching
  an existing role's attributes) and :func:`set_role_password` gives a role its restored secret.
- :func:`restore_database` restores a dump into a new database in one transaction; only when every
  step succeeded does :func:`swap_database` put it under the configured name.

Connection parameters reach the client programs through libpq's environment variables, never the
command line (where ``ps`` would show a password); of this process's own environment they inherit only
``_CHILD_ENV`` (no backup passphrase, no service DSN).
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Callable, Iterable, TypeVar, cast

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from confide import config
from confide.eventstore.store import one

# libpq connection parameters and the environment variables that carry them.
_LIBPQ_ENV = {
    "host": "PGHOST", "hostaddr": "PGHOSTADDR", "port": "PGPORT", "user": "PGUSER", "password": "PGPASSWORD",
    "dbname": "PGDATABASE", "passfile": "PGPASSFILE", "service": "PGSERVICE", "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY", "sslcrl": "PGSSLCRL",
    "connect_timeout": "PGCONNECT_TIMEOUT", "application_name": "PGAPPNAME", "options": "PGOPTIONS",
    "target_session_attrs": "PGTARGETSESSIONATTRS", "gssencmode": "PGGSSENCMODE",
    "channel_binding": "PGCHANNELBINDING",
}
PG_BINDIR_KEY = "CONFIDE_PG_BINDIR"
#: What pg_dump / pg_restore inherit of this process's environment (besides the connection's PG*
#: variables): where programs are, the locale, the time zone, home and temporary directories. Nothing
#: else: ``CONFIDE_BACKUP_PASSPHRASE``, the services' DSNs with their passwords and any other secret in
#: the environment would otherwise sit in each child's /proc/<pid>/environ.
_CHILD_ENV = ("PATH", "HOME", "LANG", "LANGUAGE", "TZ", "TMPDIR")
F = TypeVar("F", bound=Callable[..., Any])


class DumpError(Exception):
    """pg_dump or pg_restore failed, or a database is not what a backup or restore needs, or the
    server refused a statement (every function here raises it for a psycopg.Error)."""


def _db_errors(fn: F) -> F:
    """Raise the server's refusals (psycopg.Error) as DumpError naming the step, so callers outside
    the store package need not know the driver."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except psycopg.Error as exc:
            raise DumpError(f"{fn.__name__.replace('_', ' ')}: {str(exc).strip()}") from None

    return cast(F, wrapper)


def pg_tool(name: str) -> str:
    """Path of ``pg_dump`` / ``pg_restore``: ``$CONFIDE_PG_BINDIR/<name>`` if set, else on PATH.
    Raises DumpError naming what is missing."""
    bindir = os.environ.get(PG_BINDIR_KEY)
    path = str(Path(bindir) / name) if bindir else shutil.which(name)
    if not path or not os.access(path, os.X_OK):
        raise DumpError(f"{name} not found ({'in ' + bindir if bindir else 'on PATH'}): "
                        "install the PostgreSQL client (Debian: postgresql-client-15)")
    return path


def tool_version(name: str) -> str:
    """``<name> --version`` as printed (e.g. ``pg_dump (PostgreSQL) 15.20``). Raises DumpError."""
    done = subprocess.run([pg_tool(name), "--version"], capture_output=True, text=True)
    if done.returncode:
        raise DumpError(f"{name} --version failed: {done.stderr.strip()}")
    return done.stdout.strip()


def _libpq_env(dsn: str, dbname: str) -> dict:
    params = conninfo_to_dict(dsn)
    params["dbname"] = dbname
    env = {k: v for k, v in os.environ.items() if k in _CHILD_ENV or k.startswith("LC_")}
    for key, value in params.items():
        if key not in _LIBPQ_ENV:
            raise DumpError(f"admin DSN parameter {key!r} cannot be passed to pg_dump/pg_restore")
        env[_LIBPQ_ENV[key]] = str(value)
    return env


def _run(argv: list[str], env: dict, what: str) -> None:
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    if done.returncode:
        lines = [line for line in (done.stderr or "").strip().splitlines() if line.strip()]
        raise DumpError(f"{what} failed (exit {done.returncode}): " + " | ".join(lines[-5:]))


def _connect(admin_dsn: str, dbname: str, **kw) -> psycopg.Connection:
    return psycopg.connect(config.with_dbname(admin_dsn, dbname), **kw)


@_db_errors
def server_version(admin_dsn: str) -> str:
    """The server's ``server_version``."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        return one(conn.execute("SHOW server_version"))


@_db_errors
def database_exists(admin_dsn: str, dbname: str) -> bool:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone() is not None


@_db_errors
def database_facts(admin_dsn: str, dbname: str) -> dict:
    """{name, owner, encoding, acl}: ``acl`` is None for the default privileges, else a list of
    [grantee ("PUBLIC" for everyone), privilege, grantable]. Raises DumpError when it does not exist."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT pg_get_userbyid(datdba), pg_encoding_to_char(encoding), datacl IS NULL FROM pg_database "
            "WHERE datname = %s", (dbname,)).fetchone()
        if row is None:
            raise DumpError(f"database {dbname!r} does not exist on this server")
        acl = None if row[2] else [
            [grantee, privilege, grantable] for grantee, privilege, grantable in conn.execute(
                "SELECT coalesce(r.rolname, 'PUBLIC'), a.privilege_type, a.is_grantable "
                "FROM pg_database d, aclexplode(d.datacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee "
                "WHERE d.datname = %s ORDER BY 1, 2", (dbname,))]
    return {"name": dbname, "owner": row[0], "encoding": row[1], "acl": acl}


# Owners and grantees of everything in the connected database, and of the database itself.
_USED_ROLES = """
WITH used(oid) AS (
  SELECT datdba FROM pg_database WHERE datname = current_database()
  UNION SELECT (aclexplode(datacl)).grantee FROM pg_database WHERE datname = current_database()
  UNION SELECT nspowner FROM pg_namespace
  UNION SELECT (aclexplode(nspacl)).grantee FROM pg_namespace
  UNION SELECT relowner FROM pg_class
  UNION SELECT (aclexplode(relacl)).grantee FROM pg_class
  UNION SELECT (aclexplode(attacl)).grantee FROM pg_attribute WHERE attacl IS NOT NULL
  UNION SELECT proowner FROM pg_proc
  UNION SELECT (aclexplode(proacl)).grantee FROM pg_proc
  UNION SELECT typowner FROM pg_type
  UNION SELECT defaclrole FROM pg_default_acl
  UNION SELECT (aclexplode(defaclacl)).grantee FROM pg_default_acl
)
SELECT r.rolname, r.rolsuper FROM pg_roles r JOIN used u ON u.oid = r.oid WHERE r.rolname !~ '^pg_'
"""


@_db_errors
def roles_in_use(admin_dsn: str, dbnames: list[str], extra: Iterable[str] = ()) -> list[dict]:
    """The roles restoring ``dbnames`` needs, and ``extra`` roles (those with a secret in the key
    directory), with the roles they are members of: [{name, login, inherit, createdb, bypassrls,
    connection_limit, member_of}], sorted by name. Superusers are left out (a fresh server has its own
    administrator). Raises DumpError when a superuser owns one of them or anything in it (pg_restore
    would need that administrator on the new server too), or an ``extra`` role does not exist."""
    names: set[str] = set(extra)
    for dbname in dbnames:
        with _connect(admin_dsn, dbname, autocommit=True) as conn:
            for name, superuser in conn.execute(_USED_ROLES).fetchall():
                if not superuser:
                    names.add(name)
                # The bootstrap superuser owns the catalogs of every database: it counts only when it owns
                # the database or something pg_dump would restore (outside the system schemas).
                elif _superuser_owns_user_objects(conn, name):
                    raise DumpError(f"superuser {name!r} owns database {dbname!r} or objects in it; give them "
                                    "to a Confide role first (a fresh server has another administrator)")
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        roles: dict[str, dict] = {}
        todo = sorted(names)
        while todo:
            name = todo.pop()
            if name in roles:
                continue
            row = conn.execute(
                "SELECT rolcanlogin, rolinherit, rolcreatedb, rolbypassrls, rolconnlimit, rolsuper "
                "FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
            if row is None:
                raise DumpError(f"role {name!r} does not exist on this server (a secret for it is in the key "
                                "directory): run `confide db install`")
            if row[5]:
                continue
            member_of = [r[0] for r in conn.execute(
                "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
                "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = %s AND NOT g.rolsuper "
                "AND g.rolname !~ '^pg_' ORDER BY 1", (name,))]
            roles[name] = {"name": name, "login": row[0], "inherit": row[1], "createdb": row[2],
                           "bypassrls": row[3], "connection_limit": row[4], "member_of": member_of}
            todo.extend(g for g in member_of if g not in roles)
    return [roles[n] for n in sorted(roles)]


def _superuser_owns_user_objects(conn, name: str) -> bool:
    row = conn.execute(
        """SELECT EXISTS (SELECT 1 FROM pg_database d WHERE d.datname = current_database() AND d.datdba = r.oid)
               OR EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspowner = r.oid
                          AND n.nspname !~ '^pg_' AND n.nspname NOT IN ('information_schema', 'public'))
               OR EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                          WHERE c.relowner = r.oid AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema')
               OR EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                          WHERE p.proowner = r.oid AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema')
           FROM pg_roles r WHERE r.rolname = %s""", (name,)).fetchone()
    return bool(row and row[0])


def _event_store_facts(conn, schema: str) -> dict:
    s = sql.Identifier(schema)
    found = conn.execute("SELECT to_regclass(%s) IS NOT NULL AND to_regclass(%s) IS NOT NULL",
                         (f'"{schema}".events', f'"{schema}".event_chain'))
    if not one(found):
        raise DumpError(f"no event store in schema {schema!r} of this database (run `confide db install`)")
    head, count = conn.execute(sql.SQL("SELECT coalesce(max(global_position), 0), count(*) FROM {}.events")
                               .format(s)).fetchone() or (0, 0)
    chain = conn.execute(sql.SQL("SELECT chain_index, global_position, mac FROM {}.event_chain "
                                 "ORDER BY chain_index DESC LIMIT 1").format(s)).fetchone()
    return {"schema": schema, "head_position": int(head), "events": int(count),
            "chain_head": None if chain is None else {"chain_index": int(chain[0]), "global_position": int(chain[1]),
                                                      "mac": bytes(chain[2]).hex()}}


@_db_errors
def event_store_facts(admin_dsn: str, dbname: str, schema: str) -> dict:
    """{schema, head_position, events, chain_head: {chain_index, global_position, mac} or None} now.
    Raises DumpError when ``schema`` holds no event store."""
    with _connect(admin_dsn, dbname, autocommit=True) as conn:
        return _event_store_facts(conn, schema)


@_db_errors
def dump_event_store(admin_dsn: str, dbname: str, schema: str, out: Path) -> dict:
    """pg_dump (custom format) of database ``dbname`` to ``out``, taken in one exported snapshot in
    which the event store's facts (:func:`event_store_facts`) are read too; returns them. Raises
    DumpError (pg_dump failed, no event store in ``schema``, the server refused)."""
    with _connect(admin_dsn, dbname) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        snapshot = one(conn.execute("SELECT pg_export_snapshot()"))
        facts = _event_store_facts(conn, schema)
        # The exporting transaction stays open until pg_dump is done with the snapshot.
        _run([pg_tool("pg_dump"), "--format=custom", "--no-password", f"--snapshot={snapshot}",
              f"--file={out}"], _libpq_env(admin_dsn, dbname), f"pg_dump of database {dbname}")
        conn.rollback()
    return facts


@_db_errors
def dump_database(admin_dsn: str, dbname: str, out: Path) -> None:
    """pg_dump (custom format) of database ``dbname`` to ``out``. Raises DumpError."""
    _run([pg_tool("pg_dump"), "--format=custom", "--no-password", f"--file={out}"],
         _libpq_env(admin_dsn, dbname), f"pg_dump of database {dbname}")


@_db_errors
def tables_with_rows(admin_dsn: str, dbname: str, table: str) -> list[str]:
    """The tables named ``table`` (in any schema of ``dbname``) that hold at least one row, as
    ``schema.table``; [] when the database does not exist."""
    if not database_exists(admin_dsn, dbname):
        return []
    found = []
    with _connect(admin_dsn, dbname, autocommit=True) as conn:
        schemas = [r[0] for r in conn.execute(
            "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = %s AND c.relkind IN ('r', 'p') ORDER BY 1", (table,))]
        for schema in schemas:
            if one(conn.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {}.{})").format(
                    sql.Identifier(schema), sql.Identifier(table)))):
                found.append(f"{schema}.{table}")
    return found


@_db_errors
def sessions_on(admin_dsn: str, dbname: str) -> int:
    """How many sessions (other than this one) are connected to ``dbname``."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        return one(conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                                (dbname,)))


@_db_errors
def check_restorable_roles(admin_dsn: str, roles: list[dict], secrets: dict) -> None:
    """Refuse (DumpError) what a restore must never do to this server, whatever an archive's manifest
    says: give a password to (``secrets``) or change (``roles``) a superuser or a predefined ``pg_*``
    role, or make a role a member of one (``pg_execute_server_program``, ``pg_write_server_files``, a
    superuser: the server's own administrator). Anyone holding a recipient archive's public key can
    write such a manifest; :func:`roles_in_use` never does."""
    names = [r.get("name") for r in roles if isinstance(r, dict)] + list(secrets)
    groups = [g for r in roles if isinstance(r, dict) for g in r.get("member_of") or []]
    for name in names + groups:
        if not isinstance(name, str) or not name or name.startswith("pg_"):
            raise DumpError(f"the archive's manifest names role {name!r}: a restore never touches predefined roles")
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        supers = {r[0] for r in conn.execute("SELECT rolname FROM pg_roles WHERE rolsuper OR rolreplication "
                                             "OR rolcreaterole")}
    for name in names + groups:
        if name in supers:
            raise DumpError(f"the archive's manifest names role {name!r}, an administrator of this server: a restore "
                            "never sets its password nor grants its membership")


@_db_errors
def ensure_roles(admin_dsn: str, roles: list[dict]) -> list[str]:
    """Create each role of ``roles`` (as :func:`roles_in_use` describes them) that does not exist, never
    SUPERUSER; then grant the memberships it lacks. Existing roles keep their attributes. Returns the
    names created. Raises DumpError."""
    made = []
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        for role in roles:
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role["name"],)).fetchone():
                continue
            options = " ".join([
                "LOGIN" if role["login"] else "NOLOGIN", "INHERIT" if role["inherit"] else "NOINHERIT",
                "CREATEDB" if role["createdb"] else "NOCREATEDB", "BYPASSRLS" if role["bypassrls"] else "NOBYPASSRLS",
                "NOSUPERUSER NOCREATEROLE NOREPLICATION"])
            conn.execute(sql.SQL("CREATE ROLE {} " + options + " CONNECTION LIMIT {}").format(
                sql.Identifier(role["name"]), sql.Literal(int(role["connection_limit"]))))
            made.append(role["name"])
        for role in roles:
            for group in role["member_of"]:
                if not one(conn.execute("SELECT pg_has_role(%s, %s, 'MEMBER')", (role["name"], group))):
                    conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(role["name"])))
    return made


@_db_errors
def set_role_password(admin_dsn: str, role: str, secret: str) -> None:
    """``ALTER ROLE role PASSWORD secret``. Raises ValueError for an empty secret, DumpError."""
    if not secret:
        raise ValueError(f"the secret for role {role!r} is empty")
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(secret)))


@_db_errors
def restore_database(admin_dsn: str, facts: dict, name: str, dump: Path) -> None:
    """Create database ``name`` (owner, encoding and privileges of ``facts``, from
    :func:`database_facts`) and pg_restore ``dump`` into it in one transaction. On any failure the new
    database is dropped and DumpError raised: nothing half-restored is left."""
    db = sql.Identifier(name)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE template0 ENCODING {}").format(
            db, sql.Identifier(facts["owner"]), sql.Literal(facts["encoding"])))
    try:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            if facts["acl"] is not None:
                conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db))
                for grantee, privilege, grantable in facts["acl"]:
                    who = sql.SQL("PUBLIC") if grantee == "PUBLIC" else sql.Identifier(grantee)
                    conn.execute(sql.SQL("GRANT {} ON DATABASE {} TO {}" + (" WITH GRANT OPTION" if grantable else ""))
                                 .format(sql.SQL(_privilege(privilege)), db, who))
        _run([pg_tool("pg_restore"), "--exit-on-error", "--single-transaction", "--no-password",
              f"--dbname={name}", str(dump)], _libpq_env(admin_dsn, name), f"pg_restore into database {name}")
    except BaseException:
        drop_database(admin_dsn, name)
        raise


def _privilege(privilege: str) -> str:
    if privilege not in ("CONNECT", "CREATE", "TEMPORARY"):
        raise DumpError(f"unknown database privilege {privilege!r}")
    return privilege


@_db_errors
def drop_database(admin_dsn: str, name: str) -> None:
    """``DROP DATABASE IF EXISTS name WITH (FORCE)`` (the restore's own new databases, or an empty one
    it replaces)."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@_db_errors
def rename_database(admin_dsn: str, old: str, new: str) -> None:
    """``ALTER DATABASE old RENAME TO new``. Raises DumpError (e.g. while sessions are connected)."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(old), sql.Identifier(new)))
