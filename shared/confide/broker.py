"""RabbitMQ topology and publishing, declared at deploy time (before any publish).

Events published before a queue exists are lost, so every exchange and queue
is declared by ``declare_topology`` during set-up (and by tests for their own
vhost), before the relay publishes its first event.

- ``nameko-rpc`` (topic, durable): nameko's RPC requests and replies.
- ``confide.events`` (topic, durable): every stored event, routing key = event type.
- ``audit.events`` (quorum queue bound with ``#``): the audit service's feed.
  A handler failure rejects with requeue; RabbitMQ counts deliveries and after
  ``DELIVERY_LIMIT`` dead-letters the message to ``confide.dlx`` →
  ``audit.events.dlq`` (quorum), where an operator can read and replay it
  (``confide audit dlq``).
- ``rpc-<service>`` (durable, bound ``<service>.*`` to ``nameko-rpc``): each RPC server's
  requests, declared by the service itself (:func:`rpc_queue`, used by ``confide.rpc``).

Queue type (``CONFIDE_QUEUE_TYPE``, :func:`durable_queue_arguments`): on one node the RPC queues
are classic, as nameko makes them; on a cluster (``quorum``) every durable queue is a quorum queue
with ``CONFIDE_QUORUM_GROUP_SIZE`` (3) replicas, so it and its messages outlive a node. RPC reply
queues stay classic, exclusive and auto-delete (``confide.rpc``; quorum queues can be neither):
each lives on the node its caller is connected to and dies with it, like the caller's connection.
Quorum queues keep every message on disk (the delivery mode is ignored): with ``quorum``, RPC
requests, transient on a classic queue, are written to each replica's Raft log, so the brokers'
data directories hold them and belong on encrypted volumes (45 CFR 164.312(a)(2)(iv)). Confide
uses no message priorities (quorum queues in RabbitMQ 3.10 have none), no per-message or per-queue
TTL, no exclusive durable queue and no global QoS.
"""
from __future__ import annotations

import json
from typing import Any

from kombu import Connection, Exchange, Producer, Queue

EVENTS_EXCHANGE = Exchange("confide.events", type="topic", durable=True)
DLX_EXCHANGE = Exchange("confide.dlx", type="direct", durable=True)
# nameko's RPC exchange (nameko.rpc.get_rpc_exchange): declared at set-up too, so the
# topic permissions on it apply from the first publish.
RPC_EXCHANGE = Exchange("nameko-rpc", type="topic", durable=True)
DELIVERY_LIMIT = 5

AUDIT_QUEUE_NAME = "audit.events"
AUDIT_DLQ_NAME = "audit.events.dlq"
RPC_QUEUE_TEMPLATE = "rpc-{}"  # nameko.rpc.RPC_QUEUE_TEMPLATE


def durable_queue_arguments(quorum: bool | None = None) -> dict:
    """The ``x-`` arguments of a durable Confide queue: ``{}`` (classic) or a quorum queue with
    ``CONFIDE_QUORUM_GROUP_SIZE`` replicas. ``quorum=None`` follows ``CONFIDE_QUEUE_TYPE``; a queue
    that must be a quorum queue whatever the setting (it uses ``x-delivery-limit``) passes True,
    and gets the group size only when the setting is ``quorum`` (a one-node installation's
    existing queue keeps its arguments). Raises ValueError for a bad setting (confide.config)."""
    from confide import config

    clustered = config.queue_type() == "quorum"
    if not (clustered if quorum is None else quorum):
        return {}
    args: dict = {"x-queue-type": "quorum"}
    if clustered:
        args["x-quorum-initial-group-size"] = config.quorum_group_size()
    return args


def audit_queue() -> Queue:
    """The audit service's quorum queue (the same arguments everywhere, or RabbitMQ refuses)."""
    return Queue(
        AUDIT_QUEUE_NAME,
        exchange=EVENTS_EXCHANGE,
        routing_key="#",
        durable=True,
        queue_arguments={
            **durable_queue_arguments(quorum=True),
            "x-delivery-limit": DELIVERY_LIMIT,
            "x-dead-letter-exchange": DLX_EXCHANGE.name,
            "x-dead-letter-routing-key": AUDIT_QUEUE_NAME,
        },
    )


def audit_dlq() -> Queue:
    """Where audit messages go after DELIVERY_LIMIT failed deliveries."""
    return Queue(
        AUDIT_DLQ_NAME,
        exchange=DLX_EXCHANGE,
        routing_key=AUDIT_QUEUE_NAME,
        durable=True,
        queue_arguments=durable_queue_arguments(quorum=True),
    )


def rpc_queue(service: str, exchange: Exchange | None = None) -> Queue:
    """``rpc-<service>``, bound ``<service>.*`` to ``nameko-rpc``: nameko's RPC request queue with
    the type ``CONFIDE_QUEUE_TYPE`` asks for (every declarer must use this, or RabbitMQ refuses)."""
    return Queue(
        RPC_QUEUE_TEMPLATE.format(service),
        exchange=exchange if exchange is not None else RPC_EXCHANGE,
        routing_key=f"{service}.*",
        durable=True,
        queue_arguments=durable_queue_arguments(),
    )


def declare_topology(amqp_uri: str, ssl: dict | None = None) -> None:
    """Declare exchanges and queues (idempotent). Raises kombu/amqp errors if unreachable, and
    QueueTypeMismatchError when a queue exists with other arguments (``CONFIDE_QUEUE_TYPE`` or
    ``CONFIDE_QUORUM_GROUP_SIZE`` differ from when it was declared).

    In the ``confide`` vhost only ``audit`` may: set-up connects as ``audit``. ``amqp_uri`` may be
    a failover list (a cluster): the first node that answers is used.
    """
    import amqp

    with Connection(amqp_uri, connect_timeout=5, ssl=ssl or False) as conn:
        conn.ensure_connection(max_retries=max(1, amqp_uri.count(";")))
        channel = conn.channel()
        for exchange in (EVENTS_EXCHANGE, DLX_EXCHANGE, RPC_EXCHANGE):
            exchange(channel).declare()
        for queue in (audit_dlq(), audit_queue()):
            try:
                queue(channel).declare()
            except amqp.exceptions.PreconditionFailed as exc:
                raise QueueTypeMismatchError(
                    f"queue {queue.name} exists with other arguments than CONFIDE_QUEUE_TYPE / "
                    f"CONFIDE_QUORUM_GROUP_SIZE ask for ({exc}); a queue's type cannot change in place: "
                    "drain it, delete it, and declare again") from None


class QueueTypeMismatchError(RuntimeError):
    """A queue exists with arguments other than the configuration's (RabbitMQ's PRECONDITION_FAILED)."""


class UnroutableError(RuntimeError):
    """A mandatory publish was returned by the broker: no queue would receive it.

    ``delivered``: in a batch, how many messages before it were confirmed and routed.
    """

    def __init__(self, message: str, delivered: int = 0):
        super().__init__(message)
        self.delivered = delivered


class ConfirmingPublisher:
    """Publishes with publisher confirms and ``mandatory``: a return or a nack raises.

    ``publish(body, routing_key, message_id)`` returns only once RabbitMQ has
    confirmed the message into every bound queue. Raises UnroutableError when
    the message would be dropped, kombu/amqp errors when the broker fails.
    """

    def __init__(self, amqp_uri: str, exchange: Exchange = EVENTS_EXCHANGE):
        # Kept whole: a failover list (``amqp://a;amqp://b``) must survive reconnection, and
        # kombu's ``as_uri()`` gives only the node of the moment.
        self._uri = amqp_uri
        self._conn = Connection(amqp_uri, transport_options={"confirm_publish": True}, connect_timeout=5)
        self._returned: list[Any] = []
        self._exchange = exchange
        self._producer: Producer | None = None

    def _ensure(self) -> Producer:
        if self._producer is None:
            self._conn.ensure_connection(max_retries=max(3, len(self._uri.split(";"))))
            channel = self._conn.channel()
            self._producer = Producer(channel, exchange=self._exchange, on_return=self._on_return)
        return self._producer

    def _on_return(self, exception, exchange, routing_key, message):
        self._returned.append(routing_key)

    def publish(self, body: dict, routing_key: str, message_id: str, headers: dict | None = None) -> None:
        producer = self._ensure()
        self._returned.clear()
        try:
            producer.publish(
                body,
                routing_key=routing_key,
                serializer="json",
                mandatory=True,
                delivery_mode=2,
                message_id=message_id,
                headers=headers or {},
                retry=False,
            )
        except Exception:
            self.close()
            raise
        # basic.return arrives before the confirm; drain it from the channel.
        if self._returned:
            raise UnroutableError(f"message {message_id} ({routing_key}) was returned: no queue bound")

    def publish_batch(self, messages: list[tuple[dict, str, str, dict]]) -> int:
        """Publish ``[(body, routing_key, message_id, headers)]`` with one wait for all confirms.

        Returns how many leading messages are confirmed AND routed (all of them on
        success). Raises UnroutableError naming the first returned message (the
        ones before it are safely delivered), or MessageNacked/connection errors
        (then none is counted: the caller republishes, consumers are idempotent).
        Confirms arrive in publish order on one channel; RabbitMQ sends a
        basic.return before the ack of the same message.
        """
        if not messages:
            return 0
        import amqp

        channel = self._batch_channel()
        acked, nacked, returned = [0], [False], []
        published_tags: list[str] = []

        def on_ack(tag, multiple):
            acked[0] = max(acked[0], tag)

        def on_nack(tag, multiple):
            nacked[0] = True

        def on_return(exc, exchange, routing_key, message):
            returned.append(message.properties.get("message_id"))

        channel.events["basic_ack"].add(on_ack)
        channel.events["basic_nack"].add(on_nack)
        channel.events["basic_return"].add(on_return)
        try:
            base = self._batch_tag
            for body, routing_key, message_id, headers in messages:
                msg = amqp.Message(json.dumps(body), content_type="application/json", content_encoding="utf-8",
                                   delivery_mode=2, message_id=message_id, application_headers=headers or {})
                channel.basic_publish(msg, exchange=self._exchange.name, routing_key=routing_key, mandatory=True)
                self._batch_tag += 1
                published_tags.append(message_id)
            while acked[0] < self._batch_tag and not nacked[0]:
                channel.connection.drain_events(timeout=10)
        except Exception:
            self._drop_batch_channel()
            raise
        finally:
            channel.events["basic_ack"].discard(on_ack)
            channel.events["basic_nack"].discard(on_nack)
            channel.events["basic_return"].discard(on_return)
        if nacked[0]:
            self._drop_batch_channel()
            raise amqp.exceptions.MessageNacked(f"broker nacked a message of a batch from tag {base + 1}")
        if returned:
            first = min(published_tags.index(r) for r in returned if r in published_tags)
            raise UnroutableError(f"message {published_tags[first]} was returned: no queue bound",
                                  delivered=first)
        return len(messages)

    def _batch_channel(self):
        if getattr(self, "_channel", None) is None:
            self._raw = Connection(self._uri, connect_timeout=5)
            # a dead node is refused at once; each retry tries the next node of a failover list
            self._raw.ensure_connection(max_retries=max(3, len(self._uri.split(";"))))
            self._channel = self._raw.connection.channel()
            self._channel.confirm_select()
            self._batch_tag = 0
        return self._channel

    def _drop_batch_channel(self):
        raw, self._channel = getattr(self, "_raw", None), None
        if raw is not None:
            try:
                raw.release()
            except Exception:
                pass

    def close(self) -> None:
        self._drop_batch_channel()
        try:
            self._conn.release()
        finally:
            self._producer = None
            self._conn = Connection(self._uri, transport_options={"confirm_publish": True}, connect_timeout=5)


# --- Users and permissions (least privilege, 45 CFR 164.312(a)(1)) ----------------------------
#
# Set-up (``confide broker declare``) creates the vhost ``confide`` and one user per
# service and front door through the management HTTP API, with an administrator
# (``CONFIDE_RABBIT_ADMIN_URI``) that itself keeps no permission on the vhost.
# Passwords are generated once and kept in ``<key_dir>/broker/<user>.secret`` (0600).
#
# RabbitMQ checks, per AMQP operation (https://www.rabbitmq.com/docs/access-control):
# queue/exchange declare and delete → configure on it; queue.bind → write on the queue
# and read on the exchange; basic.publish → write on the exchange; basic.consume/get
# → read on the queue. Topic permissions on ``nameko-rpc`` then limit the routing keys a
# user may publish (``<service>.<method>`` requests, and replies, whose routing key
# is the caller's reply-queue uuid). Nobody gets ``amq.default``: publishing to the
# default exchange would reach any queue by name, around the topic permissions.

RPC_EXCHANGE_NAME = RPC_EXCHANGE.name
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
RPC_SERVERS = ("notes", "disclosures", "audit", "directory")  # have @rpc entrypoints: queue rpc-<name>

# Which RPCs (routing keys ``<service>.<method>``, regexes) each user may call.
_EVERY_SERVICE_CALLS = (r"directory\.get_[a-z0-9_]+", r"directory\.record_access_attempt_refused")
_FRONT_DOOR_CALLS = (r"notes\.[a-z0-9_]+", r"disclosures\.[a-z0-9_]+", r"audit\.[a-z0-9_]+",
                     r"directory\.[a-z0-9_]+")
RPC_CALLS: dict[str, tuple[str, ...]] = {
    # record_client_assertion: the payers' assertion replay cache every gateway replica shares.
    "gateway": (r"disclosures\.[a-z0-9_]+", r"audit\.health", r"directory\.record_client_assertion",
                *_EVERY_SERVICE_CALLS),
    "disclosures": (r"notes\.release_fields", r"notes\.export_designated_record_set",
                    r"notes\.request_record_access", *_EVERY_SERVICE_CALLS),
    "notes": _EVERY_SERVICE_CALLS,
    "audit": (),
    "directory": (),
    "web": _FRONT_DOOR_CALLS,
    "cli": _FRONT_DOOR_CALLS,
}
# The audit service owns the event topology (it declares it at set-up and its relay publishes).
_AUDIT_OWN = (r"confide\.events", r"confide\.dlx", r"audit\.events", r"audit\.events\.dlq")


def _alt(names) -> str:
    return "^(" + "|".join(names) + ")$" if names else "^$"


def permissions(user: str) -> dict[str, str]:
    """``{"configure", "write", "read"}`` regexes of ``user`` on the vhost (anchored)."""
    own = [rf"rpc\.reply-{user}-{_UUID}"]  # nameko: rpc.reply-<service>-<uuid>; confide.rpc: <client> too
    if user in RPC_SERVERS:
        own.append(rf"rpc-{user}")
    extra = list(_AUDIT_OWN) if user == "audit" else []
    names = [*own, r"nameko-rpc", *extra]
    # configure: nameko declares the exchange and its queues on every connect.
    return {"configure": _alt(names), "write": _alt(names), "read": _alt(names)}


def topic_permissions(user: str) -> dict[str, str]:
    """Topic permissions of ``user`` on ``nameko-rpc``.

    write: the routing keys it may publish: its RPC calls, and (RPC servers) replies,
    whose routing key is the caller's reply key ``<caller>-<uuid>`` (confide.rpc).
    read: the binding keys of its own queues (``<user>.*``, ``<user>-<uuid>``).
    RabbitMQ 3.10 checks both on AMQP 0-9-1: write on basic.publish, read on
    queue.bind (tests/security/test_broker.py), so no user can bind a queue of its
    own to another service's requests or another user's replies.
    """
    write = list(RPC_CALLS[user])
    if user in RPC_SERVERS:
        write.append(rf"[a-z]+-{_UUID}")  # replies, to any caller's reply key
    read = [rf"{user}-{_UUID}"] + ([rf"{user}\.\*"] if user in RPC_SERVERS else [])
    return {"exchange": RPC_EXCHANGE_NAME, "write": _alt(write), "read": _alt(read)}


class BrokerAdmin:
    """The RabbitMQ management HTTP API, as an administrator (``CONFIDE_RABBIT_ADMIN_URI``)."""

    def __init__(self, admin_uri: str, timeout: float = 10):
        from urllib.parse import unquote, urlsplit

        parts = urlsplit(admin_uri)
        if not parts.username:
            raise ValueError("the RabbitMQ admin URI needs credentials: http://USER:PASSWORD@HOST:15672")
        self.base = f"{parts.scheme}://{parts.hostname}:{parts.port or 15672}{parts.path.rstrip('/')}/api"
        self.user = unquote(parts.username)
        self.auth = (self.user, unquote(parts.password or ""))
        self.timeout = timeout

    def _call(self, method: str, path: str, body: dict | None = None, ok=(200, 201, 204)):
        import requests

        r = requests.request(method, self.base + path, json=body, auth=self.auth, timeout=self.timeout)
        if r.status_code not in ok:
            raise RuntimeError(f"RabbitMQ management API {method} {path}: HTTP {r.status_code} {r.text[:200]}")
        return r.json() if r.content and r.headers.get("content-type", "").startswith("application/json") else None

    def get(self, path: str):
        return self._call("GET", path)

    def put(self, path: str, body: dict) -> None:
        self._call("PUT", path, body)

    def delete(self, path: str) -> None:
        self._call("DELETE", path, ok=(200, 204, 404))


def _q(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


def read_or_create_secret(path, rotate: bool = False) -> str:
    """The password in ``path``; generated (secrets) and written 0600 if absent or ``rotate``."""
    import os
    import secrets

    if path.exists() and not rotate:
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    secret = secrets.token_urlsafe(32)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    os.replace(tmp, path)
    return secret


def provision(admin: BrokerAdmin, key_dir, vhost: str = "confide", users=None, rotate=()) -> list[str]:
    """Create ``vhost`` and the Confide users with their permissions (idempotent).

    Passwords come from ``<key_dir>/broker/<user>.secret`` (created if absent, replaced
    for users in ``rotate``). The administrator's own permissions on the vhost (the
    management API grants them to whoever creates it) and guest's are removed.
    Returns the users provisioned.
    """
    from pathlib import Path

    from confide.config import BROKER_USERS

    users = tuple(users or BROKER_USERS)
    admin.put(f"/vhosts/{_q(vhost)}", {"description": "Confide", "tags": "confide"})
    for user in users:
        secret = read_or_create_secret(Path(key_dir) / "broker" / f"{user}.secret", rotate=user in rotate)
        admin.put(f"/users/{_q(user)}", {"password": secret, "tags": ""})
        admin.put(f"/permissions/{_q(vhost)}/{_q(user)}", permissions(user))
        admin.delete(f"/topic-permissions/{_q(vhost)}/{_q(user)}")
        admin.put(f"/topic-permissions/{_q(vhost)}/{_q(user)}", topic_permissions(user))
    for outsider in {admin.user, "guest"} - set(users):
        admin.delete(f"/permissions/{_q(vhost)}/{_q(outsider)}")
        admin.delete(f"/topic-permissions/{_q(vhost)}/{_q(outsider)}")
    return list(users)
