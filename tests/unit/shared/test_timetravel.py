"""`confide audit as-of`: a stream as it stood at a time, never showing note content."""
from datetime import datetime, timedelta, timezone

from confide.envelope import NewEvent
from confide.eventstore.memory import InMemoryEventStore
from confide.timetravel import state_as_of

T0 = datetime(2026, 4, 1, 9, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now


def test_authorization_as_it_stood_before_and_after_revocation():
    clock = Clock()
    store = InMemoryEventStore(clock=clock)
    store.append("authorization-A1", [NewEvent("AuthorizationRecorded", {"authorization_id": "A1", "revoked": False})])
    clock.now = T0 + timedelta(days=19)
    store.append("authorization-A1", [NewEvent("AuthorizationRevoked", {"revoked": True, "received_at": "x"})])

    before = state_as_of(store, "authorization-A1", T0 + timedelta(days=10))
    after = state_as_of(store, "authorization-A1", T0 + timedelta(days=20))
    never = state_as_of(store, "authorization-A1", T0 - timedelta(days=1))
    assert before["state"]["revoked"] is False and before["status"] == "AuthorizationRecorded"
    assert after["state"]["revoked"] is True and after["version"] == 1
    assert never["version"] == -1 and never["state"] == {}


def test_note_state_keeps_lifecycle_and_withholds_clinical_content():
    clock = Clock()
    store = InMemoryEventStore(clock=clock)
    store.append("progressNote-N1", [NewEvent("ProgressNoteDrafted", {
        "note_id": "N1", "patient_id": "P1", "author_id": "C-A", "session_date": "2026-03-02",
        "content": {"symptoms": "SECRET-SYMPTOM"}})])
    clock.now = T0 + timedelta(hours=1)
    store.append("progressNote-N1", [NewEvent("ProgressNoteSigned", {"signed_by": "C-A", "signed_at": "t"})])

    view = state_as_of(store, "progressNote-N1", T0 + timedelta(hours=2))
    assert view["state"]["signed_by"] == "C-A" and view["state"]["patient_id"] == "P1"
    assert view["withheld"] == ["content"]
    assert "SECRET-SYMPTOM" not in str(view)
    assert state_as_of(store, "progressNote-N1", T0)["status"] == "ProgressNoteDrafted"
