"""Security tier: what the broker itself refuses, against the real set-up.

These tests connect to the ``confide`` vhost and users that ``confide broker declare``
(deploy/setup.sh) made, with the passwords in ``<key_dir>/broker/``. A missing vhost,
user or password fails the test loudly (``make setup`` first); nothing is skipped.
The shared RabbitMQ is never reconfigured or restarted: the TLS test starts a node of
its own (``tls_node.py``). Probe services run as the ``directory`` user (the only RPC
server with no service in this repository yet) for a few seconds each.
"""
import subprocess

import pytest

from confide import config

VHOST = config.AMQP_VHOST


def rabbitmqctl(*args: str, timeout: float = 30) -> str:
    """``rabbitmqctl`` on the shared node (read-only commands only)."""
    try:
        out = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        pytest.fail("rabbitmqctl not found: the security tier reads the broker's own view of its queues")
    if out.returncode != 0:
        pytest.fail(f"rabbitmqctl {' '.join(args)} failed: {out.stderr.strip()}")
    return out.stdout


def vhost_queues() -> list[dict]:
    """``list_queues`` of the confide vhost as dicts (name, durable, auto_delete, exclusive, messages, persistent)."""
    cols = ["name", "durable", "auto_delete", "exclusive", "messages", "messages_persistent"]
    rows = []
    for line in rabbitmqctl("list_queues", "-p", VHOST, "--no-table-headers", *cols).splitlines():
        parts = line.split("\t")
        if len(parts) == len(cols):
            rows.append(dict(zip(cols, parts, strict=True)))
    return rows


@pytest.fixture(scope="session")
def confide_vhost():
    """Fails unless set-up made the vhost and every user has a password file."""
    from confide.broker import BrokerAdmin

    admin = BrokerAdmin(config.rabbit_admin_uri())
    try:
        vhosts = {v["name"] for v in admin.get("/vhosts")}
        users = {u["name"] for u in admin.get("/users")}
    except Exception as exc:
        pytest.fail(f"RabbitMQ management API unreachable ({config.rabbit_admin_uri().split('@')[-1]}): {exc}")
    if VHOST not in vhosts:
        pytest.fail(f"vhost {VHOST!r} missing: run `confide broker declare` (deploy/setup.sh)")
    missing = [u for u in config.BROKER_USERS if u not in users or not config.broker_secret_path(u).exists()]
    if missing:
        pytest.fail(f"broker users or their passwords missing: {missing}: run `confide broker declare`")
    return VHOST


@pytest.fixture
def uri(confide_vhost):
    """``uri(user)``: the AMQP URI of a Confide broker user on the real vhost."""
    return lambda user: config.amqp_uri(user)
