"""The published events' base: stored data in, typed event out; versioning by upcasting."""
from dataclasses import dataclass
from typing import ClassVar, Optional

import pytest

from confide.contracts import access, authorizations, disclosures, notes
from confide.contracts.base import SCHEMA_VERSION, Event, UnknownEventTypeError, event_from_stored, registry, upcaster


@dataclass(frozen=True)
class ThingHappened(Event):
    class_version: ClassVar[int] = 3
    thing_id: str
    when: str
    colour: Optional[str] = None


@upcaster(ThingHappened, 1)
def _v1_to_v2(data: dict) -> dict:  # v1 called it "at"
    data["when"] = data.pop("at")
    return data


@upcaster(ThingHappened, 2)
def _v2_to_v3(data: dict) -> dict:  # v2 had a numeric colour code
    data["colour"] = {1: "red"}.get(data.pop("colour_code", None))
    return data


def test_a_version_1_event_without_schema_version_is_upcast_through_every_step():
    event = ThingHappened.from_data({"thing_id": "t1", "at": "2026-05-01T15:00:00.000000Z", "colour_code": 1})
    assert event == ThingHappened("t1", "2026-05-01T15:00:00.000000Z", "red")


def test_a_current_event_carries_its_version_and_reads_back_unchanged():
    event = ThingHappened("t1", "2026-05-01T15:00:00.000000Z")
    data = event.to_data()
    assert data[SCHEMA_VERSION] == 3
    assert ThingHappened.from_data(data) == event


def test_version_1_events_store_no_schema_version_so_old_bytes_stay_as_they_were():
    released = access.ContentReleased("d1", ["n1"], ["patient_id"], "2026-05-01T15:00:00.000000Z")
    assert SCHEMA_VERSION not in released.to_data()


def test_unknown_fields_are_ignored_and_an_added_optional_field_defaults():
    old = {"decision_id": "d1", "requester": {"id": "C-A"}, "purpose": "treatment", "action": "use",
           "patient_id": "P-1", "note_id": "n1", "note_kind": "progress", "originator_id": "C-A",
           "decision": "permit", "rule": "45 CFR 164.506(c)(1)", "citations": [], "fields_released": None,
           "decided_at": "2026-05-01T15:00:00.000000Z", "from_a_newer_writer": True}
    decided = access.AccessDecided.from_data(old)
    assert decided.note_ids == [] and decided.seal is None and decided.note_id == "n1"


def test_a_missing_required_field_is_refused():
    with pytest.raises(TypeError):
        access.ContentReleased.from_data({"decision_id": "d1"})


def test_an_unknown_type_is_named():
    with pytest.raises(UnknownEventTypeError) as caught:
        event_from_stored(registry([ThingHappened]), "SomethingElse", {})
    assert "SomethingElse" in str(caught.value)


def test_every_published_event_is_defined_once():
    published = [notes.NOTE_EVENTS, access.ACCESS_EVENTS, disclosures.DISCLOSURE_EVENTS,
                 authorizations.AUTHORIZATION_EVENTS]
    names = [name for group in published for name in group]
    assert len(names) == len(set(names)) and "AccessDecided" in names
    assert all(issubclass(cls, Event) for group in published for cls in group.values())


def test_the_services_use_the_published_classes():
    from disclosures.domain import events as disclosure_events
    from notes.domain import events as note_events

    assert note_events.AccessDecided is disclosure_events.AccessDecided is access.AccessDecided
    assert note_events.EVENT_TYPES["PsychotherapyNoteDrafted"] is notes.PsychotherapyNoteDrafted
