"""The service's RPCs take who is asking from the verified identity alone (164.312(d), 164.514(h)).

Each call runs the real identity gate (``IdentityVerifier``) over the in-memory store, where
:class:`confide.testing.identities.Identities` enrols the principals through the directory contract
and mints their assertions; the notes service is the unit tier's fake.
"""
import importlib.util
import pathlib

import pytest
from nameko.testing.services import worker_factory

from confide.identity.directory_seal import SealedDirectory, SealedDisclosures
from confide.identity.errors import NotAuthenticatedError, NotAuthorizedError
from confide.identity.gate import IdentityVerifier
from confide.identity.keys import load_service_public_keys, load_trusted_assertion_keys
from confide.testing.identities import Identities
from confide.timestamps import now_utc
from disclosures.domain import errors
from disclosures.service import DisclosuresService

_conftest = importlib.util.spec_from_file_location("disclosures_unit_conftest_si",
                                                   pathlib.Path(__file__).with_name("conftest.py"))
cf = importlib.util.module_from_spec(_conftest)
_conftest.loader.exec_module(cf)


@pytest.fixture
def people(store, key_dir):
    return Identities(store, key_dir)


@pytest.fixture
def call(raw_store, clock, notes, key_dir, people):  # people first: it makes the keys the gate trusts
    """``call(person, method, *args, **kwargs)``: the RPC as ``person`` (None: no assertion at all)."""
    verifier = IdentityVerifier(service="disclosures", user_keys=load_trusted_assertion_keys(key_dir),
                                service_keys=load_service_public_keys(key_dir), store=people.store, clock=now_utc,
                                ttl_seconds=0)

    def run(person, method, *args, **kwargs):
        token = person.assertion() if person is not None else None
        service = worker_factory(DisclosuresService, raw_store=raw_store, clock=clock, notes=notes,
                                 decision_key_dir=key_dir,
                                 directory_keys=lambda s: SealedDirectory.from_key_dir(s, key_dir),
                                 disclosure_keys=lambda s: SealedDisclosures(s, key_dir, sign=True),
                                 identity=verifier.for_call(method, token))
        return getattr(service, method)(*args, **kwargs)
    return run


def request_streams(store):
    return [e for e in store.read_all(limit=100000) if e.stream_name.startswith(("disclosureRequest-",
                                                                                  "accessDecision-", "accounting-"))]


def refusals(store):
    return [e.data for e in store.read_all(limit=100000) if e.type == "AccessAttemptRefused"]


class TestWhoIsAsking:
    def test_a_payload_naming_a_requester_is_refused_and_nothing_is_written(self, call, people, store, patient):
        payer = people.payer("Acme", "insurer_health_plan")
        people.patient(patient)
        with pytest.raises(NotAuthorizedError) as info:
            call(payer, "request_disclosure", {"requester": cf.insurer("Acme"), "patient_id": patient,
                                               "purpose": "payment"})
        assert "requester" in info.value.reason
        assert request_streams(store) == []
        assert [r["method"] for r in refusals(store)] == ["request_disclosure"]
        assert refusals(store)[0]["subject"] == "Acme"

    @pytest.mark.parametrize("method, args, kwargs, field", [
        ("verify_requester", ({"request_id": "r-1", "verified_by": "staff-9", "method": "call-back"},), {},
         "verified_by"),
        ("revoke_authorization", ("AUTH-1", True), {"revoked_by": "patient"}, "revoked_by"),
        ("request_accounting", ({"patient_id": "P-1", "requested_by": "P-1"},), {}, "requested_by"),
    ])
    def test_every_field_naming_who_acts_is_refused(self, call, people, store, method, args, kwargs, field):
        officer = people.member("PO-1", "privacy_officer", "release_of_information")
        with pytest.raises(NotAuthorizedError) as info:
            call(officer, method, *args, **kwargs)
        assert field in info.value.reason
        assert request_streams(store) == [] and len(refusals(store)) == 1

    def test_no_assertion_is_not_authenticated(self, call, people, patient):
        people.patient(patient)
        with pytest.raises(NotAuthenticatedError):
            call(None, "request_disclosure", {"patient_id": patient, "purpose": "payment"})

    def test_an_insurer_principal_decides_as_the_role_it_is_registered_with(self, call, people, store, add_note,
                                                                               patient):
        people.patient(patient)
        add_note(patient)
        payer = people.payer("Workers Comp Co", "workers_comp_carrier").in_session("sess-1")
        view = call(payer, "request_disclosure", {"patient_id": patient, "purpose": "payment"})
        assert view["requester"]["role"] == "workers_comp_carrier"
        assert view["requester"] == {"id": "Workers Comp Co", "role": "workers_comp_carrier", "org": "Workers Comp Co",
                                     "identity_verified": True, "is_workforce": False}
        [decided] = [e.data for e in store.read_all(limit=100000) if e.type == "AccessDecided"]
        assert decided["requester"] == {"id": "Workers Comp Co", "role": "workers_comp_carrier",
                                        "org": "Workers Comp Co"}
        assert decided["decided_for"]["subject"] == "Workers Comp Co"
        assert decided["decided_for"]["session_id"] == "sess-1" and decided["decided_for"]["amr"] == ["swk"]
        [disclosure] = [e.data for e in store.read_all(limit=100000) if e.type == "DisclosureDecided"]
        assert disclosure["decided_for"] == decided["decided_for"]
        [requested] = [e.data for e in store.read_all(limit=100000) if e.type == "DisclosureRequested"]
        assert requested["recorded_by"] is None and requested["received_from"]["subject"] == "Workers Comp Co"

    def test_a_health_plan_gets_the_minimum_necessary_as_before(self, call, people, add_note, patient, notes):
        people.patient(patient)
        note_id = add_note(patient)
        view = call(people.payer("Acme"), "request_disclosure", {"patient_id": patient, "purpose": "payment"})
        assert view["status"] == "released" and view["decision"]["decision"] == "permit_minimum_necessary"
        assert view["release"]["note_ids"] == [note_id] and notes.calls


class TestPatients:
    def test_an_unregistered_patient_is_refused_and_nothing_is_written(self, call, people, store, patient):
        payer = people.payer("Acme")
        with pytest.raises(errors.InvalidRequestError) as info:
            call(payer, "request_disclosure", {"patient_id": patient, "purpose": "payment"})
        assert info.value.field == "patient_id" and "registered" in str(info.value)
        assert request_streams(store) == [] and [r["subject"] for r in refusals(store)] == ["Acme"]

    def test_a_look_alike_patient_id_is_refused(self, call, people, store, patient):
        people.patient(patient)
        with pytest.raises(errors.InvalidRequestError) as info:
            call(people.payer("Acme"), "request_disclosure", {"patient_id": patient + "\u200b", "purpose": "payment"})
        assert info.value.field == "patient_id"
        assert request_streams(store) == [] and len(refusals(store)) == 1

    def test_request_access_is_the_calling_patients(self, call, people, add_note, patient):
        me = people.patient(patient)
        add_note(patient)
        view = call(me, "request_access")
        assert view["patient_id"] == patient and view["requester"]["id"] == patient
        assert view["requester"]["role"] == "patient" and view["due_at"]
        with pytest.raises(NotAuthorizedError):
            call(me, "request_access", patient_id="P-someone-else")
        with pytest.raises(NotAuthorizedError):
            call(people.payer("Acme"), "request_access")

    def test_accounting_for_oneself_or_by_the_privacy_officer(self, call, people, store, patient):
        me = people.patient(patient)
        other = people.patient(patient + "-other")
        mine = call(me, "request_accounting", {"patient_id": patient})
        assert mine["patient_id"] == patient
        with pytest.raises(NotAuthorizedError):
            call(other, "request_accounting", {"patient_id": patient})
        officer = people.member("PO-2", "privacy_officer")
        call(officer, "request_accounting", {"patient_id": patient})
        asked = [e.data["requested_by"] for e in store.read_stream(f"accounting-{patient}")
                 if e.type == "AccountingRequested"]
        assert asked == [patient, "PO-2"]
        with pytest.raises(NotAuthorizedError):
            call(people.payer("Acme"), "request_accounting", {"patient_id": patient})


class TestStaffRecordedRequests:
    EXTERNAL = {"role": "attorney", "id": "atty-1", "org": "Smith & Jones LLP"}

    def test_held_until_staff_verify_then_released_to_them(self, call, people, store, add_note, patient):
        people.patient(patient)
        add_note(patient)
        clerk = people.member("ROI-1", "release_of_information")
        view = call(clerk, "request_disclosure", {"patient_id": patient, "purpose": "individual_access",
                                                  "external_requester": {**self.EXTERNAL, "role": "patient_designee"}})
        assert view["status"] == "on_hold" and "164.514(h)" in view["hold"]["rule"]
        assert view["recorded_by"] == "ROI-1" and view["requester"]["identity_verified"] is False
        [requested] = [e.data for e in store.read_all(limit=100000) if e.type == "DisclosureRequested"]
        assert requested["recorded_by"] == "ROI-1" and requested["received_from"]["subject"] == "ROI-1"

        officer = people.member("PO-3", "privacy_officer")
        done = call(officer, "verify_requester", {"request_id": view["request_id"], "method": "notarised letter"})
        assert done["verification"]["verified_by"] == "PO-3"
        assert done["status"] in ("released", "refused")
        decided = [e.data for e in store.read_all(limit=100000) if e.type == "DisclosureDecided"]
        assert decided and decided[0]["decided_for"]["subject"] == "PO-3"

    def test_only_request_staff_may_record_or_verify(self, call, people, store, patient):
        people.patient(patient)
        clinician = people.member("C-9", "clinician")
        with pytest.raises(NotAuthorizedError):
            call(clinician, "request_disclosure", {"patient_id": patient, "purpose": "judicial",
                                                   "external_requester": self.EXTERNAL})
        with pytest.raises(NotAuthorizedError):
            call(people.payer("Acme"), "request_disclosure", {"patient_id": patient, "purpose": "payment",
                                                              "external_requester": self.EXTERNAL})
        with pytest.raises(NotAuthorizedError):
            call(people.payer("Acme"), "verify_requester", {"request_id": "r", "method": "m"})
        assert request_streams(store) == []

    def test_only_request_staff_amend_a_held_requests_facts(self, call, people, store, add_note, patient):
        """The check that only request staff send ``facts`` applies to amending them: a clinician or a
        payer would otherwise choose the facts that release a note (164.512(e)(1)(i); 42 CFR 2.31(b))."""
        people.patient(patient)
        add_note(patient, kind="psychotherapy")
        clerk = people.member("ROI-2", "release_of_information")
        view = call(clerk, "request_disclosure", {"patient_id": patient, "purpose": "judicial",
                                                  "note_kind": "psychotherapy", "external_requester": self.EXTERNAL,
                                                  "facts": {"legal_process": {"type": "court_order"}}})
        assert view["status"] == "on_hold"
        order = {"legal_process": {"type": "court_order", "signed_by_judge": True, "covers": ["psychotherapy"]}}
        before = len(request_streams(store))
        for intruder in (people.member("C-9", "clinician"), people.payer("Acme")):
            with pytest.raises(NotAuthorizedError) as info:
                call(intruder, "amend_disclosure_facts", {"request_id": view["request_id"], "facts": order})
            assert info.value.reason.startswith("facts:")
        with pytest.raises(NotAuthorizedError):
            call(clerk, "amend_disclosure_facts", {"request_id": view["request_id"], "facts": order,
                                                   "amended_by": "ROI-9"})
        assert len(request_streams(store)) == before
        assert [r["method"] for r in refusals(store)][-3:] == ["amend_disclosure_facts"] * 3
        with pytest.raises(errors.InvalidRequestError) as bad:
            call(clerk, "amend_disclosure_facts", {"request_id": view["request_id"],
                                                   "facts": {"legal_process": {"type": "warrant"}}})
        assert bad.value.field == "facts.legal_process.type"
        done = call(clerk, "amend_disclosure_facts", {"request_id": view["request_id"], "facts": order})
        assert done["amendments"][0]["amended_by"] == "ROI-2"
        assert done["amendments"][0]["fields"] == ["facts.legal_process"]

    @pytest.mark.parametrize("external, field", [
        ({"role": "attorney", "id": "a", "org": "o", "identity_verified": True}, "external_requester.identity_verified"),
        ({"role": "clinician_same_practice", "id": "a", "org": "o"}, "external_requester.role"),
        ({"role": "attorney", "id": "a", "org": "o", "is_workforce": True}, "external_requester.is_workforce"),
    ])
    def test_an_outside_party_is_never_recorded_verified_or_as_workforce(self, call, people, store, patient,
                                                                         external, field):
        people.patient(patient)
        with pytest.raises(errors.InvalidRequestError) as info:
            call(people.member("FD-1", "front_desk"), "request_disclosure",
                 {"patient_id": patient, "purpose": "judicial", "external_requester": external})
        assert info.value.field == field
        assert request_streams(store) == []


class TestWhoSeesARequest:
    def test_a_payer_cannot_read_another_orgs_request(self, call, people, add_note, patient):
        people.patient(patient)
        add_note(patient)
        view = call(people.payer("Acme"), "request_disclosure", {"patient_id": patient, "purpose": "payment"})
        again = call(people.payer("Acme"), "get_disclosure_request", view["request_id"], include_content=True)
        assert again["status"] == "released" and again["content"]["notes"]
        with pytest.raises(errors.DisclosureRequestNotFoundError):
            call(people.payer("Other Plan"), "get_disclosure_request", view["request_id"])
        with pytest.raises(errors.DisclosureRequestNotFoundError):
            call(people.payer("Other Plan"), "resume_request", view["request_id"])
        with pytest.raises(errors.DisclosureRequestNotFoundError):
            call(people.patient(patient), "get_disclosure_request", view["request_id"])  # not the patient's own

    def test_staff_see_any_request_but_content_goes_only_to_its_requester(self, call, people, add_note, patient):
        people.patient(patient)
        add_note(patient)
        view = call(people.payer("Acme"), "request_disclosure", {"patient_id": patient, "purpose": "payment"})
        staff = people.member("ROI-2", "release_of_information")
        assert call(staff, "get_disclosure_request", view["request_id"])["status"] == "released"
        with pytest.raises(NotAuthorizedError):
            call(staff, "get_disclosure_request", view["request_id"], include_content=True)

    def test_a_patient_sees_their_own_request(self, call, people, add_note, patient):
        me = people.patient(patient)
        add_note(patient)
        view = call(me, "request_access")
        assert call(me, "get_disclosure_request", view["request_id"])["request_id"] == view["request_id"]
        with pytest.raises(errors.DisclosureRequestNotFoundError):
            call(people.patient(patient + "-x"), "get_disclosure_request", view["request_id"])


class TestAuthorizations:
    def test_kept_by_request_staff_and_revocation_recorded_by_the_caller(self, call, people, store, patient):
        people.patient(patient)
        staff = people.member("ROI-3", "release_of_information")
        recorded = call(staff, "record_authorization", cf.authorization(patient))
        revoked = call(staff, "revoke_authorization", recorded["authorization_id"], True)
        assert revoked["status"] == "revoked" and revoked["revocation"]["revoked_by"] == "ROI-3"
        with pytest.raises(NotAuthorizedError):
            call(people.payer("Acme"), "get_authorization", recorded["authorization_id"])
        with pytest.raises(errors.InvalidRequestError) as info:
            call(staff, "record_authorization", cf.authorization(patient + "-unregistered"))
        assert info.value.field == "authorization.patient"
