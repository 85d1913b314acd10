"""The event store: append-only streams with a global, commit-ordered position."""
from confide.eventstore.errors import (  # noqa: F401
    EventStoreError,
    EventStoreUnavailableError,
    InvalidEventError,
    WrongExpectedVersionError,
)
