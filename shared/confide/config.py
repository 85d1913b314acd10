"""Configuration from the environment, with localhost defaults.

Every setting is read from one environment variable whose name is a module
constant, so tests and services patch the same key. Defaults point at the
services this repository's set-up starts on 127.0.0.1, so the same code runs
on a developer's machine, in CI and inside compose (where the variables are set).

Settings (env var → meaning, default):

- ``CONFIDE_DB_DSN``: the services' role (may insert and select on the event store),
  ``postgresql://confide_app:confide@127.0.0.1:5432/confide``.
- ``CONFIDE_ADMIN_DSN``: a superuser, used only by set-up and tamper tests,
  else ``<data_home>/admin.dsn`` written by set-up, else
  ``postgresql://postgres@127.0.0.1:5432/postgres``.
- ``CONFIDE_DB_SCHEMA``: the schema holding the event store, ``confide``.
- ``CONFIDE_AUDITOR_DSN``: the auditor's read-only role (``confide audit verify``, ``prove``),
  else ``CONFIDE_DB_DSN``'s server and database as ``confide_auditor`` with the password
  set-up generated into ``<key_dir>/db/confide_auditor.secret``.
- ``CONFIDE_AMQP_URI``: where RabbitMQ is, ``amqp://127.0.0.1:5672/confide`` (``amqps://``
  for TLS). Without credentials in it (the normal case), ``amqp_uri(user)`` adds the
  broker user's own password from ``<key_dir>/broker/<user>.secret`` (set-up writes it);
  with credentials (a test's vhost) it is used as it is, for every user.
- ``CONFIDE_AMQP_URI_<USER>`` (``NOTES``, ``DISCLOSURES``, ``AUDIT``, ``GATEWAY``,
  ``DIRECTORY``, ``WEB``, ``CLI``): the whole URI of one broker user, if set
  (``confide run`` sets them for the services' config.yml).
- ``CONFIDE_AMQP_CA``: CA certificate (PEM) that signs the broker's TLS certificate;
  with it (or an ``amqps`` URI) connections verify the server (``amqp_ssl()``).
- ``CONFIDE_RABBIT_ADMIN_URI``: the management API and an administrator, used by
  set-up only (``confide broker declare``), ``http://guest:guest@127.0.0.1:15672``
  (guest can log in from localhost only: development).
- ``CONFIDE_KEY_DIR``: keys the database never holds (chain key, audit
  signing key, the psychotherapy-note keyring),
  ``$XDG_DATA_HOME/confide/keys`` (``~/.local/share/confide/keys``).
- ``CONFIDE_CHECKPOINT_DIR``: signed chain-head checkpoints,
  ``$XDG_DATA_HOME/confide/checkpoints``.
  Both belong to the installation, like the database they go with, not to a
  checkout: a second clone on the same server uses the same keys. Back them up.
- ``CONFIDE_DATA_DIR`` / ``CONFIDE_CASES_DIR``: the shipped public input,
  ``<repo>/../shared/data`` and ``<repo>/../shared/cases``.
- ``CONFIDE_GATEWAY_URL``: ``http://127.0.0.1:8000``.
"""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

DB_DSN_KEY = "CONFIDE_DB_DSN"
ADMIN_DSN_KEY = "CONFIDE_ADMIN_DSN"
AUDITOR_DSN_KEY = "CONFIDE_AUDITOR_DSN"
DB_SCHEMA_KEY = "CONFIDE_DB_SCHEMA"
AMQP_URI_KEY = "CONFIDE_AMQP_URI"
KEY_DIR_KEY = "CONFIDE_KEY_DIR"
CHECKPOINT_DIR_KEY = "CONFIDE_CHECKPOINT_DIR"
DATA_DIR_KEY = "CONFIDE_DATA_DIR"
CASES_DIR_KEY = "CONFIDE_CASES_DIR"
GATEWAY_URL_KEY = "CONFIDE_GATEWAY_URL"
AMQP_CA_KEY = "CONFIDE_AMQP_CA"
RABBIT_ADMIN_URI_KEY = "CONFIDE_RABBIT_ADMIN_URI"
AMQP_VHOST = "confide"
DEFAULT_AMQP_URI = f"amqp://127.0.0.1:5672/{AMQP_VHOST}"
# One RabbitMQ user per service and front door (permissions: confide.broker.PERMISSIONS).
BROKER_USERS = ("notes", "disclosures", "audit", "gateway", "directory", "web", "cli")

DEFAULT_DB_NAME = "confide"
APP_ROLE = "confide_app"
APP_PASSWORD = "confide"
OWNER_ROLE = "confide_owner"
AUDITOR_ROLE = "confide_auditor"


def db_dsn() -> str:
    """DSN of the services' role (privileges to insert and select only, on the event store)."""
    return os.environ.get(
        DB_DSN_KEY,
        f"postgresql://{APP_ROLE}:{APP_PASSWORD}@127.0.0.1:5432/{DEFAULT_DB_NAME}",
    )


def admin_dsn() -> str:
    """DSN of a PostgreSQL superuser; used by set-up and by tamper tests only.

    ``CONFIDE_ADMIN_DSN``, else the DSN set-up saved in ``<data_home>/admin.dsn``
    (a fresh Debian cluster admits ``postgres`` only over its socket, so set-up
    creates ``confide_admin``), else ``postgres`` over TCP.
    """
    if os.environ.get(ADMIN_DSN_KEY):
        return os.environ[ADMIN_DSN_KEY]
    saved = data_home() / "admin.dsn"
    if saved.exists():
        return saved.read_text().strip()
    return "postgresql://postgres@127.0.0.1:5432/postgres"


def auditor_secret_path() -> Path:
    """``<key_dir>/db/confide_auditor.secret``: the auditor role's password (0600, written once by set-up)."""
    return key_dir() / "db" / f"{AUDITOR_ROLE}.secret"


def auditor_dsn() -> str:
    """DSN of the auditor's read-only role (SELECT on the log, chain, checkpoints and audit projections).

    ``CONFIDE_AUDITOR_DSN`` if set; else ``db_dsn()``'s host, port and database with user
    ``confide_auditor`` and the password from :func:`auditor_secret_path`. Raises RuntimeError when
    that file is missing (run ``confide db install``).
    """
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    if os.environ.get(AUDITOR_DSN_KEY):
        return os.environ[AUDITOR_DSN_KEY]
    path = auditor_secret_path()
    try:
        secret = path.read_text().strip()
    except FileNotFoundError:
        raise RuntimeError(f"no password for {AUDITOR_ROLE} at {path}: run `confide db install`") from None
    params = conninfo_to_dict(db_dsn())
    params.update(user=AUDITOR_ROLE, password=secret)
    return make_conninfo("", **params)


def db_schema() -> str:
    """Schema that holds the event store tables (default ``confide``)."""
    return os.environ.get(DB_SCHEMA_KEY, "confide")


def amqp_uri_key(user: str) -> str:
    """``CONFIDE_AMQP_URI_<USER>``: the environment variable holding one broker user's URI."""
    return f"{AMQP_URI_KEY}_{user.upper()}"


def broker_secret_path(user: str) -> Path:
    """``<key_dir>/broker/<user>.secret``: the broker user's password (0600, written once by set-up)."""
    return key_dir() / "broker" / f"{user}.secret"


def amqp_uri(user: str = "cli") -> str:
    """The AMQP URI with which broker user ``user`` connects (never guest).

    ``CONFIDE_AMQP_URI_<USER>`` if set; else ``CONFIDE_AMQP_URI`` as it is if it
    carries credentials; else that URI (default ``amqp://127.0.0.1:5672/confide``)
    with ``user`` and its password from ``<key_dir>/broker/<user>.secret``.
    Raises RuntimeError when that file is missing (run ``confide broker declare``).
    """
    from urllib.parse import quote, urlsplit, urlunsplit

    if user not in BROKER_USERS:
        raise ValueError(f"unknown broker user {user!r} (one of {', '.join(BROKER_USERS)})")
    if os.environ.get(amqp_uri_key(user)):
        return os.environ[amqp_uri_key(user)]
    base = os.environ.get(AMQP_URI_KEY) or DEFAULT_AMQP_URI
    parts = urlsplit(base)
    if parts.username:
        return base
    path = broker_secret_path(user)
    try:
        secret = path.read_text().strip()
    except FileNotFoundError:
        raise RuntimeError(f"no broker password for {user!r} at {path}: run `confide broker declare`") from None
    netloc = f"{quote(user, safe='')}:{quote(secret, safe='')}@{parts.netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def amqp_ssl() -> dict | None:
    """nameko's ``AMQP_SSL`` / kombu's ``ssl``: verify the broker against ``CONFIDE_AMQP_CA``, or None.

    With an ``amqps`` URI and no CA set, the system's trust store verifies it.
    """
    import ssl

    ca = os.environ.get(AMQP_CA_KEY)
    if ca:
        return {"ca_certs": ca, "cert_reqs": ssl.CERT_REQUIRED}
    if (os.environ.get(AMQP_URI_KEY) or DEFAULT_AMQP_URI).startswith("amqps://"):
        return {"cert_reqs": ssl.CERT_REQUIRED}
    return None


def rabbit_admin_uri() -> str:
    """Management API base URL with an administrator's credentials (set-up only)."""
    return os.environ.get(RABBIT_ADMIN_URI_KEY, "http://guest:guest@127.0.0.1:15672")


def data_home() -> Path:
    """``$XDG_DATA_HOME/confide`` (default ``~/.local/share/confide``): the installation's own files."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "confide"


def key_dir() -> Path:
    """Directory of keys the database never holds; created on demand by set-up."""
    return Path(os.environ.get(KEY_DIR_KEY) or data_home() / "keys")


def checkpoint_dir() -> Path:
    """Directory of Ed25519-signed chain-head checkpoints (outside the database)."""
    return Path(os.environ.get(CHECKPOINT_DIR_KEY) or data_home() / "checkpoints")


def data_dir() -> Path:
    """The shipped public input (Synthea, CDex, BALP), read in place."""
    return Path(os.environ.get(DATA_DIR_KEY, REPO_ROOT.parent / "shared" / "data"))


def cases_dir() -> Path:
    """The published disclosure decision cases, read in place."""
    return Path(os.environ.get(CASES_DIR_KEY, REPO_ROOT.parent / "shared" / "cases"))


def gateway_url() -> str:
    """Base URL of the HTTP gateway (default ``http://127.0.0.1:8000``)."""
    return os.environ.get(GATEWAY_URL_KEY, "http://127.0.0.1:8000")


def with_dbname(dsn: str, dbname: str) -> str:
    """Return ``dsn`` pointing at database ``dbname`` (URI or key=value DSN)."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(dsn)
    params["dbname"] = dbname
    return make_conninfo("", **params)
