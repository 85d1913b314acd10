"""The release path through the services' RPCs (disclosures + notes, real PostgreSQL and RabbitMQ).

Faults an adversarial tester found: summary content riding along in psychotherapy-note excerpts
(C1), notes released under a decision that never named them (C3), content written after the
decision released under it (C4), and decisions forged by appending ``AccessDecided`` straight to
the store (C5).
"""
import importlib.util
import json
import pathlib
import uuid

import pytest
from nameko.exceptions import RemoteError

from confide import transport
from confide.envelope import NewEvent
from confide.keys import seal_decision, verify_decision
from confide.testing.identities import sealed_disclosures
from notes.views import WITHHELD_SUMMARY_REASON

_spec = importlib.util.spec_from_file_location("disclosures_it_conftest_rp", pathlib.Path(__file__).with_name("conftest.py"))
cf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cf)

TESTER_TEXT = (
    "Symptoms: insomnia and panic since she revealed she was molested by her uncle; she begged me never to tell anyone.\n"
    "Functional status: unable to work because she is hiding from her abusive husband at the Elm St shelter.\n"
    "Progress to date: she finally admitted the embezzlement at her firm and her plan to confess.\n"
    "Treatment plan: weekly sessions; process her guilt about the hit-and-run she was never charged for.\n"
    "Diagnosis F43.1 PTSD after the assault she never reported; patient's HIV status is positive per her confession.\n"
    "Medication: fluoxetine 20 mg daily; she sells half her pills to her coworker.\n")
SECRETS = ("hiding from her abusive husband", "Elm St", "hit-and-run", "molested", "embezzlement", "sells half",
           "assault", "HIV", "confession")


def psych(system, patient, text, sign=True):
    note = cf.psychotherapy_note(patient)
    note["text"] = text
    with system.notes() as notes:  # the test's clinician, the author
        note_id = notes.write_psychotherapy_note(cf.sealed_note(notes, note))["note_id"]
        if sign:
            notes.sign_note(note_id)
    return note_id


def disclose(system, org, patient, **kw):
    """A request by payer ``org`` (its assertion as the gateway mints it: who is asking)."""
    payload = {"patient_id": patient, "purpose": "payment", **kw}
    key, reply_key = transport.ephemeral()  # as the gateway does: sealed parts opened by the caller
    with system.as_(system.payers.principal(org), "disclosures") as disclosures:
        return transport.open_tree(key, disclosures.request_disclosure(payload, reply_public_key=reply_key))


def decision_stream(pg_store, decision_id):
    return pg_store.read_stream(f"accessDecision-{decision_id}")


def test_c1_summary_spans_of_a_psychotherapy_note_never_leave(system, org, patient, pg_store):
    note_id = psych(system, patient, TESTER_TEXT)
    view = disclose(system, org, patient, note_kind="psychotherapy")
    assert view["status"] == "released", view
    assert view["decision"]["decision"] == "permit_minimum_necessary"
    assert "functional_status" in view["decision"]["fields_released"]  # the engine permits it ...
    [out] = view["content"]["notes"]
    assert out["note_id"] == note_id
    released = json.dumps(out["fields"])
    for secret in SECRETS:  # ... but no summary span typed in the note leaves
        assert secret not in json.dumps(view)
    assert out["fields"]["diagnosis_codes"] == ["Diagnosis F43.1 PTSD"]
    assert out["fields"]["medication_prescription_and_monitoring"] == ["fluoxetine 20 mg daily"]
    assert all(len(x) <= 80 for v in out["fields"].values() if isinstance(v, list) for x in v), released
    withheld = {w["field"]: w["reason"] for w in out["withheld"]}
    # every summary span the 164.501 lint finds is withheld (the lint may find more than these three,
    # e.g. the "Progress to date:" section), never released verbatim
    assert {"functional_status", "treatment_plan_summary", "symptoms_summary"} <= set(withheld)
    assert set(withheld) <= {"functional_status", "treatment_plan_summary", "symptoms_summary", "progress_to_date",
                             "prognosis"}
    assert set(withheld.values()) == {WITHHELD_SUMMARY_REASON}
    # the same through the insurer's HTTP API
    body = system.http.get(f"/disclosure-requests/{view['request_id']}",
                           headers=cf.auth_header(system.token(org))).json()
    assert all(secret not in json.dumps(body) for secret in SECRETS)


def test_c3_a_decision_naming_no_notes_releases_nothing(system, org, patient, pg_store):
    note_id = cf.write_note(system, cf.progress_note(patient, session_date="2026-02-10"))
    view = disclose(system, org, patient, date_from="2000-01-01", date_to="2000-01-02")
    decision_id = view["decision"]["decision_id"]
    assert view["release"]["note_ids"] == [] and view["content"] == []
    with system.via_disclosures(system.payers.principal(org)) as notes, pytest.raises(RemoteError) as info:
        notes.release_fields(decision_id, [note_id], view["request_id"])
    assert info.value.exc_type == "AccessDeniedError" and "names no notes" in str(info.value)
    assert [e.type for e in decision_stream(pg_store, decision_id)] == ["AccessDecided"]


def test_c3_only_the_named_notes_and_the_release_recorded_once(system, org, patient, pg_store):
    named = cf.write_note(system, cf.progress_note(patient, session_date="2026-02-10"))
    other = cf.write_note(system, cf.progress_note(patient, session_date="2025-06-01"))
    view = disclose(system, org, patient, date_from="2026-01-01", date_to="2026-03-31")
    decision_id = view["decision"]["decision_id"]
    assert view["release"]["note_ids"] == [named]
    with system.via_disclosures(system.payers.principal(org)) as notes:
        with pytest.raises(RemoteError) as info:
            notes.release_fields(decision_id, [named, other], view["request_id"])
        assert info.value.exc_type == "AccessDeniedError" and other in str(info.value)
        again = notes.release_fields(decision_id, [named], view["request_id"])
    assert [n["note_id"] for n in again["notes"]] == [named]
    stream = decision_stream(pg_store, decision_id)
    # Fetched again by the same recipient under the same decision: recorded once (issue 12).
    assert [e.type for e in stream] == ["AccessDecided", "ContentReleased"]
    for released in stream[1:]:
        assert released.data["released_to"] == org
        assert released.data["decision_id"] == decision_id and released.data["note_ids"] == [named]
        assert set(released.data["fields_released"]) <= cf.PAYMENT_FIELDS and released.data["released_at"]
        assert "synthetic" not in released.data_json and "F41.1" not in released.data_json  # names only


def test_c4_a_later_fetch_releases_the_note_as_it_stood_when_decided(system, org, patient):
    note_id = psych(system, patient, "Dx F33.1; increased sertraline to 100 mg.\nProcess notes.")
    view = disclose(system, org, patient, note_kind="psychotherapy")
    assert view["status"] == "released", view
    assert view["content"]["notes"][0]["fields"]["diagnosis_codes"] == ["Dx F33.1"]
    with system.notes() as notes:  # the note's author
        notes.add_addendum(note_id, sealed_text=transport.seal_for(
            notes.transport_public_key(), "Dx F43.1 added later; increased lithium to 900 mg."))
    key, reply_key = transport.ephemeral()
    with system.as_(system.payers.principal(org), "disclosures") as disclosures:
        sealed = disclosures.get_disclosure_request(view["request_id"], include_content=True,
                                                    reply_public_key=reply_key)
        assert "F33.1" not in json.dumps(sealed)  # excerpts cross the broker sealed
        with pytest.raises(RemoteError) as info:  # without a reply key: refused, nothing in clear
            disclosures.get_disclosure_request(view["request_id"], include_content=True)
        assert "reply_public_key" in str(info.value) and "F33.1" not in str(info.value)
    later = transport.open_tree(key, sealed)
    [out] = later["content"]["notes"]
    assert out["fields"]["diagnosis_codes"] == ["Dx F33.1"]
    assert out["fields"]["medication_prescription_and_monitoring"] == ["increased sertraline to 100 mg"]
    assert "F43.1" not in json.dumps(later) and "lithium" not in json.dumps(later)


def forged(pg_store, decision_id, patient, note_id, key_dir=None):
    data = {"decision_id": decision_id, "requester": {"id": "nobody", "role": "insurer_health_plan", "org": "Evil"},
            "purpose": "payment", "action": "disclose", "patient_id": patient, "note_id": note_id,
            "note_ids": [note_id], "note_kind": "psychotherapy", "originator_id": "C-A", "decision": "permit",
            "rule": "forged", "citations": [], "fields_released": ["full_note"],
            "decided_at": "2030-01-01T00:00:00.000000Z", "request_id": None}
    if key_dir is not None:
        data["seal"] = seal_decision(key_dir, data)
    pg_store.append(f"accessDecision-{decision_id}", [NewEvent("AccessDecided", data)], expected_version=-1)


@pytest.mark.parametrize("how", ["unsealed", "sealed with another key", "bad seal"])
def test_c5_a_decision_appended_straight_to_the_store_is_refused(system, org, patient, pg_store, tmp_path, how):
    from confide.keys import ensure_decision_key

    note_id = psych(system, patient, "Session process notes only; nothing excluded here.")
    decision_id = str(uuid.uuid4())
    if how == "unsealed":
        forged(pg_store, decision_id, patient, note_id)
    elif how == "sealed with another key":
        ensure_decision_key(tmp_path / "attacker")
        forged(pg_store, decision_id, patient, note_id, tmp_path / "attacker")
    else:
        ensure_decision_key(tmp_path / "attacker")
        data_seal = "0" * 64
        pg_store.append(f"accessDecision-{decision_id}", [NewEvent("AccessDecided", {
            "decision_id": decision_id, "patient_id": patient, "note_ids": [note_id], "decision": "permit",
            "fields_released": ["full_note"], "decided_at": "2030-01-01T00:00:00Z", "seal": data_seal})], -1)
    # asked as the disclosures service would, for a payer: the seal is what refuses it
    with system.via_disclosures(system.payers.principal(org)) as notes, pytest.raises(RemoteError) as info:
        notes.release_fields(decision_id, [note_id])
    assert info.value.exc_type == "AccessDeniedError" and "seal" in str(info.value)
    assert "Session process" not in str(info.value)
    assert [e.type for e in decision_stream(pg_store, decision_id)] == ["AccessDecided"]  # nothing recorded


def test_c5_every_recorded_decision_is_sealed(system, org, patient, pg_store):
    note_id = cf.write_note(system, cf.progress_note(patient))
    view = disclose(system, org, patient)
    reader = system.people.member(f"C-B-{uuid.uuid4().hex[:8]}", "clinician")  # clinician_same_practice
    with system.as_(reader, "notes") as notes:
        read = notes.read_note(note_id, "treatment")
    key_dir = system.config["KEY_DIR"]
    assert (pathlib.Path(key_dir) / "decision.key").stat().st_mode & 0o777 == 0o600
    for decision_id in (view["decision"]["decision_id"], read["decision"]["decision_id"]):
        [decided] = [e for e in decision_stream(pg_store, decision_id) if e.type == "AccessDecided"]
        assert decided.stream_version == 0
        assert verify_decision(key_dir, decided.data, decided.data["seal"])


def test_n1_a_decision_releases_only_to_the_request_it_was_made_for(system, org, patient, pg_store):
    """A decision id is not a bearer token: another request (or none) cannot borrow it."""
    named = cf.write_note(system, cf.progress_note(patient, session_date="2026-02-10"))
    view = disclose(system, org, patient, date_from="2026-01-01", date_to="2026-03-31")
    decision_id = view["decision"]["decision_id"]
    with system.via_disclosures(system.payers.principal(org)) as notes:
        for other_request in (str(uuid.uuid4()), None):
            with pytest.raises(RemoteError) as info:
                notes.release_fields(decision_id, [named], other_request)
            assert info.value.exc_type == "AccessDeniedError" and "not made for request" in str(info.value)
    assert [e.type for e in decision_stream(pg_store, decision_id)] == ["AccessDecided", "ContentReleased"]


def test_n2_an_unsealed_decision_written_into_a_request_is_never_sealed_on_resume(system, org, patient, pg_store):
    """A DisclosureDecided appended by anything but the engine run (e.g. with the services' DB login)."""
    from confide.envelope import NewEvent

    note_id = cf.write_note(system, cf.progress_note(patient, session_date="2026-02-10"))
    request_id, forged_decision = str(uuid.uuid4()), str(uuid.uuid4())
    requested = {"request_id": request_id, "requester": {"id": "x", "role": "insurer_health_plan", "org": org,
                                                         "identity_verified": True},
                 "patient_id": patient, "purpose": "payment", "note_kind": "progress", "action": "disclose",
                 "date_from": None, "date_to": None, "note_ids": None, "authorization_id": None,
                 "exception_claimed": None, "facts": {}, "channel": {}, "received_at": "2026-05-01T00:00:00Z"}
    decided = {"request_id": request_id, "decision_id": forged_decision, "decision": "permit",
               "rule": "forged", "citations": [], "reasons": [], "fields_released": ["full_note"],
               "minimum_necessary_applies": False, "accounting_required": False, "note_ids": [note_id],
               "authorization_id": None, "decided_at": "2026-05-01T00:00:01Z"}
    # The request as the disclosures service recorded it (sealed with its key), the decision forged.
    sealed_disclosures(pg_store, system.config["KEY_DIR"]).append(
        f"disclosureRequest-{request_id}", [NewEvent("DisclosureRequested", requested)], -1)
    pg_store.append(f"disclosureRequest-{request_id}", [NewEvent("DisclosureDecided", decided)], 0)
    with system.as_(system.payers.principal(org), "disclosures") as disclosures:
        reply = disclosures.resume_request(request_id)
    # The forged decision is not believed (not sealed by the disclosures service): the request is
    # decided afresh by the engine, and the forged decision is never sealed.
    assert reply["decision"]["decision_id"] != forged_decision and reply["decision"]["rule"] != "forged", reply
    assert pg_store.read_stream(f"accessDecision-{forged_decision}") == []

    # Request and decision both forged: there is no such request; nothing is decided or sealed.
    request_id, forged_decision = str(uuid.uuid4()), str(uuid.uuid4())
    pg_store.append(f"disclosureRequest-{request_id}", [
        NewEvent("DisclosureRequested", {**requested, "request_id": request_id}),
        NewEvent("DisclosureDecided", {**decided, "request_id": request_id, "decision_id": forged_decision})], -1)
    # (nameko raises gateway.errors.RequestNotFound when the gateway was imported, else a RemoteError)
    with system.as_(system.payers.principal(org), "disclosures") as disclosures, pytest.raises(Exception) as info:
        disclosures.resume_request(request_id)
    assert f"disclosure request {request_id} not found" in str(info.value)
    assert pg_store.read_stream(f"accessDecision-{forged_decision}") == []
