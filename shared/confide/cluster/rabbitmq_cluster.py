"""A three-node RabbitMQ cluster on this machine, for failover tests and demos (``make cluster``).

Each node is a RabbitMQ 3.10 server of its own, as :class:`confide.testing.nodes.OwnRabbit` makes
one: its own node name (``confide-c1-<tag>@localhost``), AMQP port on 127.0.0.1, Erlang
distribution port, data (mnesia) and log directories, all under ``base``; the three share one
Erlang cookie (``base/.erlang.cookie``, mode 0400, ``HOME=base`` for the nodes and rabbitmqctl),
which is what lets them, and nobody else, join. Never the shared node on 5672.

:meth:`RabbitCluster.up` starts the nodes, joins nodes 2 and 3 to node 1, enables every feature
flag (quorum queues need ``quorum_queue``), then sets up Confide as ``confide broker declare``
does: vhost ``confide``, one user per service and front door with the permissions and topic
permissions of :mod:`confide.broker` (passwords in ``<key_dir>/broker/<user>.secret``), imported
as definitions (one rabbitmqctl call, no management plugin), and the event topology declared as
``audit`` with quorum queues of 3 replicas (``CONFIDE_QUEUE_TYPE=quorum``).

For clients: :meth:`amqp_uris` (one URI per node) and :meth:`failover_uri` (kombu's failover list
``amqp://…node1;amqp://…node2;amqp://…node3``, which nameko's ``AMQP_URI`` and
``CONFIDE_AMQP_URI`` accept); :meth:`environment` gives the variables a service needs.

Faults: :meth:`kill_node` SIGKILLs node i's Erlang VM (its process group), :meth:`restart_node`
starts it again on the same ports and data (it rejoins the cluster and its quorum replicas catch
up). :meth:`stop` kills every node it started; ``down`` does the same from another process, from
``base/cluster.json`` (pids are checked against the node name before any signal).

CLI::

    python -m confide.cluster.rabbitmq_cluster up --base DIR [--key-dir DIR]   # prints the env lines
    python -m confide.cluster.rabbitmq_cluster status|env --base DIR
    python -m confide.cluster.rabbitmq_cluster kill --base DIR --node 1
    python -m confide.cluster.rabbitmq_cluster restart --base DIR --node 1
    python -m confide.cluster.rabbitmq_cluster down --base DIR
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from confide.testing.nodes import RABBIT_BIN, _tail, accepting, free_port

STATE_FILE = "cluster.json"
COOKIE_FILE = ".erlang.cookie"
VHOST = "confide"
SIZE = 3


class ClusterError(RuntimeError):
    """A node did not start, join or stop as asked (the message carries the tail of its log)."""


def _password_hash(password: str) -> str:
    """RabbitMQ's ``rabbit_password_hashing_sha256``: base64(salt ++ sha256(salt ++ password)), 4-byte salt."""
    salt = secrets.token_bytes(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode("utf-8")).digest()).decode("ascii")


def _environ_of(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)


def _running(pid: int) -> bool:
    """True while ``pid`` is a live process (not a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class RabbitNode:
    """One node of the cluster: names, ports and directories (from the cluster's state), started as
    ``rabbitmq-server`` in a session of its own so its whole process group can be killed."""

    def __init__(self, base: Path, index: int, name: str, port: int, dist_port: int, pid: int | None = None):
        self.base, self.index, self.name, self.port, self.dist_port = Path(base), index, name, port, dist_port
        self.dir = self.base / f"n{index + 1}"
        self.pid = pid
        self.proc: subprocess.Popen | None = None

    def state(self) -> dict:
        return {"name": self.name, "port": self.port, "dist_port": self.dist_port, "pid": self.pid}

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ, "HOME": str(self.base), "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1", "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            # Erlang distribution (node to node, and rabbitmqctl) listens on loopback only, like AMQP;
            # an epmd this node starts does too (one already running keeps its own address).
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"), "RABBITMQ_LOG_BASE": str(self.dir / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq"), "RABBITMQ_PID_FILE": str(self.dir / "pid"),
        }

    def launch(self) -> None:
        """Start ``rabbitmq-server`` (returns at once; :meth:`wait_accepting` waits)."""
        if not (RABBIT_BIN / "rabbitmq-server").exists():
            raise ClusterError(f"{RABBIT_BIN / 'rabbitmq-server'} not found: install rabbitmq-server")
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "enabled_plugins").write_text("[].\n")
        (self.dir / "rabbitmq.conf").write_text("")
        with open(self.dir / "server.log", "a") as out:
            self.proc = subprocess.Popen([str(RABBIT_BIN / "rabbitmq-server")], env=self.env, cwd=self.dir,
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.proc.pid

    def wait_accepting(self, timeout: float) -> None:
        """Raises ClusterError (with the log's tail) when the node exits or does not accept in time."""
        deadline = time.monotonic() + timeout
        while not accepting(self.port):
            if not self.alive() or time.monotonic() > deadline:
                raise ClusterError(f"RabbitMQ node {self.name} did not accept on {self.port}:\n"
                                   f"{_tail(self.dir / 'server.log')}")
            time.sleep(0.2)

    def alive(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        return self.pid is not None and _running(self.pid) and self.owns(self.pid)

    def owns(self, pid: int) -> bool:
        """True when ``pid`` is this node's rabbitmq-server (its environment names the node)."""
        return _environ_of(pid).get("RABBITMQ_NODENAME") == self.name

    def kill(self, timeout: float = 30) -> None:
        """SIGKILL the node's process group (beam.smp and its helpers); returns once the port is
        closed. Does nothing when the node is not running. Raises ClusterError when it survives."""
        pid = self.pid
        if pid is None or not (self.proc is not None or self.owns(pid)):
            return
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if self.proc is not None:
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                raise ClusterError(f"RabbitMQ node {self.name} (pid {pid}) alive {timeout}s after SIGKILL") from None
        deadline = time.monotonic() + timeout
        while accepting(self.port) or (self.proc is None and _running(pid)):
            if time.monotonic() > deadline:
                raise ClusterError(f"RabbitMQ node {self.name} still up {timeout}s after SIGKILL")
            time.sleep(0.05)


class RabbitCluster:
    """Three (``size``) RabbitMQ nodes joined as one cluster under ``base``, with Confide's vhost,
    users and event topology. Construct, then :meth:`up`; or :meth:`load` one another process
    started. ``key_dir`` holds the broker users' passwords (``<key_dir>/broker/<user>.secret``,
    created if absent): default ``base/keys``."""

    def __init__(self, base: Path | str, size: int = SIZE, key_dir: Path | str | None = None,
                 vhost: str = VHOST, tag: str | None = None):
        self.base = Path(base).resolve()
        self.size = size
        self.key_dir = Path(key_dir) if key_dir is not None else self.base / "keys"
        self.vhost = vhost
        self.tag = tag or uuid.uuid4().hex[:6]
        self.nodes = [RabbitNode(self.base, i, f"confide-c{i + 1}-{self.tag}@localhost", free_port(), free_port())
                      for i in range(size)]

    # -- state shared with other processes (CLI ``down``, ``kill``) ------------------------------

    def _save(self) -> None:
        state = {"tag": self.tag, "vhost": self.vhost, "key_dir": str(self.key_dir),
                 "nodes": [node.state() for node in self.nodes]}
        tmp = self.base / f".{STATE_FILE}.tmp"
        tmp.write_text(json.dumps(state, indent=2) + "\n")
        os.replace(tmp, self.base / STATE_FILE)

    @classmethod
    def load(cls, base: Path | str) -> RabbitCluster:
        """The cluster described by ``base/cluster.json``. Raises FileNotFoundError when there is none."""
        base = Path(base).resolve()
        state = json.loads((base / STATE_FILE).read_text())
        cluster = cls.__new__(cls)
        cluster.base, cluster.tag, cluster.vhost = base, state["tag"], state["vhost"]
        cluster.key_dir = Path(state["key_dir"])
        cluster.nodes = [RabbitNode(base, i, n["name"], n["port"], n["dist_port"], n.get("pid"))
                         for i, n in enumerate(state["nodes"])]
        cluster.size = len(cluster.nodes)
        return cluster

    # -- starting ------------------------------------------------------------------------------

    def _write_cookie(self) -> None:
        cookie = self.base / COOKIE_FILE
        if cookie.exists():
            return
        fd = os.open(cookie, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(20).upper())

    def up(self, timeout: float = 180) -> RabbitCluster:
        """Start every node, join them into one cluster, enable all feature flags, then provision
        Confide's vhost, users and topology. Returns self. Raises ClusterError (nodes already
        started are killed first) when a node does not start or join in ``timeout`` seconds."""
        self.base.mkdir(parents=True, exist_ok=True)
        if any(node.alive() for node in self.nodes):
            raise ClusterError(f"a node of {self.base} is running already")
        self._write_cookie()
        try:
            for node in self.nodes:
                node.launch()
            self._save()
            for node in self.nodes:
                node.wait_accepting(timeout)
            first = self.nodes[0]
            for node in self.nodes[1:]:
                self.ctl(node.index, "stop_app")
                self.ctl(node.index, "join_cluster", first.name)
                self.ctl(node.index, "start_app")
            self.ctl(0, "enable_feature_flag", "all")
            self.wait_clustered(timeout)
            self.provision()
        except BaseException:
            self.stop()
            raise
        return self

    def ctl(self, i: int, *args: str, timeout: float = 120) -> str:
        """``rabbitmqctl -n <node i> ARGS`` with the cluster's cookie; returns stdout. Raises
        ClusterError with its output when it fails."""
        node = self.nodes[i]
        done = subprocess.run([str(RABBIT_BIN / "rabbitmqctl"), "-n", node.name, *args], env=node.env,
                              capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise ClusterError(f"rabbitmqctl -n {node.name} {' '.join(args)}: {done.stdout[-1000:]}"
                               f"{done.stderr[-1000:]}")
        return done.stdout

    def running_nodes(self, i: int | None = None) -> list[str]:
        """The running members as node ``i`` (default: the first live one) sees them."""
        i = self.live_node() if i is None else i
        status = json.loads(self.ctl(i, "cluster_status", "--formatter", "json"))
        return sorted(status.get("running_nodes", []))

    def live_node(self) -> int:
        """The index of a node that accepts connections. Raises ClusterError when none does."""
        for node in self.nodes:
            if accepting(node.port):
                return node.index
        raise ClusterError("no node of the cluster is running")

    def wait_clustered(self, timeout: float = 120, expected: int | None = None) -> None:
        """Wait until ``expected`` (default: all) nodes run as one cluster. Raises ClusterError."""
        expected = self.size if expected is None else expected
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        while time.monotonic() < deadline:
            try:
                seen = self.running_nodes()
            except ClusterError:
                seen = []
            if len(seen) >= expected:
                return
            time.sleep(0.5)
        raise ClusterError(f"the cluster did not reach {expected} running nodes in {timeout}s: {seen}")

    def definitions(self) -> dict:
        """Confide's vhost, users, permissions and topic permissions (:mod:`confide.broker`) as
        RabbitMQ definitions; passwords are read from (or generated into) ``key_dir``."""
        from confide import config
        from confide.broker import permissions, read_or_create_secret, topic_permissions

        users, perms, topics = [], [], []
        for user in config.BROKER_USERS:
            secret = read_or_create_secret(self.key_dir / "broker" / f"{user}.secret")
            users.append({"name": user, "password_hash": _password_hash(secret),
                          "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": []})
            perms.append({"user": user, "vhost": self.vhost, **permissions(user)})
            topics.append({"user": user, "vhost": self.vhost, **topic_permissions(user)})
        return {"users": users, "vhosts": [{"name": self.vhost}], "permissions": perms,
                "topic_permissions": topics}

    def provision(self) -> None:
        """Import :meth:`definitions`, then declare the event topology as ``audit`` with quorum
        queues of ``CONFIDE_QUORUM_GROUP_SIZE`` (3) replicas. Raises ClusterError / kombu errors."""
        from confide.broker import declare_topology

        path = self.base / "definitions.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # password hashes
        with os.fdopen(fd, "w") as f:
            json.dump(self.definitions(), f)
        self.ctl(self.live_node(), "import_definitions", str(path))
        with quorum_queues():
            declare_topology(self.failover_uri("audit"))

    # -- for clients ---------------------------------------------------------------------------

    def _secret(self, user: str) -> str:
        return (self.key_dir / "broker" / f"{user}.secret").read_text().strip()

    def amqp_uris(self, user: str | None = None, vhost: str | None = None, password: str | None = None) -> list[str]:
        """One URI per node, in node order: as Confide broker ``user`` (password from ``key_dir``
        unless ``password`` is given, e.g. ``guest``'s on vhost ``/``) on ``vhost`` (default
        ``confide``); without a user, credential-less (``CONFIDE_AMQP_URI`` form:
        ``confide.config.amqp_uri`` adds each user's password). Raises FileNotFoundError when the
        user has no password file."""
        from urllib.parse import quote

        vhost = self.vhost if vhost is None else vhost
        secret: str = password if password is not None else (self._secret(user) if user else "")
        auth = f"{quote(user, safe='')}:{quote(secret, safe='')}@" if user else ""
        return [f"amqp://{auth}127.0.0.1:{node.port}/{quote(vhost, safe='')}" for node in self.nodes]

    def failover_uri(self, user: str | None = None, start: int = 0, vhost: str | None = None,
                     password: str | None = None) -> str:
        """kombu's failover list of every node, ``;``-separated, beginning with node ``start`` (a
        client connects to the first that answers and moves round the list when its node dies)."""
        uris = self.amqp_uris(user, vhost, password)
        return ";".join(uris[start:] + uris[:start])

    def environment(self, start: int = 0) -> dict[str, str]:
        """The variables a Confide process needs to use the cluster: ``CONFIDE_AMQP_URI`` (the
        failover list from node ``start``, credential-less), ``CONFIDE_QUEUE_TYPE=quorum``, the
        group size, and ``CONFIDE_AMQP_URI_<USER>`` for every broker user with its password from
        ``key_dir`` (so the installation's key directory need not hold the cluster's passwords)."""
        from confide import config

        env = {config.AMQP_URI_KEY: self.failover_uri(start=start), config.QUEUE_TYPE_KEY: "quorum",
               config.QUORUM_GROUP_SIZE_KEY: str(min(self.size, config.DEFAULT_QUORUM_GROUP_SIZE))}
        for user in config.BROKER_USERS:
            env[config.amqp_uri_key(user)] = self.failover_uri(user, start=start)
        return env

    def quorum_members(self, queue: str, vhost: str | None = None) -> dict:
        """``{"name", "type", "leader": node, "members": [nodes], "online": [nodes]}`` of a queue in
        ``vhost`` (default ``confide``), as a live node sees it. Raises ClusterError when absent."""
        vhost = self.vhost if vhost is None else vhost
        rows = json.loads(self.ctl(self.live_node(), "list_queues", "-p", vhost, "name", "type", "leader",
                                   "members", "online", "--formatter", "json"))
        for row in rows:
            if row.get("name") == queue:
                return row
        raise ClusterError(f"no queue {queue!r} in vhost {vhost}")

    # -- faults --------------------------------------------------------------------------------

    def kill_node(self, i: int) -> None:
        """SIGKILL node ``i``'s Erlang VM and helpers (a crash); returns once its port is closed."""
        self.nodes[i].kill()
        self._save()

    def restart_node(self, i: int, timeout: float = 180) -> None:
        """Start node ``i`` again on its ports and data after :meth:`kill_node`; returns once it runs
        in the cluster again. Raises ClusterError."""
        node = self.nodes[i]
        if node.alive():
            raise ClusterError(f"node {node.name} is running")
        node.launch()
        self._save()
        node.wait_accepting(timeout)
        self.wait_clustered(timeout)

    def stop(self, remove_data: bool = False) -> None:
        """SIGKILL every node (nothing else); with ``remove_data`` delete their data directories
        too (logs are kept). Never raises for a node already gone."""
        for node in self.nodes:
            try:
                node.kill()
            except ClusterError:
                pass
        if (self.base / STATE_FILE).exists() or any(n.pid for n in self.nodes):
            self._save()
        if remove_data:
            for node in self.nodes:
                shutil.rmtree(node.dir / "mnesia", ignore_errors=True)

    def __enter__(self) -> RabbitCluster:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class quorum_queues:
    """Within ``with quorum_queues():`` ``CONFIDE_QUEUE_TYPE`` is ``quorum`` (restored after)."""

    def __enter__(self):
        from confide import config

        self._old = os.environ.get(config.QUEUE_TYPE_KEY)
        os.environ[config.QUEUE_TYPE_KEY] = "quorum"

    def __exit__(self, *exc):
        from confide import config

        if self._old is None:
            os.environ.pop(config.QUEUE_TYPE_KEY, None)
        else:
            os.environ[config.QUEUE_TYPE_KEY] = self._old


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m confide.cluster.rabbitmq_cluster",
                                     description="A three-node RabbitMQ cluster on this machine (tests, demos).")
    parser.add_argument("command", choices=("up", "down", "kill", "restart", "status", "env"))
    parser.add_argument("--base", required=True, type=Path, help="directory of the nodes' data, logs and state")
    parser.add_argument("--key-dir", type=Path,
                        help="where the broker users' passwords are kept or made (default: the installation's "
                             "key directory, CONFIDE_KEY_DIR, as `confide broker declare` uses)")
    parser.add_argument("--node", type=int, help="kill/restart: node number, 1 to 3")
    parser.add_argument("--keep-data", action="store_true", help="down: keep the nodes' data")
    args = parser.parse_args(argv)
    if args.command == "up":
        from confide import config

        cluster = RabbitCluster(args.base, key_dir=args.key_dir or config.key_dir()).up()
        print("\n".join(f"{k}={v}" for k, v in cluster.environment().items() if not k.startswith("CONFIDE_AMQP_URI_")))
        return 0
    try:
        cluster = RabbitCluster.load(args.base)
    except FileNotFoundError:
        print(f"no cluster state in {args.base}", file=sys.stderr)
        return 0 if args.command == "down" else 1
    if args.command == "down":
        cluster.stop(remove_data=not args.keep_data)
    elif args.command in ("kill", "restart"):
        if args.node is None or not 1 <= args.node <= cluster.size:
            parser.error(f"--node 1..{cluster.size} is required")
        (cluster.kill_node if args.command == "kill" else cluster.restart_node)(args.node - 1)
    elif args.command == "status":
        for node in cluster.nodes:
            print(f"{node.index + 1} {node.name} port {node.port} {'up' if accepting(node.port) else 'down'}")
    elif args.command == "env":
        print("\n".join(f"{k}={v}" for k, v in cluster.environment().items() if not k.startswith("CONFIDE_AMQP_URI_")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
