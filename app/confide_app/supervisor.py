"""``confide run``: the five services and the web front door in the foreground, one log stream, Ctrl-C stops them all.

Each service runs as ``nameko run --config services/<name>/config.yml <name>.service``,
connecting to RabbitMQ as its own user (``CONFIDE_AMQP_URI_<NAME>``, from
``confide.config.amqp_uri(name)``); the web front door (Django under waitress) as
``python -m web serve`` on ``CONFIDE_WEB_ADDRESS``, its RPC client connecting as the ``web`` user;
every line it prints is prefixed with its name. If one service exits, the
others are stopped and the command exits non-zero.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import click

from confide import config

SERVICES = ("directory", "notes", "disclosures", "audit", "gateway", "web")
COLOURS = {
    "directory": "blue", "notes": "cyan", "disclosures": "magenta", "audit": "yellow", "gateway": "green",
    "web": "bright_blue",
}


def _command(name: str) -> list[str]:
    if name == "web":
        return [sys.executable, "-m", "web", "serve"]
    nameko = os.path.join(os.path.dirname(sys.executable), "nameko")
    cfg = config.REPO_ROOT / "services" / name / "config.yml"
    return [nameko, "run", "--config", str(cfg), f"{name}.service"]


def _pump(name: str, stream, width: int) -> None:
    prefix = click.style(f"{name:<{width}} |", fg=COLOURS.get(name))
    for line in iter(stream.readline, ""):
        click.echo(f"{prefix} {line.rstrip()}")


@click.command()
@click.option("--only", multiple=True, type=click.Choice(SERVICES), help="start only these services")
def run(only):
    """Start directory, notes, disclosures, audit, gateway and web; Ctrl-C stops them all."""
    names = only or SERVICES
    # Library deprecation notices (eventlet, pkg_resources) are not operators' news.
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONWARNINGS": "ignore"}
    env.setdefault(config.KEY_DIR_KEY, str(config.key_dir()))
    env.setdefault(config.CHECKPOINT_DIR_KEY, str(config.checkpoint_dir()))
    try:  # the services' database login, with the password set-up generated (never a default)
        env.setdefault(config.DB_DSN_KEY, config.db_dsn())
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    # Each service connects to RabbitMQ as its own user (its config.yml reads CONFIDE_AMQP_URI_<NAME>).
    try:
        for name in names:
            env.setdefault(config.amqp_uri_key(name), config.amqp_uri(name))
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    ssl = config.amqp_ssl()
    if ssl is not None:
        import json

        env.setdefault("CONFIDE_AMQP_SSL", json.dumps(ssl))
    width = max(map(len, names))
    procs = {}
    for name in names:
        procs[name] = subprocess.Popen(
            _command(name),
            cwd=config.REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )
        threading.Thread(target=_pump, args=(name, procs[name].stdout, width), daemon=True).start()
    web_at = os.environ.get("CONFIDE_WEB_ADDRESS", "127.0.0.1:8080")
    click.echo(f"started {', '.join(names)}; gateway on {config.gateway_url()}, web on http://{web_at} — Ctrl-C stops all")

    def stop(*_):
        # nameko stops gracefully on SIGTERM (a SIGINT may be ignored when started in the background).
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.time() + 10
        for p in procs.values():
            try:
                p.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()

    def interrupt(*_):
        raise KeyboardInterrupt

    # Ctrl-C and SIGTERM both stop everything, even when started from a script with SIGINT ignored.
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    try:
        while True:
            dead = [n for n, p in procs.items() if p.poll() is not None]
            if dead:
                click.echo(f"{', '.join(dead)} exited; stopping the others", err=True)
                stop()
                sys.exit(1)
            time.sleep(0.5)
    except KeyboardInterrupt:
        click.echo("stopping…", err=True)
        stop()
