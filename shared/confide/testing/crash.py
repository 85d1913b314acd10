"""A store that dies part-way through what a handler records, for recovery tests.

The disclosures handler records a request's first events in one multi-stream append; the records an
older version left after a crash between its single appends (or a crash in the middle of a page of
appends) are what recovery must still finish. :class:`DiesAtEvent` writes one event per transaction
and raises before its ``nth`` event, so a test can leave any prefix of a handler's events on file.
"""
from __future__ import annotations

from typing import Any


class DiesAtEvent:
    """``store`` written one event per transaction, whose ``nth`` event (1-based) raises ``error()``
    before it is written (nothing after it happens); everything else is the store's own."""

    def __init__(self, store: Any, nth: int, error: type[BaseException]):
        self._store, self._left, self._error = store, nth, error

    def append(self, stream_name, events, expected_version=None):
        result = None
        for i, event in enumerate(events):
            self._left -= 1
            if self._left == 0:
                raise self._error("the service died here")
            result = self._store.append(stream_name, [event],
                                        None if expected_version is None else expected_version + i)
        return result

    def multi_stream_append(self, appends):
        return [self.append(*entry) for entry in appends]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)
