"""Configuration from the environment, with localhost defaults.

Every setting is read from one environment variable whose name is a module
constant, so tests and services patch the same key. Defaults point at the
services this repository's set-up starts on 127.0.0.1, so the same code runs
on a developer's machine, in CI and inside compose (where the variables are set).

Settings (env var → meaning, default):

- ``CONFIDE_DB_DSN``: the services' role (may insert and select on the event store),
  ``confide_app`` on ``127.0.0.1:5432/confide`` with the password set-up generated into
  ``<key_dir>/db/confide_app.secret`` (there is no default password). A DSN set here (or in
  ``CONFIDE_AUDITOR_DSN``, ``CONFIDE_PROJECTOR_DSN``) that names its role without a password gets
  the generated one: no password need be written in the environment.
- ``CONFIDE_ADMIN_DSN``: a superuser, used only by set-up and tamper tests,
  else ``<data_home>/admin.dsn`` written by set-up, else
  ``postgresql://postgres@127.0.0.1:5432/postgres``.
- ``CONFIDE_DB_SCHEMA``: the schema holding the event store, ``confide``.
- ``CONFIDE_AUDITOR_DSN``: the auditor's read-only role (``confide audit verify``, ``prove``),
  else ``CONFIDE_DB_DSN``'s server and database as ``confide_auditor`` with the password
  set-up generated into ``<key_dir>/db/confide_auditor.secret``.
- ``CONFIDE_PROJECTOR_DSN``: the audit service's own role ``confide_projector``, the one login that
  writes the keyed chain, the checkpoints and the audit projections (``confide run`` gives it to the
  audit service alone; ``confide audit seal`` uses it), else ``CONFIDE_DB_DSN``'s server and
  database as ``confide_projector`` with the password set-up generated into
  ``<key_dir>/db/confide_projector.secret``.
- ``CONFIDE_AMQP_URI``: where RabbitMQ is, ``amqp://127.0.0.1:5672/confide`` (``amqps://``
  for TLS). Without credentials in it (the normal case), ``amqp_uri(user)`` adds the
  broker user's own password from ``<key_dir>/broker/<user>.secret`` (set-up writes it);
  with credentials (a test's vhost) it is used as it is, for every user.
- ``CONFIDE_AMQP_URI_<USER>`` (``NOTES``, ``DISCLOSURES``, ``AUDIT``, ``GATEWAY``,
  ``DIRECTORY``, ``WEB``, ``CLI``): the whole URI of one broker user, if set
  (``confide run`` sets them for the services' config.yml).
  Either may be a failover list, ``amqp://node1:5672/confide;amqp://node2:5672/confide;...``
  (a RabbitMQ cluster): kombu and nameko connect to the first node that answers and move to the
  next when it dies (round-robin); credentials are added to every node's URI.
- ``CONFIDE_QUEUE_TYPE``: ``classic`` (default, one node) or ``quorum`` (a cluster): the type of
  the durable queues Confide and nameko declare (``rpc-<service>``; ``audit.events`` and its
  dead-letter queue are quorum queues either way). Set-up and the services must agree: RabbitMQ
  refuses (PRECONDITION_FAILED) a declaration whose arguments differ from the existing queue's.
- ``CONFIDE_QUORUM_GROUP_SIZE``: replicas of each quorum queue on a cluster, ``3``; only with
  ``CONFIDE_QUEUE_TYPE=quorum``.
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
- ``CONFIDE_PRACTICE_JURISDICTION``: the practice's US state (two-letter code, ``CA``, ``NY``) whose
  stricter mental-health confidentiality law the decision engine applies on top of HIPAA
  (``confide.hipaa.rules.states``); unset: federal rules only. A code without an overlay makes the
  engine release nothing it would not release whatever the state (fail closed).
- ``CONFIDE_PRACTICE_SETTING``: the kind of practice, for rules that reach only some settings
  (``outpatient_practice``, ``lps_facility`` -- California LPS services, ``omh_facility`` -- New
  York OMH-licensed); unset: the engine applies the state's stricter settings' rules too.
- ``CONFIDE_PRACTICE_PART2_PROGRAM``: ``1``/``true`` when the practice is a 42 CFR Part 2 program,
  so every record it decides on carries the Part 2 segregation flag (``record_is_part2``); unset:
  only records a request flags.
- ``CONFIDE_REPLICAS``: how many instances of each replicated service ``confide run`` starts
  (notes, disclosures, audit, gateway, web; :mod:`confide.replicas`), ``1``. With more than one,
  HAProxy fronts the gateway's and the web's replicas on their usual addresses.
- ``CONFIDE_INSTANCE``: this process's name among the replicas (``notes-1``), set by ``confide run``
  for each child; in its health answer and the logs of leases it takes. Unset: the service's name.
- ``CONFIDE_GATEWAY_TLS_CERT`` / ``_KEY``, ``CONFIDE_WEB_TLS_CERT`` / ``_KEY``: HTTPS for the
  gateway and the web app (:mod:`confide.https`), both of a pair or neither.
"""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

DB_DSN_KEY = "CONFIDE_DB_DSN"
ADMIN_DSN_KEY = "CONFIDE_ADMIN_DSN"
AUDITOR_DSN_KEY = "CONFIDE_AUDITOR_DSN"
PROJECTOR_DSN_KEY = "CONFIDE_PROJECTOR_DSN"
DB_SCHEMA_KEY = "CONFIDE_DB_SCHEMA"
AMQP_URI_KEY = "CONFIDE_AMQP_URI"
KEY_DIR_KEY = "CONFIDE_KEY_DIR"
CHECKPOINT_DIR_KEY = "CONFIDE_CHECKPOINT_DIR"
DATA_DIR_KEY = "CONFIDE_DATA_DIR"
CASES_DIR_KEY = "CONFIDE_CASES_DIR"
GATEWAY_URL_KEY = "CONFIDE_GATEWAY_URL"
AMQP_CA_KEY = "CONFIDE_AMQP_CA"
RABBIT_ADMIN_URI_KEY = "CONFIDE_RABBIT_ADMIN_URI"
QUEUE_TYPE_KEY = "CONFIDE_QUEUE_TYPE"
QUORUM_GROUP_SIZE_KEY = "CONFIDE_QUORUM_GROUP_SIZE"
QUEUE_TYPES = ("classic", "quorum")
DEFAULT_QUORUM_GROUP_SIZE = 3
PRACTICE_JURISDICTION_KEY = "CONFIDE_PRACTICE_JURISDICTION"
PRACTICE_SETTING_KEY = "CONFIDE_PRACTICE_SETTING"
PRACTICE_PART2_KEY = "CONFIDE_PRACTICE_PART2_PROGRAM"
REPLICAS_KEY = "CONFIDE_REPLICAS"
INSTANCE_KEY = "CONFIDE_INSTANCE"
AMQP_VHOST = "confide"
DEFAULT_AMQP_URI = f"amqp://127.0.0.1:5672/{AMQP_VHOST}"
# One RabbitMQ user per service and front door (permissions: confide.broker.PERMISSIONS).
BROKER_USERS = ("notes", "disclosures", "audit", "gateway", "directory", "web", "cli")

DEFAULT_DB_NAME = "confide"
APP_ROLE = "confide_app"
OWNER_ROLE = "confide_owner"
AUDITOR_ROLE = "confide_auditor"
PROJECTOR_ROLE = "confide_projector"


def app_secret_path() -> Path:
    """``<key_dir>/db/confide_app.secret``: the services' role's password (0600, generated by set-up)."""
    return key_dir() / "db" / f"{APP_ROLE}.secret"


def db_dsn() -> str:
    """DSN of the services' role (privileges to insert and select only, on the event store):
    ``CONFIDE_DB_DSN`` if set, else ``confide_app`` on 127.0.0.1:5432/confide with the password set-up
    generated (:func:`app_secret_path`; there is no default password). A ``CONFIDE_DB_DSN`` naming
    ``confide_app`` without a password (another host, say) gets that generated password too, when the
    file is there (:func:`_with_generated_password`). Raises RuntimeError when the file is missing and
    no DSN is set (run ``confide db install``)."""
    if os.environ.get(DB_DSN_KEY):
        return _with_generated_password(os.environ[DB_DSN_KEY])
    from urllib.parse import quote

    path = app_secret_path()
    try:
        secret = path.read_text().strip()
    except FileNotFoundError:
        raise RuntimeError(f"no password for {APP_ROLE} at {path}: run `confide db install`") from None
    return f"postgresql://{APP_ROLE}:{quote(secret, safe='')}@127.0.0.1:5432/{DEFAULT_DB_NAME}"


def _with_generated_password(dsn: str) -> str:
    """``dsn``, plus the password set-up generated for its role when it names one of Confide's login
    roles (``confide_app``, ``confide_auditor``, ``confide_projector``) without a password and that
    file exists; otherwise as it is (a trust or peer login, a test cluster)."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(dsn)
    secrets = {APP_ROLE: app_secret_path, AUDITOR_ROLE: auditor_secret_path, PROJECTOR_ROLE: projector_secret_path}
    user = params.get("user")
    if params.get("password") or not isinstance(user, str) or user not in secrets:
        return dsn
    try:
        params["password"] = secrets[user]().read_text().strip()
    except FileNotFoundError:
        return dsn
    return make_conninfo("", **params)


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
    return _role_dsn(AUDITOR_DSN_KEY, AUDITOR_ROLE, auditor_secret_path())


def projector_secret_path() -> Path:
    """``<key_dir>/db/confide_projector.secret``: the audit service's own role's password (0600, set-up)."""
    return key_dir() / "db" / f"{PROJECTOR_ROLE}.secret"


def projector_dsn() -> str:
    """DSN of the audit service's own role, the only login that writes the keyed chain, the checkpoints
    and the audit projections (INSERT; checkpoints move forward only; nothing it can UPDATE back,
    DELETE or TRUNCATE).

    ``CONFIDE_PROJECTOR_DSN`` if set; else ``db_dsn()``'s host, port and database with user
    ``confide_projector`` and the password from :func:`projector_secret_path`. Raises RuntimeError
    when that file is missing (run ``confide db install``).
    """
    return _role_dsn(PROJECTOR_DSN_KEY, PROJECTOR_ROLE, projector_secret_path())


def _role_dsn(env_key: str, role: str, path: Path) -> str:
    """``env_key``'s value if set, else ``db_dsn()``'s server and database as ``role`` with the
    password in ``path``. Raises RuntimeError when that file is missing."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    if os.environ.get(env_key):
        return _with_generated_password(os.environ[env_key])
    try:
        secret = path.read_text().strip()
    except FileNotFoundError:
        raise RuntimeError(f"no password for {role} at {path}: run `confide db install`") from None
    params = conninfo_to_dict(db_dsn())
    params.update(user=role, password=secret)
    return make_conninfo("", **params)


def maintenance_dsn() -> str:
    """The administrator's DSN (:func:`admin_dsn`) on the services' database (``db_dsn()``'s, else
    ``confide``): for the deliberate acts no service login may do, such as rebuilding the live
    projections (``confide audit replay --apply``)."""
    from psycopg.conninfo import conninfo_to_dict

    configured = os.environ.get(DB_DSN_KEY)
    dbname = (conninfo_to_dict(configured).get("dbname") if configured else None) or DEFAULT_DB_NAME
    return with_dbname(admin_dsn(), str(dbname))


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
    with ``user`` and its password from ``<key_dir>/broker/<user>.secret``. A failover list
    (``amqp://a/confide;amqp://b/confide``) gets the credentials on every node's URI.
    Raises RuntimeError when that file is missing (run ``confide broker declare``).
    """
    if user not in BROKER_USERS:
        raise ValueError(f"unknown broker user {user!r} (one of {', '.join(BROKER_USERS)})")
    if os.environ.get(amqp_uri_key(user)):
        return os.environ[amqp_uri_key(user)]
    base = os.environ.get(AMQP_URI_KEY) or DEFAULT_AMQP_URI
    nodes = amqp_nodes(base)
    if all(_has_credentials(node) for node in nodes):
        return base
    path = broker_secret_path(user)
    try:
        secret = path.read_text().strip()
    except FileNotFoundError:
        raise RuntimeError(f"no broker password for {user!r} at {path}: run `confide broker declare`") from None
    return ";".join(with_credentials(node, user, secret) for node in nodes)


def amqp_nodes(uri: str) -> list[str]:
    """The nodes' URIs of a failover list ``amqp://a/vh;amqp://b/vh`` (kombu's form), in order; a
    single URI gives a list of one. Raises ValueError for an empty list."""
    nodes = [part.strip() for part in uri.split(";") if part.strip()]
    if not nodes:
        raise ValueError("an empty AMQP URI")
    return nodes


def _has_credentials(uri: str) -> bool:
    from urllib.parse import urlsplit

    return bool(urlsplit(uri).username)


def with_credentials(uri: str, user: str, secret: str) -> str:
    """One node's ``uri`` with ``user`` and ``secret`` in it (replacing any there)."""
    from urllib.parse import quote, urlsplit, urlunsplit

    parts = urlsplit(uri)
    host = parts.netloc.rsplit("@", 1)[-1]
    netloc = f"{quote(user, safe='')}:{quote(secret, safe='')}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def queue_type() -> str:
    """``CONFIDE_QUEUE_TYPE``: ``classic`` (default) or ``quorum``. Raises ValueError naming the
    variable for any other value (fail closed: a typo must not silently leave a cluster's queues
    on one node)."""
    value = os.environ.get(QUEUE_TYPE_KEY, "").strip().lower() or "classic"
    if value not in QUEUE_TYPES:
        raise ValueError(f"{QUEUE_TYPE_KEY}: expected one of {', '.join(QUEUE_TYPES)}, got {value!r}")
    return value


def quorum_group_size() -> int:
    """``CONFIDE_QUORUM_GROUP_SIZE``: replicas per quorum queue (default 3). Raises ValueError
    naming the variable unless it is a whole number from 1 up."""
    raw = os.environ.get(QUORUM_GROUP_SIZE_KEY, "").strip() or str(DEFAULT_QUORUM_GROUP_SIZE)
    try:
        size = int(raw)
    except ValueError:
        size = 0
    if size < 1:
        raise ValueError(f"{QUORUM_GROUP_SIZE_KEY}: expected a whole number from 1, got {raw!r}")
    return size


def amqp_ssl() -> dict | None:
    """nameko's ``AMQP_SSL`` / kombu's ``ssl``: verify the broker against ``CONFIDE_AMQP_CA``, or None.

    With an ``amqps`` URI and no CA set, the system's trust store verifies it.
    """
    import ssl

    ca = os.environ.get(AMQP_CA_KEY)
    if ca:
        return {"ca_certs": ca, "cert_reqs": ssl.CERT_REQUIRED}
    if any(node.startswith("amqps://") for node in amqp_nodes(os.environ.get(AMQP_URI_KEY) or DEFAULT_AMQP_URI)):
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


def replicas() -> int:
    """``CONFIDE_REPLICAS`` (default 1): instances of each replicated service. Raises ValueError
    naming the variable for anything but a whole number from 1 to 16."""
    raw = os.environ.get(REPLICAS_KEY, "").strip() or "1"
    if not raw.isdigit() or not 1 <= int(raw) <= 16:
        raise ValueError(f"{REPLICAS_KEY}: expected a whole number from 1 to 16, got {raw!r}")
    return int(raw)


def instance(service: str = "") -> str:
    """This process's name among the replicas: ``CONFIDE_INSTANCE``, else ``service``."""
    return os.environ.get(INSTANCE_KEY, "").strip() or service


def gateway_url() -> str:
    """Base URL of the HTTP gateway (default ``http://127.0.0.1:8000``)."""
    return os.environ.get(GATEWAY_URL_KEY, "http://127.0.0.1:8000")


def practice() -> dict:
    """The practice's own facts for the decision engine's case file (``confide.contracts.casefile``):
    ``jurisdiction`` and ``practice_setting`` (each only when configured) and ``part2_program``
    (bool). Raises ValueError naming the variable when ``CONFIDE_PRACTICE_PART2_PROGRAM`` is not a
    boolean word."""
    facts: dict = {}
    jurisdiction = os.environ.get(PRACTICE_JURISDICTION_KEY, "").strip()
    if jurisdiction:
        facts["jurisdiction"] = jurisdiction.upper()
    setting = os.environ.get(PRACTICE_SETTING_KEY, "").strip()
    if setting:
        facts["practice_setting"] = setting
    part2 = os.environ.get(PRACTICE_PART2_KEY, "").strip().lower()
    if part2 not in ("", "0", "1", "true", "false", "yes", "no"):
        raise ValueError(f"{PRACTICE_PART2_KEY}: expected 1/0, true/false or yes/no, got {part2!r}")
    facts["part2_program"] = part2 in ("1", "true", "yes")
    return facts


def with_dbname(dsn: str, dbname: str) -> str:
    """Return ``dsn`` pointing at database ``dbname`` (URI or key=value DSN)."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(dsn)
    params["dbname"] = dbname
    return make_conninfo("", **params)
