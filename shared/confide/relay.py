"""The outbox relay: stored events reach RabbitMQ only after commit, in global order.

The event store is the outbox. The relay reads it from its checkpoint in
global order (the same skip-free frontier as every reader), publishes each
event to ``confide.events`` with publisher confirms and ``mandatory`` (a
message no queue would take raises instead of vanishing), and only then moves
its checkpoint. A crash between publish and checkpoint republishes the same
events: delivery is at-least-once and consumers are idempotent by event id.
"""
from __future__ import annotations

import logging

from confide.broker import ConfirmingPublisher

log = logging.getLogger(__name__)
RELAY_CHECKPOINT = "relay:confide.events"


class OutboxRelay:
    """``relay()`` publishes every event after the checkpoint; returns the count published.

    Raises the publisher's errors (UnroutableError, connection errors) with the
    checkpoint left at the last confirmed event.
    """

    def __init__(self, store, publisher: ConfirmingPublisher, batch: int = 500,
                 checkpoint_name: str = RELAY_CHECKPOINT):
        self.store = store
        self.publisher = publisher
        self.batch = batch
        self.checkpoint_name = checkpoint_name

    def relay(self, max_batches: int | None = None) -> int:
        published, batches = 0, 0
        position = self.store.read_checkpoint(self.checkpoint_name)
        while max_batches is None or batches < max_batches:
            events = self.store.read_all(position + 1, self.batch)
            if not events:
                break
            done = position
            try:
                for ev in events:
                    self.publisher.publish(
                        ev.to_message(), routing_key=ev.type, message_id=str(ev.event_id),
                        headers={"global_position": ev.global_position},
                    )
                    done = ev.global_position
                    published += 1
            finally:
                if done != position:
                    with self.store.transaction() as conn:
                        self.store.write_checkpoint(self.checkpoint_name, done, conn)
                    log.info("relayed up to global position %s", done)
            position = done
            batches += 1
        return published
