"""GET /health: the broker probed directly, the database through the audit service's ``health`` RPC."""
import json

import eventlet
import pytest
from nameko.exceptions import UnknownService
from nameko.testing.services import worker_factory

from confide.health import DEGRADED, DOWN, OK, Check
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
    assert _Probe("amqp://unused").database(audit) == (reason, None, None)


def _checks_with_a_reachable_broker(probe, audit):
    probe_broker = dependencies.health.probe_broker
    try:
        dependencies.health.probe_broker = lambda *a, **k: [Check("broker", OK)]
        return probe.checks(audit, {})
    finally:
        dependencies.health.probe_broker = probe_broker


def test_a_sealer_lease_held_by_another_login_is_reported_not_fatal():
    """The audit service names a session of another login holding its sealer/relay lease: the
    gateway reports it (degraded, not down: the intruder must not take the front door down too)."""
    probe = _Probe("amqp://unused")
    audit = FakeAudit({"database": "ok", "sealer_lease": "held by login confide_app (pid 42)"})
    assert probe.database(audit) == (None, "usurped: held by login confide_app (pid 42)", None)
    checks = _checks_with_a_reachable_broker(probe, audit)
    [lease] = [c for c in checks if c.name == "sealer_lease"]
    assert lease.status == DOWN and not lease.required and "confide_app" in lease.detail


def test_an_audit_service_that_does_not_answer_in_time_is_a_timeout(monkeypatch):
    monkeypatch.setattr(dependencies, "PROBE_TIMEOUT", 0.05)
    assert _Probe("amqp://unused").database(FakeAudit({"database": "ok"}, delay=1)) == ("Timeout", None, None)


def test_a_halted_relay_is_reported_degraded_not_fatal():
    """The audit service says its sealing/relaying passes fail (an event it cannot pass): the gateway
    reports it as a check of its own, down but not required (the front door stays up: degraded)."""
    probe = _Probe("amqp://unused")
    audit = FakeAudit({"database": "ok", "relay": "halted: ValueError"})
    assert probe.database(audit) == (None, None, "halted: ValueError")
    checks = _checks_with_a_reachable_broker(probe, audit)
    [relay] = [c for c in checks if c.name == "relay"]
    assert relay.status == DOWN and not relay.required and relay.detail == "halted: ValueError"
    assert [c.status for c in checks if c.name == "database"] == [OK]


class FakeProbe:
    def __init__(self, checks):
        self._checks = checks
        self.asked = None

    def checks(self, audit, services):
        self.asked = (audit, services)
        return self._checks


@pytest.mark.parametrize("checks, status, overall", [
    ([Check("broker", OK), Check("database", OK), Check("disclosures", OK)], 200, "ok"),
    ([Check("broker", OK), Check("database", DEGRADED, "slow: 2.0s"), Check("disclosures", OK)], 200, "degraded"),
    ([Check("broker", OK), Check("database", OK), Check("reports", DOWN, "not running", required=False)],
     200, "degraded"),
    ([Check("broker", OK), Check("database", DOWN, "EventStoreUnavailableError"), Check("disclosures", OK)],
     503, "down"),
])
def test_health_reply_shape(checks, status, overall):
    probe = FakeProbe(checks)
    service = worker_factory(GatewayService, probe=probe)
    reply = service.health(None)
    body = json.loads(reply.get_data(as_text=True))
    assert reply.status_code == status and body["status"] == overall
    assert reply.headers["Cache-Control"] == "no-store"
    assert body["dependencies"] == {c.name: c.as_dict() for c in checks}
    assert probe.asked[0] is service.audit  # the database is asked of the audit service
    assert set(probe.asked[1]) == {"disclosures", "directory", "audit"}  # each service the gateway calls
