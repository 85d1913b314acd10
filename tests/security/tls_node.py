"""A throw-away RabbitMQ node with a TLS listener, for tests/security only.

It never touches the shared broker: its own node name, ports, data, log and
config directories, no plugins (so no second management listener), started in
the foreground in its own process group and killed at the end. Every wait is
bounded; a node that does not come up fails the test with its log.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


class TlsNode:
    def __init__(self, base: Path, paths: dict, name: str = "confide-tls-test"):
        self.base = Path(base)
        self.paths = paths
        self.nodename = f"{name}-{os.getpid()}@localhost"
        self.amqp_port, self.tls_port, self.dist_port = free_port(), free_port(), free_port()
        self.proc: subprocess.Popen | None = None

    def conf(self) -> str:
        p = self.paths
        return "\n".join([
            "listeners.tcp = none",
            f"listeners.ssl.default = 127.0.0.1:{self.tls_port}",
            f"ssl_options.cacertfile = {p['ca']}",
            f"ssl_options.certfile = {p['cert']}",
            f"ssl_options.keyfile = {p['key']}",
            "ssl_options.verify = verify_none",
            "ssl_options.fail_if_no_peer_cert = false",
            "loopback_users = none",
            "default_user = confide_tls",
            "default_pass = confide_tls",
            "",
        ])

    def start(self, timeout: float = 90) -> None:
        if not os.path.exists(SERVER):
            raise RuntimeError(f"{SERVER} not found: cannot run a second RabbitMQ node here")
        for sub in ("mnesia", "log"):
            (self.base / sub).mkdir(parents=True, exist_ok=True)
        (self.base / "rabbitmq.conf").write_text(self.conf())
        (self.base / "enabled_plugins").write_text("[].\n")
        env = {
            **os.environ,
            "RABBITMQ_NODENAME": self.nodename,
            "RABBITMQ_NODE_PORT": str(self.amqp_port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.base / "log"),
            "RABBITMQ_PID_FILE": str(self.base / "node.pid"),
            "RABBITMQ_CONF_ENV_FILE": str(self.base / "rabbitmq-env.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.base / "advanced.config"),
            "HOME": str(self.base),  # its own Erlang cookie
        }
        (self.base / "rabbitmq-env.conf").write_text("")
        self.log = open(self.base / "stdout.log", "wb")
        self.proc = subprocess.Popen([SERVER], env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True, cwd=self.base)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the TLS test node exited ({self.proc.returncode}):\n{self.tail()}")
            if _open(self.tls_port):
                time.sleep(1)  # the listener opens before the default user exists
                return
            time.sleep(0.5)
        raise RuntimeError(f"the TLS test node did not listen on {self.tls_port} in {timeout}s:\n{self.tail()}")

    def tail(self, n: int = 4000) -> str:
        out = (self.base / "stdout.log").read_bytes()[-n:].decode(errors="replace")
        logs = list((self.base / "log").glob("*.log"))
        return out + "".join(p.read_text(errors="replace")[-n:] for p in logs)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # its own session: the node, epmd child, shells
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        shutil.rmtree(self.base / "mnesia", ignore_errors=True)
