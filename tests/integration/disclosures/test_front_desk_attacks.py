"""Attacks on the front desk's release path, as a release-of-information account would try them:
a decided request waiting for staff (``await_release``) released after the authorization it relied
on was revoked or has expired (164.508(b)(5): a revocation is effective except where the practice
has already acted in reliance; nothing left before it, so nothing may leave after it)."""
import importlib.util
import pathlib
import uuid

import pytest

from confide import transport

_spec = importlib.util.spec_from_file_location("disclosures_it_conftest_fda", pathlib.Path(__file__).with_name("conftest.py"))
cf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cf)

FIRM = cf.FIRM
authorization = cf.authorization_form


def _decided_waiting(disclosures, patient, auth, reply_key):
    outside = {"role": "attorney", "id": f"J. Smith {uuid.uuid4().hex[:6]}", "org": FIRM}
    assert disclosures.record_authorization(auth)["status"] == "active"
    held = disclosures.request_disclosure({"patient_id": patient, "purpose": "other", "external_requester": outside,
                                           "authorization_id": auth["id"], "await_release": True})
    decided = disclosures.verify_requester({"request_id": held["request_id"], "method": "bar card and ID"},
                                           reply_public_key=reply_key)
    assert decided["status"] == "decided" and decided["decision"]["authorization_id"] == auth["id"]
    return held["request_id"]


@pytest.mark.parametrize("withdrawn", ["revoked", "expired"])
def test_a_waiting_release_is_not_sent_once_its_authorization_is_withdrawn(system, patient, withdrawn):
    cf.write_note(system, cf.progress_note(patient))
    auth = authorization(patient)
    key, reply_key = transport.ephemeral()
    with system.as_(system.staff, "disclosures") as disclosures:
        request_id = _decided_waiting(disclosures, patient, auth, reply_key)
        if withdrawn == "revoked":
            disclosures.revoke_authorization(auth["id"], True)
        else:
            disclosures.expire_authorization(auth["id"], "event", event_description="the case settled")
        resumed = disclosures.resume_request(request_id, reply_public_key=reply_key)
        after = disclosures.get_disclosure_request(request_id)
    assert "content" not in resumed or not resumed["content"]
    assert resumed["status"] == "refused" and after["status"] == "refused"
    assert "164.508(b)(5)" in after["refusal"]["rule"] or "164.508(b)(2)(i)" in after["refusal"]["rule"]
    assert after["release"] is None


def test_another_patients_authorization_releases_nothing(system, people, patient):
    """164.508(a)(1), (c)(1)(i): an authorization is the individual's own; naming one signed by another
    patient on a request about this one is refused, never released."""
    cf.write_note(system, cf.progress_note(patient))
    other = people.patient(f"P-{uuid.uuid4().hex[:10]}").subject
    auth = authorization(other)
    outside = {"role": "attorney", "id": f"J. Smith {uuid.uuid4().hex[:6]}", "org": FIRM}
    key, reply_key = transport.ephemeral()
    with system.as_(system.staff, "disclosures") as disclosures:
        disclosures.record_authorization(auth)
        held = disclosures.request_disclosure({"patient_id": patient, "purpose": "other", "external_requester": outside,
                                               "authorization_id": auth["id"]})
        done = disclosures.verify_requester({"request_id": held["request_id"], "method": "bar card"},
                                            reply_public_key=reply_key)
    assert done["status"] == "refused" and not done.get("content")


@pytest.mark.parametrize("role", ["patient", "court", "health_oversight_agency", "hhs_ocr", "coroner_me"])
def test_a_paper_request_in_a_permitted_name_is_held_until_verified(system, patient, role):
    """164.514(h)(1): whoever staff type in as the requester (the patient, a court, an agency) is held,
    nothing released, until staff record the verification; nobody but staff carries it on."""
    cf.write_note(system, cf.progress_note(patient))
    claimed = {"role": role, "id": patient if role == "patient" else f"{role}-{uuid.uuid4().hex[:6]}",
               "org": "self" if role == "patient" else "Agency"}
    purpose = {"patient": "individual_access", "court": "judicial", "health_oversight_agency": "health_oversight",
               "hhs_ocr": "hhs_compliance", "coroner_me": "coroner_me"}[role]
    payload = {"patient_id": patient, "purpose": purpose, "external_requester": claimed}
    if role == "court":
        payload["facts"] = {"legal_process": {"type": "court_order", "signed_by_judge": True, "covers": ["progress"]}}
    key, reply_key = transport.ephemeral()
    with system.as_(system.staff, "disclosures") as disclosures:
        held = disclosures.request_disclosure(payload, reply_public_key=reply_key)
        assert held["status"] == "on_hold" and not held.get("content")
        with pytest.raises(Exception) as resumed:
            disclosures.resume_request(held["request_id"], reply_public_key=reply_key)
        assert "not decided" in str(resumed.value)
        with pytest.raises(Exception) as forged:
            disclosures.request_disclosure({**payload, "external_requester": {**claimed, "identity_verified": True}})
        assert "identity_verified" in str(forged.value)
    patient_principal = system.people.patient(patient)
    with system.as_(patient_principal, "disclosures") as disclosures, pytest.raises(Exception) as theirs:
        disclosures.resume_request(held["request_id"], reply_public_key=reply_key)
    assert "not found" in str(theirs.value)  # a patient does not even see a request staff recorded


def test_an_authorization_for_some_sessions_releases_only_those(system, patient):
    """164.508(a)(1), (c)(1)(i): a disclosure must be consistent with the authorization's description;
    one describing January's sessions does not release February's note whole: a request reaching
    past it is refused, one within it releases January's note only."""
    january = cf.write_note(system, cf.progress_note(patient, session_date="2026-01-20"))
    cf.write_note(system, cf.progress_note(patient, session_date="2026-02-10"))
    auth = authorization(patient, description="progress notes of sessions 2026-01-01 to 2026-01-31")
    outside = {"role": "attorney", "id": f"J. Smith {uuid.uuid4().hex[:6]}", "org": FIRM}
    key, reply_key = transport.ephemeral()
    with system.as_(system.staff, "disclosures") as disclosures:
        assert disclosures.record_authorization(auth)["status"] == "active"
        views = []
        for dates in ({}, {"date_from": "2026-01-01", "date_to": "2026-01-31"}):
            held = disclosures.request_disclosure({"patient_id": patient, "purpose": "other", **dates,
                                                   "external_requester": outside, "authorization_id": auth["id"]})
            views.append(transport.open_tree(key, disclosures.verify_requester(
                {"request_id": held["request_id"], "method": "bar card"}, reply_public_key=reply_key)))
    wider, within = views
    assert wider["status"] == "refused" and not wider.get("content")
    assert "outside the sessions" in " ".join(wider["decision"]["reasons"])
    assert within["status"] == "released" and [c["note_id"] for c in within["content"]["notes"]] == [january]


def test_a_released_request_is_not_delivered_again_once_its_authorization_is_revoked(system, patient):
    """164.508(b)(5): what left before the revocation stays lawful; a later re-delivery is a new sending
    under an authorization that no longer exists, so it carries no content."""
    cf.write_note(system, cf.progress_note(patient))
    auth = authorization(patient)
    key, reply_key = transport.ephemeral()
    with system.as_(system.staff, "disclosures") as disclosures:
        request_id = _decided_waiting(disclosures, patient, auth, reply_key)
        released = disclosures.resume_request(request_id, reply_public_key=reply_key)
        again = disclosures.get_disclosure_request(request_id, include_content=True, reply_public_key=reply_key)
        disclosures.revoke_authorization(auth["id"], True)
        after = disclosures.get_disclosure_request(request_id, include_content=True, reply_public_key=reply_key)
    assert released["status"] == "released" and released["content"] and again["content"]
    assert after["status"] == "released" and not after.get("content")
    assert "164.508(b)(5)" in after["content_withheld"]
