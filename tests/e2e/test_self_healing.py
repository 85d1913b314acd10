"""``confide run`` heals itself: a service killed with SIGKILL is restarted after its backoff while the
others keep running, and the gateway's GET /health shows it down, then ok again; a RabbitMQ node killed
and started again is ridden out by every service without a restart (issue 12, item 1).

The real services as ``confide run --only ...`` starts them, on a per-test vhost and scratch schema.
"""
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from confide import config
from confide.keys import ensure_keys
from confide.testing.browser import stop, tail
from confide.testing.nodes import OwnRabbit
from confide.testing.polling import wait_for

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("directory", "disclosures", "audit", "gateway")
WITH_NOTES = (*SERVICES, "notes")  # the broker test: notes and disclosures were the ones that exited (issue 12)


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _service_pids(supervisor_pid):
    """{service: pid} of the supervisor's children (``nameko run ... <name>.service``)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) != supervisor_pid:
            continue
        for name in WITH_NOTES:
            if f"{name}.service".encode() in cmd:
                found[name] = int(entry.name)
    return found


def _health(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())
    except OSError:
        return None, None


def _stack_env(*, amqp: str, db_dsn: str, projector_dsn: str, schema: str, key_dir: Path, checkpoint_dir: Path,
               port: int) -> dict:
    """The environment of a `confide run` of this test's own: this checkout's packages, the test's
    database schema, keys and broker (every service's AMQP login pointed at it), the gateway on ``port``."""
    return {
        **os.environ, "PYTHONWARNINGS": "ignore", "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join(str(REPO / p) for p in (
            "shared", "app", "services/notes", "services/disclosures", "services/audit", "services/gateway",
            "services/directory", "services/web")),
        "CONFIDE_DB_DSN": db_dsn, "CONFIDE_PROJECTOR_DSN": projector_dsn, "CONFIDE_DB_SCHEMA": schema,
        "CONFIDE_KEY_DIR": str(key_dir), "CONFIDE_CHECKPOINT_DIR": str(checkpoint_dir),
        "CONFIDE_AMQP_URI": amqp, **{config.amqp_uri_key(u): amqp for u in (*SERVICES, "notes", "web", "cli")},
        "CONFIDE_GATEWAY_ADDRESS": f"127.0.0.1:{port}", "CONFIDE_GATEWAY_URL": f"http://127.0.0.1:{port}",
    }


def test_a_killed_service_comes_back_and_the_others_stay_up(rabbit_config, test_db_dsn, projector_db_dsn,
                                                            scratch_schema, tmp_path):
    key_dir = tmp_path / "keys"
    ensure_keys(key_dir)
    port = _free_port()
    amqp = rabbit_config["AMQP_URI"]
    env = _stack_env(amqp=amqp, db_dsn=test_db_dsn, projector_dsn=projector_db_dsn, schema=scratch_schema,
                     key_dir=key_dir, checkpoint_dir=tmp_path / "checkpoints", port=port)
    log = tmp_path / "run.log"
    only = [arg for name in SERVICES for arg in ("--only", name)]
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-c", "from confide_app.cli import main; main()", "run", *only],
                                env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/health"
    try:
        try:
            wait_for(lambda: _health(url)[0] == 200, timeout=90, interval=0.3)
        except AssertionError:
            raise AssertionError(f"the stack did not come up:\n{tail(log)}") from None
        before = _service_pids(proc.pid)
        assert set(before) == set(SERVICES), before

        os.kill(before["disclosures"], signal.SIGKILL)
        code, body = wait_for(lambda: (lambda r: r if r[0] == 503 else None)(_health(url)), timeout=30)
        assert body["status"] == "down" and body["dependencies"]["disclosures"]["status"] == "down"
        assert body["dependencies"]["directory"]["status"] == "ok"

        wait_for(lambda: _health(url)[0] == 200, timeout=60, interval=0.3)
        after = _service_pids(proc.pid)
        assert after["disclosures"] != before["disclosures"]
        assert {n: after[n] for n in SERVICES if n != "disclosures"} == {
            n: before[n] for n in SERVICES if n != "disclosures"}  # nobody else was restarted
        assert proc.poll() is None
        assert "disclosures exited with code -9; restarting it in 1s" in log.read_text()
    finally:
        stop(proc)
    assert proc.returncode is not None


def test_the_stack_comes_back_by_itself_after_the_broker_restarts(test_db_dsn, projector_db_dsn, scratch_schema,
                                                                  tmp_path):
    from confide.broker import declare_topology

    rabbit = OwnRabbit(tmp_path / "rabbit")
    key_dir = tmp_path / "keys"
    ensure_keys(key_dir)
    port = _free_port()
    declare_topology(rabbit.uri)
    env = _stack_env(amqp=rabbit.uri, db_dsn=test_db_dsn, projector_dsn=projector_db_dsn, schema=scratch_schema,
                     key_dir=key_dir, checkpoint_dir=tmp_path / "checkpoints", port=port)
    log = tmp_path / "run.log"
    only = [arg for name in WITH_NOTES for arg in ("--only", name)]
    proc = None
    try:
        with open(log, "w") as out:
            proc = subprocess.Popen([sys.executable, "-c", "from confide_app.cli import main; main()", "run", *only],
                                    env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        url = f"http://127.0.0.1:{port}/health"
        try:
            wait_for(lambda: _health(url)[0] == 200, timeout=90, interval=0.3)
        except AssertionError:
            raise AssertionError(f"the stack did not come up:\n{tail(log)}") from None

        before = _service_pids(proc.pid)
        assert set(before) == set(WITH_NOTES), before
        rabbit.kill()  # SIGKILL, every connection dropped, the port closed
        code, body = wait_for(lambda: (lambda r: r if r[0] == 503 else None)(_health(url)), timeout=30)
        assert body["dependencies"]["broker"]["status"] == "down"
        rabbit.start()  # as an operator would; the services reconnect by themselves
        try:
            wait_for(lambda: _health(url)[0] == 200, timeout=90, interval=0.5)
        except AssertionError:
            raise AssertionError(f"the stack did not recover:\n{tail(log, 12000)}") from None
        assert proc.poll() is None  # nobody restarted confide run by hand
        # ... nor did the supervisor restart any service: each rode the outage out.
        assert _service_pids(proc.pid) == before, tail(log, 12000)
        assert "exited with code" not in log.read_text(), tail(log, 12000)
    finally:
        if proc is not None:
            stop(proc)
        rabbit.close()
