"""Unit tier of the notes service: pure domain, handlers on InMemoryEventStore, crypto in tmp dirs.

No broker, no database, no network. The HIPAA lint and decision engine are the
real pure functions from ``confide.hipaa``.
"""
from datetime import datetime, timezone

import pytest

from confide.eventstore.memory import InMemoryEventStore
from confide.keys import ensure_decision_key
from notes.crypto import Keyring

NOW = datetime(2026, 5, 1, 15, 0, tzinfo=timezone.utc)


def progress_content(**overrides):
    content = {
        "session_date": "2026-05-01", "start_time": "14:00:00", "stop_time": "14:53:00",
        "modality": "individual psychotherapy", "cpt_code": "90837", "frequency": "weekly",
        "diagnosis_codes": ["F32.1", "F41.1"], "symptoms": "low mood, poor sleep",
        "functional_status": "working part time", "interventions": "CBT thought records",
        "treatment_plan": "continue CBT weekly", "prognosis": "fair", "progress_to_date": "PHQ-9 down 4 points",
        "medications": [{"name": "sertraline", "dose": "50 mg", "prescription": "daily",
                         "monitoring": "tolerating"}],
        "clinical_tests": {"phq9": 14, "gad7": 9},
        "risk_assessment": {"level": "low", "factors": "none endorsed", "plan": "safety plan reviewed"},
        "late_entry_reason": "written after the session",  # tests on a real clock write for a past day
    }
    content.update(overrides)
    return content


def author(id_="C-A", role="clinician"):
    return {"id": id_, "role": role, "credentials": "PsyD"}


@pytest.fixture
def store(clock):
    # Events are recorded at the handlers' clock, so "as the note stood at decided_at" is exact.
    return InMemoryEventStore(clock=clock)


@pytest.fixture
def keyring(tmp_path):
    return Keyring(tmp_path / "keys")


@pytest.fixture
def clock():
    return lambda: NOW


@pytest.fixture
def key_dir(tmp_path):
    """A key directory holding ``decision.key`` (seals AccessDecided, verified by release_fields)."""
    path = tmp_path / "keys"
    ensure_decision_key(path)
    return path
