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

import json
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
            self._raw = Connection(self._conn.as_uri(include_password=True), connect_timeout=5)
            self._raw.ensure_connection(max_retries=3)
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
            self._conn = Connection(self._conn.as_uri(include_password=True),
                                    transport_options={"confirm_publish": True}, connect_timeout=5)
