"""The audit service's ``health`` RPC: the database as the store's ping finds it."""
from nameko.testing.services import worker_factory

from audit.service import AuditService
from confide.eventstore.errors import EventStoreUnavailableError
from confide.eventstore.memory import InMemoryEventStore


class DownStore(InMemoryEventStore):
    def ping(self, timeout: float = 3.0) -> None:
        raise EventStoreUnavailableError("connection refused")


def test_health_is_ok_when_the_store_answers():
    assert worker_factory(AuditService, store=InMemoryEventStore()).health() == {"database": "ok"}


def test_health_names_the_error_type_when_the_store_does_not_answer():
    reply = worker_factory(AuditService, store=DownStore()).health()
    assert reply == {"database": "unreachable: EventStoreUnavailableError"}


def test_health_names_another_login_holding_the_sealer_lease():
    from types import SimpleNamespace

    relay = SimpleNamespace(lease=SimpleNamespace(usurper={"login": "confide_app", "pid": 4242}))
    reply = worker_factory(AuditService, store=InMemoryEventStore(), relay=relay).health()
    assert reply == {"database": "ok", "sealer_lease": "held by login confide_app (pid 4242)"}
