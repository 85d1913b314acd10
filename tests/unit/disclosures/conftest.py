"""Unit tier of the disclosures service: no broker, no database, no network.

Handlers run on ``InMemoryEventStore``, seen through the disclosures service's seals
(``sealed_disclosures``: its requests and authorizations are sealed and believed only when sealed), with a settable clock and a fake notes
client that, like the real one, refuses to release unless the AccessDecided
event is already on record.
"""
import uuid
from datetime import datetime, timedelta

import pytest

from confide.envelope import NewEvent
from confide.eventstore.memory import InMemoryEventStore
from confide.keys import ensure_decision_key, verify_decision
from confide.testing.identities import sealed_disclosures


class FakeClock:
    def __init__(self, start="2026-05-01T15:00:00+00:00"):
        self.now = datetime.fromisoformat(start)

    def __call__(self):
        return self.now

    def advance(self, **kwargs):
        self.now += timedelta(**kwargs)


class FakeNotes:
    """Stands in for the notes service's RPC proxy; returns only field names with placeholders."""

    def __init__(self, store, key_dir=None):
        self.store = store
        self.key_dir = key_dir
        self.calls = []

    def release_fields(self, decision_id, note_ids, request_id=None):
        recorded = self.store.read_stream(f"accessDecision-{decision_id}")
        assert recorded and recorded[-1].type == "AccessDecided", "released before AccessDecided was recorded"
        decided = recorded[-1].data
        if self.key_dir is not None:  # like the notes service: only a decision sealed with the decision key
            assert verify_decision(self.key_dir, decided, decided.get("seal")), "AccessDecided is not sealed"
        assert set(note_ids) <= set(decided["note_ids"])
        self.calls.append((decision_id, list(note_ids)))
        fields = decided["fields_released"] or []
        return {"decision_id": decision_id, "fields_released": fields,
                "notes": [{"note_id": n, "fields": {f: f"<{f}>" for f in fields}} for n in note_ids]}


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def raw_store(clock):
    """The store itself, as whoever holds the services' database login sees it (nothing checked)."""
    return InMemoryEventStore(clock=clock)


@pytest.fixture
def store(raw_store, key_dir):
    """The store as the disclosures service sees it: its requests and authorizations sealed with this
    test's ``service-keys/disclosures.key`` and believed only when sealed."""
    return sealed_disclosures(raw_store, key_dir)


@pytest.fixture(autouse=True)
def key_dir(tmp_path, monkeypatch):
    """This test's own ``decision.key``; also the handlers' default key directory (CONFIDE_KEY_DIR)."""
    path = tmp_path / "keys"
    ensure_decision_key(path)
    monkeypatch.setenv("CONFIDE_KEY_DIR", str(path))
    return path


@pytest.fixture
def notes(store, key_dir):
    return FakeNotes(store, key_dir)


@pytest.fixture
def add_note(store):
    """Append a drafted note's first event (metadata only; the content is a placeholder)."""
    def add(patient_id, kind="progress", author_id="C-A", session_date="2026-02-10"):
        note_id = str(uuid.uuid4())
        category, event_type = (("progressNote", "ProgressNoteDrafted") if kind == "progress"
                                else ("psychotherapyNote", "PsychotherapyNoteDrafted"))
        data = {"note_id": note_id, "patient_id": patient_id, "author_id": author_id,
                "session_date": session_date, "content": {"placeholder": True}}
        store.append(f"{category}-{note_id}", [NewEvent(event_type, data)], expected_version=-1)
        return note_id
    return add


@pytest.fixture
def patient():
    return f"P-{uuid.uuid4().hex[:8]}"


def insurer(org="Acme Health Plan", verified=True):
    return {"id": "payer-user-1", "role": "insurer_health_plan", "org": org, "identity_verified": verified}


def authorization(patient_id, **overrides):
    form = {
        "id": f"AUTH-{uuid.uuid4().hex[:8]}", "patient": patient_id, "covers": ["psychotherapy_notes"],
        "description": "Psychotherapy notes of sessions 2026-01-05 to 2026-03-30 by Dr. A",
        "authorized_discloser": "Northside Counseling Group (Dr. A)", "recipients": ["Acme Health Plan"],
        "purposes": ["at the request of the individual"], "signed_by": "patient", "signer_role": "individual",
        "rep_authority_described": None, "signed_date": "2026-04-01", "expiration_date": "2026-12-31",
        "expiration_event": None, "expiration_event_occurred": None, "revoked": False, "revocation": None,
        "compound": False, "combined_with": [], "conditioned_on": None,
        "statements_present": {"right_to_revoke": True, "conditioning": True, "redisclosure": True},
        "plain_language": True,
    }
    form.update(overrides)
    return form
