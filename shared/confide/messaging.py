"""nameko's queue consumer for Confide: an ack or a requeue that cannot reach the broker never stops a service.

nameko 2.14's ``QueueConsumer.ack_message`` catches only ``amqp.exceptions.ConnectionError``. When
RabbitMQ goes away under a worker that is finishing, the ack writes to a dead socket and the
operating system's error (``BrokenPipeError``, ``ConnectionResetError``: ``OSError``, not amqp's
class) escapes from the worker's result handler (an RPC reply, an ``@consume`` handler) or from the
reply listener's managed thread, and nameko kills the whole service container for it. The message
is not lost: the broker redelivers an unacknowledged message when the connection it was delivered
on closes (a transient RPC request dies with a broker restart, as its reply queue does).

A message whose body cannot be decoded (kombu's JSON decoder turns objects holding ``__type__`` and
``__value__`` into datetimes, UUIDs, bytes or decimals, and raises on a malformed one; the store
accepts such data from whoever holds the services' login) is rejected without requeue: RabbitMQ
dead-letters it where the queue has a dead-letter exchange (``audit.events`` → ``audit.events.dlq``).
kombu's default would log the whole body (an event's data, an RPC's arguments) at ERROR (the
services' console handler rewrites that record, :mod:`confide.logfilters`, but only where the
logging config installs it) and acknowledge it: an audit event silently gone. Only the message's
routing key, the error's type and the content type are logged.

Every Confide entrypoint and reply listener (:mod:`confide.rpc`, :func:`consume`) uses
:class:`QueueConsumer`, so they still share one consumer (one connection) per container.
"""
from __future__ import annotations

import logging

from nameko import messaging as _messaging

__all__ = ["QueueConsumer", "Consumer", "consume"]

_log = logging.getLogger(__name__)


class QueueConsumer(_messaging.QueueConsumer):
    """nameko's QueueConsumer whose ``ack_message`` and ``requeue_message`` log, never raise, when the
    broker cannot be told (the connection is gone: the broker redelivers the message itself)."""

    def ack_message(self, message):
        try:
            super().ack_message(message)
        except Exception as exc:  # noqa: BLE001 - any failure to reach the broker; it redelivers
            _log.warning("could not acknowledge a message (%s: broker connection lost); the broker redelivers it",
                         type(exc).__name__)

    def requeue_message(self, message):
        try:
            super().requeue_message(message)
        except Exception as exc:  # noqa: BLE001 - as above
            _log.warning("could not requeue a message (%s: broker connection lost); the broker redelivers it",
                         type(exc).__name__)

    def on_decode_error(self, message, exc):
        """kombu's hook for a body it cannot decode: reject it (dead-lettered where the queue says
        so), logging no byte of the body (kombu's default logs it all, then acknowledges it)."""
        info = getattr(message, "delivery_info", None) or {}
        _log.error("could not decode a message (%s; content type %s, routing key %s): rejected to the "
                   "dead-letter exchange, if its queue has one; its body is not logged",
                   type(exc).__name__, getattr(message, "content_type", None), info.get("routing_key"))
        try:
            message.reject(requeue=False)
        except Exception as err:  # noqa: BLE001 - as for acks: the broker redelivers it
            _log.warning("could not reject a message (%s: broker connection lost); the broker redelivers it",
                         type(err).__name__)


class Consumer(_messaging.Consumer):
    """nameko's ``@consume`` entrypoint on :class:`QueueConsumer`."""

    queue_consumer = QueueConsumer()


consume = Consumer.decorator
