"""nameko providers of the disclosures service (the event store provider lives in confide.eventstore)."""
from __future__ import annotations

from datetime import datetime, timezone

from nameko.extensions import DependencyProvider


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Clock(DependencyProvider):
    """Injects a callable returning the current aware UTC time (tests replace it)."""

    def get_dependency(self, worker_ctx):
        return utc_now
