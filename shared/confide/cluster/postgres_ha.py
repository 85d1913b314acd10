"""PostgreSQL with a synchronous standby under Patroni, on one machine (tests, demos, ``make cluster``).

What runs, each with its own loopback ports and directories under ``base``:

- 1 or 3 **etcd** members (v3 API): Patroni's consensus store, holding the leader lock;
- 2 **PostgreSQL** nodes (``pg0``, ``pg1``), each under its own **Patroni** (REST API on its own port),
  with synchronous replication (``synchronous_mode: true``): a commit is acknowledged only once the
  synchronous standby has flushed it, and Patroni promotes only a node that was synchronous, so an
  acknowledged commit survives the loss of the primary;
- **HAProxy** with a read-write front door whose health check is Patroni's ``GET /primary``: only the
  current primary passes it, so clients reach it whichever node that is (and a read-only one,
  ``GET /replica``, for reads that may lag).

Clients may use the HAProxy DSN (:attr:`HaPostgres.admin_dsn`, :meth:`HaPostgres.role_dsn`) or the libpq
multi-host one (``via="multihost"``: ``host=a,b port=x,y target_session_attrs=read-write``), which
needs no proxy. Either way, after a failover a connection to the old primary is dead, the pool of
:class:`confide.eventstore.store.PostgresEventStore` discards it before handing it out, and new
connections reach the new primary. An append in flight when the primary dies fails with
EventStoreUnavailableError; it may or may not have been committed (retrying it with the same event ids
is safe: a stored one comes back as a duplicate); it is never reported committed unless the standby
had it.

``synchronous_mode_strict`` (``strict=True``): with it the primary refuses to acknowledge any commit
while no standby is synchronous (writes wait while the standby is down, and after a failover until the
old primary has rejoined); without it (the default, Patroni's) the primary goes on alone when the
standby is lost, and Patroni will then not promote that out-of-date standby: an acknowledged commit is
never lost to a failover, but a second fault (the primary's disk, while alone) would lose what it
acknowledged alone. With two nodes, strict mode turns any single fault into a write outage; three
nodes are the answer for it.

Processes: etcd and HAProxy run as the caller; Patroni and PostgreSQL as the ``postgres`` OS user when
the caller is root (PostgreSQL refuses root), as the caller otherwise. Each runs in a session of its
own, so :meth:`HaPostgres.stop` (also at interpreter exit, unless ``detach``) kills exactly what this
object started: by pid, after checking the process's command line names ``base``. Every wait is
bounded; a cluster that does not come up raises ClusterError with the tail of the relevant log.

CLI (``make cluster`` calls it)::

    python -m confide.cluster.postgres_ha up --base DIR [--etcd 3] [--async] [--strict]
    python -m confide.cluster.postgres_ha status --base DIR
    python -m confide.cluster.postgres_ha kill-primary --base DIR [--whole-node]
    python -m confide.cluster.postgres_ha down --base DIR
"""
from __future__ import annotations

import argparse
import atexit
import base64
import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import psycopg
from psycopg.conninfo import make_conninfo

from confide import config

STATE_FILE = "cluster.json"
ENV_FILE = "cluster.env"
NODE_NAMES = ("pg0", "pg1")
REPLICATION_USER = "replicator"
#: The login of Patroni's REST API writes (its password: ``HaPostgres.restapi_password``, in cluster.json).
RESTAPI_USER = "confide-patroni"
#: Patroni's timing: the leader lock lives ``TTL`` s without renewal; each node acts every ``LOOP_WAIT``
#: s. Patroni requires loop_wait + 2 * retry_timeout <= ttl.
TTL, LOOP_WAIT, RETRY_TIMEOUT = 10, 1, 4
PATRONI = "/usr/bin/patroni"
ETCD = "/usr/bin/etcd"
ETCDCTL = "/usr/bin/etcdctl"
#: etcd's login for Patroni: read-write on the cluster's namespace only (``HaPostgres.etcd_password``).
ETCD_USER = "patroni"
HAPROXY = "/usr/sbin/haproxy"
PACKAGES_HINT = "install them with deploy/setup.sh --cluster (Debian packages patroni etcd-server etcd-client haproxy)"


class ClusterError(RuntimeError):
    """The cluster (or one of its parts) did not do what was asked within the time given."""


def _free_ports(n: int) -> list[int]:
    """``n`` distinct loopback ports that were free a moment ago (all held open together while chosen)."""
    import socket

    held = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            held.append(s)
        return [s.getsockname()[1] for s in held]
    finally:
        for s in held:
            s.close()


def _pg_bindir() -> Path:
    """The newest installed PostgreSQL's bin directory (``CONFIDE_PG_BINDIR`` first). Raises ClusterError."""
    if os.environ.get("CONFIDE_PG_BINDIR"):
        return Path(os.environ["CONFIDE_PG_BINDIR"])
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    if not found:
        raise ClusterError("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
    return found[-1].parent


def _tail(path: Path, n: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return "(no log)"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _state(pid: int) -> str:
    """The process's state letter (``Z`` for a zombie), or "" when it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def descendants(root: int) -> list[int]:
    """Every process below ``root`` in the process tree (from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _kill(pids: Iterable[int], sig: int = signal.SIGKILL) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _wait_gone(pids: list[int], timeout: float) -> bool:
    """True once none of ``pids`` runs (zombies count as gone: their parent reaps them)."""
    deadline = time.monotonic() + timeout
    while any(_state(p) not in ("", "Z") for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@dataclass
class _Proc:
    """A process this cluster started: its pid, and a string its command line must contain (``base``),
    so a pid reused by someone else's process is never signalled."""

    pid: int
    marker: str
    popen: subprocess.Popen | None = None

    def alive(self) -> bool:
        if self.popen is not None:  # our child: its pid cannot be reused before we reap it
            return self.popen.poll() is None
        return _state(self.pid) not in ("", "Z") and self.marker in _cmdline(self.pid)

    def signal(self, sig: int) -> None:
        if self.alive():
            _kill([self.pid], sig)

    def reap(self) -> None:
        if self.popen is not None:
            try:
                self.popen.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass


@dataclass
class Node:
    """One PostgreSQL node and its Patroni."""

    name: str
    pg_port: int
    api_port: int
    dir: Path
    patroni: _Proc | None = None

    @property
    def data(self) -> Path:
        return self.dir / "data"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def postmaster_pid(self) -> int | None:
        """The running postmaster's pid (checked against its command line), or None."""
        try:
            pid = int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None
        return pid if _state(pid) not in ("", "Z") and str(self.data) in _cmdline(pid) else None


class HaPostgres:
    """Two PostgreSQL nodes under Patroni, etcd, HAProxy: see the module docstring.

    ``base``: the directory for everything (made if missing; a fresh temp dir when None, removed by
    :meth:`stop`). ``etcd_members``: 1 or 3. ``synchronous``: Patroni's synchronous_mode (False only to
    measure its cost). ``strict``: synchronous_mode_strict. ``detach``: leave the processes running at
    interpreter exit (the CLI's ``up``); otherwise :meth:`stop` runs then.
    """

    def __init__(self, base: Path | str | None = None, etcd_members: int = 1, synchronous: bool = True,
                 strict: bool = False, detach: bool = False):
        if etcd_members not in (1, 3):
            raise ValueError("etcd_members must be 1 or 3")
        for binary in (PATRONI, ETCD, HAPROXY):
            if not Path(binary).exists():
                raise ClusterError(f"{binary} not found: {PACKAGES_HINT}")
        self.owns_base = base is None
        self.base = Path(base) if base is not None else Path(tempfile.mkdtemp(prefix="confide-ha-"))
        self.base.mkdir(parents=True, exist_ok=True)
        self.base.chmod(0o755)  # the postgres user must reach its node directories
        self.synchronous = synchronous
        self.strict = strict
        self.detach = detach
        self.scope = f"confide-{secrets.token_hex(4)}"
        self.superuser_password = secrets.token_urlsafe(24)
        self.replication_password = secrets.token_urlsafe(24)
        # Patroni's REST API listens on 127.0.0.1, where any local user reaches it: its writes
        # (switchover, failover, restart, reinitialize, PATCH /config) need this login; reads
        # (GET /primary, /replica: HAProxy's checks) stay open.
        self.restapi_password = secrets.token_urlsafe(24)
        # etcd runs with authentication on: without it any local user could write the leader key
        # and force a failover or a split brain. root exists only because etcd requires it.
        self.etcd_password = secrets.token_urlsafe(24)
        self._etcd_root_password = secrets.token_urlsafe(24)
        self.key_dir = self.base / "keys"
        ports = _free_ports(2 * etcd_members + 2 * len(NODE_NAMES) + 2)
        self.etcd: list[dict[str, Any]] = [{"name": f"etcd{i}", "client_port": ports[2 * i], "peer_port": ports[2 * i + 1]}
                     for i in range(etcd_members)]
        rest = ports[2 * etcd_members:]
        self.nodes = [Node(name, rest[2 * i], rest[2 * i + 1], self.base / name) for i, name in enumerate(NODE_NAMES)]
        self.rw_port, self.ro_port = rest[-2], rest[-1]
        self._etcd_procs: list[_Proc] = []
        self._haproxy: _Proc | None = None
        self._killed: tuple[str, float] | None = None
        self._stopped = False
        self._as_postgres = os.geteuid() == 0
        self.bindir = _pg_bindir()

    # -- DSNs ------------------------------------------------------------------

    @property
    def admin_dsn(self) -> str:
        """The superuser ``postgres`` through HAProxy's read-write front door (database ``postgres``)."""
        return self.dsn("postgres", self.superuser_password, "postgres")

    def dsn(self, user: str, password: str | None, dbname: str, via: str = "haproxy") -> str:
        """A DSN for ``user`` on ``dbname`` that reaches the current primary. ``via``: ``haproxy`` (one
        address, the proxy's read-write port), ``multihost`` (every node, libpq picks the read-write
        one: ``target_session_attrs=read-write``) or ``replicas`` (HAProxy's read-only port: standbys,
        reads that may lag). Raises ValueError for another ``via``."""
        params: dict = {"user": user, "dbname": dbname, "connect_timeout": 3}
        if password is not None:
            params["password"] = password
        if via == "haproxy":
            params.update(host="127.0.0.1", port=self.rw_port)
        elif via == "replicas":
            params.update(host="127.0.0.1", port=self.ro_port)
        elif via == "multihost":
            params.update(host=",".join("127.0.0.1" for _ in self.nodes),
                          port=",".join(str(n.pg_port) for n in self.nodes), target_session_attrs="read-write")
        else:
            raise ValueError(f"via must be haproxy, multihost or replicas, not {via!r}")
        return make_conninfo("", **params)

    def admin_dsn_via(self, via: str) -> str:
        """The superuser's DSN, ``via`` as in :meth:`dsn`."""
        return self.dsn("postgres", self.superuser_password, "postgres", via)

    def role_dsn(self, role: str = config.APP_ROLE, dbname: str = config.DEFAULT_DB_NAME, via: str = "haproxy") -> str:
        """The DSN of one of Confide's login roles (``confide_app``, ``confide_projector``,
        ``confide_auditor``) with the password :meth:`install_event_store` gave it. Raises
        ClusterError before that."""
        path = self.key_dir / "db" / f"{role}.secret"
        try:
            password = path.read_text().strip()
        except FileNotFoundError:
            raise ClusterError(f"no password for {role} at {path}: call install_event_store() first") from None
        return self.dsn(role, password, dbname, via)

    def env(self, dbname: str = config.DEFAULT_DB_NAME, via: str = "haproxy") -> dict[str, str]:
        """The environment Confide's services and CLI need to use this cluster (after
        :meth:`install_event_store`): the roles' DSNs name no password, the key directory has them."""
        return {
            config.ADMIN_DSN_KEY: self.admin_dsn_via(via),
            config.DB_DSN_KEY: self.dsn(config.APP_ROLE, None, dbname, via),
            config.PROJECTOR_DSN_KEY: self.dsn(config.PROJECTOR_ROLE, None, dbname, via),
            config.AUDITOR_DSN_KEY: self.dsn(config.AUDITOR_ROLE, None, dbname, via),
            config.KEY_DIR_KEY: str(self.key_dir),
        }

    # -- starting ----------------------------------------------------------------

    def start(self, timeout: float = 180) -> "HaPostgres":
        """Start etcd, both Patroni nodes and HAProxy; return once a primary takes writes through HAProxy
        and (``synchronous``) the other node is its synchronous standby. Raises ClusterError (and stops
        what it started) when that does not happen within ``timeout`` seconds."""
        if not self.detach:
            atexit.register(self.stop)
        try:
            self._start_etcd(timeout)
            for node in self.nodes:
                self._prepare_node(node)
                self._start_patroni(node)
            self._start_haproxy()
            self.wait_ready(timeout)
            self.save_state()
        except BaseException:
            self.stop()
            raise
        return self

    def __enter__(self) -> "HaPostgres":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _start_etcd(self, timeout: float) -> None:
        initial = ",".join(f"{m['name']}=http://127.0.0.1:{m['peer_port']}" for m in self.etcd)
        for member in self.etcd:
            data = self.base / "etcd" / member["name"]
            data.mkdir(parents=True, exist_ok=True)
            data.chmod(0o700)
            client, peer = f"http://127.0.0.1:{member['client_port']}", f"http://127.0.0.1:{member['peer_port']}"
            argv = [ETCD, "--name", member["name"], "--data-dir", str(data / "data"),
                    "--listen-client-urls", client, "--advertise-client-urls", client,
                    "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                    "--initial-cluster", initial, "--initial-cluster-state", "new",
                    "--initial-cluster-token", self.scope, "--logger", "zap", "--log-outputs", "stderr"]
            self._etcd_procs.append(self._spawn(argv, data / "etcd.log", as_postgres=False))
        deadline = time.monotonic() + timeout
        for member, proc in zip(self.etcd, self._etcd_procs):
            while not _http_ok(f"http://127.0.0.1:{member['client_port']}/health"):
                if not proc.alive() or time.monotonic() > deadline:
                    raise ClusterError(f"etcd member {member['name']} did not become healthy:\n"
                                       f"{_tail(self.base / 'etcd' / member['name'] / 'etcd.log')}")
                time.sleep(0.2)
        self._enable_etcd_auth()

    def _etcdctl(self, *args: str, user: str | None = None) -> None:
        """Run etcdctl (v3) against the members; raises ClusterError with its output when it fails.
        Passwords go through ``--user name:password`` / ``--new-user-password``, never the log."""
        endpoints = ",".join(f"http://127.0.0.1:{m['client_port']}" for m in self.etcd)
        argv = [ETCDCTL, f"--endpoints={endpoints}", *(["--user", user] if user else []), *args]
        done = subprocess.run(argv, env={**os.environ, "ETCDCTL_API": "3"}, capture_output=True, text=True,
                              timeout=30)
        if done.returncode != 0:
            raise ClusterError(f"etcdctl {args[0]} {args[1] if len(args) > 1 else ''} failed: "
                               f"{(done.stderr or done.stdout).strip()[-300:]}")

    def _enable_etcd_auth(self) -> None:
        """Users root and ``patroni`` (read-write on this cluster's namespace only), then auth on."""
        namespace = f"/confide/{self.scope}/"
        self._etcdctl("user", "add", "root", f"--new-user-password={self._etcd_root_password}")
        self._etcdctl("role", "add", ETCD_USER)
        self._etcdctl("role", "grant-permission", ETCD_USER, "--prefix=true", "readwrite", namespace)
        self._etcdctl("user", "add", ETCD_USER, f"--new-user-password={self.etcd_password}")
        self._etcdctl("user", "grant-role", ETCD_USER, ETCD_USER)
        self._etcdctl("auth", "enable")

    def _prepare_node(self, node: Node) -> None:
        node.dir.mkdir(parents=True, exist_ok=True)
        node.dir.chmod(0o700)
        (node.dir / "patroni.yml").write_text(json.dumps(self._patroni_config(node), indent=2))  # JSON is YAML
        (node.dir / "patroni.yml").chmod(0o600)
        if self._as_postgres:
            pw = pwd.getpwnam("postgres")
            for path in (node.dir, node.dir / "patroni.yml"):
                os.chown(path, pw.pw_uid, pw.pw_gid)

    def _patroni_config(self, node: Node) -> dict:
        parameters = {
            "max_connections": 200, "shared_buffers": "64MB", "wal_level": "replica", "hot_standby": "on",
            "wal_log_hints": "on", "max_wal_senders": 10, "max_replication_slots": 10, "wal_keep_size": "256MB",
            "synchronous_commit": "on", "fsync": "on", "password_encryption": "scram-sha-256",
        }
        return {
            "scope": self.scope,
            "namespace": "/confide/",
            "name": node.name,
            "log": {"level": "INFO"},
            "restapi": {"listen": f"127.0.0.1:{node.api_port}", "connect_address": f"127.0.0.1:{node.api_port}",
                        "authentication": {"username": RESTAPI_USER, "password": self.restapi_password}},
            "etcd3": {"hosts": [f"127.0.0.1:{m['client_port']}" for m in self.etcd],
                      "username": ETCD_USER, "password": self.etcd_password},
            "bootstrap": {
                "dcs": {
                    "ttl": TTL, "loop_wait": LOOP_WAIT, "retry_timeout": RETRY_TIMEOUT,
                    # A crashed primary hands over at once instead of recovering in place.
                    "primary_start_timeout": 0,
                    "maximum_lag_on_failover": 64 * 1024 * 1024,
                    "synchronous_mode": self.synchronous,
                    "synchronous_mode_strict": self.strict,
                    "postgresql": {"use_pg_rewind": True, "use_slots": True, "parameters": parameters},
                },
                "initdb": [{"encoding": "UTF8"}, {"locale": "C"}, "data-checksums"],
            },
            "postgresql": {
                "listen": f"127.0.0.1:{node.pg_port}",
                "connect_address": f"127.0.0.1:{node.pg_port}",
                "data_dir": str(node.data),
                "bin_dir": str(self.bindir),
                "pgpass": str(node.dir / "pgpass"),
                "authentication": {
                    "superuser": {"username": "postgres", "password": self.superuser_password},
                    "replication": {"username": REPLICATION_USER, "password": self.replication_password},
                },
                "parameters": {"unix_socket_directories": str(node.dir)},
                "pg_hba": [
                    "local all postgres peer",
                    f"host replication {REPLICATION_USER} 127.0.0.1/32 scram-sha-256",
                    "host all all 127.0.0.1/32 scram-sha-256",
                ],
                # An old primary whose history cannot be rewound is cloned afresh from the new one.
                "remove_data_directory_on_rewind_failure": True,
                "remove_data_directory_on_diverged_timelines": True,
            },
            "tags": {"nofailover": False, "noloadbalance": False, "clonefrom": False, "nosync": False},
        }

    def _spawn(self, argv: list[str], log: Path, as_postgres: bool) -> _Proc:
        out = open(log, "a")
        kwargs: dict = {}
        env = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "LANG": "C.UTF-8", "HOME": str(log.parent)}
        if as_postgres and self._as_postgres:
            pw = pwd.getpwnam("postgres")
            kwargs.update(user=pw.pw_uid, group=pw.pw_gid, extra_groups=[])
            os.chown(log, pw.pw_uid, pw.pw_gid)
        try:
            popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                     cwd=log.parent, env=env, start_new_session=True, **kwargs)
        finally:
            out.close()
        return _Proc(popen.pid, str(self.base), popen)

    def _start_patroni(self, node: Node) -> None:
        node.patroni = self._spawn([PATRONI, str(node.dir / "patroni.yml")], node.dir / "patroni.log",
                                   as_postgres=True)

    def _start_haproxy(self) -> None:
        def backend(name: str, port: int, check: str) -> str:
            servers = "\n".join(f"  server {n.name} 127.0.0.1:{n.pg_port} maxconn 200 check port {n.api_port}"
                                for n in self.nodes)
            return (f"listen {name}\n  bind 127.0.0.1:{port}\n  option httpchk GET {check}\n"
                    "  http-check expect status 200\n"
                    # A node that stops being primary has its sessions cut at once (they would hit a
                    # read-only or dead server), and is out within two checks.
                    "  default-server inter 500ms fastinter 250ms downinter 500ms fall 2 rise 1 "
                    "on-marked-down shutdown-sessions\n" + servers + "\n")
        cfg = self.base / "haproxy.cfg"
        cfg.write_text("global\n  maxconn 1000\n  log stdout format raw local0 notice\n\n"
                       "defaults\n  mode tcp\n  log global\n  timeout connect 2s\n  timeout client 1h\n"
                       "  timeout server 1h\n  timeout check 1s\n\n"
                       + backend("primary", self.rw_port, "/primary") + "\n"
                       + backend("replicas", self.ro_port, "/replica"))
        check = subprocess.run([HAPROXY, "-c", "-q", "-f", str(cfg)], capture_output=True, text=True)
        if check.returncode:
            raise ClusterError(f"haproxy refused {cfg}: {check.stderr.strip()}")
        self._haproxy = self._spawn([HAPROXY, "-db", "-f", str(cfg)], self.base / "haproxy.log", as_postgres=False)

    # -- state -------------------------------------------------------------------

    def members(self) -> list[dict]:
        """Patroni's view of the cluster (``GET /cluster`` of the first node that answers): each member's
        ``name``, ``role`` (``leader``, ``sync_standby``, ``replica``), ``state``, ``timeline``, ``lag``.
        Empty when no node answers."""
        for node in self.nodes:
            found = _http_json(f"{node.api_url}/cluster")
            if found is not None:
                return list(found.get("members", []))
        return []

    def primary(self) -> str | None:
        """The name of the node holding the leader lock and running as primary (its ``GET /primary`` is
        200), or None (no primary: a failover under way)."""
        for member in self.members():
            if member.get("role") == "leader":
                node = self.node(member["name"])
                return node.name if _http_ok(f"{node.api_url}/primary") else None
        return None

    def sync_standby(self) -> str | None:
        """The name of the synchronous standby, streaming from the primary, or None."""
        for member in self.members():
            if member.get("role") == "sync_standby" and member.get("state") in ("streaming", "running"):
                return member["name"]
        return None

    def node(self, name: str) -> Node:
        """The node called ``name``. Raises KeyError."""
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    def takes_writes(self) -> bool:
        """True when a read-write session can be had through HAProxy now (libpq checks the server is
        not read-only: ``target_session_attrs=read-write``)."""
        try:
            psycopg.connect(self.admin_dsn + " target_session_attrs=read-write connect_timeout=2").close()
            return True
        except psycopg.Error:
            return False

    def wait_ready(self, timeout: float = 120) -> None:
        """Wait until a primary takes writes through HAProxy and, with ``synchronous`` and every node's
        Patroni running, another node is its synchronous standby. Raises ClusterError with Patroni's
        logs otherwise."""
        deadline = time.monotonic() + timeout
        want_sync = self.synchronous and all(n.patroni is not None and n.patroni.alive() for n in self.nodes)
        while True:
            if self.primary() and self.takes_writes() and (not want_sync or self.sync_standby()):
                return
            for node in self.nodes:
                if node.patroni is not None and node.patroni.popen is not None and not node.patroni.alive():
                    raise ClusterError(f"patroni of {node.name} exited:\n{_tail(node.dir / 'patroni.log')}")
            if time.monotonic() > deadline:
                raise ClusterError(f"no writable primary{' with a synchronous standby' if want_sync else ''} "
                                   f"after {timeout}s; members: {self.members()}\n"
                                   + "\n".join(f"--- {n.name}:\n{_tail(n.dir / 'patroni.log', 1500)}"
                                               for n in self.nodes))
            time.sleep(0.2)

    # -- faults ------------------------------------------------------------------

    def kill_primary(self, whole_node: bool = False) -> str:
        """SIGKILL the primary's postmaster and its backends (a crash, the OOM killer); with
        ``whole_node`` its Patroni first (the machine is gone: the lock then expires after the TTL).
        Returns the killed node's name once none of its PostgreSQL processes runs. Raises ClusterError
        when there is no primary to kill."""
        name = self.primary()
        if name is None:
            raise ClusterError(f"no primary to kill; members: {self.members()}")
        node = self.node(name)
        victims: list[int] = []
        if whole_node and node.patroni is not None and node.patroni.alive():
            victims.append(node.patroni.pid)
        pid = node.postmaster_pid()
        if pid is not None:
            victims += [pid, *descendants(pid)]
        if whole_node and node.patroni is not None:
            victims += [p for p in descendants(node.patroni.pid) if p not in victims]
        _kill(victims)
        self._killed = (name, time.monotonic())
        if not _wait_gone(victims, 30):
            raise ClusterError(f"processes of {name} alive 30 s after SIGKILL")
        if node.patroni is not None and not node.patroni.alive():
            node.patroni.reap()
        return name

    def wait_for_failover(self, timeout: float = 60) -> float:
        """Wait until a node other than the one :meth:`kill_primary` killed is primary and takes writes
        through HAProxy; return the seconds since the kill. Raises ClusterError on timeout (or when
        nothing was killed)."""
        if self._killed is None:
            raise ClusterError("wait_for_failover: no primary was killed")
        old, killed_at = self._killed
        deadline = killed_at + timeout
        while time.monotonic() < deadline:
            new = self.primary()
            if new is not None and new != old and self.takes_writes():
                return time.monotonic() - killed_at
            time.sleep(0.05)
        raise ClusterError(f"no failover from {old} within {timeout}s; members: {self.members()}")

    def restart_node(self, name: str, timeout: float = 180) -> float:
        """Bring node ``name`` back (start its Patroni if it is not running; Patroni restarts a crashed
        PostgreSQL by itself) and wait until it streams from the primary as a standby (an old primary
        is rewound with pg_rewind, or cloned afresh when it cannot be) and, with ``synchronous``, is
        the synchronous one. Returns the seconds taken. Raises ClusterError on timeout."""
        node = self.node(name)
        started = time.monotonic()
        if node.patroni is None or not node.patroni.alive():
            self._start_patroni(node)
        deadline = started + timeout
        while time.monotonic() < deadline:
            member = next((m for m in self.members() if m.get("name") == name), None)
            if member is None:
                time.sleep(0.2)
                continue
            role_ok = member.get("role") in (("sync_standby",) if self.synchronous else ("sync_standby", "replica"))
            if role_ok and member.get("state") in ("streaming", "running") and _http_ok(f"{node.api_url}/replica"):
                return time.monotonic() - started
            time.sleep(0.2)
        raise ClusterError(f"{name} did not rejoin as a standby within {timeout}s; members: {self.members()}\n"
                           f"{_tail(node.dir / 'patroni.log', 2000)}")

    def _restapi_authorization(self) -> str:
        """The Basic credentials of Patroni's REST API writes (``restapi.authentication``)."""
        token = base64.b64encode(f"{RESTAPI_USER}:{self.restapi_password}".encode()).decode()
        return f"Basic {token}"

    def set_synchronous(self, synchronous: bool, timeout: float = 60) -> None:
        """Switch Patroni's synchronous_mode for the whole cluster (``PATCH /config``), and wait until
        the primary applies it. Raises ClusterError."""
        leader = self.primary()
        if leader is None:
            raise ClusterError("no primary to reconfigure")
        request = urllib.request.Request(f"{self.node(leader).api_url}/config", method="PATCH",
                                         data=json.dumps({"synchronous_mode": synchronous}).encode(),
                                         headers={"Content-Type": "application/json",
                                                  "Authorization": self._restapi_authorization()})
        with urllib.request.urlopen(request, timeout=5) as reply:
            if reply.status != 200:
                raise ClusterError(f"PATCH /config answered {reply.status}")
        self.synchronous = synchronous
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if bool(self.sync_standby()) == synchronous:
                return
            time.sleep(0.2)
        raise ClusterError(f"synchronous_mode={synchronous} not applied within {timeout}s: {self.members()}")

    # -- Confide's schema ----------------------------------------------------------

    def install_event_store(self, dbname: str = config.DEFAULT_DB_NAME, schema: str = "confide",
                            via: str = "haproxy") -> None:
        """Install Confide's roles, database ``dbname`` and event store ``schema`` through the primary
        (``via`` HAProxy or the multi-host DSN), as ``confide db install`` does, and give the login
        roles fresh passwords in ``<base>/keys/db/<role>.secret`` (:meth:`role_dsn` reads them). The
        standby gets all of it by replication. Raises psycopg.Error when the server refuses."""
        from confide.eventstore import install

        admin = self.admin_dsn_via(via)
        install.ensure_database(admin, dbname)
        install.install_schema(admin, dbname, schema)
        for role in (config.APP_ROLE, config.AUDITOR_ROLE, config.PROJECTOR_ROLE):
            install.ensure_role_password(admin, role, self.key_dir / "db" / f"{role}.secret")

    # -- stopping ------------------------------------------------------------------

    def stop(self, keep_data: bool = False) -> None:
        """Stop everything this cluster started (Patroni asked first, so PostgreSQL shuts down cleanly;
        SIGKILL for whatever is left after 30 s), then remove ``base`` when it made it (unless
        ``keep_data``). Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        atexit.unregister(self.stop)
        patronis = [n.patroni for n in self.nodes if n.patroni is not None]
        for proc in patronis:
            proc.signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        while any(p.alive() for p in patronis) and time.monotonic() < deadline:
            time.sleep(0.1)
        for proc in patronis:
            if proc.alive():
                _kill([proc.pid, *descendants(proc.pid)])
            proc.reap()
        for node in self.nodes:  # a postmaster Patroni left behind (it runs in a session of its own)
            pid = node.postmaster_pid()
            if pid is not None:
                victims = [pid, *descendants(pid)]
                _kill(victims)
                _wait_gone(victims, 10)
        others = [p for p in [self._haproxy, *self._etcd_procs] if p is not None]
        for proc in others:
            proc.signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while any(p.alive() for p in others) and time.monotonic() < deadline:
            time.sleep(0.05)
        for proc in others:
            proc.signal(signal.SIGKILL)
            proc.reap()
        if self.owns_base and not keep_data:
            shutil.rmtree(self.base, ignore_errors=True)

    def save_state(self) -> Path:
        """Write ``<base>/cluster.json`` (0600: it holds the superuser's password), from which
        :meth:`attach` finds this cluster again (the CLI's ``down`` and ``status``), and
        ``<base>/cluster.env`` with :meth:`env`'s lines."""
        state = {
            "scope": self.scope, "synchronous": self.synchronous, "strict": self.strict,
            "superuser_password": self.superuser_password, "replication_password": self.replication_password,
            "restapi_password": self.restapi_password, "etcd_password": self.etcd_password,
            "rw_port": self.rw_port, "ro_port": self.ro_port, "etcd": self.etcd,
            "etcd_pids": [p.pid for p in self._etcd_procs],
            "haproxy_pid": self._haproxy.pid if self._haproxy else None,
            "nodes": [{"name": n.name, "pg_port": n.pg_port, "api_port": n.api_port,
                       "patroni_pid": n.patroni.pid if n.patroni else None} for n in self.nodes],
        }
        path = self.base / STATE_FILE
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(state, fh, indent=2)
        return path

    @classmethod
    def attach(cls, base: Path | str) -> "HaPostgres":
        """The cluster whose state ``save_state`` wrote in ``base`` (started by another process), to
        inspect, fault or stop. Raises ClusterError when there is none."""
        base = Path(base)
        try:
            state = json.loads((base / STATE_FILE).read_text())
        except FileNotFoundError:
            raise ClusterError(f"no cluster in {base} ({STATE_FILE} missing)") from None
        self = cls.__new__(cls)
        self.owns_base, self.base, self.detach = False, base, True
        self.synchronous, self.strict, self.scope = state["synchronous"], state["strict"], state["scope"]
        self.superuser_password = state["superuser_password"]
        self.replication_password = state["replication_password"]
        self.restapi_password = state.get("restapi_password", "")
        self.etcd_password = state.get("etcd_password", "")
        self.key_dir = base / "keys"
        self.etcd, self.rw_port, self.ro_port = state["etcd"], state["rw_port"], state["ro_port"]
        marker = str(base)
        self.nodes = [Node(n["name"], n["pg_port"], n["api_port"], base / n["name"],
                           _Proc(n["patroni_pid"], marker) if n["patroni_pid"] else None) for n in state["nodes"]]
        self._etcd_procs = [_Proc(pid, marker) for pid in state["etcd_pids"]]
        self._haproxy = _Proc(state["haproxy_pid"], marker) if state["haproxy_pid"] else None
        self._killed, self._stopped = None, False
        self._as_postgres = os.geteuid() == 0
        self.bindir = _pg_bindir()
        return self


def _http_json(url: str, timeout: float = 1.0) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            return json.loads(reply.read())
    except (OSError, ValueError, urllib.error.URLError):
        return None


def _http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            return reply.status == 200
    except (OSError, urllib.error.URLError):
        return False


# -- CLI -----------------------------------------------------------------------------


def _print_env(cluster: HaPostgres, dbname: str) -> None:
    lines = [f"{k}={v!r}" if " " in v else f"{k}={v}" for k, v in cluster.env(dbname).items()]
    lines.append(f"CONFIDE_DB_DSN_MULTIHOST={cluster.dsn(config.APP_ROLE, None, dbname, 'multihost')!r}")
    lines.append(f"CONFIDE_DB_DSN_REPLICAS={cluster.dsn(config.APP_ROLE, None, dbname, 'replicas')!r}")
    text = "\n".join(lines) + "\n"
    fd = os.open(cluster.base / ENV_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    sys.stdout.write(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m confide.cluster.postgres_ha",
                                     description="PostgreSQL HA (Patroni, etcd, HAProxy) on one machine.")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the cluster, install the event store, print the environment")
    up.add_argument("--base", required=True, type=Path)
    up.add_argument("--etcd", type=int, choices=(1, 3), default=1, help="etcd members")
    up.add_argument("--async", dest="synchronous", action="store_false", help="asynchronous replication")
    up.add_argument("--strict", action="store_true", help="synchronous_mode_strict")
    up.add_argument("--database", default=config.DEFAULT_DB_NAME)
    up.add_argument("--schema", default="confide")
    up.add_argument("--no-install", action="store_true", help="leave out Confide's roles, database and schema")
    for name, text in (("down", "stop everything and remove the data"), ("status", "print the members"),
                       ("kill-primary", "SIGKILL the primary's PostgreSQL and wait for the failover")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--base", required=True, type=Path)
        if name == "kill-primary":
            p.add_argument("--whole-node", action="store_true", help="its Patroni too")
        if name == "down":
            p.add_argument("--keep-data", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "up":
        if (args.base / STATE_FILE).exists():
            parser.error(f"{args.base} already holds a cluster: run down first")
        cluster = HaPostgres(args.base, etcd_members=args.etcd, synchronous=args.synchronous, strict=args.strict,
                             detach=True)
        cluster.start()
        try:
            if not args.no_install:
                cluster.install_event_store(args.database, args.schema)
        except BaseException:
            cluster.stop()
            raise
        _print_env(cluster, args.database)
        return 0
    cluster = HaPostgres.attach(args.base)
    if args.command == "status":
        print(json.dumps({"primary": cluster.primary(), "members": cluster.members()}, indent=2))
    elif args.command == "kill-primary":
        name = cluster.kill_primary(whole_node=args.whole_node)
        print(f"killed {name}; failover took {cluster.wait_for_failover():.2f} s")
    elif args.command == "down":
        cluster.stop()
        if not args.keep_data:
            for path in [*(n.dir for n in cluster.nodes), args.base / "etcd", args.base / "keys"]:
                shutil.rmtree(path, ignore_errors=True)
            for name in (STATE_FILE, ENV_FILE, "haproxy.cfg", "haproxy.log"):
                (args.base / name).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
