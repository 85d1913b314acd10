"""RabbitMQ topology and publishing, declared at deploy time (before any publish).

Events published before a queue exists are lost, so every exchange and queue
is declared by ``declare_topology`` during set-up (and by tests for their own
vhost), before the relay publishes its first event.

- ``confide.events`` (topic, durable): every stored event, routing key = event type.
- ``audit.events`` (quorum queue bound with ``#``): the audit service's feed.
  A handler failure rejects with requeue; RabbitMQ counts deliveries and after
  ``DELIVERY_LIMIT`` dead-letters the message to ``confide.dlx`` →
  ``audit.events.dlq`` (quorum), where an operator can read and replay it
  (``confide audit dlq``).
"""
from __future__ import annotations

from typing import Any

from kombu import Connection, Exchange, Producer, Queue

EVENTS_EXCHANGE = Exchange("confide.events", type="topic", durable=True)
DLX_EXCHANGE = Exchange("confide.dlx", type="direct", durable=True)
DELIVERY_LIMIT = 5

AUDIT_QUEUE_NAME = "audit.events"
AUDIT_DLQ_NAME = "audit.events.dlq"


def audit_queue() -> Queue:
    """The audit service's quorum queue (the same arguments everywhere, or RabbitMQ refuses)."""
    return Queue(
        AUDIT_QUEUE_NAME,
        exchange=EVENTS_EXCHANGE,
        routing_key="#",
        durable=True,
        queue_arguments={
            "x-queue-type": "quorum",
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
        queue_arguments={"x-queue-type": "quorum"},
    )


def declare_topology(amqp_uri: str) -> None:
    """Declare exchanges and queues (idempotent). Raises kombu/amqp errors if unreachable."""
    with Connection(amqp_uri, connect_timeout=5) as conn:
        channel = conn.channel()
        for exchange in (EVENTS_EXCHANGE, DLX_EXCHANGE):
            exchange(channel).declare()
        for queue in (audit_dlq(), audit_queue()):
            queue(channel).declare()


class UnroutableError(RuntimeError):
    """A mandatory publish was returned by the broker: no queue would receive it."""


class ConfirmingPublisher:
    """Publishes with publisher confirms and ``mandatory``: a return or a nack raises.

    ``publish(body, routing_key, message_id)`` returns only once RabbitMQ has
    confirmed the message into every bound queue. Raises UnroutableError when
    the message would be dropped, kombu/amqp errors when the broker fails.
    """

    def __init__(self, amqp_uri: str, exchange: Exchange = EVENTS_EXCHANGE):
        self._conn = Connection(amqp_uri, transport_options={"confirm_publish": True}, connect_timeout=5)
        self._returned: list[Any] = []
        self._exchange = exchange
        self._producer: Producer | None = None

    def _ensure(self) -> Producer:
        if self._producer is None:
            self._conn.ensure_connection(max_retries=3)
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

    def close(self) -> None:
        try:
            self._conn.release()
        finally:
            self._producer = None
            self._conn = Connection(self._conn.as_uri(include_password=True),
                                    transport_options={"confirm_publish": True}, connect_timeout=5)
