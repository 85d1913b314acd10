"""The outbox relay: stored events reach RabbitMQ only after commit, in global order.

The event store is the outbox. The relay reads it from its checkpoint in
global order (the same skip-free frontier as every reader), publishes each
event to ``confide.events`` with publisher confirms and ``mandatory`` (a
message no queue would take raises instead of vanishing), and only then moves
its checkpoint. A crash between publish and checkpoint republishes the same
events: delivery is at-least-once and consumers are idempotent by event id.

A ``before_publish`` hook (the audit service's: apply the page to its projections in one
transaction) sees each page after it is read and before it is published. Its failure never stops
the relay: it is logged (positions and the error's type only) and the page is published all the
same, so a consumer does the hook's work instead.
"""
from __future__ import annotations

import logging
from typing import Callable, Sequence

from confide.broker import ConfirmingPublisher, UnroutableError
from confide.envelope import RecordedEvent

log = logging.getLogger(__name__)
RELAY_CHECKPOINT = "relay:confide.events"


class OutboxRelay:
    """``relay()`` publishes every event after the checkpoint; returns the count published.

    ``guard()`` is asked before each page; False stops the pass there (the checkpoint stays at the
    last confirmed event).

    ``before_publish(from_position, events, messages)``, when given, is called with each page read
    (``events`` are every event at or after ``from_position`` up to the last one, in order, and
    ``messages`` their message bodies, the ones published) before the page is published; whatever it
    raises (an Exception) is logged and the page published regardless.

    Raises the publisher's errors (UnroutableError, connection errors) with the
    checkpoint left at the last confirmed event.
    """

    def __init__(self, store, publisher: ConfirmingPublisher, batch: int = 500,
                 checkpoint_name: str = RELAY_CHECKPOINT, guard: Callable[[], bool] = lambda: True,
                 before_publish: Callable[[int, Sequence[RecordedEvent], Sequence[dict]], None] | None = None):
        self.store = store
        self.guard = guard
        self.before_publish = before_publish
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
            messages, unreadable = self._messages(events)
            events = events[:len(messages)]  # those before an event that cannot be read go out
            if not events and unreadable is not None:
                raise unreadable  # the first event of the page cannot be read: stop here
            if self.before_publish is not None:
                self._before_publish(position + 1, events, messages)
            batch = [(body, ev.type, str(ev.event_id), {"global_position": ev.global_position})
                     for body, ev in zip(messages, events)]
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
            if unreadable is not None:
                raise unreadable  # the next pass starts at it, and stops there again
        return published

    @staticmethod
    def _messages(events: Sequence[RecordedEvent]) -> tuple[list[dict], Exception | None]:
        """The page's message bodies up to the first event whose stored data cannot be decoded
        (JSON PostgreSQL accepts but no Python reader can: an integer of 4,301 digits, nesting
        thousands deep), and that event's error. The relay never skips an event: it stops at it,
        loudly (the caller logs the error's type and the audit service's health reports it)."""
        messages: list[dict] = []
        for ev in events:
            try:
                messages.append(ev.to_message())
            except (ValueError, RecursionError) as exc:
                log.error("event at global position %s (%s) cannot be decoded: %s; relaying stops before it",
                          ev.global_position, ev.type, type(exc).__name__)
                return messages, exc
        return messages, None

    def _before_publish(self, from_position: int, events: Sequence[RecordedEvent], messages: Sequence[dict]) -> None:
        assert self.before_publish is not None
        try:
            self.before_publish(from_position, events, messages)
        except Exception as exc:  # never the page's data: positions and the error's type
            log.warning("before-publish step failed for global positions %s..%s (%s); publishing the page "
                        "all the same", from_position, events[-1].global_position, type(exc).__name__)
