"""The practice's web app in a real browser, against the whole stack.

``practice`` (one per test session) is what ``make run`` + ``make demo`` give a practice, isolated:
``confide run`` (directory, notes, disclosures, audit, gateway and the web front door, each its own
process) over a scratch event-store schema and a fresh RabbitMQ vhost, with its own key directory,
the web on a free loopback port (plain HTTP, secure cookies off: tests only) and a web database of
its own (``confide_web_t_<random>``, migrated here, dropped at the end: the demo's people get fresh
accounts each run, as the fresh directory has them); seeded by ``confide demo --limit-patients 2`` (Synthea patients, their notes
written and signed over RPC by their clinicians, the CDex requests of the insurers).

``practice.people`` (:class:`confide.testing.identities.Identities`) puts members and patients on
file in the stack's directory; a browser journey then enrols them at the front door with a one-time
link (``confide web enrolment-link``) and sets up TOTP, as a new member does.

``journey("clinician.write_and_sign", **params)`` runs ``journeys/clinician.py::write_and_sign`` in
a plain Python process (``driver.py``: Playwright's sync API does not run under this suite's
eventlet), Chromium being Debian's ``/usr/bin/chromium``; every page a journey opens can be checked
with axe-core (``session.axe(page)``, pinned in ``axe/package.json``) and is screenshotted to
``/tmp/web-shots``. A failure or timeout fails the test with the driver's traceback and the stack's
log tail. Nothing is skipped: a missing chromium, node or npm fails with what to install.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

from confide import config
from confide.testing.browser import JourneyFailed, free_port, run_journey, stop, tail
from confide.testing.polling import wait_for

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
SHOTS = Path("/tmp/web-shots")
AXE_DIR = HERE / "axe"
DRIVER = HERE / "driver.py"
PYTHONPATH = os.pathsep.join(str(REPO / p) for p in (
    "shared", "app", "services/notes", "services/disclosures", "services/audit", "services/gateway",
    "services/directory", "services/web"))
JOURNEY_TIMEOUT = 300
BROKER_USERS = ("notes", "disclosures", "audit", "gateway", "directory", "web", "cli")
DEMO_PATIENTS = 2


def _rabbit_admin(method: str, path: str, body: dict | None = None) -> None:
    admin = urllib.parse.urlparse(config.rabbit_admin_uri())
    url = f"{admin.scheme}://{admin.hostname}:{admin.port}{path}"
    req = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None, method=method)
    req.add_header("Content-Type", "application/json")
    import base64

    token = base64.b64encode(f"{admin.username}:{admin.password}".encode()).decode()
    req.add_header("Authorization", f"Basic {token}")
    try:
        urllib.request.urlopen(req, timeout=10).close()
    except urllib.error.URLError as exc:
        pytest.fail(f"RabbitMQ management API at {url} refused {method}: {exc}. Run `make test`.")


class Practice:
    """A running stack: its URLs, environment, people and logs."""

    def __init__(self, web_url: str, gateway_url: str, env: dict[str, str], log: Path, store, people,
                 demo_out: str) -> None:
        self.web_url, self.gateway_url, self.env, self.log = web_url, gateway_url, env, log
        self.store, self.people, self.demo_out = store, people, demo_out

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """``confide ARGS`` against this practice."""
        return subprocess.run([sys.executable, "-c", "from confide_app.cli import main; main()", *args],
                              env=self.env, cwd=REPO, capture_output=True, text=True, timeout=timeout)

    def rpc(self, person=None, timeout: float = 30):
        """A ClusterRpcProxy (client ``cli``) carrying ``person``'s assertion, for arranging a test."""
        from confide.identity.provider import identity_context, mint_service_assertion
        from confide.rpc import ClusterRpcProxy

        key_dir = self.env["CONFIDE_KEY_DIR"]
        ctx = identity_context(person.assertion() if person else None, mint_service_assertion(key_dir, "cli"))
        return ClusterRpcProxy({"AMQP_URI": self.env["CONFIDE_AMQP_URI_CLI"], "serializer": "json"},
                               client="cli", context_data=ctx, timeout=timeout)

    def tail(self) -> str:
        return tail(self.log)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail("Chromium is needed: run `make test` (deploy/setup.sh --test) or apt-get install -y chromium")
    SHOTS.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def axe_script() -> str:
    """Path of axe-core's axe.min.js (``npm ci`` in ``axe/`` when absent)."""
    script = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        npm = shutil.which("npm")
        if not npm:
            pytest.fail("npm is needed for the accessibility checks (Node.js >= 20): apt-get install -y nodejs npm")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=AXE_DIR, check=True, timeout=300)
    return str(script)


def _fresh_web_database(admin_dsn: str, web_db_dsn: str) -> tuple[str, str]:
    """A new, migrated web database owned by the web's role (password of ``web_db_dsn``) -> (name, DSN)."""
    from psycopg.conninfo import conninfo_to_dict

    from web import dbsetup

    name = "confide_web_t_" + uuid.uuid4().hex[:10]
    password = conninfo_to_dict(web_db_dsn)["password"]
    dbsetup.ensure_database(admin_dsn, name, password)
    dsn = dbsetup.dsn(name, password)
    env = {**os.environ, "PYTHONPATH": PYTHONPATH, "CONFIDE_WEB_SECRET_KEY": "migrate-only", "CONFIDE_WEB_DB_DSN": dsn}
    subprocess.run([sys.executable, "-m", "web", "migrate", "--noinput", "-v", "0"], env=env, check=True)
    return name, dsn


def _drop_database(admin_dsn: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def practice(tmp_path_factory, admin_dsn, test_db_dsn, projector_db_dsn, web_db_dsn, chromium_path):
    from confide.eventstore import install
    from confide.eventstore.store import PostgresEventStore
    from confide.keys import ensure_keys
    from confide.testing.identities import Identities

    folder = tmp_path_factory.mktemp("practice")
    schema = "t_web_" + uuid.uuid4().hex[:10]
    vhost = "confide-web-" + uuid.uuid4().hex[:10]
    install.install_schema(admin_dsn, "confide_test", schema)
    web_db, web_dsn = _fresh_web_database(admin_dsn, web_db_dsn)
    _rabbit_admin("PUT", f"/api/vhosts/{vhost}")
    admin = urllib.parse.urlparse(config.rabbit_admin_uri())
    _rabbit_admin("PUT", f"/api/permissions/{vhost}/{admin.username}",
                  {"configure": ".*", "write": ".*", "read": ".*"})
    amqp = f"amqp://{admin.username}:{admin.password}@127.0.0.1:5672/{vhost}"
    from confide.broker import declare_topology

    declare_topology(amqp)
    key_dir = folder / "keys"
    ensure_keys(key_dir)
    store = PostgresEventStore(test_db_dsn, schema=schema, pool_size=1)
    people = Identities(store, key_dir)
    web_port, gateway_port = free_port(), free_port()
    env = {
        **os.environ,
        "PYTHONPATH": PYTHONPATH, "PYTHONWARNINGS": "ignore", "PYTHONUNBUFFERED": "1",
        "CONFIDE_DB_DSN": test_db_dsn, "CONFIDE_PROJECTOR_DSN": projector_db_dsn, "CONFIDE_DB_SCHEMA": schema,
        "CONFIDE_KEY_DIR": str(key_dir), "CONFIDE_CHECKPOINT_DIR": str(folder / "checkpoints"),
        "CONFIDE_AMQP_URI": amqp, **{config.amqp_uri_key(u): amqp for u in BROKER_USERS},
        "CONFIDE_GATEWAY_ADDRESS": f"127.0.0.1:{gateway_port}",
        "CONFIDE_GATEWAY_URL": f"http://127.0.0.1:{gateway_port}",
        "CONFIDE_WEB_ADDRESS": f"127.0.0.1:{web_port}",
        "CONFIDE_WEB_DB_DSN": web_dsn,
        "CONFIDE_WEB_SECRET_KEY": secrets.token_urlsafe(40),
        "CONFIDE_WEB_SECURE_COOKIES": "0",  # plain HTTP on loopback: tests only
    }
    for key in ("CONFIDE_WEB_DIRECTORY", "CONFIDE_WEB_OIDC_ISSUER"):
        env.pop(key, None)
    log = folder / "stack.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-c", "from confide_app.cli import main; main()", "run"],
                                env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def up() -> bool:
        if proc.poll() is not None:
            return True
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{gateway_port}/health", timeout=2) as r:
                gateway_ok = r.status == 200
            urllib.request.urlopen(f"http://127.0.0.1:{web_port}/accounts/login/", timeout=2).close()
            return gateway_ok
        except (OSError, urllib.error.URLError):
            return False

    practice = Practice(f"http://127.0.0.1:{web_port}", f"http://127.0.0.1:{gateway_port}", env, log, store,
                        people, "")
    try:
        try:
            wait_for(up, timeout=90, interval=0.3)
        except AssertionError:
            pytest.fail(f"the stack did not come up within 90 s; its log:\n{tail(log)}")
        if proc.poll() is not None:
            pytest.fail(f"confide run exited {proc.returncode}:\n{tail(log)}")
        demo = practice.cli("demo", "--limit-patients", str(DEMO_PATIENTS), timeout=600)
        if demo.returncode != 0:
            pytest.fail(f"confide demo failed ({demo.returncode}):\n{demo.stdout[-4000:]}\n{demo.stderr[-4000:]}"
                        f"\n--- stack:\n{tail(log)}")
        practice.demo_out = demo.stdout
        yield practice
    finally:
        stop(proc)
        store.close()
        _rabbit_admin("DELETE", f"/api/vhosts/{vhost}")
        install.drop_schema(admin_dsn, "confide_test", schema)
        _drop_database(admin_dsn, web_db)


@pytest.fixture
def journey(practice, chromium_path, axe_script, tmp_path):
    """``journey("module.function", **params) -> data``: one browser journey (``journeys/<module>.py``)
    in a plain Python process, bounded by ``JOURNEY_TIMEOUT``."""

    def run(name: str, timeout: float = JOURNEY_TIMEOUT, **params) -> dict:
        spec = {"journey": name, "base_url": practice.web_url, "web_env": practice.env, "chromium": chromium_path,
                "axe": axe_script, "shots": str(SHOTS), "params": params}
        env = {k: v for k, v in practice.env.items() if not k.startswith("CONFIDE_WEB_")}
        try:
            return run_journey(DRIVER, spec, tmp_path, env=env, cwd=REPO, timeout=timeout,
                               server_log=practice.log, server_name="stack")
        except JourneyFailed as exc:
            pytest.fail(str(exc))

    return run


@pytest.fixture
def new_id():
    return lambda prefix="M": f"{prefix}-{uuid.uuid4().hex[:8]}"
