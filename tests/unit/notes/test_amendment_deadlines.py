"""Amendment deadlines (45 CFR 164.526(b)(2)) as the privacy officer's list shows them, on a moving clock."""
import uuid
from datetime import timedelta

import pytest

from confide.eventstore.memory import InMemoryEventStore
from notes import handlers as h
from notes import schemas as s
from notes.domain import errors

from .conftest import NOW, author, progress_content


class Clock:
    def __init__(self):
        self.now = NOW

    def __call__(self):
        return self.now


@pytest.fixture
def moving():
    return Clock()


def requested(store, clock) -> tuple[str, str]:
    pid = "P-" + uuid.uuid4().hex[:8]
    payload = s.load(s.WriteProgressNoteSchema, {"patient_id": pid, "content": progress_content()})
    note_id = h.write_progress_note(store, clock, {**payload, "author": author()})["note_id"]
    h.sign_note(store, clock, {"note_id": note_id, "signed_by": "C-A"})
    h.request_amendment(store, clock, {"note_id": note_id, "amendment_id": "a1", "patient_id": pid,
                                       "requested_change": "employer", "reason": "changed jobs"})
    return note_id, "a1"


def listed(store, clock, open_only=True) -> dict:
    return {r["amendment_id"]: r for r in h.amendment_requests(store, clock, {"open_only": open_only})["amendments"]}


def test_due_soon_then_overdue_and_no_extension_after_the_deadline(moving):
    store = InMemoryEventStore(clock=moving)
    note_id, amendment_id = requested(store, moving)
    row = listed(store, moving)[amendment_id]
    assert row["due_at"] == "2026-06-30T15:00:00.000000Z" and not row["due_soon"] and not row["overdue"]
    moving.now = NOW + timedelta(days=55)
    row = listed(store, moving)[amendment_id]
    assert row["due_soon"] and not row["overdue"] and row["days_left"] == 5
    moving.now = NOW + timedelta(days=61)
    row = listed(store, moving)[amendment_id]
    assert row["overdue"] and not row["due_soon"]
    with pytest.raises(errors.AmendmentStateError, match="within the 60 days"):
        h.extend_amendment_deadline(store, moving, {"note_id": note_id, "amendment_id": amendment_id,
                                                    "extended_by": "PO", "statement": "late"})


def test_one_extension_moves_the_deadline_by_thirty_days_and_needs_a_statement(moving):
    store = InMemoryEventStore(clock=moving)
    note_id, amendment_id = requested(store, moving)
    moving.now = NOW + timedelta(days=50)
    with pytest.raises(errors.ValidationError, match="statement"):
        h.extend_amendment_deadline(store, moving, {"note_id": note_id, "amendment_id": amendment_id,
                                                    "extended_by": "PO", "statement": "  "})
    reply = h.extend_amendment_deadline(store, moving, {"note_id": note_id, "amendment_id": amendment_id,
                                                        "extended_by": "PO", "statement": "records awaited"})
    assert reply["due_at"] == "2026-07-30T15:00:00.000000Z"
    row = listed(store, moving)[amendment_id]
    assert row["extended"] and not row["due_soon"]
    moving.now = NOW + timedelta(days=70)
    assert listed(store, moving)[amendment_id]["overdue"] is False


def test_decided_requests_leave_the_open_list_and_follow_the_open_ones(moving):
    store = InMemoryEventStore(clock=moving)
    note_id, amendment_id = requested(store, moving)
    h.deny_amendment(store, moving, {"note_id": note_id, "amendment_id": amendment_id, "decided_by": "PO",
                                     "ground": "accurate_and_complete", "denial_statement": "accurate"})
    other_note, _ = requested(store, moving)
    assert set(listed(store, moving)) == {"a1"}  # the other note's open request only
    assert [r["note_id"] for r in listed(store, moving).values()] == [other_note]
    every = h.amendment_requests(store, moving, {"open_only": False})["amendments"]
    assert [(r["note_id"], r["status"]) for r in every] == [(other_note, "requested"), (note_id, "denied")]
    assert every[1]["overdue"] is False and every[1]["days_left"] is None
