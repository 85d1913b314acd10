"""Each service started alone as its systemd unit starts it (``confide serve <name>``), the two front
doors over HTTPS with the pilot's pair from ``confide tls init``: /health answers over TLS to a client
that verifies the certificate and the host name against the pilot CA, and plain HTTP gets no page on
the same ports. A front door given half a TLS pair refuses to start, naming the missing setting."""
import json
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from confide import config
from confide.keys import ensure_keys
from confide.testing.browser import free_port, stop, tail
from confide.testing.polling import wait_for

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("directory", "notes", "disclosures", "audit", "gateway", "web")
PYTHONPATH = os.pathsep.join([*(str(REPO / p) for p in (
    "shared", "app", "services/notes", "services/disclosures", "services/audit", "services/gateway",
    "services/directory", "services/web")), *filter(None, [os.environ.get("PYTHONPATH")])])
CONFIDE = [sys.executable, "-c", "from confide_app.cli import main; main()"]


def _confide(*args, env, timeout=60) -> subprocess.CompletedProcess:
    return subprocess.run([*CONFIDE, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)


def _get(url: str, context: ssl.SSLContext | None = None):
    try:
        with urllib.request.urlopen(url, timeout=5, context=context) as r:
            return r.status, json.loads(r.read()), r.headers
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null"), err.headers
    except (OSError, urllib.error.URLError):
        return None, None, None


def _exec_done(pid: int):
    """The process's command line once `confide serve` has exec'd the service (None before)."""
    argv = Path(f"/proc/{pid}/cmdline").read_bytes()
    return argv if b"confide_app.cli" not in argv else None


def _plain_http(port: int) -> bytes:
    """What a plain-HTTP GET /health gets back on ``port`` (b"" when the connection is just closed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        chunks = []
        try:
            while chunk := s.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass
    return b"".join(chunks)


@pytest.fixture
def env(rabbit_config, test_db_dsn, projector_db_dsn, scratch_schema, web_db_dsn, tmp_path):
    key_dir = tmp_path / "keys"
    ensure_keys(key_dir)
    amqp = rabbit_config["AMQP_URI"]
    env = {
        **os.environ, "PYTHONPATH": PYTHONPATH, "PYTHONWARNINGS": "ignore", "PYTHONUNBUFFERED": "1",
        "CONFIDE_DB_DSN": test_db_dsn, "CONFIDE_PROJECTOR_DSN": projector_db_dsn, "CONFIDE_DB_SCHEMA": scratch_schema,
        "CONFIDE_KEY_DIR": str(key_dir), "CONFIDE_CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
        "CONFIDE_AMQP_URI": amqp, **{config.amqp_uri_key(u): amqp for u in config.BROKER_USERS},
        "CONFIDE_GATEWAY_ADDRESS": f"127.0.0.1:{free_port()}",
        "CONFIDE_WEB_ADDRESS": f"127.0.0.1:{free_port()}",
        "CONFIDE_WEB_DB_DSN": web_db_dsn, "CONFIDE_WEB_SECRET_KEY": secrets.token_urlsafe(40),
    }
    for key in ("CONFIDE_WEB_DIRECTORY", "CONFIDE_WEB_OIDC_ISSUER", "CONFIDE_WEB_SECURE_COOKIES",
                "CONFIDE_GATEWAY_URL", "CONFIDE_WEB_BASE_URL",
                "CONFIDE_GATEWAY_TLS_CERT", "CONFIDE_GATEWAY_TLS_KEY", "CONFIDE_WEB_TLS_CERT", "CONFIDE_WEB_TLS_KEY"):
        env.pop(key, None)
    return env


def test_every_service_runs_alone_under_confide_serve_with_https_front_doors(env, tmp_path):
    tls_dir = tmp_path / "tls"
    made = _confide("tls", "init", "--host", "localhost", "--host", "127.0.0.1", "--dir", str(tls_dir), env=env)
    assert made.returncode == 0, made.stderr
    settings = dict(line.split("=", 1) for line in made.stdout.splitlines() if line.startswith("CONFIDE_"))
    assert settings["CONFIDE_GATEWAY_TLS_CERT"] == settings["CONFIDE_WEB_TLS_CERT"] == str(tls_dir / "server.pem")
    assert settings["CONFIDE_GATEWAY_TLS_KEY"] == settings["CONFIDE_WEB_TLS_KEY"] == str(tls_dir / "server.key")
    assert (tls_dir / "server.key").stat().st_mode & 0o777 == 0o600
    assert (tls_dir / "ca.key").stat().st_mode & 0o777 == 0o600
    gateway_port = int(env["CONFIDE_GATEWAY_ADDRESS"].rpartition(":")[2])
    web_port = int(env["CONFIDE_WEB_ADDRESS"].rpartition(":")[2])
    env = {**env, **{k: v for k, v in settings.items() if "_TLS_" in k},
           "CONFIDE_GATEWAY_URL": f"https://localhost:{gateway_port}",
           "CONFIDE_WEB_BASE_URL": f"https://localhost:{web_port}"}

    procs, logs = {}, {}
    try:
        for name in SERVICES:
            logs[name] = tmp_path / f"{name}.log"
            with open(logs[name], "w") as out:
                procs[name] = subprocess.Popen([*CONFIDE, "serve", name], env=env, cwd=REPO, stdout=out,
                                               stderr=subprocess.STDOUT, start_new_session=True)

        def logs_text() -> str:
            return "\n".join(f"--- {n}:\n{tail(p, 3000)}" for n, p in logs.items())

        # `confide serve` execs the service: the unit's main process is the service itself.
        for name, proc in procs.items():
            argv = wait_for(lambda proc=proc: proc.poll() is not None or _exec_done(proc.pid), timeout=30)
            assert proc.poll() is None, f"{name} exited {proc.returncode}:\n{tail(logs[name])}"
            assert (b"web" if name == "web" else f"{name}.service".encode()) in argv, argv

        trusting = ssl.create_default_context(cafile=str(tls_dir / "ca.pem"))
        assert trusting.check_hostname and trusting.verify_mode == ssl.CERT_REQUIRED
        for door, port in (("gateway", gateway_port), ("web", web_port)):
            url = f"https://localhost:{port}/health"
            try:
                wait_for(lambda url=url: any(p.poll() is not None for p in procs.values())
                         or _get(url, trusting)[0] == 200, timeout=120, interval=0.5)
            except AssertionError:
                raise AssertionError(f"{door} /health not 200 over HTTPS:\n{logs_text()}") from None
            exited = {n: p.returncode for n, p in procs.items() if p.poll() is not None}
            assert not exited, f"exited: {exited}\n{logs_text()}"
            status, body, headers = _get(url, trusting)
            assert status == 200 and body["status"] == "ok", body
            assert headers["Cache-Control"].startswith("no-store")
            if door == "web":
                assert headers["Strict-Transport-Security"].startswith("max-age=")

            # The same certificate is refused for a name it was not made for ...
            with pytest.raises(ssl.SSLCertVerificationError):
                with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                    trusting.wrap_socket(raw, server_hostname="confide.example")
            # ... and by a client that does not trust the pilot CA.
            with pytest.raises(ssl.SSLCertVerificationError):
                with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                    ssl.create_default_context().wrap_socket(raw, server_hostname="localhost")
            # Plain HTTP on the same port gets no page: the connection is closed (or, at most, a 400).
            answer = _plain_http(port)
            assert answer == b"" or answer.startswith(b"HTTP/1.1 400 "), answer[:300]
            # Still serving after those failed handshakes.
            assert _get(url, trusting)[0] == 200
        for name, proc in procs.items():
            assert proc.poll() is None, f"{name} exited {proc.returncode}:\n{tail(logs[name])}"
    finally:
        # As systemd stops the units (the reverse of their After= order): one SIGTERM each.
        for name in reversed(SERVICES):
            if name in procs and procs[name].poll() is None:
                procs[name].send_signal(signal.SIGTERM)
                try:
                    procs[name].wait(30)
                except subprocess.TimeoutExpired:
                    pass
        for proc in procs.values():
            stop(proc)
    assert {n: p.returncode for n, p in procs.items()} == {n: 0 for n in procs}, "a clean exit on SIGTERM"


@pytest.mark.parametrize("door", ["gateway", "web"])
def test_half_a_tls_pair_refuses_to_start_naming_the_missing_setting(env, tmp_path, door):
    tls_dir = tmp_path / "tls"
    assert _confide("tls", "init", "--dir", str(tls_dir), env=env).returncode == 0
    prefix = f"CONFIDE_{door.upper()}_TLS_"
    env = {**env, f"{prefix}CERT": str(tls_dir / "server.pem")}  # no key
    log = tmp_path / f"{door}.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([*CONFIDE, "serve", door], env=env, cwd=REPO, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        code = proc.wait(timeout=60)
    finally:
        stop(proc)
    assert code != 0
    assert f"{prefix}CERT is set but {prefix}KEY is not" in log.read_text(), tail(log)
    port = int(env[f"CONFIDE_{door.upper()}_ADDRESS"].rpartition(":")[2])
    with pytest.raises(ConnectionRefusedError):  # nothing listens: no fall back to plain HTTP
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
