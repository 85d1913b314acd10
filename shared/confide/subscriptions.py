"""Catch-up subscriptions: read from a checkpoint, switch to live, never skip, never double-apply.

A subscription reads the store in global order from its checkpoint (the same
skip-free frontier as ``read_all``), hands each page to its handler *inside
one transaction*, and writes the new checkpoint in that same transaction. If
the process dies anywhere — mid-page, after the handler, before commit — the
projection's rows and the checkpoint roll back together, and the next run
starts from the last committed checkpoint: each event's effect is applied
exactly once. When a read comes back short the subscription has caught up and
polls for new events ("live").
"""
from __future__ import annotations

import time
from typing import Callable, Protocol, Sequence

from confide.envelope import RecordedEvent
from confide.eventstore.interfaces import LogReader, SubscriptionCheckpoints

Handler = Callable[[object, Sequence[RecordedEvent]], None]


class SubscriptionStore(LogReader, SubscriptionCheckpoints, Protocol):
    """What a subscription uses of the store (a PostgresEventStore)."""


class CatchUpSubscription:
    """``name``: the checkpoint key; ``handler(conn, events)`` writes on ``conn`` (no commit), the
    transaction the checkpoint is written in (from ``store.transaction()``).

    ``run_once()`` processes at most one page and returns the number of events
    handled; ``run(stop)`` loops until ``stop()`` is true, sleeping ``poll``
    seconds whenever it is caught up. Raises whatever the handler raises
    (after the transaction has rolled back).
    """

    def __init__(self, store: SubscriptionStore, name: str, handler: Handler, batch: int = 500,
                 poll: float = 0.2):
        self.store = store
        self.name = name
        self.handler = handler
        self.batch = batch
        self.poll = poll

    def run_once(self) -> int:
        with self.store.transaction() as conn:
            # Lock the checkpoint row: two instances of one subscription never interleave.
            position = self.store.lock_checkpoint(self.name, conn)
            events = self.store.read_all(position + 1, self.batch)
            if not events:
                return 0
            self.handler(conn, events)
            self.store.write_checkpoint(self.name, events[-1].global_position, conn)
            return len(events)

    def run(self, stop: Callable[[], bool] = lambda: False) -> None:
        while not stop():
            if self.run_once() < self.batch:
                time.sleep(self.poll)

    def catch_up(self) -> int:
        """Process pages until caught up; returns the number of events handled."""
        total = 0
        while True:
            n = self.run_once()
            total += n
            if n < self.batch:
                return total
