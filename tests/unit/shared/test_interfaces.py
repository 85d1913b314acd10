"""Both event stores satisfy the narrow protocols callers are typed against (names and signatures)."""
import inspect
import typing

import pytest

from confide.eventstore import interfaces as i
from confide.eventstore.memory import InMemoryEventStore
from confide.eventstore.projection_store import PostgresProjectionStore, PostgresRebuild
from confide.eventstore.store import PostgresEventStore

SHARED = (i.StreamReader, i.CategoryReader, i.EventAppender, i.MultiStreamAppender, i.LogReader, i.CheckpointStore,
          i.HealthCheck,
          i.HistoryReader, i.NotesStore, i.DisclosuresStore)
POSTGRES_ONLY = (i.SubscriptionCheckpoints,)


def _methods(proto) -> dict:
    out = {}
    for klass in reversed(proto.__mro__):
        if klass in (object, typing.Protocol, typing.Generic):
            continue
        out.update({name: fn for name, fn in vars(klass).items()
                    if inspect.isfunction(fn) and not name.startswith("_")})
    return out


def _params(fn):
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


def _check(impl: type, proto) -> None:
    methods = _methods(proto)
    assert methods, proto
    for name, declared in methods.items():
        got = getattr(impl, name, None)
        assert callable(got), f"{impl.__name__} lacks {proto.__name__}.{name}"
        assert _params(got) == _params(declared), f"{impl.__name__}.{name} differs from {proto.__name__}.{name}"


@pytest.mark.parametrize("proto", SHARED, ids=lambda p: p.__name__)
def test_in_memory_store_satisfies(proto):
    assert isinstance(InMemoryEventStore(), proto)
    _check(InMemoryEventStore, proto)


@pytest.mark.parametrize("proto", SHARED + POSTGRES_ONLY, ids=lambda p: p.__name__)
def test_postgres_store_satisfies(proto):
    unopened = object.__new__(PostgresEventStore)  # no pool: only the methods are looked at
    assert isinstance(unopened, proto)
    _check(PostgresEventStore, proto)


def test_projection_store_satisfies():
    _check(PostgresProjectionStore, i.ProjectionStore)
    _check(PostgresRebuild, i.ProjectionRebuild)
    assert isinstance(PostgresProjectionStore(object.__new__(PostgresEventStore)), i.ProjectionStore)


def test_a_store_missing_a_method_is_not_an_appender():
    class ReadOnly:
        def read_stream(self, stream_name, from_version=0):
            return []

    assert not isinstance(ReadOnly(), i.EventAppender)
