"""GET /health: the broker probed directly, the database through the audit service's ``health`` RPC."""
import json

import eventlet
import pytest
from nameko.exceptions import UnknownService
from nameko.testing.services import worker_factory

from gateway import dependencies
from gateway.dependencies import _Probe
from gateway.service import GatewayService


class FakeAudit:
    def __init__(self, reply=None, raises=None, delay=0.0):
        self.reply, self.raises, self.delay = reply, raises, delay

    def health(self):
        eventlet.sleep(self.delay)
        if self.raises:
            raise self.raises
        return self.reply


@pytest.mark.parametrize("audit, reason", [
    (FakeAudit({"database": "ok"}), None),
    (FakeAudit({"database": "unreachable: EventStoreUnavailableError"}), "EventStoreUnavailableError"),
    (FakeAudit(raises=UnknownService("audit")), "UnknownService"),
    (FakeAudit({"nonsense": True}), "unexpected reply from the audit service"),
])
def test_database_reason_comes_from_the_audit_service(audit, reason):
    assert _Probe("amqp://unused").database(audit) == reason


def test_an_audit_service_that_does_not_answer_in_time_is_a_timeout(monkeypatch):
    monkeypatch.setattr(dependencies, "PROBE_TIMEOUT", 0.05)
    assert _Probe("amqp://unused").database(FakeAudit({"database": "ok"}, delay=1)) == "Timeout"


class FakeProbe:
    def __init__(self, broker=None, database=None):
        self._broker, self._database = broker, database
        self.asked = None

    def broker(self):
        return self._broker

    def database(self, audit):
        self.asked = audit
        return self._database


@pytest.mark.parametrize("broker, database, status, body", [
    (None, None, 200, {"status": "ok", "broker": "ok", "database": "ok"}),
    (None, "EventStoreUnavailableError", 503,
     {"status": "unavailable", "broker": "ok", "database": "unreachable: EventStoreUnavailableError"}),
    ("ConnectionRefusedError", "UnknownService", 503,
     {"status": "unavailable", "broker": "unreachable: ConnectionRefusedError",
      "database": "unreachable: UnknownService"}),
])
def test_health_reply_shape(broker, database, status, body):
    probe = FakeProbe(broker, database)
    service = worker_factory(GatewayService, probe=probe)
    reply = service.health(None)
    assert reply.status_code == status and json.loads(reply.get_data(as_text=True)) == body
    assert probe.asked is service.audit  # the database is asked of the audit service
