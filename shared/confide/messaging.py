"""nameko's queue consumer for Confide: an ack or a requeue that cannot reach the broker never stops a service.

nameko 2.14's ``QueueConsumer.ack_message`` catches only ``amqp.exceptions.ConnectionError``. When
RabbitMQ goes away under a worker that is finishing, the ack writes to a dead socket and the
operating system's error (``BrokenPipeError``, ``ConnectionResetError``: ``OSError``, not amqp's
class) escapes from the worker's result handler (an RPC reply, an ``@consume`` handler) or from the
reply listener's managed thread, and nameko kills the whole service container for it. The message
is not lost: the broker redelivers an unacknowledged message when the connection it was delivered
on closes (a transient RPC request dies with a broker restart, as its reply queue does).

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


class Consumer(_messaging.Consumer):
    """nameko's ``@consume`` entrypoint on :class:`QueueConsumer`."""

    queue_consumer = QueueConsumer()


consume = Consumer.decorator
