"""The web front door in a real browser: fixtures.

Each server is ``python -m web serve`` (cheroot) on a free loopback port, against the database
``confide_web_test`` (created and migrated here through ``web.dbsetup`` with the superuser DSN, and by
``deploy/setup.sh --test``),
a temporary key directory, and a file directory (``CONFIDE_WEB_DIRECTORY=file:<dir>``: members in
``members.json``, sign-in events appended to ``sign_in_events.jsonl``) because the directory
service is not in this branch. Secure cookies are off (plain HTTP on loopback, tests only).

The SSO tests run a real OpenID Connect provider: panva's ``oidc-provider`` (npm, pinned in
``oidc/package-lock.json``), installed by ``deploy/setup.sh --test`` (and here with ``npm ci`` when
absent). Chromium is Debian's ``/usr/bin/chromium`` driven by Playwright, in a separate plain Python
process (``browser_driver.py``): this suite's eventlet monkey-patching breaks Playwright's sync API.
Every wait is bounded and fails with the server's log tail; every process started here is killed
(its whole process group) in teardown. Nothing is skipped: a missing node, npm or chromium fails
the test with what to install.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from confide.testing.browser import JourneyFailed, free_port, run_journey, stop, tail
from confide.testing.polling import wait_for

HERE = Path(__file__).resolve().parent
OIDC_DIR = HERE / "oidc"
SHOTS = Path("/tmp/web-shots")
REPO = Path(__file__).resolve().parents[3]
PYTHONPATH = os.pathsep.join(str(REPO / p) for p in (
    "shared", "app", "services/notes", "services/disclosures", "services/audit", "services/gateway",
    "services/directory", "services/web"))
DRIVER = HERE / "browser_driver.py"
JOURNEY_TIMEOUT = 240
GROUP_ROLE_MAP = {"confide-clinicians": ["clinician"], "confide-admins": ["practice_admin"]}


def _port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


class Directory:
    """The file directory the servers read: members in, sign-in events out."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.members: dict[str, dict] = {}
        self.save()

    def add(self, member_id: str, roles: list[str], name: str = "Test Person", active: bool = True) -> str:
        self.members[member_id] = {"name": name, "roles": roles, "active": active}
        self.save()
        return member_id

    def save(self) -> None:
        tmp = self.folder / "members.json.tmp"
        tmp.write_text(json.dumps(self.members))
        tmp.replace(self.folder / "members.json")

    def events(self, member_id: str | None = None) -> list[dict]:
        path = self.folder / "sign_in_events.jsonl"
        if not path.exists():
            return []
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return [r for r in rows if member_id is None or r.get("member_id") == member_id]

    def kinds(self, member_id: str) -> list[str]:
        return [e["kind"] for e in self.events(member_id)]


@pytest.fixture(scope="session")
def directory(tmp_path_factory) -> Directory:
    return Directory(tmp_path_factory.mktemp("directory"))


class WebServer:
    def __init__(self, base_url: str, env: dict[str, str], proc: subprocess.Popen, log: Path) -> None:
        self.base_url, self.env, self.proc, self.log = base_url, env, proc, log

    def enrolment_link(self, member_id: str, *roles: str) -> str:
        """``confide web enrolment-link`` as an operator runs it; the link it prints once."""
        args = [sys.executable, "-c", "from confide_app.cli import main; main()", "web", "enrolment-link",
                "--member-id", member_id, *[a for r in roles for a in ("--role", r)]]
        out = subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        link = out.stdout.strip()
        assert link.startswith(f"{self.base_url}/enrol/"), link
        return link


def start_web(tmp_path: Path, web_db_dsn: str, directory: Directory, port: int | None = None,
              **overrides: str) -> WebServer:
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    key_dir = tmp_path / f"keys-{port}"
    env = {
        **os.environ,
        "PYTHONPATH": PYTHONPATH,
        "PYTHONWARNINGS": "ignore",
        "CONFIDE_KEY_DIR": str(key_dir),
        "CONFIDE_WEB_DB_DSN": web_db_dsn,
        "CONFIDE_WEB_SECRET_KEY": secrets.token_urlsafe(40),
        "CONFIDE_WEB_ADDRESS": f"127.0.0.1:{port}",
        "CONFIDE_WEB_SECURE_COOKIES": "0",  # plain HTTP on loopback: tests only
        "CONFIDE_WEB_DIRECTORY": f"file:{directory.folder}",
        **overrides,
    }
    log = tmp_path / f"web-{port}.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "web", "serve"], env=env, cwd=REPO,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: proc.poll() is not None or _port_open(port), timeout=60, interval=0.2)
    except AssertionError:
        stop(proc)
        pytest.fail(f"web server not listening on {port} within 60 s; its log:\n{tail(log)}")
    if proc.poll() is not None:
        pytest.fail(f"web server exited {proc.returncode}:\n{tail(log)}")
    return WebServer(base, env, proc, log)


@pytest.fixture(scope="session")
def idp(tmp_path_factory):
    """A real OpenID Connect provider on a free port; yields its settings and the web port it expects."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.fail("node and npm are needed for the SSO test (Node.js >= 20): apt-get install -y nodejs npm")
    if not (OIDC_DIR / "node_modules" / "oidc-provider").exists():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=OIDC_DIR, check=True, timeout=300)
    port, web_port = free_port(), free_port()
    cfg = {
        "port": port, "client_id": "confide-web", "client_secret": secrets.token_urlsafe(24),
        "redirect_uri": f"http://127.0.0.1:{web_port}/accounts/oidc/idp/login/callback/",
        "accounts": {},
    }
    folder = tmp_path_factory.mktemp("idp")
    cfg_path = folder / "idp.json"

    def write() -> None:
        cfg_path.write_text(json.dumps(cfg))

    write()
    log = folder / "idp.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([node, str(OIDC_DIR / "idp.mjs"), str(cfg_path)], cwd=OIDC_DIR,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: proc.poll() is not None or "listening" in log.read_text(), timeout=30, interval=0.2)
    except AssertionError:
        stop(proc)
        pytest.fail(f"oidc-provider not listening within 30 s; its log:\n{tail(log)}")
    if proc.poll() is not None:
        pytest.fail(f"oidc-provider exited {proc.returncode}:\n{tail(log)}")
    try:
        yield {"issuer": f"http://127.0.0.1:{port}", "config": cfg, "web_port": web_port, "proc": proc,
               "write": write, "log": log}
    finally:
        stop(proc)


@pytest.fixture(scope="session")
def web(tmp_path_factory, web_db_dsn, directory, idp) -> WebServer:
    """The front door with production timeouts, SSO configured against the test IdP."""
    tmp = tmp_path_factory.mktemp("web")
    cfg = idp["config"]
    # The IdP knows the redirect URI in advance, so this server takes the port reserved for it.
    port = idp["web_port"]
    server = start_web(tmp, web_db_dsn, directory, port, **{
        "CONFIDE_WEB_OIDC_ISSUER": idp["issuer"],
        "CONFIDE_WEB_OIDC_CLIENT_ID": cfg["client_id"],
        "CONFIDE_WEB_OIDC_CLIENT_SECRET": cfg["client_secret"],
        "CONFIDE_WEB_OIDC_ROLE_MAP": json.dumps(GROUP_ROLE_MAP),
    })
    try:
        yield server
    finally:
        stop(server.proc)


@pytest.fixture(scope="session")
def chromium() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail("Chromium is needed: run `make test` (deploy/setup.sh --test) or apt-get install -y chromium")
    SHOTS.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def journey(chromium, directory, tmp_path):
    """``journey(name, server, **params) -> data``: one browser journey of ``browser_driver.py`` in
    a plain Python process (no eventlet), bounded by ``JOURNEY_TIMEOUT``; a failure or a timeout
    fails the test with the driver's traceback and the server's log tail."""

    def run(name: str, server: WebServer, timeout: float = JOURNEY_TIMEOUT, **params) -> dict:
        spec = {"journey": name, "base_url": server.base_url, "web_env": server.env, "chromium": chromium,
                "directory": str(directory.folder), "shots": str(SHOTS), "params": params}
        env = {k: v for k, v in server.env.items() if not k.startswith("CONFIDE_WEB_")}
        try:
            return run_journey(DRIVER, spec, tmp_path, env=env, cwd=REPO, timeout=timeout, server_log=server.log)
        except JourneyFailed as exc:
            pytest.fail(str(exc))

    return run


@pytest.fixture
def member_id():
    return lambda prefix="M": f"{prefix}-{uuid.uuid4().hex[:8]}"

