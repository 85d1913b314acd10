"""``confide cluster up|down|status`` (``make cluster``): the whole cluster topology on one machine.

What ``up`` starts, under one base directory (``--base``, default ``CONFIDE_CLUSTER_BASE`` or
``/tmp/confide-cluster-<uid>``), each part on loopback ports of its own:

- ``<base>/postgres``: PostgreSQL under Patroni, a primary and a synchronous standby, 1 etcd member
  (``--etcd 3`` for three) and HAProxy in front (:class:`confide.cluster.postgres_ha.HaPostgres`),
  with Confide's roles, database and event store installed through the primary, and the web front
  door's role and database ``confide_web`` (``web.dbsetup``, migrations run) on the same cluster;
- ``<base>/rabbitmq``: three RabbitMQ nodes as one cluster with quorum queues
  (:class:`confide.cluster.rabbitmq_cluster.RabbitCluster`), Confide's vhost, users and topology;
- ``<base>/postgres/keys``: the one key directory (database and broker passwords, chain, decision,
  signing and service keys, the web's secret key); ``<base>/checkpoints``: the chain checkpoints;
- ``confide run --replicas 2``: two replicas of notes, disclosures, audit, gateway and web (one
  directory), HAProxy in front of the gateway and the web, every process given the HA DSN (HAProxy's
  read-write port, or libpq's multi-host form with ``--via multihost``), the RabbitMQ failover URIs
  and ``CONFIDE_QUEUE_TYPE=quorum``. The front doors are 127.0.0.1:8000 and 127.0.0.1:8080 when
  those ports (and the replicas' 8100/8101, 8180/8181) are free, otherwise free ports, printed.

``up`` runs in the foreground: Ctrl-C (or SIGTERM, or ``confide cluster down`` from another shell)
stops the services, then RabbitMQ, then PostgreSQL, and removes the data. ``<base>/cluster.env``
holds the variables for running ``confide`` commands against it (``set -a; . <base>/cluster.env``).

:class:`LocalCluster` is the same thing as a library: ``tests/cluster/test_failover_under_load.py``
starts it, kills its parts under load and stops it.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

from confide import config

STATE_FILE = "stack.json"
ENV_FILE = "cluster.env"
DATABASE = config.DEFAULT_DB_NAME
SCHEMA = "confide"
WEB_DATABASE = "confide_web"
DEFAULT_FRONT_DOORS = (8000, 8080)


def default_base() -> Path:
    """``CONFIDE_CLUSTER_BASE``, else ``/tmp/confide-cluster-<uid>``: under /tmp because, run as root,
    PostgreSQL runs as ``postgres``, which must reach its directories (a home directory is 0700)."""
    if os.environ.get("CONFIDE_CLUSTER_BASE"):
        return Path(os.environ["CONFIDE_CLUSTER_BASE"])
    return Path(tempfile.gettempdir()) / f"confide-cluster-{os.getuid()}"


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def front_door_ports(replicas: int, prefer_defaults: bool = True) -> tuple[int, int, int]:
    """(gateway port, web port, replica port offset): 8000, 8080 and 100 when those and the replicas'
    ports are free and ``prefer_defaults``; else free ports. Raises RuntimeError when none are found."""
    def usable(gateway: int, web: int, offset: int) -> bool:
        ports = {gateway, web} | ({p + offset + i for p in (gateway, web) for i in range(replicas)}
                                  if replicas > 1 else set())
        return len(ports) == 2 + (2 * replicas if replicas > 1 else 0) and all(_free(p) for p in ports)

    if prefer_defaults and usable(*DEFAULT_FRONT_DOORS, 100):
        return (*DEFAULT_FRONT_DOORS, 100)
    import random

    for _ in range(200):
        gateway, web, offset = random.randint(20000, 40000), random.randint(20000, 40000), random.randint(1000, 9000)
        if usable(gateway, web, offset):
            return gateway, web, offset
    raise RuntimeError("no free ports for the front doors and their replicas")


class LocalCluster:
    """The one-machine cluster under ``base``: see the module docstring. ``etcd_members`` 1 or 3;
    ``via``: how processes reach the primary (``haproxy`` or ``multihost``)."""

    def __init__(self, base: Path | str, etcd_members: int = 1, via: str = "haproxy"):
        self.base = Path(base).resolve()
        self.etcd_members, self.via = etcd_members, via
        self.pg = None
        self.rabbit = None
        self.gateway_port = self.web_port = self.port_offset = None
        self.services: subprocess.Popen | None = None
        self.replicas = 0

    # -- paths -----------------------------------------------------------------------------------

    @property
    def key_dir(self) -> Path:
        return self.base / "postgres" / "keys"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    # -- starting ----------------------------------------------------------------------------------

    def up(self, prefer_default_ports: bool = True, replicas: int = 2, echo=lambda msg: None) -> "LocalCluster":
        """Start PostgreSQL (Patroni, etcd, HAProxy) and RabbitMQ (3 nodes), install the event store,
        the keys and the web database; choose the front doors' ports. The services are started by
        :meth:`start_services`. Raises ClusterError (either module's), RuntimeError, OSError or
        subprocess.CalledProcessError, having stopped what it started."""
        from confide.cluster.postgres_ha import HaPostgres
        from confide.cluster.rabbitmq_cluster import RabbitCluster
        from confide.keys import ensure_keys

        if (self.base / STATE_FILE).exists():
            raise RuntimeError(f"{self.base} holds a cluster already: run `confide cluster down --base {self.base}`")
        self.base.mkdir(parents=True, exist_ok=True)
        if self.base.stat().st_uid != os.getuid():
            raise RuntimeError(f"{self.base} belongs to another user")
        self.base.chmod(0o755)
        for path in (self.base, *self.base.parents):  # PostgreSQL, run as ``postgres``, must reach its data
            if path.stat().st_mode & 0o005 != 0o005 and os.geteuid() == 0:
                raise RuntimeError(f"{path} is not readable by others: choose another --base (the postgres "
                                   "user must reach its data directories)")
            if path == Path("/") or path.stat().st_mode & 0o1000:
                break
        self.gateway_port, self.web_port, self.port_offset = front_door_ports(replicas, prefer_default_ports)
        try:
            started = time.monotonic()
            self.pg = HaPostgres(self.base / "postgres", etcd_members=self.etcd_members, detach=True).start()
            self.pg.install_event_store(DATABASE, SCHEMA, via=self.via)
            echo(f"PostgreSQL: primary {self.pg.primary()}, synchronous standby {self.pg.sync_standby()}, "
                 f"HAProxy on 127.0.0.1:{self.pg.rw_port} ({time.monotonic() - started:.0f} s)")
            ensure_keys(self.key_dir)
            started = time.monotonic()
            self.rabbit = RabbitCluster(self.base / "rabbitmq", key_dir=self.key_dir).up()
            echo(f"RabbitMQ: {', '.join(str(n.port) for n in self.rabbit.nodes)} as one cluster, quorum queues "
                 f"({time.monotonic() - started:.0f} s)")
            self._web_database()
            echo(f"web: database {WEB_DATABASE} on the cluster, migrations run")
            self.save()
        except BaseException:
            self.down()
            raise
        return self

    def _web_database(self) -> None:
        """``python -m web.dbsetup`` against the cluster (role, database, secret key, migrations)."""
        done = subprocess.run([sys.executable, "-m", "web.dbsetup"], env=self.cli_env(), cwd=config.REPO_ROOT,
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"web.dbsetup failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")

    def web_dsn(self) -> str:
        """The web role's DSN naming only where the database is (the password is in the key directory)."""
        from web.dbsetup import ROLE

        return self.pg.dsn(ROLE, None, WEB_DATABASE, self.via)

    def cli_env(self) -> dict[str, str]:
        """The environment of a ``confide`` command (and of the services) on this cluster."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONWARNINGS": "ignore",
               "XDG_DATA_HOME": str(self.base / "data"),  # nothing of the machine's own installation is read
               **self.pg.env(DATABASE, self.via), config.DB_SCHEMA_KEY: SCHEMA,
               # the services pass their DSN to the store as it is: the logins' passwords in it
               config.DB_DSN_KEY: self.pg.role_dsn(config.APP_ROLE, DATABASE, self.via),
               config.PROJECTOR_DSN_KEY: self.pg.role_dsn(config.PROJECTOR_ROLE, DATABASE, self.via),
               config.AUDITOR_DSN_KEY: self.pg.role_dsn(config.AUDITOR_ROLE, DATABASE, self.via),
               config.CHECKPOINT_DIR_KEY: str(self.base / "checkpoints"),
               **self.rabbit.environment(),
               "CONFIDE_WEB_DB_DSN": self.web_dsn(), "CONFIDE_WEB_SECURE_COOKIES": "0"}
        if self.gateway_port:
            env.update({"CONFIDE_GATEWAY_ADDRESS": f"127.0.0.1:{self.gateway_port}",
                        "CONFIDE_GATEWAY_URL": self.gateway_url,
                        "CONFIDE_WEB_ADDRESS": f"127.0.0.1:{self.web_port}",
                        "CONFIDE_REPLICA_PORT_OFFSET": str(self.port_offset)})
        for key in ("CONFIDE_WEB_BASE_URL", "CONFIDE_INSTANCE", "CONFIDE_REPLICAS", "CONFIDE_WEB_DIRECTORY",
                    "CONFIDE_WEB_OIDC_ISSUER", "CONFIDE_WEB_SECRET_KEY"):
            env.pop(key, None)
        return env

    def app_dsn(self) -> str:
        """The services' login (``confide_app``) with its password, on the cluster's primary."""
        return self.pg.role_dsn(config.APP_ROLE, DATABASE, self.via)

    def start_services(self, replicas: int = 2, stdout=None) -> subprocess.Popen:
        """``confide run --replicas N`` on this cluster, in a session of its own (its output to ``stdout``,
        default inherited). Returns the supervisor's process."""
        self.replicas = replicas
        self.services = subprocess.Popen(
            [sys.executable, "-c", "from confide_app.cli import main; main()", "run", "--replicas", str(replicas)],
            env=self.cli_env(), cwd=config.REPO_ROOT, stdout=stdout, stderr=subprocess.STDOUT if stdout else None,
            start_new_session=True)
        self.save()
        return self.services

    def stop_services(self, grace: float = 20) -> None:
        """SIGTERM the supervisor (it stops its children), SIGKILL its group after ``grace`` seconds."""
        if self.services is None:
            return
        from confide.testing.browser import stop

        stop(self.services, grace=grace)
        self.services = None

    # -- state, attach, down -----------------------------------------------------------------------

    def save(self) -> None:
        state = {"etcd_members": self.etcd_members, "via": self.via, "gateway_port": self.gateway_port,
                 "web_port": self.web_port, "port_offset": self.port_offset, "replicas": self.replicas,
                 "services_pid": self.services.pid if self.services is not None else None}
        (self.base / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")
        env = self.cli_env()
        keys = sorted(k for k in env if k.startswith("CONFIDE_") or k == "XDG_DATA_HOME")
        fd = os.open(self.base / ENV_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # the admin's password
        with os.fdopen(fd, "w") as fh:
            fh.write("".join(f"{k}='{env[k]}'\n" for k in keys))

    @classmethod
    def attach(cls, base: Path | str) -> "LocalCluster":
        """The cluster another process started under ``base``. Raises FileNotFoundError when there is none."""
        from confide.cluster.postgres_ha import HaPostgres
        from confide.cluster.rabbitmq_cluster import RabbitCluster

        self = cls(base)
        state = json.loads((self.base / STATE_FILE).read_text())
        self.etcd_members, self.via = state["etcd_members"], state["via"]
        self.gateway_port, self.web_port, self.port_offset = state["gateway_port"], state["web_port"], state["port_offset"]
        self.replicas = state["replicas"]
        self._services_pid = state.get("services_pid")
        if (self.base / "postgres" / "cluster.json").exists():
            self.pg = HaPostgres.attach(self.base / "postgres")
        if (self.base / "rabbitmq" / "cluster.json").exists():
            self.rabbit = RabbitCluster.load(self.base / "rabbitmq")
        return self

    def _stop_foreign_services(self) -> None:
        """Stop a supervisor another process started (its pid checked: ``confide run`` with our key dir)."""
        pid = getattr(self, "_services_pid", None)
        if not pid:
            return
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return
        if b"run" not in cmdline.split(b"\0") or f"{config.KEY_DIR_KEY}={self.key_dir}".encode() not in environ.split(b"\0"):
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        if Path(f"/proc/{pid}").exists():
            os.kill(pid, signal.SIGKILL)

    def down(self, keep_data: bool = False) -> None:
        """Stop the services, RabbitMQ and PostgreSQL (whatever of them runs), and remove the data
        (unless ``keep_data``). Never raises for a part already gone."""
        self.stop_services()
        self._stop_foreign_services()
        if self.rabbit is not None:
            self.rabbit.stop(remove_data=not keep_data)
        if self.pg is not None:
            self.pg.stop()
        if not keep_data:
            shutil.rmtree(self.base, ignore_errors=True)
        else:
            (self.base / STATE_FILE).unlink(missing_ok=True)

    def status(self) -> dict:
        """Where everything is and what answers."""
        from confide.testing.nodes import accepting

        return {
            "base": str(self.base),
            "postgres": {"primary": self.pg.primary(), "sync_standby": self.pg.sync_standby(),
                         "haproxy": f"127.0.0.1:{self.pg.rw_port}"} if self.pg else None,
            "rabbitmq": {n.name: ("up" if accepting(n.port) else "down") for n in self.rabbit.nodes}
            if self.rabbit else None,
            "gateway": f"{self.gateway_url} ({'answering' if accepting(self.gateway_port) else 'not answering'})",
            "web": f"{self.web_url} ({'answering' if accepting(self.web_port) else 'not answering'})",
        }


# -- CLI -----------------------------------------------------------------------------------------------

_base_option = click.option("--base", type=click.Path(path_type=Path), default=None,
                            help="directory of every part's data, logs and state (default /tmp/confide-cluster-<uid> "
                                 "or CONFIDE_CLUSTER_BASE)")


@click.group()
def cluster():
    """The cluster topology on one machine: PostgreSQL under Patroni, 3 RabbitMQ nodes, 2 replicas of each service."""


@cluster.command("up")
@_base_option
@click.option("--etcd", type=click.Choice(["1", "3"]), default="1", help="etcd members")
@click.option("--replicas", type=click.IntRange(1, 16), default=2, help="instances of each replicated service")
@click.option("--via", type=click.Choice(["haproxy", "multihost"]), default="haproxy",
              help="how the services reach the PostgreSQL primary")
def up(base, etcd, replicas, via):
    """Start everything, in the foreground; Ctrl-C stops it all and removes its data."""
    base = base or default_base()
    local = LocalCluster(base, etcd_members=int(etcd), via=via)
    click.echo(f"cluster in {local.base}")

    def interrupt(*_):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        try:
            local.up(replicas=replicas, echo=click.echo)
        except RuntimeError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"front doors: gateway {local.gateway_url}, web {local.web_url}"
                   + ("" if (local.gateway_port, local.web_port) == DEFAULT_FRONT_DOORS
                      else " (8000/8080 or their replicas' ports were taken)"))
        click.echo(f"environment for confide commands: set -a; . {local.base / ENV_FILE}; set +a")
        click.echo("stop everything: Ctrl-C here, or `confide cluster down`")
        proc = local.start_services(replicas)
        code = proc.wait()
        click.echo(f"confide run exited with code {code}", err=True)
    except KeyboardInterrupt:
        click.echo("stopping the cluster…", err=True)
    finally:
        signal.signal(signal.SIGTERM, previous)
        local.down()
        click.echo(f"cluster stopped; {local.base} removed", err=True)


@cluster.command("down")
@_base_option
def down(base):
    """Stop a cluster `confide cluster up` started (from another shell) and remove its data."""
    base = base or default_base()
    try:
        local = LocalCluster.attach(base)
    except FileNotFoundError:
        click.echo(f"no cluster in {base}")
        return
    local.down()
    click.echo(f"cluster in {base} stopped and removed")


@cluster.command("status")
@_base_option
def status(base):
    """Where the parts listen and which answer."""
    base = base or default_base()
    try:
        local = LocalCluster.attach(base)
    except FileNotFoundError:
        raise click.ClickException(f"no cluster in {base}") from None
    click.echo(json.dumps(local.status(), indent=2))
