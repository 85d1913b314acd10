"""confide.health: each dependency ok / degraded / down, and the overall status and HTTP code."""
import pytest

from confide import health
from confide.health import DEGRADED, DOWN, OK, Check, queue_check, summarise, timed


@pytest.mark.parametrize("checks, code, overall", [
    ([Check("broker", OK), Check("notes", OK)], 200, OK),
    ([Check("broker", OK), Check("notes", DEGRADED, "30 requests waiting")], 200, DEGRADED),
    ([Check("broker", OK), Check("reports", DOWN, "x", required=False)], 200, DEGRADED),
    ([Check("broker", DOWN, "ConnectionRefusedError"), Check("notes", DEGRADED)], 503, DOWN),
])
def test_summary(checks, code, overall):
    status, body = summarise(checks)
    assert (status, body["status"]) == (code, overall)
    assert list(body["dependencies"]) == [c.name for c in checks]


def test_a_service_is_down_without_a_consumer_and_degraded_with_a_backlog():
    assert queue_check("notes", consumers=0, waiting=0).status == DOWN
    assert queue_check("notes", consumers=1, waiting=health.BACKLOG + 1).status == DEGRADED
    assert queue_check("notes", consumers=2, waiting=health.BACKLOG).status == OK


def test_a_slow_answer_is_degraded_and_a_failure_down():
    assert timed("database", health.SLOW + 0.5, None).status == DEGRADED
    assert timed("database", 0.01, None) == Check("database", OK)
    assert timed("database", 0.01, "Timeout") == Check("database", DOWN, "Timeout")


def test_an_unreachable_broker_takes_every_service_down_without_naming_the_uri():
    checks = health.probe_broker("amqp://secretuser:secretpw@127.0.0.1:1//", {"notes": True}, timeout=0.5)
    assert [(c.name, c.status) for c in checks] == [("broker", DOWN), ("notes", DOWN)]
    assert "secret" not in repr(summarise(checks)[1])
