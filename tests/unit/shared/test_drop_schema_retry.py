"""Dropping a test's scratch schema is retried when it loses a deadlock to a service's last query."""
import psycopg
import pytest

from confide.eventstore import install


class _Conn:
    def __init__(self, outcomes, executed):
        self.outcomes, self.executed = outcomes, executed

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, statement):
        self.executed.append(statement)
        outcome = self.outcomes.pop(0)
        if outcome is not None:
            raise outcome


def _connect(outcomes, executed):
    return lambda dsn, autocommit: _Conn(outcomes, executed)


def test_a_drop_that_loses_a_deadlock_is_tried_again(monkeypatch):
    executed = []
    monkeypatch.setattr(psycopg, "connect", _connect([psycopg.errors.DeadlockDetected("victim"), None], executed))
    install.drop_schema("postgresql://postgres@127.0.0.1/postgres", "confide_test", "t_abc")
    assert len(executed) == 2


def test_a_drop_that_keeps_losing_raises_the_last_error(monkeypatch):
    executed = []
    monkeypatch.setattr(psycopg, "connect", _connect([psycopg.errors.DeadlockDetected("victim")] * 3, executed))
    with pytest.raises(psycopg.errors.DeadlockDetected):
        install.drop_schema("postgresql://postgres@127.0.0.1/postgres", "confide_test", "t_abc", attempts=3)
    assert len(executed) == 3


def test_the_production_schema_is_never_dropped():
    with pytest.raises(ValueError, match="production"):
        install.drop_schema("postgresql://postgres@127.0.0.1/postgres", "confide_test", "confide")
