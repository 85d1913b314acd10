"""Operator access to the dead-letter queue ``audit.events.dlq``."""
from __future__ import annotations

from kombu import Connection

from confide.broker import EVENTS_EXCHANGE, ConfirmingPublisher, audit_dlq


def peek(amqp_uri: str, limit: int = 1000) -> list[dict]:
    """Dead-lettered message bodies, without removing them (they are requeued)."""
    out: list[dict] = []
    with Connection(amqp_uri) as conn:
        queue = conn.SimpleQueue(audit_dlq(), no_ack=False)
        held = []
        try:
            while len(out) < limit:
                try:
                    msg = queue.get(block=False)
                except queue.Empty:
                    break
                held.append(msg)
                out.append(msg.payload)
        finally:
            for msg in held:
                msg.requeue()
            queue.close()
    return out


def replay_all(amqp_uri: str) -> int:
    """Republish every dead-lettered message to ``confide.events`` (confirmed), then ack it."""
    publisher = ConfirmingPublisher(amqp_uri, exchange=EVENTS_EXCHANGE)
    moved = 0
    with Connection(amqp_uri) as conn:
        queue = conn.SimpleQueue(audit_dlq(), no_ack=False)
        try:
            while True:
                try:
                    msg = queue.get(block=False)
                except queue.Empty:
                    break
                body = msg.payload
                publisher.publish(body, routing_key=body["type"], message_id=body["event_id"])
                msg.ack()
                moved += 1
        finally:
            queue.close()
            publisher.close()
    return moved
