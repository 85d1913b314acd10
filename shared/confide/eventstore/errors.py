"""The event store's error hierarchy: driver errors are translated once, into these."""
from __future__ import annotations


class EventStoreError(Exception):
    """Base class of every event-store failure."""


class WrongExpectedVersionError(EventStoreError):
    """Optimistic concurrency: the stream's version is not the one expected.

    Attributes: ``stream_name``, ``expected`` (int or None), ``actual`` (int, -1 = no stream).
    Nothing of the failed append was written.
    """

    def __init__(self, stream_name: str, expected: int | None, actual: int | None):
        self.stream_name = stream_name
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"wrong expected version for stream {stream_name!r}: "
            f"expected {expected}, stream is at {actual}"
        )


class EventStoreUnavailableError(EventStoreError):
    """The database could not be reached or the operation could not complete."""


class InvalidEventError(EventStoreError, ValueError):
    """An event cannot be stored as given (names the offending field)."""
