"""A PostgreSQL cluster and a RabbitMQ node of a test's own, so it may kill them (tests and ``make chaos``).

Neither ever touches the shared servers: each has its own data directory under ``base``, its own
free ports on 127.0.0.1, its own socket directory, logs and (RabbitMQ) node name and Erlang cookie.
Both can be killed the hard way (:meth:`OwnPostgres.kill`, :meth:`OwnRabbit.kill`: SIGKILL, as a
crash or the OOM killer would) and started again on the same ports and data (``start``), as an
operator would bring them back; ``close`` stops them and removes nothing but what they started.

PostgreSQL refuses to run as root: as root the cluster is made and run as the ``postgres`` OS user
(``runuser``), else as the current user. Every wait is bounded; a server that does not come up
raises RuntimeError with the tail of its log.
"""
from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def accepting(port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on 127.0.0.1:``port``."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=timeout).close()
        return True
    except OSError:
        return False


def _tail(path: Path, n: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return "(no log)"


def _pg_bin() -> Path:
    """The newest installed PostgreSQL's bin directory. Raises RuntimeError when none is installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if not found:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin: "
                           "install postgresql (deploy/setup.sh does)")
    return Path(found[-1]).parent


class OwnPostgres:
    """A throw-away cluster in ``base/pgdata`` on a free port, trust authentication on 127.0.0.1 only,
    superuser ``postgres`` (``admin_dsn``). Created and started by the constructor. Without ``base`` a
    fresh directory under the system temp dir (the ``postgres`` user must be able to reach ``base``:
    pytest's ``tmp_path`` is private to root), removed by :meth:`close`."""

    def __init__(self, base: Path | None = None, timeout: float = 60):
        self.owns_base = base is None
        self.base = Path(base) if base is not None else Path(tempfile.mkdtemp(prefix="confide-pg-"))
        self.bin = _pg_bin()
        self.data = self.base / "pgdata"
        self.log = self.base / "postgres.log"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0  # PostgreSQL refuses root
        self.base.mkdir(parents=True, exist_ok=True)
        if self.as_postgres:
            shutil.chown(self.base, "postgres")
        self.log.touch()
        if self.as_postgres:
            shutil.chown(self.log, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--no-instructions", timeout=120)
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{self.base}'\nmax_connections = 200\n"
                       "fsync = on\nshared_buffers = 64MB\n")
        self.start(timeout)

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str, timeout: float = 60) -> None:
        argv = [str(self.bin / tool), *args]
        if self.as_postgres:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        done = subprocess.run(argv, cwd=self.base, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr[-2000:]}\n{_tail(self.log)}")

    def start(self, timeout: float = 60) -> None:
        """Start the cluster (crash recovery first, after :meth:`kill`); returns once it accepts connections."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", str(int(timeout)), "start",
                  timeout=timeout + 10)
        deadline = time.monotonic() + timeout
        while not accepting(self.port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not accept on {self.port} in {timeout}s:\n{_tail(self.log)}")
            time.sleep(0.1)

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def kill(self) -> None:
        """SIGKILL the postmaster, then its children (a crashed server's backends die with it), and wait
        until the port is closed and no process of the cluster is left."""
        pid = self.postmaster_pid()
        if pid is None:
            return
        children = _children(pid)
        for victim in [pid, *children]:
            try:
                os.kill(victim, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 30
        while any(_alive(p) for p in [pid, *children]) or accepting(self.port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL processes still alive 30 s after SIGKILL: {pid} {children}")
            time.sleep(0.05)

    def close(self) -> None:
        """Stop the cluster (fast shutdown; SIGKILL if that fails) and remove its data."""
        if self.postmaster_pid() is not None and accepting(self.port):
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "20", "stop", timeout=30)
            except (RuntimeError, subprocess.TimeoutExpired):
                self.kill()
        elif self.postmaster_pid() is not None:
            self.kill()
        shutil.rmtree(self.base if self.owns_base else self.data, ignore_errors=True)


def _alive(pid: int) -> bool:
    """True while ``pid`` exists, a zombie included (PostgreSQL's lock file check counts it as running)."""
    return Path(f"/proc/{pid}").exists()


def _children(parent: int) -> list[int]:
    """Pids whose parent is ``parent`` (from /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
            out.append(int(entry.name))
    return out


class OwnRabbit:
    """A RabbitMQ node of its own (own name, ports, data, logs and Erlang cookie in ``base``), no
    plugins; ``uri`` is guest on vhost ``/`` (guest may log in from loopback). Started by the
    constructor."""

    def __init__(self, base: Path, timeout: float = 90):
        self.base = Path(base)
        self.base.mkdir(parents=True, exist_ok=True)
        self.node = f"confide-test-{uuid.uuid4().hex[:8]}@localhost"
        self.port = free_port()
        (self.base / "enabled_plugins").write_text("[].\n")
        (self.base / "rabbitmq.conf").write_text("")
        self.env = {
            **os.environ, "HOME": str(self.base), "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.port), "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"), "RABBITMQ_LOG_BASE": str(self.base / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq"), "RABBITMQ_PID_FILE": str(self.base / "pid"),
        }
        self.uri = f"amqp://guest:guest@127.0.0.1:{self.port}/"
        self.proc: subprocess.Popen | None = None
        self.start(timeout)

    def start(self, timeout: float = 90) -> None:
        """Start the node (its durable queues and persistent messages come back); returns once it accepts."""
        if not (RABBIT_BIN / "rabbitmq-server").exists():
            raise RuntimeError(f"{RABBIT_BIN / 'rabbitmq-server'} not found: cannot run a RabbitMQ node of our own")
        out = open(self.base / "server.log", "a")
        try:
            self.proc = subprocess.Popen([str(RABBIT_BIN / "rabbitmq-server")], env=self.env, cwd=self.base,
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            out.close()
        deadline = time.monotonic() + timeout
        while not accepting(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"RabbitMQ node {self.node} did not accept on {self.port}:\n"
                                   f"{_tail(self.base / 'server.log')}")
            time.sleep(0.2)

    def ctl(self, *args: str) -> None:
        """``rabbitmqctl -n <node> ARGS``. Raises CalledProcessError."""
        subprocess.run([str(RABBIT_BIN / "rabbitmqctl"), "-n", self.node, *args], env=self.env, check=True,
                       capture_output=True, timeout=60)

    def accepting(self) -> bool:
        return accepting(self.port, timeout=1)

    def kill(self) -> None:
        """SIGKILL the node's whole process group (the Erlang VM and its helpers); returns once the port is closed."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(30)
        deadline = time.monotonic() + 30
        while accepting(self.port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"RabbitMQ node {self.node} still accepting 30 s after SIGKILL")
            time.sleep(0.05)

    def close(self) -> None:
        """Stop the node (``rabbitmqctl stop``, then SIGKILL what is left) and remove its data."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.ctl("stop")
            except Exception:  # noqa: BLE001 - fall back to the process group
                pass
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        shutil.rmtree(self.base / "mnesia", ignore_errors=True)
