"""Amending the case facts of a held request (``amend_disclosure_facts``) through the running services,
and SUD counseling notes (42 CFR 2.31(b)) asked for by a payer: never released without a consent
naming them.

The amendment is recorded (``DisclosureFactsAmended``: who, when, which fields, never content), the
request decided again with the rule cited; only request staff may amend (the check that only they
send ``facts``), a clinician or a payer is refused and the refusal recorded; facts are checked
against the case-file JSON Schema; a redelivery appends nothing."""
import importlib.util
import json
import pathlib
import uuid

import pytest

from confide import transport

_spec = importlib.util.spec_from_file_location("disclosures_it_conftest_amend",
                                               pathlib.Path(__file__).with_name("conftest.py"))
cf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cf)

OUTSIDE = {"role": "attorney", "id": "J. Smith", "org": cf.FIRM}
ORDER = {"type": "court_order", "signed_by_judge": True}


def kind(info) -> str:
    """The domain error's name: a RemoteError's exc_type, or the gateway's local type registered in
    this process for InvalidRequestError (RemoteInvalidRequest)."""
    exc = info.value
    name = getattr(exc, "exc_type", None) or type(exc).__name__
    return {"RemoteInvalidRequest": "InvalidRequestError"}.get(name, name)


def types(pg_store, request_id):
    return [e.type for e in pg_store.read_stream(f"disclosureRequest-{request_id}")]


def refusals(pg_store, subject):
    return [e.data for e in pg_store.read_category("accessAttempt", 1, 100000, prefix_only=False)
            if e.type == "AccessAttemptRefused" and e.data.get("subject") == subject]


def held_for_coverage(system, patient):
    """A judge's order recorded by staff for a progress note, verified: held by the engine because what
    the order covers is not on file (164.512(e)(1)(i))."""
    with system.as_(system.staff, "disclosures") as disclosures:
        held = disclosures.request_disclosure({"patient_id": patient, "purpose": "judicial",
                                               "external_requester": OUTSIDE,
                                               "facts": {"legal_process": dict(ORDER)}})
        assert held["status"] == "on_hold" and "164.514(h)" in held["hold"]["rule"]
        verified = disclosures.verify_requester({"request_id": held["request_id"], "method": "bar card and ID"})
    assert verified["status"] == "on_hold" and "legal_process.covers" in " ".join(verified["hold"]["reasons"])
    return held["request_id"]


def test_staff_amend_the_coverage_and_the_request_is_decided_and_released_to_them(system, patient, pg_store):
    note_id = cf.write_note(system, cf.progress_note(patient))
    request_id = held_for_coverage(system, patient)
    key, reply_key = transport.ephemeral()
    with system.as_(system.staff, "disclosures") as disclosures:
        done = transport.open_tree(key, disclosures.amend_disclosure_facts(
            {"request_id": request_id, "facts": {"legal_process": {**ORDER, "covers": ["progress"]}},
             "reason": "legal_process_received"}, reply_public_key=reply_key))
    assert done["status"] == "released", done
    assert done["decision"]["decision"] == "permit" and done["release"]["note_ids"] == [note_id]
    assert any("164.512(e)(1)(i)" in c for c in done["decision"]["citations"]) or \
        "164.512(e)(1)(i)" in done["decision"]["rule"]
    assert [n["note_id"] for n in done["content"]["notes"]] == [note_id]
    assert types(pg_store, request_id) == ["DisclosureRequested", "DisclosurePlacedOnHold", "RequesterVerified",
                                           "DisclosurePlacedOnHold", "DisclosureFactsAmended", "DisclosureDecided",
                                           "DisclosureReleased"]
    [amended] = [e for e in pg_store.read_stream(f"disclosureRequest-{request_id}")
                 if e.type == "DisclosureFactsAmended"]
    assert amended.data["amended_by"] == system.staff.subject and amended.data["fields"] == ["facts.legal_process"]
    assert "synthetic" not in amended.data_json  # the note's content never reaches the event
    [access] = [e for e in pg_store.read_stream(f"accessDecision-{done['decision']['decision_id']}")
                if e.type == "AccessDecided"]
    assert access.data["decided_for"]["subject"] == system.staff.subject


def test_a_clinician_or_a_payer_cannot_amend_facts_and_the_attempt_is_recorded(system, patient, org, pg_store):
    cf.write_note(system, cf.progress_note(patient))
    request_id = held_for_coverage(system, patient)
    before = types(pg_store, request_id)
    payer = system.payers.principal(org)
    order = {"request_id": request_id, "facts": {"legal_process": {**ORDER, "covers": ["progress"]}}}
    for intruder in (system.clinician, payer):
        with system.as_(intruder, "disclosures") as disclosures, pytest.raises(Exception) as info:
            disclosures.amend_disclosure_facts(order)
        assert kind(info) == "NotAuthorizedError" and "facts" in str(info.value)
        assert [r["method"] for r in refusals(pg_store, intruder.subject)] == ["amend_disclosure_facts"]
    assert types(pg_store, request_id) == before


def test_facts_are_checked_against_the_case_file_schema_and_a_redelivery_appends_nothing(system, patient, pg_store):
    cf.write_note(system, cf.progress_note(patient))
    request_id = held_for_coverage(system, patient)
    before = types(pg_store, request_id)
    with system.as_(system.staff, "disclosures") as disclosures:
        for facts, field in (({"legal_process": {**ORDER, "signed_by_judge": "perhaps"}},
                              "facts.legal_process.signed_by_judge"),
                             ({"note_originator": system.staff.subject}, "facts.note_originator"),
                             ({"legal_process": {**ORDER, "covers": ["psychotherapy"]}}, "facts.legal_process.covers"),
                             ({"mandate": "yes please"}, "facts.mandate")):
            with pytest.raises(Exception) as info:
                disclosures.amend_disclosure_facts({"request_id": request_id, "facts": facts})
            assert kind(info) == "InvalidRequestError" and field in str(info.value.args), (facts, info.value)
        assert types(pg_store, request_id) == before
        amendment = {"request_id": request_id, "amendment_id": str(uuid.uuid4()),
                     "facts": {"legal_process": {**ORDER, "covers": ["progress"]}}}
        first = disclosures.amend_disclosure_facts(amendment)
        after = types(pg_store, request_id)
        again = disclosures.amend_disclosure_facts(amendment)
    assert after.count("DisclosureFactsAmended") == 1 and types(pg_store, request_id) == after
    assert again["status"] == first["status"] and again["decision"] == first["decision"]


@pytest.fixture
def part2(monkeypatch):
    """The practice is a 42 CFR Part 2 program (the services run in this process and read it per call)."""
    monkeypatch.setenv("CONFIDE_PRACTICE_PART2_PROGRAM", "1")


def write_sud_note(system, patient):
    with system.notes() as notes:
        payload = cf.sealed_note(notes, {"patient_id": patient, "session_date": "2026-02-10",
                                         "text": "Synthetic SUD counseling session content."})
        return notes.write_sud_counseling_note(payload)["note_id"]


def test_a_payer_with_a_general_authorization_never_gets_sud_counseling_notes(system, patient, org, part2, pg_store):
    """42 CFR 2.31(b)(1): a general authorization (progress and psychotherapy notes), even a Part 2
    consent, does not reach SUD counseling notes: refused through the insurer API, nothing released."""
    write_sud_note(system, patient)
    general = cf.authorization_form(patient, covers=["progress_notes", "part2_records"], recipients=[org],
                                    description="all my records", part2_tpo_consent=True)
    with system.as_(system.staff, "disclosures") as disclosures:
        disclosures.record_authorization(general)
    reply = system.http.post("/disclosure-requests", headers={**cf.auth_header(system.token(org)),
                                                              "Content-Type": "application/json"},
                             data=json.dumps({"patient_id": patient, "note_kind": "sud_counseling",
                                              "authorization_id": general["id"]}))
    assert reply.status_code in (200, 201), reply.text
    body = reply.json()
    assert body["status"] == "refused" and body["content"] is None
    assert "2.31(b)(1)" in json.dumps(body["refusal"])
    released = [e for e in pg_store.read_category("accessDecision", 1, 100000, prefix_only=False)
                if e.type == "ContentReleased" and e.data.get("released_to") == org]
    assert released == []


def test_a_consent_naming_them_releases_them_to_the_payer_with_the_notice(system, patient, org, part2):
    note_id = write_sud_note(system, patient)
    consent = cf.authorization_form(patient, covers=["sud_counseling_notes"], recipients=[org],
                                    description="SUD counseling notes of 2026")
    with system.as_(system.staff, "disclosures") as disclosures:
        disclosures.record_authorization(consent)
    key, reply_key = transport.ephemeral()
    with system.as_(system.payers.principal(org), "disclosures") as disclosures:
        done = transport.open_tree(key, disclosures.request_disclosure(
            {"patient_id": patient, "purpose": "payment", "note_kind": "sud_counseling",
             "authorization_id": consent["id"]}, reply_public_key=reply_key))
    assert done["status"] == "released", done.get("refusal") or done.get("decision")
    assert done["release"]["note_ids"] == [note_id]
    assert any("2.32" in c for c in done["decision"]["citations"])
