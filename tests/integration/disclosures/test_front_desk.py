"""The front desk's RPCs: the request queue (``list_requests``), checking an authorization without
recording it (``check_authorization``), a staff-recorded request that waits, decided, for staff to
release it (``await_release`` + ``resume_request``), and legal process as structured facts."""
import importlib.util
import pathlib
import uuid

import pytest

from confide import transport

_spec = importlib.util.spec_from_file_location("disclosures_it_conftest_fd", pathlib.Path(__file__).with_name("conftest.py"))
cf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cf)

FIRM = cf.FIRM
authorization = cf.authorization_form


def kind(info) -> str:
    """The domain error's name: a RemoteError's exc_type, or the gateway's local type registered in
    this process for InvalidRequestError (RemoteInvalidRequest)."""
    exc = info.value
    name = getattr(exc, "exc_type", None) or type(exc).__name__
    return {"RemoteInvalidRequest": "InvalidRequestError"}.get(name, name)


def written(pg_store, stream):
    return pg_store.read_stream(stream)


def test_the_queue_lists_requests_by_state_for_request_staff_only(system, patient):
    outside = {"role": "attorney", "id": f"J. Smith {uuid.uuid4().hex[:6]}", "org": FIRM}
    with system.as_(system.staff, "disclosures") as disclosures:
        held = disclosures.request_disclosure({"patient_id": patient, "purpose": "other",
                                               "external_requester": outside, "await_release": True})
        everything = disclosures.list_requests()
        on_hold = disclosures.list_requests(state="on_hold", limit=500)
        released = disclosures.list_requests(state="released", limit=500)
        with pytest.raises(Exception) as bad:
            disclosures.list_requests(state="lost")
    assert kind(bad) == "InvalidRequestError" and "state" in str(bad.value)
    [row] = [r for r in everything if r["request_id"] == held["request_id"]]
    assert row["status"] == "on_hold" and "164.514(h)" in row["rule"]
    assert row["requester"] == outside and row["patient_id"] == patient and row["purpose"] == "other"
    assert row["recorded_by"] == system.staff.subject and "content" not in row
    assert held["request_id"] in {r["request_id"] for r in on_hold}
    assert held["request_id"] not in {r["request_id"] for r in released}
    for person in (system.clinician, system.people.patient(f"P-{uuid.uuid4().hex[:8]}")):
        with system.as_(person, "disclosures") as disclosures, pytest.raises(Exception) as refused:
            disclosures.list_requests()
        assert kind(refused) == "NotAuthorizedError"


def test_check_authorization_finds_the_defects_and_records_nothing(system, patient, pg_store):
    missing = authorization(patient)
    del missing["purposes"]
    missing["statements_present"] = {"right_to_revoke": True, "conditioning": True}
    with system.as_(system.staff, "disclosures") as disclosures:
        checked = disclosures.check_authorization(missing)
        complete = disclosures.check_authorization(authorization(patient, id=missing["id"]))
        with pytest.raises(Exception) as unknown:
            disclosures.check_authorization(authorization("P-not-on-file-" + uuid.uuid4().hex[:6]))
    assert checked["defective"] is True
    assert {d["code"] for d in checked["defects"]} == {"missing_purposes", "missing_statement_redisclosure"}
    assert any(d["citation"] == "45 CFR 164.508(c)(1)(iv)" for d in checked["defects"])
    assert complete == {"defective": False, "defects": []}
    assert kind(unknown) == "InvalidRequestError" and "authorization.patient" in str(unknown.value)
    assert written(pg_store, f"authorization-{missing['id']}") == []
    with system.as_(system.clinician, "disclosures") as disclosures, pytest.raises(Exception) as refused:
        disclosures.check_authorization(missing)
    assert kind(refused) == "NotAuthorizedError"


def test_a_verified_request_waits_decided_until_staff_release_it(system, patient):
    note_id = cf.write_note(system, cf.progress_note(patient))
    auth = authorization(patient)
    outside = {"role": "attorney", "id": "J. Smith", "org": FIRM}
    key, reply_key = transport.ephemeral()
    with system.as_(system.staff, "disclosures") as disclosures:
        assert disclosures.record_authorization(auth)["status"] == "active"
        held = disclosures.request_disclosure({"patient_id": patient, "purpose": "other", "external_requester": outside,
                                               "authorization_id": auth["id"], "await_release": True})
        decided = disclosures.verify_requester({"request_id": held["request_id"], "method": "bar card and ID"},
                                               reply_public_key=reply_key)
        assert [r["status"] for r in disclosures.list_requests(state="decided", limit=500)
                if r["request_id"] == held["request_id"]] == ["decided"]
        released = transport.open_tree(key, disclosures.resume_request(held["request_id"], reply_public_key=reply_key))
    assert held["status"] == "on_hold" and held["await_release"] is True
    assert decided["status"] == "decided" and decided["release"] is None and "content" not in decided
    assert decided["decision"]["authorization_id"] == auth["id"] and decided["decision"]["fields_released"]
    assert released["status"] == "released" and released["release"]["note_ids"] == [note_id]
    assert released["release"]["fields_released"] == decided["decision"]["fields_released"]
    assert [c["note_id"] for c in released["content"]["notes"]] == [note_id]


def test_await_release_is_for_staff_recording_an_outside_request_only(system, org, patient):
    with system.as_(system.payers.principal(org), "disclosures") as disclosures, pytest.raises(Exception) as info:
        disclosures.request_disclosure({"patient_id": patient, "purpose": "payment", "await_release": True})
    assert kind(info) == "InvalidRequestError" and "await_release" in str(info.value)


def test_legal_process_is_structured_and_names_the_note_kinds_it_covers(system, patient):
    subpoena = {"type": "subpoena_without_court_order", "covers": ["progress"],
                "satisfactory_assurance": "qualified_protective_order"}
    court = {"role": "court", "id": "Clerk of the Superior Court", "org": "Superior Court"}
    base = {"patient_id": patient, "purpose": "judicial", "external_requester": court, "await_release": True,
            "date_from": "2026-01-01", "date_to": "2026-03-31"}
    with system.as_(system.staff, "disclosures") as disclosures:
        for facts, note_kind, field in (({"legal_process": {**subpoena, "covers": ["billing"]}}, "progress", "covers"),
                                        ({"legal_process": {**subpoena, "type": "letter"}}, "progress", "type"),
                                        ({"legal_process": subpoena}, "psychotherapy", "note_kind")):
            with pytest.raises(Exception) as bad:
                disclosures.request_disclosure({**base, "note_kind": note_kind, "facts": facts})
            assert kind(bad) == "InvalidRequestError" and field in str(bad.value), str(bad.value)
        held = disclosures.request_disclosure({**base, "note_kind": "progress", "facts": {"legal_process": subpoena}})
    assert held["status"] == "on_hold" and held["facts"]["legal_process"]["covers"] == ["progress"]
    assert (held["date_from"], held["date_to"]) == ("2026-01-01", "2026-03-31")
