"""``confide run``: the five services and the web front door in the foreground, one log stream, Ctrl-C stops them all.

Each service runs as ``nameko run --config services/<name>/config.yml <name>.service``,
connecting to RabbitMQ as its own user (``CONFIDE_AMQP_URI_<NAME>``, from
``confide.config.amqp_uri(name)``); the web front door (Django under cheroot) as
``python -m web serve`` on ``CONFIDE_WEB_ADDRESS``, its RPC client connecting as the ``web`` user;
every line it prints is prefixed with its name. The services share the services' database login
(``CONFIDE_DB_DSN``); the audit service alone also gets the projector's (``CONFIDE_PROJECTOR_DSN``,
the only login that writes the keyed chain, the checkpoints and the audit projections). If one exits, it alone is restarted after a
backoff (:class:`Backoff`: exponential, capped, reset once it has stayed up a while; each restart
is logged with the exit code) while the others keep running; a service that keeps crashing right
after start is reported loudly at every further restart. Ctrl-C or SIGTERM stops them all.

``confide run --replicas N`` (or ``CONFIDE_REPLICAS=N``) starts N instances of notes, disclosures,
audit, gateway and web (:mod:`confide.replicas`): each is named (``notes-1``; ``CONFIDE_INSTANCE``),
its log lines prefixed with that name, and restarted alone when it exits. With N > 1 the gateway's
and the web's replicas listen on ports of their own and HAProxy (one more child, ``haproxy``,
restarted like the others) listens on the usual addresses in front of them, with health checks.

``confide serve <name>`` runs one of them alone, in the foreground, with the same command line and
environment (:func:`service_env`): what a systemd unit (deploy/systemd/) starts.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import click

from confide import config

SERVICES = ("directory", "notes", "disclosures", "audit", "gateway", "web")
COLOURS = {
    "directory": "blue", "notes": "cyan", "disclosures": "magenta", "audit": "yellow", "gateway": "green",
    "web": "bright_blue",
}


def _command(name: str) -> list[str]:
    """The command line of service ``name`` (whatever the replica)."""
    if name == "web":
        return [sys.executable, "-m", "web", "serve"]
    nameko = os.path.join(os.path.dirname(sys.executable), "nameko")
    cfg = config.REPO_ROOT / "services" / name / "config.yml"
    return [nameko, "run", "--config", str(cfg), f"{name}.service"]


def _pump(name: str, stream, width: int) -> None:
    prefix = click.style(f"{name:<{width}} |", fg=COLOURS.get(name.rsplit("-", 1)[0], COLOURS.get(name)))
    for line in iter(stream.readline, ""):
        click.echo(f"{prefix} {line.rstrip()}")


@dataclass
class Backoff:
    """When to restart a child that exited: ``base * factor**n`` seconds after its n-th crash in a row,
    at most ``cap``; a child that stayed up ``stable_after`` seconds starts again from ``base``.

    ``failures`` counts crashes in a row; ``crash_loop`` is true once ``loop_after`` of them in a
    row came within ``stable_after`` of their start (the operator must hear about it).

    The cap is short on purpose: a running service rides out a RabbitMQ or PostgreSQL restart by
    itself (``make chaos`` checks it), but one that starts while PostgreSQL is down exits (its event
    store must answer at start) and is back within ``cap`` seconds of the database's return.
    """

    base: float = 1.0
    factor: float = 2.0
    cap: float = 15.0
    stable_after: float = 30.0
    loop_after: int = 5
    failures: int = 0

    def exited(self, uptime: float) -> float:
        """Record an exit after ``uptime`` seconds up; return the delay before the next start."""
        if uptime >= self.stable_after:
            self.failures = 0
        delay = min(self.cap, self.base * self.factor ** self.failures)
        self.failures += 1
        return delay

    @property
    def crash_loop(self) -> bool:
        return self.failures >= self.loop_after


@dataclass
class _Child:
    name: str
    argv: list[str]
    backoff: Backoff
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    restart_at: float | None = None
    restarts: int = 0
    history: list[int] = field(default_factory=list)


def service_environments(names, env: dict, projector_dsn: str | None) -> dict[str, dict]:
    """Each child's environment: ``env`` without any projector DSN, and for the audit service alone
    ``projector_dsn`` as ``CONFIDE_PROJECTOR_DSN`` (no other process may write what the audit trail
    derives from the log). No service gets the superuser's DSN (``CONFIDE_ADMIN_DSN``): set-up and
    the administrator's commands use it, a running service never does. Raises ValueError when the
    audit service is among ``names`` without the projector's DSN."""
    shared = {k: v for k, v in env.items() if k not in (config.PROJECTOR_DSN_KEY, config.ADMIN_DSN_KEY)}
    if "audit" in names and not projector_dsn:
        raise ValueError("the audit service needs the projector's database login (CONFIDE_PROJECTOR_DSN)")
    return {name: {**shared, config.PROJECTOR_DSN_KEY: projector_dsn} if name == "audit" else dict(shared)
            for name in names}


def supervise(commands: dict[str, list[str]], *, env: dict | None = None, envs: dict[str, dict] | None = None,
              cwd: str | None = None, backoff: Callable[[], Backoff] = Backoff,
              started: Callable[[], None] | None = None, poll: float = 0.2,
              echo: Callable[..., None] = click.echo) -> None:
    """Run each command, prefixing its output with its name; restart any that exits after its
    backoff, leaving the others running; return after stopping them all on Ctrl-C or SIGTERM.

    ``envs``: a child's own environment by name (else ``env``, else this process's)."""
    width = max(map(len, commands))
    children = {name: _Child(name, argv, backoff()) for name, argv in commands.items()}

    def spawn(child: _Child) -> None:
        child.proc = subprocess.Popen(
            child.argv, cwd=cwd, env=(envs or {}).get(child.name, env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )
        child.started_at, child.restart_at = time.monotonic(), None
        threading.Thread(target=_pump, args=(child.name, child.proc.stdout, width), daemon=True).start()

    def stop() -> None:
        # nameko stops gracefully on SIGTERM (a SIGINT may be ignored when started in the background).
        running = [c.proc for c in children.values() if c.proc is not None and c.proc.poll() is None]
        for p in running:
            p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for p in running:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def interrupt(*_):
        raise KeyboardInterrupt

    # Ctrl-C and SIGTERM both stop everything, even when started from a script with SIGINT ignored.
    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for child in children.values():
            spawn(child)
        if started is not None:
            started()
        while True:
            now = time.monotonic()
            for child in children.values():
                if child.restart_at is not None:
                    if now >= child.restart_at:
                        child.restarts += 1
                        echo(f"restarting {child.name} (restart {child.restarts})", err=True)
                        spawn(child)
                    continue
                assert child.proc is not None
                code = child.proc.poll()
                if code is None:
                    continue
                delay = child.backoff.exited(now - child.started_at)
                child.restart_at = now + delay
                child.history.append(code)
                if child.backoff.crash_loop:
                    echo(click.style(
                        f"!!! {child.name} is crash-looping: exited with code {code}, "
                        f"{child.backoff.failures} times in a row within {child.backoff.stable_after:g}s "
                        f"of starting; retrying in {delay:g}s — look at its log above", fg="red", bold=True),
                        err=True)
                else:
                    echo(f"{child.name} exited with code {code}; restarting it in {delay:g}s "
                         "(the others keep running)", err=True)
            time.sleep(poll)
    except KeyboardInterrupt:
        echo("stopping…", err=True)
    finally:
        stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def service_env(names, base: dict | None = None) -> dict[str, str]:
    """The environment the services ``names`` start with: ``base`` (default ``os.environ``) plus what
    it leaves unset of the key and checkpoint directories, the database login (with the password
    set-up generated, never a default), each service's own broker URI and the broker's TLS options.
    Raises RuntimeError naming what set-up has not made yet (a password file)."""
    # Library deprecation notices (eventlet, pkg_resources) are not operators' news.
    env = {**(os.environ if base is None else base), "PYTHONUNBUFFERED": "1", "PYTHONWARNINGS": "ignore"}
    env.setdefault(config.KEY_DIR_KEY, str(config.key_dir()))
    env.setdefault(config.CHECKPOINT_DIR_KEY, str(config.checkpoint_dir()))
    env.setdefault(config.DB_DSN_KEY, config.db_dsn())
    # Each service connects to RabbitMQ as its own user (its config.yml reads CONFIDE_AMQP_URI_<NAME>).
    for name in names:
        env.setdefault(config.amqp_uri_key(name), config.amqp_uri(name))
    ssl = config.amqp_ssl()
    if ssl is not None:
        import json

        env.setdefault("CONFIDE_AMQP_SSL", json.dumps(ssl))
    return env


def child_environments(names) -> dict[str, dict]:
    """Each service's environment: :func:`service_env`, and for the audit service alone the
    projector's login (:func:`service_environments`). Raises RuntimeError or ValueError naming what
    set-up has not made yet."""
    env = service_env(names)
    # the audit service's own login (chain, checkpoints, projections), for it alone
    projector = config.projector_dsn() if "audit" in names else None
    return service_environments(names, env, projector)


def _front_doors(names) -> str:
    from confide.https import WEB_TLS_CERT_KEY

    doors = []
    if "gateway" in names:
        doors.append(f"gateway on {config.gateway_url()}")
    if "web" in names:
        scheme = "https" if os.environ.get(WEB_TLS_CERT_KEY) else "http"
        doors.append(f"web on {scheme}://{os.environ.get('CONFIDE_WEB_ADDRESS', '127.0.0.1:8080')}")
    return "; ".join(doors)


def haproxy_binary() -> str:
    """``CONFIDE_HAPROXY``, else ``haproxy`` on the PATH, else /usr/sbin/haproxy. Raises RuntimeError
    when none is there (install the Debian package ``haproxy``)."""
    import shutil

    found = os.environ.get("CONFIDE_HAPROXY") or shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not os.access(found, os.X_OK):
        raise RuntimeError(f"HAProxy not found at {found}: install haproxy, or run with --replicas 1")
    return found


def replicated_children(names, replicas: int, envs: dict[str, dict], run_dir: str
                        ) -> tuple[dict[str, list[str]], dict[str, dict]]:
    """The children of ``confide run --replicas N``: ({child name: argv}, {child name: env}) for
    ``replicas`` instances of each replicated service among ``names`` (:func:`confide.replicas.plan`)
    and, when a front door has more than one, HAProxy in front of them, its configuration written
    to ``run_dir/haproxy.cfg``. ``envs``: each service's environment (:func:`child_environments`).
    Raises ValueError (a bad count, address or offset), RuntimeError (no HAProxy)."""
    from confide import replicas as rep
    from confide.https import GATEWAY_TLS_CERT_KEY, WEB_TLS_CERT_KEY

    base = envs[names[0]]
    instances = rep.plan(names, replicas, base)
    tls = {"gateway": bool(base.get(GATEWAY_TLS_CERT_KEY)), "web": bool(base.get(WEB_TLS_CERT_KEY))}
    commands: dict[str, list[str]] = {}
    child_envs: dict[str, dict] = {}
    fronts: dict[str, tuple[str, list]] = {}
    for r in instances:
        commands[r.name] = _command(r.service)
        child_envs[r.name] = rep.replica_env(r, envs[r.service], replicas, tls=tls.get(r.service, False))
        if r.address is not None:
            fronts.setdefault(r.service, (rep.front_address(r.service, base), []))[1].append(r)
    if fronts:
        cfg = os.path.join(run_dir, "haproxy.cfg")
        with open(cfg, "w", encoding="utf-8") as fh:
            fh.write(rep.haproxy_config(fronts, tls))
        commands["haproxy"] = [haproxy_binary(), "-db", "-f", cfg]
        child_envs["haproxy"] = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    return commands, child_envs


@click.command()
@click.option("--only", multiple=True, type=click.Choice(SERVICES), help="start only these services")
@click.option("--replicas", type=click.IntRange(1, 16), default=None,
              help="instances of notes, disclosures, audit, gateway and web (default CONFIDE_REPLICAS, else 1); "
                   "more than one puts HAProxy in front of the gateway and the web")
def run(only, replicas):
    """Start directory, notes, disclosures, audit, gateway and web; Ctrl-C stops them all."""
    import shutil
    import tempfile

    names = list(only or SERVICES)
    try:
        count = replicas or config.replicas()
        envs = child_environments(names)
    except (RuntimeError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    run_dir = tempfile.mkdtemp(prefix="confide-run-")
    try:
        try:
            commands, child_envs = replicated_children(names, count, envs, run_dir)
        except (RuntimeError, ValueError) as exc:
            raise click.ClickException(str(exc)) from None
        doors = _front_doors(names)
        started = ", ".join(names) + (f" ({count} of each replicated service, HAProxy in front)" if count > 1 else "")
        supervise(
            commands, envs=child_envs, cwd=str(config.REPO_ROOT),
            started=lambda: click.echo(f"started {started}" + (f"; {doors}" if doors else "")
                                       + " — Ctrl-C stops all"),
        )
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


@click.command()
@click.argument("service", type=click.Choice(SERVICES))
def serve(service):
    """Run one service in the foreground, in place of this command (for systemd: deploy/systemd/).

    The same command line and environment as under `confide run`, without the supervisor: the
    service manager restarts it, and its log goes to standard output (journald under systemd).
    """
    try:
        env = child_environments([service])[service]
    except (RuntimeError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    argv = _command(service)
    os.chdir(config.REPO_ROOT)
    sys.stdout.flush()
    os.execve(argv[0], argv, env)
