"""Poll with a deadline, never a bare sleep (tests and benchmarks)."""
from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float = 45.0, interval: float = 0.1) -> T:
    """Call ``predicate`` until it returns something truthy; return that. Raises AssertionError at the deadline."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")
