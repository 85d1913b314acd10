"""Least privilege on the broker (45 CFR 164.312(a)(1), (e)(1)): what RabbitMQ itself refuses.

Against the real set-up (vhost ``confide``, users and passwords from ``confide broker
declare``). Each refusal is shown next to the allowed operation it differs from, so a
test cannot pass because the broker is simply down.
"""
import os
import signal
import ssl
import subprocess
import sys
import time
import uuid
from pathlib import Path

import amqp
import pytest
from kombu import Connection
from nameko.rpc import rpc as nameko_rpc

from confide import config
from confide.broker import RPC_EXCHANGE_NAME

from .conftest import VHOST, rabbitmqctl, vhost_queues

HERE = Path(__file__).parent
HOST = "127.0.0.1:5672"


def connect(uri):
    conn = amqp.Connection(**_params(uri), connect_timeout=5)
    conn.connect()
    return conn


def _params(uri):
    from urllib.parse import unquote, urlsplit

    p = urlsplit(uri)
    return {"host": f"{p.hostname}:{p.port or 5672}", "userid": unquote(p.username or ""),
            "password": unquote(p.password or ""), "virtual_host": unquote(p.path[1:]) or "/"}


def refused(fn):
    """Run ``fn``; return the AMQP error RabbitMQ raised (fails if it succeeded)."""
    try:
        fn()
    except (amqp.exceptions.AccessRefused, amqp.exceptions.NotAllowed) as exc:
        return exc
    pytest.fail("RabbitMQ allowed it")


# --- who may open the vhost ---------------------------------------------------

def test_guest_cannot_open_the_confide_vhost(confide_vhost):
    exc = refused(lambda: connect(f"amqp://guest:guest@{HOST}/{VHOST}"))
    assert "confide" in str(exc) or exc.code in (403, 530)
    connect(f"amqp://guest:guest@{HOST}/").close()  # guest itself still works (others' tests use it on /)


def test_a_client_without_confide_credentials_is_refused(confide_vhost, uri):
    refused(lambda: connect(f"amqp://intruder-{uuid.uuid4().hex[:6]}:x@{HOST}/{VHOST}"))
    refused(lambda: connect(f"amqp://cli:not-the-password@{HOST}/{VHOST}"))
    connect(uri("cli")).close()


def test_without_confide_credentials_no_rpc_and_no_binding(confide_vhost):
    """guest (an admin of the broker, not of Confide) can neither publish an RPC nor bind to Confide's exchanges."""
    for action in ("publish", "bind"):
        def attempt(action=action):
            conn = connect(f"amqp://guest:guest@{HOST}/{VHOST}")
            ch = conn.channel()
            if action == "publish":
                ch.basic_publish(amqp.Message("{}"), exchange=RPC_EXCHANGE_NAME, routing_key="notes.read_note")
            else:
                q, _, _ = ch.queue_declare(exclusive=True)
                ch.queue_bind(q, exchange="confide.events", routing_key="#")
        refused(attempt)


# --- topic permissions: which RPC each user may publish ---------------------------

def publish(uri, routing_key, exchange=RPC_EXCHANGE_NAME):
    """Publish one message; raises AccessRefused if the broker refuses it.

    basic.publish has no answer: a refusal arrives as a channel.close, which py-amqp
    raises on the next frame it reads (not from a publisher-confirm wait, which it
    swallows), so a synchronous basic.qos follows the publish on the same channel.
    """
    conn = connect(uri)
    try:
        ch = conn.channel()
        # Allowed keys reach the real services' queues: a well-formed, transient call that expires
        # at once unless a consumer takes it; a live service's answer goes to a reply key no queue
        # has. (nameko 2.14 lets a message without content_type or reply_to kill the container.)
        msg = amqp.Message('{"args": [], "kwargs": {}}', content_type="application/json", content_encoding="utf-8",
                           delivery_mode=1, expiration="0", correlation_id="security-probe",
                           reply_to=f"probe-{uuid.uuid4()}")
        ch.basic_publish(msg, exchange=exchange, routing_key=routing_key)
        ch.basic_qos(0, 1, False)
    finally:
        conn.collect()


def test_gateway_cannot_publish_notes_read_note(confide_vhost, uri):
    exc = refused(lambda: publish(uri("gateway"), "notes.read_note"))
    assert exc.code == 403 and "access to topic 'notes.read_note'" in str(exc), exc
    publish(uri("gateway"), "disclosures.submit_request")  # its own calls go through
    publish(uri("gateway"), "audit.health")


@pytest.mark.parametrize("user,key,allowed", [
    ("disclosures", "notes.release_fields", True),
    ("disclosures", "notes.read_note", False),
    ("disclosures", "notes.write_progress_note", False),
    ("disclosures", "directory.get_clinician", True),
    ("notes", "disclosures.submit_request", False),
    ("notes", "directory.record_access_attempt_refused", True),
    ("audit", "notes.read_note", False),
    ("audit", "directory.get_clinician", False),
    ("gateway", "directory.delete_clinician", False),
    ("gateway", "directory.record_client_assertion", True),
    ("notes", "directory.record_client_assertion", False),
    ("web", "notes.read_note", True),
    ("cli", "audit.verify", True),
])
def test_topic_permissions_per_user(confide_vhost, uri, user, key, allowed):
    if allowed:
        publish(uri(user), key)
    else:
        refused(lambda: publish(uri(user), key))


def test_nobody_publishes_to_the_default_exchange(confide_vhost, uri):
    """The default exchange would deliver to any queue by name, around the topic permissions."""
    for user in config.BROKER_USERS:
        refused(lambda user=user: publish(uri(user), "rpc-notes", exchange=""))


# --- queues: consume and bind --------------------------------------------------------

def test_a_service_cannot_consume_another_services_queue(confide_vhost, uri):
    conn = connect(uri("disclosures"))
    conn.channel().queue_declare("rpc-disclosures", durable=True, auto_delete=False)  # as nameko declares it
    conn.close()
    for user in ("notes", "gateway", "audit", "web", "cli"):
        def consume(user=user):
            c = connect(uri(user))
            try:
                c.channel().basic_consume("rpc-disclosures", callback=lambda m: None)
            finally:
                c.collect()
        refused(consume)
    refused(lambda: _get(uri("notes"), "audit.events"))  # nor the audit feed
    c = connect(uri("disclosures"))
    c.channel().basic_consume("rpc-disclosures", callback=lambda m: None)  # its owner can
    c.close()


def _get(u, queue):
    c = connect(u)
    try:
        c.channel().basic_get(queue)
    finally:
        c.collect()


def test_binding_to_confide_events_is_refused_to_services_other_than_audit(confide_vhost, uri):
    def bind():
        c = connect(uri("notes"))
        try:
            ch = c.channel()
            q = f"rpc.reply-notes-{uuid.uuid4()}"
            ch.queue_declare(q, exclusive=True, auto_delete=True)
            ch.queue_bind(q, exchange="confide.events", routing_key="#")
        finally:
            c.collect()
    refused(bind)


def _bind(u, owner, key):
    c = connect(u)
    try:
        ch = c.channel()
        q = f"rpc.reply-{owner}-{uuid.uuid4()}"
        ch.queue_declare(q, exclusive=True, auto_delete=True)
        ch.queue_bind(q, exchange=RPC_EXCHANGE_NAME, routing_key=key)
    finally:
        c.collect()


def test_rabbitmq_enforces_topic_read_permissions_on_queue_bind(confide_vhost, uri):
    """Found on RabbitMQ 3.10: over AMQP 0-9-1, queue.bind to a topic exchange checks the topic
    *read* regex against the binding key (besides read on the exchange, write on the queue).
    So no user can bind a queue of its own to another service's requests or to another user's
    reply key (``<user>-<uuid>``, confide.rpc)."""
    for key in ("notes.*", "notes.read_note", "#", "*.*", str(uuid.uuid4()), f"web-{uuid.uuid4()}"):
        exc = refused(lambda key=key: _bind(uri("gateway"), "gateway", key))
        assert "access to topic" in str(exc), exc
    refused(lambda: _bind(uri("notes"), "notes", f"web-{uuid.uuid4()}"))  # a responder, another caller's replies
    refused(lambda: _bind(uri("notes"), "notes", "disclosures.*"))
    _bind(uri("gateway"), "gateway", f"gateway-{uuid.uuid4()}")  # its own reply key: allowed
    _bind(uri("notes"), "notes", "notes.*")  # its own requests: allowed (nameko's rpc-notes binding)


# --- an RPC round-trip under these permissions, and replies off the disk ---------------

def _probe_env():
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "PYTHONWARNINGS": "ignore"}


@pytest.fixture
def probe_service(uri):
    proc = subprocess.Popen([sys.executable, str(HERE / "probe.py"), "serve", uri("directory")],
                            env=_probe_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    line = proc.stdout.readline()
    if "serving" not in line:
        proc.kill()
        pytest.fail(f"probe service did not start: {line}{proc.stdout.read()[:2000]}")
    yield proc
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


def test_rpc_round_trip_as_confide_users(confide_vhost, uri, probe_service):
    """Replies (routing key: the caller's reply uuid) pass the responder's topic permissions."""
    from confide.rpc import ServiceRpcProxy

    with ServiceRpcProxy("directory", {"AMQP_URI": uri("cli"), "serializer": "json"}, client="cli",
                         timeout=20) as directory:
        assert directory.get_probe(0)["probe"] == "SECRET-REPLY-BODY"


def test_reply_queues_are_exclusive_and_replies_never_persisted(confide_vhost, uri, probe_service):
    """The caller is SIGKILLed mid-call: its reply queue dies with it, the late reply is dropped, nothing on disk."""
    delay = 10  # the probe answers 10 s after the call; rabbitmqctl itself takes a second or two
    started = time.monotonic()
    caller = subprocess.Popen([sys.executable, str(HERE / "probe.py"), "call", uri("cli"), str(delay)],
                              env=_probe_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              start_new_session=True)
    reply_queue = caller.stdout.readline().strip()
    assert reply_queue.startswith("rpc.reply-cli-"), reply_queue
    time.sleep(1.5)  # the request is being served
    live = {q["name"]: q for q in vhost_queues()}
    if reply_queue not in live:
        caller.kill()
        pytest.fail(f"the caller's reply queue is gone before the kill: {caller.communicate()[0][-3000:]}\n{live}")
    assert live[reply_queue]["durable"] == "false"
    assert live[reply_queue]["exclusive"] == "true"
    assert live[reply_queue]["auto_delete"] == "true"
    os.killpg(caller.pid, signal.SIGKILL)
    caller.wait(10)
    assert time.monotonic() - started < delay, "too slow to kill the caller before the reply"
    time.sleep(delay + 1 - (time.monotonic() - started))  # the probe answers into a queue that no longer exists
    after = vhost_queues()
    assert reply_queue not in {q["name"] for q in after}
    leftovers = [q for q in after if q["name"].startswith("rpc.reply-") and q["messages"] != "0"]
    assert not leftovers, leftovers
    assert all(q["messages_persistent"] == "0" for q in after if q["name"].startswith("rpc")), after
    assert probe_service.poll() is None  # the probe answered into nothing and lives on


class _StockSlow:
    """nameko 2.14.1 as shipped (no confide.rpc), for the control below."""

    name = "stock_slow"

    @nameko_rpc
    def wait(self, delay):
        import eventlet

        eventlet.sleep(delay)
        return "SECRET-REPLY-BODY"


def test_control_stock_nameko_keeps_a_dead_callers_reply_on_disk(rabbit_config, container_factory):
    """Why confide.rpc exists: with nameko's own proxy, a caller that goes away leaves a durable,
    non-exclusive reply queue behind (x-expires 5 min), and the reply lands in it persistent.
    On a throw-away vhost of nameko's test fixture (guest), never on ``confide``."""
    import eventlet
    from nameko.standalone.rpc import ServiceRpcProxy as StockProxy

    container_factory(_StockSlow, {**rabbit_config, "serializer": "json"}).start()
    proxy = StockProxy("stock_slow", {**rabbit_config, "serializer": "json"})
    stock = proxy.start()
    queue = proxy._reply_listener.queue.name
    stock.wait.call_async(1)
    proxy.stop()  # the caller goes away mid-call
    eventlet.sleep(2)
    rows = [line.split("\t") for line in rabbitmqctl(
        "list_queues", "-p", rabbit_config["vhost"], "--no-table-headers",
        "name", "durable", "exclusive", "messages", "messages_persistent").splitlines()]
    left = {r[0]: r[1:] for r in rows if len(r) == 5}
    assert left[queue] == ["true", "false", "1", "1"], left


# --- AMQP over TLS (a node of its own) -------------------------------------------------

def test_amqp_over_tls_with_the_set_up_ca(tmp_path, monkeypatch):
    sys.path.insert(0, str(HERE))
    from tls_node import TlsNode

    from confide.broker_tls import init_tls

    paths = init_tls(tmp_path / "tls")
    assert oct(paths["key"].stat().st_mode & 0o777) == "0o600"
    node = TlsNode(tmp_path / "node", paths)
    try:
        node.start()
        url = f"amqps://confide_tls:confide_tls@localhost:{node.tls_port}/"
        # the services' way: CONFIDE_AMQP_URI + CONFIDE_AMQP_CA → config.amqp_ssl() (nameko's AMQP_SSL)
        monkeypatch.setenv(config.AMQP_URI_KEY, url)
        monkeypatch.setenv(config.AMQP_CA_KEY, str(paths["ca"]))
        trusted = config.amqp_ssl()
        assert trusted == {"ca_certs": str(paths["ca"]), "cert_reqs": ssl.CERT_REQUIRED}
        with Connection(config.amqp_uri("cli"), ssl=trusted, connect_timeout=5) as conn:
            conn.connect()
            assert conn.connection.transport.sock.version() in ("TLSv1.2", "TLSv1.3")
        with pytest.raises(ssl.SSLCertVerificationError):  # a client that does not trust the CA
            with Connection(url, ssl={"cert_reqs": ssl.CERT_REQUIRED, "server_hostname": "localhost"},
                            connect_timeout=5) as conn:
                conn.connect()
    finally:
        node.stop()
