"""The event types the store indexes by the patient they name.

A patient's notes and authorizations are found without scanning every stream of the practice:
the store keeps a partial expression index over the events that open those streams (only they are
parsed as jsonb, so other appends pay nothing). This list is the one source of that index: the SQL
(``deploy/sql/tables/10_events.sql``) is rendered from it at install time
(:func:`sql_type_list`), and the store refuses a look-up by any other type.
"""
from __future__ import annotations

from confide.contracts.notes import DRAFTED, PROGRESS, PSYCHOTHERAPY, SUD_COUNSELING

PATIENT_INDEXED_TYPES: tuple[str, ...] = (DRAFTED[PROGRESS], DRAFTED[PSYCHOTHERAPY], DRAFTED[SUD_COUNSELING],
                                          "AuthorizationRecorded")


def sql_type_list() -> str:
    """The types as an SQL list of literals, ``'A', 'B'`` (identifiers of letters only, so safe to inline).

    Raises ValueError if a type name is not a plain identifier.
    """
    for name in PATIENT_INDEXED_TYPES:
        if not name.isidentifier() or not name.isascii():
            raise ValueError(f"patient-indexed event type {name!r} is not a plain identifier")
    return ", ".join(f"'{name}'" for name in PATIENT_INDEXED_TYPES)
