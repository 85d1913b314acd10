"""The base of every published event: a frozen dataclass whose ``type`` is its class name.

Versioning (the rules every event in :mod:`confide.contracts` follows):

1. **Adding a field** is the only change made in place: the field is added *last*, optional, with
   a default that means what an old event meant without it. Old events then read unchanged
   (:meth:`Event.from_data` fills the default); readers that do not know the field ignore it.
2. **Any other change** (renaming, retyping, splitting, changing a field's meaning) raises the
   class's ``class_version`` and registers an upcaster with :func:`upcaster` that turns the data
   of version ``n`` into version ``n + 1``. Events of version 2 and later carry
   ``schema_version`` in their data; an event without it is version 1. Stored bytes are never
   rewritten: old events are upcast every time they are read.
3. **Removing an event type** never happens: a type that is no longer written keeps its class so
   that the history stays readable.
4. Unknown fields in stored data are ignored on read (a newer writer, an older reader).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Iterable, Mapping, Type, TypeVar

E = TypeVar("E", bound="Event")
Upcaster = Callable[[dict], dict]

SCHEMA_VERSION = "schema_version"


class UnknownEventTypeError(KeyError):
    """A stored event type that no published contract defines."""


@dataclass(frozen=True)
class Event:
    """A published event. Subclasses are frozen dataclasses of JSON-able fields."""

    class_version: ClassVar[int] = 1
    _upcasters: ClassVar[dict[int, Upcaster]]

    @property
    def type(self) -> str:
        return type(self).__name__

    def to_data(self) -> dict[str, Any]:
        """The event's data as stored (with ``schema_version`` from version 2 on)."""
        data = dataclasses.asdict(self)
        if self.class_version > 1:
            data[SCHEMA_VERSION] = self.class_version
        return data

    @classmethod
    def upcast(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        """Stored data of any earlier version brought to ``class_version`` (see the module docstring)."""
        out = dict(data)
        version = int(out.pop(SCHEMA_VERSION, 1))
        steps = getattr(cls, "_upcasters", {})
        while version < cls.class_version:
            out = steps[version](out)
            version += 1
        return out

    @classmethod
    def from_data(cls: Type[E], data: Mapping[str, Any]) -> E:
        """The event from stored data: upcast, unknown fields ignored, absent optional fields defaulted.

        Raises TypeError when a required field is absent.
        """
        current = cls.upcast(data)
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in current.items() if k in names})


def upcaster(event_class: type[Event], from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register ``fn(data_v_n) -> data_v_n+1`` for ``event_class`` (rule 2 of the module docstring)."""
    def register(fn: Upcaster) -> Upcaster:
        if "_upcasters" not in event_class.__dict__:
            event_class._upcasters = {}
        event_class._upcasters[from_version] = fn
        return fn
    return register


def registry(classes: Iterable[type[Event]]) -> dict[str, type[Event]]:
    """``{type name: class}`` for a set of event classes."""
    return {cls.__name__: cls for cls in classes}


def event_from_stored(types: Mapping[str, type[Event]], type_: str, data: Mapping[str, Any]) -> Event:
    """Rebuild an event of ``types`` from a stored (type, data). Raises UnknownEventTypeError."""
    try:
        cls = types[type_]
    except KeyError:
        raise UnknownEventTypeError(type_) from None
    return cls.from_data(data)
