"""Red team: disclosure requests and authorizations appended with the services' database login.

``confide.append_events`` (SECURITY DEFINER) lets ``confide_app`` -- the one login every service
shares -- append any event to any stream. The disclosures service now seals every event of its own
streams (``disclosureRequest-*``, ``authorization-*``) with ``service-keys/disclosures.key``, which
the database never holds, and believes only what it sealed
(:func:`confide.identity.directory_seal.SealedDisclosures`). So, with that login:

- a forged ``AuthorizationRecorded`` naming a registered payer and covering psychotherapy notes does
  not exist: the payer's psychotherapy request is still denied under 45 CFR 164.508(a)(2) and nothing
  is released (the same authorization recorded through the service does permit it: the control);
- a forged ``DisclosureRequested`` naming a clinician as requester with role ``hhs_ocr`` is not on
  file: ``resume_request`` by that clinician finds no such request, decides nothing, releases nothing.

The store here is the services' own (``test_db_dsn`` is ``confide_app``); nothing but
``append_events`` is used to forge.
"""
import uuid

import psycopg
import pytest
from nameko.exceptions import RemoteError

from confide.envelope import NewEvent
from confide.timestamps import format_ts, now_utc

from .test_identity_attacks import (  # noqa: F401  (the running services)
    READER_PUB,
    a_signed_psychotherapy_note,
    call,
    ids,
    system,
    written,
)


def forge(world, stream, type_, data):
    """Append with the services' database login, as an insider holding the DSN would."""
    world.store.append(stream, [NewEvent(type_, data, event_id=uuid.uuid4())], expected_version=None)


def authorization_form(auth_id, patient_id, org):
    return {
        "id": auth_id, "patient": patient_id, "covers": ["psychotherapy_notes"],
        "description": "Psychotherapy notes of sessions 2026-01-05 to 2026-12-30 by the author",
        "authorized_discloser": "Northside Counseling Group", "recipients": [org],
        "purposes": ["payment", "at the request of the individual"], "signed_by": "patient",
        "signer_role": "individual", "rep_authority_described": None, "signed_date": "2026-04-01",
        "expiration_date": "2099-12-31", "expiration_event": None, "expiration_event_occurred": None,
        "revoked": False, "revocation": None, "compound": False, "combined_with": [], "conditioned_on": None,
        "statements_present": {"right_to_revoke": True, "conditioning": True, "redisclosure": True},
        "plain_language": True,
    }


def released_events(world):
    return [e for e in world.store.read_all(1, 100_000)
            if e.type in ("DisclosureDecided", "DisclosureReleased", "ContentReleased", "AccessDecided")]


def test_the_store_here_is_the_services_login(test_db_dsn):
    with psycopg.connect(test_db_dsn) as conn:
        assert conn.execute("select current_user").fetchone()[0] == "confide_app"


def test_a_forged_authorization_does_not_let_a_payer_have_psychotherapy_notes(system):  # noqa: F811
    patient, _author, note_id = a_signed_psychotherapy_note(system)
    org = ids("Plan")
    payer = system.people.payer(org)
    forged_id = ids("AUTH")
    at = format_ts(now_utc())
    forge(system, f"authorization-{forged_id}", "AuthorizationRecorded", {
        "authorization_id": forged_id, "patient_id": patient.subject,
        "authorization": authorization_form(forged_id, patient.subject, org), "defective": False, "defects": [],
        "received_at": at, "recorded_at": at})
    assert [e.type for e in system.store.read_stream(f"authorization-{forged_id}")] == ["AuthorizationRecorded"]

    for named in (forged_id, None):  # relied on by name, or as the patient's best-fitting authorization
        reply = call(system, "disclosures", "request_disclosure", payer.context(),
                     {"patient_id": patient.subject, "purpose": "payment", "note_kind": "psychotherapy",
                      "authorization_id": named}, reply_public_key=READER_PUB)
        assert reply["status"] == "refused", reply
        assert "164.508(a)(2)" in reply["refusal"]["rule"], reply
        assert reply["decision"]["authorization_id"] is None and not reply.get("content"), reply
    assert not [e for e in system.store.read_all(1, 100_000) if e.type == "ContentReleased"]

    staff = system.people.member(ids("ROI"), "release_of_information")
    with pytest.raises(RemoteError) as exc:
        call(system, "disclosures", "get_authorization", staff.context(), forged_id)
    assert exc.value.exc_type == "AuthorizationNotFoundError"

    # The control: the same authorization recorded through the service (sealed) is relied on.
    genuine_id = ids("AUTH")
    recorded = call(system, "disclosures", "record_authorization", staff.context(),
                    authorization_form(genuine_id, patient.subject, org))
    assert recorded["status"] == "active", recorded
    reply = call(system, "disclosures", "request_disclosure", payer.context(),
                 {"patient_id": patient.subject, "purpose": "payment", "note_kind": "psychotherapy",
                  "authorization_id": genuine_id}, reply_public_key=READER_PUB)
    assert reply["decision"]["authorization_id"] == genuine_id, reply
    assert reply["decision"]["decision"].startswith("permit"), reply
    assert reply["release"]["note_ids"] == [note_id], reply


def test_a_forged_request_naming_a_clinician_as_hhs_ocr_is_not_found(system):  # noqa: F811
    patient, _author, _note_id = a_signed_psychotherapy_note(system)
    clinician = system.people.member(ids("C"), "clinician")
    request_id = str(uuid.uuid4())
    forge(system, f"disclosureRequest-{request_id}", "DisclosureRequested", {
        "request_id": request_id, "patient_id": patient.subject,
        "requester": {"id": clinician.subject, "role": "hhs_ocr", "org": "HHS Office for Civil Rights",
                      "identity_verified": True, "authority_verified": True},
        "recorded_by": None, "received_from": None, "purpose": "health_oversight", "action": "disclose",
        "note_kind": "psychotherapy", "received_at": format_ts(now_utc()), "date_from": None, "date_to": None,
        "note_ids": None, "authorization_id": None, "exception_claimed": None, "facts": {}, "channel": {}})
    before, decided_before = written(system), released_events(system)

    with pytest.raises(RemoteError) as exc:
        reply = call(system, "disclosures", "resume_request", clinician.context(), request_id,
                     reply_public_key=READER_PUB)
        pytest.fail(f"resume_request acted on a forged request: {reply!r}")  # pragma: no cover
    assert exc.value.exc_type == "DisclosureRequestNotFoundError", exc.value
    assert written(system) == before and released_events(system) == decided_before

    staff = system.people.member(ids("ROI"), "release_of_information")
    with pytest.raises(RemoteError) as exc:
        call(system, "disclosures", "get_disclosure_request", staff.context(), request_id)
    assert exc.value.exc_type == "DisclosureRequestNotFoundError"
