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
from typing import Callable

from confide.broker import ConfirmingPublisher, UnroutableError

log = logging.getLogger(__name__)
RELAY_CHECKPOINT = "relay:confide.events"


class OutboxRelay:
    """``relay()`` publishes every event after the checkpoint; returns the count published.

    ``guard()`` is asked before each page; False stops the pass there (the checkpoint stays at the
    last confirmed event).

    Raises the publisher's errors (UnroutableError, connection errors) with the
    checkpoint left at the last confirmed event.
    """

    def __init__(self, store, publisher: ConfirmingPublisher, batch: int = 500,
                 checkpoint_name: str = RELAY_CHECKPOINT, guard: Callable[[], bool] = lambda: True):
        self.store = store
        self.guard = guard
        self.publisher = publisher
        self.batch = batch
        self.checkpoint_name = checkpoint_name

    def relay(self, max_batches: int | None = None) -> int:
        published, batches = 0, 0
        position = self.store.read_checkpoint(self.checkpoint_name)
        while max_batches is None or batches < max_batches:
            if not self.guard():  # the lease was lost: another instance relays from here
                break
            events = self.store.read_all(position + 1, self.batch)
            if not events:
                break
            done = position
            batch = [(ev.to_message(), ev.type, str(ev.event_id), {"global_position": ev.global_position})
                     for ev in events]
            try:
                # One wait for the whole page's confirms (not one round trip per event).
                self.publisher.publish_batch(batch)
                done = events[-1].global_position
                published += len(events)
            except UnroutableError as exc:
                if exc.delivered:
                    done = events[exc.delivered - 1].global_position
                    published += exc.delivered
                raise
            finally:
                if done != position:
                    with self.store.transaction() as conn:
                        self.store.write_checkpoint(self.checkpoint_name, done, conn)
                    log.info("relayed up to global position %s", done)
            position = done
            batches += 1
        return published
