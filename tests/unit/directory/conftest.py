"""Unit tier of the directory service: pure decisions, handlers on InMemoryEventStore, the service
through worker_factory with a real IdentityVerifier over keys in a tmp dir."""
from datetime import datetime, timezone

import pytest

NOW = datetime(2026, 5, 1, 15, 0, 0, tzinfo=timezone.utc)


@pytest.fixture
def clock():
    return lambda: NOW
