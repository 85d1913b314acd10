"""Attack as a patient: flood the right-of-access copy. Every copy decides and records each note
anew (AccessDecided, hash-chained, kept six years), so refreshing the portal in a loop wrote without
bound. A patient has their copy as often as they reasonably ask (164.524(c)), within a per-patient
budget; past it the service says so (TooManyCopiesError) and nothing is decided or recorded."""
import importlib.util
import pathlib
import uuid

import pytest

from disclosures.service import COPIES_PER_WINDOW

_spec = importlib.util.spec_from_file_location("disclosures_it_conftest_flood", pathlib.Path(__file__).with_name("conftest.py"))
cf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cf)


def decisions(pg_store, request_id, since):
    return [e for e in pg_store.read_category("accessDecision", since, 100000)
            if e.type == "AccessDecided" and e.data.get("request_id") == request_id]


def test_the_copy_of_my_record_is_bounded_per_patient(system, patient, pg_store):
    note_id = cf.write_note(system, cf.progress_note(patient))
    with system.notes() as notes:
        notes.sign_note(note_id)
    me = system.people.patient(patient)
    since = pg_store.head_position()
    with system.as_(me, "disclosures") as disclosures:
        first = disclosures.request_access()
        assert first["status"] == "released"
        for _ in range(COPIES_PER_WINDOW - 1):
            disclosures.get_disclosure_request(first["request_id"], include_content=True)
        recorded = len(decisions(pg_store, first["request_id"], since))
        with pytest.raises(Exception) as again:
            disclosures.get_disclosure_request(first["request_id"], include_content=True)
        with pytest.raises(Exception) as anew:
            disclosures.request_access()
        seen = disclosures.get_disclosure_request(first["request_id"])  # the request itself, no copy
    for info in (again, anew):
        assert getattr(info.value, "exc_type", type(info.value).__name__) == "TooManyCopiesError", info.value
    assert seen["status"] == "released"
    assert len(decisions(pg_store, first["request_id"], since)) == recorded  # nothing decided past the budget
    other = system.people.patient(f"P-{uuid.uuid4().hex[:10]}")
    with system.as_(other, "disclosures") as disclosures:
        assert disclosures.request_access()["status"] == "released"  # another patient's budget is their own
