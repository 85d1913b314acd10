"""The event-store contract against the in-memory store used by unit tests."""
import pytest

from confide.eventstore.memory import InMemoryEventStore
from confide.testing.eventstore_contract import EventStoreContract


class TestInMemoryEventStore(EventStoreContract):
    @pytest.fixture
    def store(self):
        return InMemoryEventStore()
