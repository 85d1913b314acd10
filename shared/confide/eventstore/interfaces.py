"""What callers of the event store need, as narrow typed protocols.

A handler, query or job names the protocol(s) it uses instead of the whole
store, so what it can do to the records is visible in its signature (and a
test double has only these methods to provide). Both
:class:`~confide.eventstore.store.PostgresEventStore` and
:class:`~confide.eventstore.memory.InMemoryEventStore` satisfy
``StreamReader``, ``CategoryReader``, ``EventAppender``, ``MultiStreamAppender``, ``LogReader``,
``CheckpointStore`` and ``HealthCheck`` (tests/unit/shared/test_interfaces.py);
``ProjectionStore`` is ``PostgresEventStore.projections``.

Protocols are ``runtime_checkable`` (``isinstance`` checks that the methods
exist, not their signatures; the unit test compares signatures too).

Who uses what (so far):

- notes (handlers, views): ``StreamReader`` + ``EventAppender`` +
  ``CategoryReader.find_streams_by_patient`` → :class:`NotesStore`.
- disclosures (handlers, facts): ``StreamReader`` + ``EventAppender`` +
  ``MultiStreamAppender`` + ``CategoryReader`` → :class:`DisclosuresStore`.
- audit: ``ProjectionStore`` (queries, commands, live projection, replay),
  ``LogReader`` (replay), ``HistoryReader`` (rejudge: read_stream, read_category,
  find_streams_by_patient, read_streams through disclosures.facts and
  notes.handlers.load_note), ``StreamReader`` (time travel),
  ``CheckpointStore`` + ``LogReader`` (status), ``HealthCheck`` (``health`` RPC).
- relay and sealer: ``LogReader`` + ``CheckpointStore``; catch-up subscriptions:
  ``LogReader`` + ``SubscriptionCheckpoints``.
"""
from __future__ import annotations

from typing import Any, ContextManager, Iterable, Mapping, Protocol, Sequence, Tuple, runtime_checkable

from confide.envelope import AppendResult, NewEvent, RecordedEvent, StreamAppend

Row = Mapping[str, Any]


@runtime_checkable
class StreamReader(Protocol):
    """Read whole streams (an aggregate's history) and a stream's last version."""

    def read_stream(self, stream_name: str, from_version: int = 0) -> list[RecordedEvent]: ...

    def read_streams(self, stream_names: Sequence[str]) -> list[RecordedEvent]: ...

    def stream_version(self, stream_name: str) -> int: ...


@runtime_checkable
class CategoryReader(Protocol):
    """Find streams across a category: every stream of a kind, or those opened for a patient."""

    def read_category(self, category: str, from_position: int = 1, limit: int = 1000,
                      prefix_only: bool = True) -> list[RecordedEvent]: ...

    def find_streams_by_patient(self, patient_id: str, event_type: str) -> list[str]: ...


@runtime_checkable
class EventAppender(Protocol):
    """Append events to a stream at an expected version (the only way to write the record)."""

    def append(self, stream_name: str, events: Sequence[NewEvent],
               expected_version: int | None = None) -> AppendResult: ...


@runtime_checkable
class MultiStreamAppender(Protocol):
    """Append to several streams in one transaction, all or nothing (what one command records across
    streams, committed once; see :mod:`confide.eventstore.store`)."""

    def multi_stream_append(self, appends: Sequence[StreamAppend]) -> list[AppendResult]: ...


@runtime_checkable
class LogReader(Protocol):
    """Read the whole log in global order, skip-free (relay, sealer, replay, subscriptions)."""

    def read_all(self, from_position: int = 1, limit: int = 1000) -> list[RecordedEvent]: ...

    def head_position(self) -> int: ...


@runtime_checkable
class CheckpointStore(Protocol):
    """A named reader's last processed global position.

    ``conn``: a transaction from :meth:`SubscriptionCheckpoints.transaction` to write in, or None
    to read or write on its own.
    """

    def read_checkpoint(self, name: str, conn: Any = None) -> int: ...

    def write_checkpoint(self, name: str, position: int, conn: Any = None) -> None: ...


@runtime_checkable
class SubscriptionCheckpoints(CheckpointStore, Protocol):
    """Checkpoints written in the same transaction as the subscriber's own rows."""

    def transaction(self) -> ContextManager[Any]: ...

    def lock_checkpoint(self, name: str, conn: Any) -> int: ...


@runtime_checkable
class HealthCheck(Protocol):
    """Can the store be reached now? Raises EventStoreUnavailableError when not."""

    def ping(self, timeout: float = 3.0) -> None: ...


@runtime_checkable
class HistoryReader(StreamReader, CategoryReader, Protocol):
    """Read-only access to the records (re-judging past decisions, facts as of a time)."""


@runtime_checkable
class NotesStore(StreamReader, EventAppender, Protocol):
    """What the notes service's handlers and views use (plus ``find_streams_by_patient``)."""

    def find_streams_by_patient(self, patient_id: str, event_type: str) -> list[str]: ...


@runtime_checkable
class DisclosuresStore(StreamReader, CategoryReader, EventAppender, MultiStreamAppender, Protocol):
    """What the disclosures service's handlers and facts use (a request's decision and its
    AccessDecided are recorded in one multi-stream append)."""


# -- the audit projections ---------------------------------------------------


@runtime_checkable
class ProjectionRebuild(Protocol):
    """Temporary copies of projection tables inside one transaction (see ProjectionStore.rebuild)."""

    def load(self, table: str, rows: Sequence[Row]) -> None: ...

    def compare(self, table: str, checkpoint: str) -> dict: ...

    def replace(self, table: str) -> None: ...


@runtime_checkable
class ProjectionStore(Protocol):
    """The audit projections' tables and views (deploy/sql/projections)."""

    def select(self, view: str, *, where: Mapping[str, Any] | None = None, related_by: str | None = None,
               order_by: str = "global_position", limit: int | None = None) -> list[dict]: ...

    def access_log_on_notes_by(self, author_id: str, *, drafted_types: Sequence[str],
                               limit: int | None = None) -> list[dict]: ...

    def access_log_search(self, filters: Mapping[str, Any], *, since: Any = None, until: Any = None,
                          limit: int | None = None, newest_first: bool = True) -> list[dict]: ...

    def access_log_counts(self, filters: Mapping[str, Any], *, since: Any = None, until: Any = None) -> dict: ...

    def access_log_choices(self) -> dict: ...

    def apply_rows(self, rows: Iterable[Tuple[str, Row]]) -> int: ...

    def apply_page(self, rows_by_table: Mapping[str, Sequence[Row]], *, lock_timeout_ms: int | None = None) -> int: ...

    def rebuild(self, tables: Sequence[str], *, lock: bool = False) -> ContextManager[ProjectionRebuild]: ...
