"""The web front door in a real browser: fixtures.

Each server is ``python -m web serve`` (waitress) on a free loopback port, against the database
``confide_web_test`` (created and migrated here through ``web.dbsetup`` with the superuser DSN),
a temporary key directory, and a file directory (``CONFIDE_WEB_DIRECTORY=file:<dir>``: members in
``members.json``, sign-in events appended to ``sign_in_events.jsonl``) because the directory
service is not in this branch. Secure cookies are off (plain HTTP on loopback, tests only).

The SSO tests run a real OpenID Connect provider: panva's ``oidc-provider`` (npm, pinned in
``oidc/package-lock.json``), installed here with ``npm ci`` when absent. Chromium is Debian's
``/usr/bin/chromium`` driven by Playwright. Nothing is skipped: a missing node, npm or chromium
fails the test with what to install.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from confide import config
from confide.testing.polling import wait_for

HERE = Path(__file__).resolve().parent
OIDC_DIR = HERE / "oidc"
SHOTS = Path("/tmp/web-shots")
REPO = Path(__file__).resolve().parents[3]
PYTHONPATH = os.pathsep.join(str(REPO / p) for p in (
    "shared", "app", "services/notes", "services/disclosures", "services/audit", "services/gateway", "services/web"))
GROUP_ROLE_MAP = {"confide-clinicians": ["clinician"], "confide-admins": ["practice_admin"]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def web_db_dsn() -> str:
    from web import dbsetup

    password = dbsetup._secret(config.key_dir() / "web-db.secret", lambda: secrets.token_urlsafe(24))
    dbsetup.ensure_database(config.admin_dsn(), "confide_web_test", password)
    dsn = dbsetup.dsn("confide_web_test", password)
    env = {**os.environ, "PYTHONPATH": PYTHONPATH, "CONFIDE_WEB_SECRET_KEY": "migrate-only", "CONFIDE_WEB_DB_DSN": dsn}
    subprocess.run([sys.executable, "-m", "web", "migrate", "--noinput", "-v", "0"], env=env, check=True)
    return dsn


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
    proc = subprocess.Popen([sys.executable, "-m", "web", "serve"], env=env, cwd=REPO,
                            stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: proc.poll() is not None or _port_open(port), timeout=60, interval=0.2)
    except Exception:
        proc.kill()
        raise
    if proc.poll() is not None:
        pytest.fail(f"web server exited {proc.returncode}:\n{log.read_text()[-3000:]}")
    return WebServer(base, env, proc, log)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


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
    proc = subprocess.Popen([node, str(OIDC_DIR / "idp.mjs"), str(cfg_path)], cwd=OIDC_DIR,
                            stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
    wait_for(lambda: proc.poll() is not None or "listening" in log.read_text(), timeout=30, interval=0.2)
    if proc.poll() is not None:
        pytest.fail(f"oidc-provider exited:\n{log.read_text()}")
    yield {"issuer": f"http://127.0.0.1:{port}", "config": cfg, "web_port": web_port, "proc": proc}
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
    yield server
    stop(server.proc)


@pytest.fixture(scope="session")
def browser():
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.fail("Chromium is needed: run `make test` (deploy/setup.sh --test) or apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def member_id():
    return lambda prefix="M": f"{prefix}-{uuid.uuid4().hex[:8]}"


def totp_code(secret: str, *, step_offset: int = 0) -> str:
    import pyotp

    return pyotp.TOTP(secret).at(time.time() + 30 * step_offset)
