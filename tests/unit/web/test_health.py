"""The web app's public GET /health: per dependency ok / degraded / down, 503 only when a required
one is down, no-store, nothing about anyone."""
from __future__ import annotations

import pytest

from confide import health as h


@pytest.fixture
def deps(monkeypatch):
    """Every probe answers ok unless the test says otherwise."""
    from web import health

    state = {"broker": None, "web_database": None, "database": None,
             "services": {name: (1, 0) for name in health.SERVICES}}

    def probe_broker(uri, services, ssl=None):
        if state["broker"]:
            return [h.Check("broker", h.DOWN, state["broker"])] + [
                h.Check(n, h.DOWN, "broker unreachable", r) for n, r in services.items()]
        return [h.Check("broker", h.OK)] + [h.queue_check(n, *state["services"][n], required=r)
                                            for n, r in services.items()]

    monkeypatch.setattr(health.config, "amqp_uri", lambda user: "amqp://web:pw@127.0.0.1:1/confide")
    monkeypatch.setattr(health.health, "probe_broker", probe_broker)
    monkeypatch.setattr(health, "_web_database", lambda: state["web_database"])
    monkeypatch.setattr(health, "_event_store", lambda: state["database"])
    return state


def _get(client):
    reply = client.get("/health")
    assert "no-store" in reply["Cache-Control"]
    body = reply.json()
    return reply.status_code, body["status"], {n: d["status"] for n, d in body["dependencies"].items()}


def test_all_ok(client, deps):
    code, status, each = _get(client)
    assert (code, status) == (200, "ok")
    assert each == {n: "ok" for n in ("broker", "web_database", "database", "directory", "notes", "disclosures",
                                      "audit")}


def test_an_optional_service_down_or_a_backlog_is_degraded_not_down(client, deps):
    deps["services"]["notes"] = (0, 0)            # not running
    deps["services"]["disclosures"] = (1, h.BACKLOG + 5)  # not keeping up
    code, status, each = _get(client)
    assert (code, status) == (200, "degraded")
    assert each["notes"] == "down" and each["disclosures"] == "degraded" and each["directory"] == "ok"


@pytest.mark.parametrize("fault", ["broker", "web_database", "database", "directory"])
def test_a_required_dependency_down_is_503(client, deps, fault):
    if fault == "directory":
        deps["services"]["directory"] = (0, 0)
    else:
        deps[fault] = "ConnectionRefusedError"
    code, status, each = _get(client)
    assert (code, status) == (503, "down") and each[fault] == "down"


def test_the_real_probes_without_a_broker_or_database_say_down_and_name_no_secret(client, monkeypatch):
    """No mocks below the view: a closed broker port and the closed web database."""
    from web import health

    monkeypatch.setattr(health.config, "amqp_uri", lambda user: "amqp://web:hunter2@127.0.0.1:9/confide")
    reply = client.get("/health")
    assert reply.status_code == 503 and reply.json()["status"] == "down"
    assert reply.json()["dependencies"]["web_database"]["status"] == "down"
    assert "hunter2" not in reply.content.decode() and "nobody" not in reply.content.decode()
