"""nameko RPC with replies that never touch RabbitMQ's disk (45 CFR 164.312(e)(1)).

nameko 2.14.1, as shipped:

- declares every reply queue ``rpc.reply-<service>-<uuid>`` with kombu's
  defaults: **durable**, not exclusive, not auto-delete, kept 5 minutes after
  its consumer goes (``x-expires``); any user allowed to read it could drain a
  dead caller's replies;
- publishes replies (``Responder``) and requests (``MethodProxy``) with
  ``delivery_mode=2`` (persistent): in a durable queue a released field or a
  note's text is written to the broker's message store.

There is no configuration key for either, so Confide uses these subclasses
everywhere it answers or makes an RPC call:

- ``rpc`` (entrypoint) replies with ``delivery_mode=1``;
- ``RpcProxy`` (dependency) declares its reply queue exclusive + auto-delete
  (non-durable) and publishes requests with ``delivery_mode=1``;
- ``ServiceRpcProxy`` / ``ClusterRpcProxy`` (standalone clients: ``cli``,
  ``web``, tests) do the same, and name the reply queue after the client
  (``rpc.reply-<client>-<uuid>``, nameko says ``standalone_rpc_proxy``), so the
  broker permissions of each client user can be limited to its own queues;
- every reply queue is bound with ``<owner>-<uuid>`` (nameko: the bare uuid), so
  RabbitMQ's topic read permission (checked on queue.bind) stops one user from
  binding a queue of its own to another user's replies.

Trade-off: an exclusive reply queue dies with its connection, so a reply that
arrives while the caller is reconnecting is dropped (RabbitMQ returns nothing
to the responder); the caller's ``RpcReply`` then waits like any lost call.
Requests stay in the durable ``rpc-<service>`` queue but are transient: a
broker restart drops them, and with them calls whose reply queue is gone anyway.
On a cluster (``CONFIDE_QUEUE_TYPE=quorum``) ``rpc-<service>`` is a quorum queue
(:func:`confide.broker.rpc_queue`), which writes every message to its replicas'
logs whatever the delivery mode: a request then outlives the loss of a node.
Reply queues stay classic (quorum queues cannot be exclusive or auto-delete) on
the caller's node; with ``AMQP_URI`` a failover list (``amqp://a;amqp://b``),
services and clients reconnect to another node when theirs dies.

A call a service makes (``RpcProxy``) therefore waits at most ``RPC_TIMEOUT`` seconds (container
config, default :data:`DEFAULT_RPC_TIMEOUT`) and then raises ``nameko.exceptions.RpcTimeout``:
nameko 2.14 waits for ever, so each reply lost to a broker restart held one of the service's
workers until it had none left. Acks and requeues go through :class:`confide.messaging.QueueConsumer`
(a broker that went away under a finishing worker never stops the service).
"""
from __future__ import annotations

import logging
import uuid

import eventlet
from kombu import Queue
from nameko import rpc as _rpc
from nameko.amqp.publish import Publisher
from nameko.constants import (
    AMQP_SSL_CONFIG_KEY,
    AMQP_URI_CONFIG_KEY,
    DEFAULT_SERIALIZER,
    LOGIN_METHOD_CONFIG_KEY,
    NON_PERSISTENT,
    SERIALIZER_CONFIG_KEY,
)
from nameko.exceptions import RpcTimeout
from nameko.standalone import rpc as _standalone

from confide.broker import rpc_queue
from confide.messaging import QueueConsumer

__all__ = ["rpc", "RpcProxy", "ServiceRpcProxy", "ClusterRpcProxy", "TRANSIENT", "RPC_TIMEOUT_KEY"]

TRANSIENT = NON_PERSISTENT  # AMQP delivery_mode 1
#: Container config key: seconds a service's own RPC call waits for its reply (RpcProxy).
RPC_TIMEOUT_KEY = "RPC_TIMEOUT"
#: Below the gateway's 30 s per request, so the service it called answers it (with an error) first.
DEFAULT_RPC_TIMEOUT = 25.0

_log = logging.getLogger(__name__)


class TransientPublisher(Publisher):
    """A nameko publisher whose messages are never written to the message store."""

    delivery_mode = TRANSIENT


class Responder(_rpc.Responder):
    publisher_cls = TransientPublisher


class RpcConsumer(_rpc.RpcConsumer):
    """nameko's RpcConsumer, replying through ``Responder`` above, and dropping (acked, logged, never
    answered) a request that cannot be answered instead of dying on it: nameko 2.14 stops the whole
    service container when a request has no ``reply_to`` or a body that is not an object, so any broker
    user able to get a message into the queue (e.g. dead-lettered there) could stop a service."""

    queue_consumer = QueueConsumer()

    def setup(self):
        """nameko's ``RpcConsumer.setup`` with the queue of :func:`confide.broker.rpc_queue`: classic
        on one node, a quorum queue on a cluster (``CONFIDE_QUEUE_TYPE``), the same arguments set-up
        uses. Raises ValueError for a bad ``CONFIDE_QUEUE_TYPE``."""
        if self.queue is None:
            self.queue = rpc_queue(self.container.service_name, _rpc.get_rpc_exchange(self.container.config))
            self.queue_consumer.register_provider(self)
            self._registered = True

    def handle_message(self, body, message):
        if not message.properties.get("reply_to") or not isinstance(body, dict):
            _log.warning("dropped an RPC request to %s that cannot be answered (reply_to %s, body %s)",
                         message.delivery_info.get("routing_key"), bool(message.properties.get("reply_to")),
                         type(body).__name__)
            self.queue_consumer.ack_message(message)
            return
        super().handle_message(body, message)

    def handle_result(self, message, result, exc_info):
        cfg = self.container.config
        responder = Responder(
            cfg[AMQP_URI_CONFIG_KEY], _rpc.get_rpc_exchange(cfg), cfg.get(SERIALIZER_CONFIG_KEY, DEFAULT_SERIALIZER),
            message, ssl=cfg.get(AMQP_SSL_CONFIG_KEY), login_method=cfg.get(LOGIN_METHOD_CONFIG_KEY),
        )
        try:
            result, exc_info = responder.send_response(result, exc_info)
        except Exception:  # the reply cannot be sent (its queue or route is gone): the caller is lost, not the service
            _log.warning("could not send the reply to %s", message.properties.get("reply_to"), exc_info=True)
        self.queue_consumer.ack_message(message)
        return result, exc_info


class Rpc(_rpc.Rpc):
    rpc_consumer = RpcConsumer()


rpc = Rpc.decorator


def _setup_reply_queue(listener) -> None:
    """nameko's ``ReplyListener.setup`` with an exclusive, auto-delete, non-durable queue.

    The queue is built before registering with the consumer, which declares it.
    """
    reply_uuid = uuid.uuid4()
    # nameko binds with the bare uuid; Confide prefixes the owner, so the topic read
    # permission lets each broker user bind only its own reply keys (confide.broker).
    listener.routing_key = f"{listener.container.service_name}-{reply_uuid}"
    listener.queue = Queue(
        _rpc.RPC_REPLY_QUEUE_TEMPLATE.format(listener.container.service_name, reply_uuid),
        exchange=_rpc.get_rpc_exchange(listener.container.config), routing_key=listener.routing_key,
        durable=False, exclusive=True, auto_delete=True,
    )
    listener.queue_consumer.register_provider(listener)


class ReplyListener(_rpc.ReplyListener):
    queue_consumer = QueueConsumer()

    def setup(self):
        _setup_reply_queue(self)

    def forget(self, reply_event) -> None:
        """Stop waiting for a reply (its call timed out)."""
        for correlation_id, event in list(self._reply_events.items()):
            if event is reply_event:
                self._reply_events.pop(correlation_id, None)


class MethodProxy(_rpc.MethodProxy):
    """A call that waits at most the container's ``RPC_TIMEOUT`` seconds for its reply. Raises
    RpcTimeout naming the method after that (the reply, if it ever comes, is dropped)."""

    def __call__(self, *args, **kwargs):
        reply = self._call(*args, **kwargs)
        timeout = float(self.container.config.get(RPC_TIMEOUT_KEY, DEFAULT_RPC_TIMEOUT))
        timer = eventlet.Timeout(timeout)
        try:
            return reply.result()
        except eventlet.Timeout as exc:
            if exc is not timer:  # the caller's own deadline
                raise
            if isinstance(self.reply_listener, ReplyListener):
                self.reply_listener.forget(reply.reply_event)
            raise RpcTimeout(f"{self.service_name}.{self.method_name}: no reply in {timeout:g}s") from None
        finally:
            timer.cancel()


class ServiceProxy(_rpc.ServiceProxy):
    def __getattr__(self, name):
        return MethodProxy(self.worker_ctx, self.service_name, name, self.reply_listener, **self.options)


class RpcProxy(_rpc.RpcProxy):
    """nameko's ``RpcProxy`` with an exclusive reply queue, transient requests and a reply timeout
    (``RPC_TIMEOUT``)."""

    rpc_reply_listener = ReplyListener()

    def __init__(self, target_service, **options):
        options.setdefault("delivery_mode", TRANSIENT)
        super().__init__(target_service, **options)

    def get_dependency(self, worker_ctx):
        return ServiceProxy(worker_ctx, self.target_service, self.rpc_reply_listener, **self.options)


class SingleThreadedReplyListener(_standalone.SingleThreadedReplyListener):
    def setup(self):
        _setup_reply_queue(self)


class _ClientMixin:
    """Names the reply queue after the client user and makes requests transient."""

    _reply_listener: SingleThreadedReplyListener
    _worker_ctx: object

    def _init_client(self, client: str) -> None:
        self._reply_listener.container.service_name = client


class ServiceRpcProxy(_ClientMixin, _standalone.StandaloneProxyBase):
    """``nameko.standalone.rpc.ServiceRpcProxy`` for Confide: ``client`` is the broker user (``cli``, ``web``)."""

    def __init__(self, service_name, config, client: str = "cli", **kwargs):
        kwargs.setdefault("reply_listener_cls", SingleThreadedReplyListener)
        super().__init__(config, **kwargs)
        self._init_client(client)
        self._proxy = _rpc.ServiceProxy(self._worker_ctx, service_name, self._reply_listener,
                                        delivery_mode=TRANSIENT)


class _ClusterProxy(_standalone.ClusterProxy):
    def __getattr__(self, name):
        if name not in self._proxies:
            self._proxies[name] = _rpc.ServiceProxy(self._worker_ctx, name, self._reply_listener,
                                                    delivery_mode=TRANSIENT)
        return self._proxies[name]


class ClusterRpcProxy(_ClientMixin, _standalone.StandaloneProxyBase):
    """``nameko.standalone.rpc.ClusterRpcProxy`` for Confide: ``client`` is the broker user (``cli``, ``web``)."""

    def __init__(self, config, client: str = "cli", **kwargs):
        kwargs.setdefault("reply_listener_cls", SingleThreadedReplyListener)
        super().__init__(config, **kwargs)
        self._init_client(client)
        self._proxy = _ClusterProxy(self._worker_ctx, self._reply_listener)
