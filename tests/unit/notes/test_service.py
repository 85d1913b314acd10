"""Service wiring through nameko's worker_factory: entrypoints take who is asking from the verified
identity only, then translate.

The identity is the real gate (:class:`confide.identity.gate.IdentityVerifier`) over the same
in-memory store, with principals enrolled and their assertions minted by
:class:`confide.testing.identities.Identities`; ``as_(...)`` gives the worker one call's identity,
as the ``Identity`` provider does per call.
"""
import json

import pytest
from nameko.testing.services import worker_factory

from confide import transport
from confide.envelope import NewEvent
from confide.eventstore.memory import InMemoryEventStore
from confide.identity.directory_seal import SealedDirectory
from confide.identity.errors import NotAuthenticatedError, NotAuthorizedError
from confide.identity.gate import IdentityVerifier
from confide.identity.keys import load_service_public_keys, load_trusted_assertion_keys
from confide.keys import ensure_decision_key, seal_decision
from confide.testing.identities import Identities
from confide.timestamps import now_utc
from notes.crypto import Keyring
from notes.domain import errors
from notes.service import USER_ERRORS, NotesService

from .conftest import progress_content

NOTES_KEY, NOTES_PUB = transport.ephemeral()
TEXT = "She spoke about the lake house. Dx F32.1; sertraline 50 mg daily."
PLAIN = "She spoke about the lake house."  # no 164.501 excluded content: nothing of it for anyone but its author
PATIENT = "P-1"


class World:
    """The store, the people on file and the service under test."""

    def __init__(self, tmp_path):
        self.store = InMemoryEventStore()
        self.key_dir = tmp_path / "keys"
        self.people = Identities(self.store, self.key_dir)
        ensure_decision_key(self.key_dir)
        self.verifier = IdentityVerifier(
            service="notes", user_keys=load_trusted_assertion_keys(self.key_dir),
            service_keys=load_service_public_keys(self.key_dir), store=self.people.store, clock=now_utc,
            ttl_seconds=0)
        self.service = worker_factory(NotesService, store=self.store, keyring=Keyring(self.key_dir),
                                      directory_keys=lambda s: SealedDirectory.from_key_dir(s, self.key_dir),
                                      decision_key_dir=self.key_dir, transport_key=NOTES_KEY)
        self.clinician = self.people.member("C-A", "clinician", credentials="PsyD")
        self.other = self.people.member("C-B", "clinician")
        self.patient = self.people.patient(PATIENT)

    def as_(self, person=None, via=None, assertion=None):
        """The service, answering one call from ``person`` (through service ``via``, when given)."""
        token = assertion if assertion is not None else (person.assertion() if person else None)
        self.service.identity = self.verifier.for_call(
            "test", token, self.people.service_assertion(via) if via else None)
        return self.service

    def clinical(self):
        """Every event but the directory's and the refusal log's."""
        return [e for e in self.store.read_all(limit=100000)
                if not e.stream_name.startswith(("accessAttempt-", "workforceMember-", "patient-", "payer-"))]

    def refusals(self):
        return [e for e in self.store.read_all(limit=100000) if e.type == "AccessAttemptRefused"]

    def decisions(self):
        return [e for e in self.store.read_all(limit=100000) if e.type == "AccessDecided"]


@pytest.fixture
def w(tmp_path):
    return World(tmp_path)


def write_psych(w, person=None, text=TEXT, **note):
    body = {"patient_id": PATIENT, "session_date": "2026-05-01", "sealed_text": transport.seal_for(NOTES_PUB, text),
            **note}
    return w.as_(person or w.clinician).write_psychotherapy_note(body)["note_id"]


def write_progress(w, person=None, **note):
    body = {"patient_id": PATIENT, "content": progress_content(), **note}
    return w.as_(person or w.clinician).write_progress_note(body)["note_id"]


def append_decision(w, note_id, requester_id, request_id=None, kind="psychotherapy", **fields):
    decision_id = "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d"
    data = {"decision_id": decision_id, "decided_at": "2999-01-01T00:00:00Z", "decision": "permit_minimum_necessary",
            "requester": {"id": requester_id, "role": "insurer_health_plan", "org": requester_id},
            "patient_id": PATIENT, "note_kind": kind, "note_ids": [note_id], "request_id": request_id,
            "fields_released": ["date_of_service", "diagnosis_codes", "medication_prescription_and_monitoring"],
            **fields}
    data["seal"] = seal_decision(w.key_dir, data)
    w.store.append(f"accessDecision-{decision_id}", [NewEvent("AccessDecided", data)], -1)
    return decision_id


def test_transport_public_key_is_the_key_to_seal_to(w):
    assert w.as_().transport_public_key() == NOTES_PUB  # open to anyone: it is a public key


def test_sealed_write_read_round_trip(w):
    note_id = write_psych(w)
    w.as_(w.clinician).revise_note(note_id, sealed_text=transport.seal_for(NOTES_PUB, TEXT + " Revised."))
    w.as_(w.clinician).sign_note(note_id)
    w.as_(w.clinician).add_addendum(note_id, sealed_text=transport.seal_for(NOTES_PUB, "Addendum."))
    key, pub = transport.ephemeral()
    reply = w.as_(w.clinician).read_note(note_id, "treatment", reply_public_key=pub)
    raw = json.dumps(reply)
    assert "lake house" not in raw and "Addendum." not in raw  # only sealed on the way out
    note = transport.open_tree(key, reply)["note"]
    assert note["text"] == TEXT + " Revised." and note["addenda"][0]["text"] == "Addendum."
    assert note["author_id"] == "C-A" and note["author_credentials"] == "PsyD"  # from the directory
    other, _ = transport.ephemeral()
    with pytest.raises(transport.TransportError):  # a box to another key does not open
        transport.open_tree(other, reply)


@pytest.mark.parametrize("call", [
    lambda w, nid: w.as_(w.clinician).write_psychotherapy_note({"patient_id": PATIENT, "session_date": "2026-05-01",
                                                                "text": TEXT}),
    lambda w, nid: w.as_(w.clinician).revise_note(nid, text=TEXT),
    lambda w, nid: w.as_(w.clinician).lint_text(text=TEXT),
    lambda w, nid: (w.as_(w.clinician).sign_note(nid), w.as_(w.clinician).add_addendum(nid, TEXT)),
], ids=["write", "revise", "lint", "addendum"])
def test_plaintext_psychotherapy_text_is_refused_naming_the_field(w, call):
    note_id = write_psych(w)
    before = len(w.clinical())
    with pytest.raises(errors.ValidationError, match="^text: psychotherapy text is not accepted in the clear"):
        call(w, note_id)
    assert len([e for e in w.clinical() if e.type != "PsychotherapyNoteSigned"]) == before


def test_a_box_sealed_to_another_key_is_refused(w):
    _, stranger = transport.ephemeral()
    with pytest.raises(errors.ValidationError, match="^sealed_text: not a sealed box to this notes service"):
        w.as_(w.clinician).write_psychotherapy_note({"patient_id": PATIENT, "session_date": "2026-05-01",
                                                     "sealed_text": transport.seal_for(stranger, TEXT)})
    with pytest.raises(errors.ValidationError, match="^sealed_text:"):
        w.as_(w.clinician).lint_text("not-a-box")


def test_sealed_lint(w):
    findings = w.as_(w.clinician).lint_text(transport.seal_for(NOTES_PUB, "PHQ-9 score 14 today."))["findings"]
    assert [f["category"] for f in findings] == ["clinical_test_results"]


def test_progress_note_addenda_may_stay_plain(w):
    note_id = write_progress(w)
    w.as_(w.clinician).sign_note(note_id)
    w.as_(w.clinician).add_addendum(note_id, "called PCP")
    note = w.as_(w.clinician).read_note(note_id, "treatment")["note"]  # progress content: no reply key needed
    assert note["addenda"][0]["text"] == "called PCP"


def test_read_without_a_reply_key_is_refused_after_the_decision_is_recorded(w):
    note_id = write_psych(w)
    with pytest.raises(errors.ValidationError, match="^reply_public_key: required") as info:
        w.as_(w.clinician).read_note(note_id, "treatment")
    [decided] = w.decisions()
    assert decided.data["decision"] == "permit" and decided.data["decision_id"] in str(info.value)
    assert "lake house" not in str(info.value)


def test_release_without_a_reply_key_is_refused_before_content_released(w):
    note_id = write_psych(w)
    payer = w.people.payer("PAYER-1")
    decision_id = append_decision(w, note_id, "PAYER-1")
    with pytest.raises(errors.ValidationError, match="^reply_public_key: required"):
        w.as_(payer, via="disclosures").release_fields(decision_id, [note_id])
    assert [e.type for e in w.store.read_stream(f"accessDecision-{decision_id}")] == ["AccessDecided"]
    key, pub = transport.ephemeral()
    reply = w.as_(payer, via="disclosures").release_fields(decision_id, [note_id], reply_public_key=pub)
    assert "F32.1" not in json.dumps(reply) and "sertraline" not in json.dumps(reply)
    fields = transport.open_tree(key, reply)["notes"][0]["fields"]
    assert fields["diagnosis_codes"] == ["Dx F32.1"] and fields["date_of_service"] == "2026-05-01"
    assert any("sertraline 50 mg" in e for e in fields["medication_prescription_and_monitoring"])


def test_write_sign_read_round_trip_is_json_safe(w):
    note_id = write_progress(w)
    w.as_(w.clinician).sign_note(note_id)
    reply = w.as_(w.clinician).read_note(note_id, "treatment", "birp")
    json.dumps(reply)
    assert reply["note"]["content"]["intervention"]["cpt_code"] == "90837"


def test_bad_payload_names_the_field(w):
    with pytest.raises(errors.ValidationError, match="session_date"):
        w.as_(w.clinician).write_psychotherapy_note({"patient_id": PATIENT, "session_date": "someday",
                                                     "sealed_text": transport.seal_for(NOTES_PUB, "x")})


def test_every_entrypoint_lists_user_errors():
    from nameko.rpc import Rpc

    entrypoints = list(NotesService.write_progress_note.nameko_entrypoints)
    assert isinstance(next(iter(entrypoints)), Rpc)
    names = [n for n, f in vars(NotesService).items() if getattr(f, "nameko_entrypoints", None)]
    assert len(names) == 27  # 18 + review_queue, my_notes + the privacy officer's 6 (amendments, emergency access)
    #                          + write_sud_counseling_note (42 CFR Part 2)
    assert USER_ERRORS == (errors.NotesError, NotAuthenticatedError, NotAuthorizedError)
    for name in names:
        [entrypoint] = getattr(NotesService, name).nameko_entrypoints
        assert entrypoint.expected_exceptions == USER_ERRORS


# -- who is asking ------------------------------------------------------------------------------

def test_no_assertion_is_refused_and_recorded(w):
    with pytest.raises(NotAuthenticatedError, match="no identity assertion"):
        w.as_(None).write_progress_note({"patient_id": PATIENT, "content": progress_content()})
    with pytest.raises(NotAuthenticatedError):
        w.as_(None).list_notes(PATIENT, "treatment")
    assert w.clinical() == [] and len(w.refusals()) == 2


def test_an_assertion_signed_by_another_key_is_refused(w, tmp_path):
    forger = Identities(InMemoryEventStore(), tmp_path / "forger").member("C-A", "clinician")
    with pytest.raises(NotAuthenticatedError):
        w.as_(assertion=forger.assertion()).write_progress_note({"patient_id": PATIENT,
                                                                 "content": progress_content()})
    assert w.clinical() == [] and [e.data["method"] for e in w.refusals()] == ["test"]


@pytest.mark.parametrize("field, value", [
    ("author", {"id": "C-B", "role": "clinician", "credentials": "MD"}), ("author_id", "C-B"),
    ("requester", {"id": "C-B"}), ("signed_by", "C-B"),
])
def test_a_payload_naming_who_acts_is_refused_naming_the_field(w, field, value):
    with pytest.raises(NotAuthorizedError, match=f"note.{field}"):
        w.as_(w.clinician).write_progress_note({"patient_id": PATIENT, "content": progress_content(), field: value})
    assert w.clinical() == [] and w.refusals()[0].data["subject"] == "C-A"


def test_roles_that_do_not_write_notes_are_refused(w):
    desk = w.people.member("FD-1", "front_desk")
    for person in (desk, w.patient):
        with pytest.raises(NotAuthorizedError, match="clinician, trainee, supervisor"):
            write_progress(w, person)
    note_id = write_progress(w)
    with pytest.raises(NotAuthorizedError):
        w.as_(w.patient).sign_note(note_id)
    with pytest.raises(errors.NotAuthorError):  # a clinician, but not this note's author
        w.as_(w.other).sign_note(note_id)
    assert [e.type for e in w.clinical() if e.type != "LateEntryFlagged"] == ["ProgressNoteDrafted"]


def test_an_unregistered_patient_is_refused_and_nothing_written(w):
    with pytest.raises(errors.PatientNotRegisteredError, match="^patient_id: P-404 is not registered"):
        write_progress(w, patient_id="P-404")
    with pytest.raises(errors.PatientNotRegisteredError):
        write_psych(w, patient_id="P-404")
    assert w.clinical() == [] and [r.data["subject"] for r in w.refusals()] == ["C-A", "C-A"]


@pytest.mark.parametrize("look_alike", ["P-1\u200b", "P-\u202e1"])
def test_a_look_alike_patient_id_is_refused(w, look_alike):
    with pytest.raises(errors.ValidationError, match="^patient_id: contains U\\+20"):
        write_progress(w, patient_id=look_alike)
    assert w.clinical() == [] and len(w.refusals()) == 1
    with pytest.raises(errors.ValidationError, match="^patient_id:"):
        w.as_(w.clinician).list_notes(look_alike, "treatment")
    assert w.clinical() == []


def test_an_intruders_addendum_on_a_signed_psychotherapy_note_is_refused(w):
    note_id = write_psych(w)
    w.as_(w.clinician).sign_note(note_id)
    before = w.clinical()
    with pytest.raises(NotAuthorizedError, match="neither the author"):
        w.as_(w.other).add_addendum(note_id, sealed_text=transport.seal_for(NOTES_PUB, "intrusion"))
    assert w.clinical() == before and w.refusals()[-1].data["subject"] == "C-B"


def test_trainee_note_cosigned_and_annotated_by_its_supervisor_only(w):
    trainee = w.people.member("T-1", "trainee")
    supervisor = w.people.member("S-1", "supervisor")
    w.people.member("S-2", "supervisor")
    with pytest.raises(errors.ValidationError, match="^supervisor_id: S-1 is not an active supervisor of T-1"):
        write_progress(w, trainee, supervisor_id="S-1")  # not linked yet
    w.people.supervise("S-1", "T-1")
    note_id = write_progress(w, trainee, supervisor_id="S-1")
    w.as_(trainee).sign_note(note_id)
    with pytest.raises(NotAuthorizedError):  # a clinician is not a supervisor
        w.as_(w.clinician).cosign_note(note_id)
    with pytest.raises(errors.CosignNotApplicableError):  # a supervisor, but not this note's
        w.as_(w.people.member("S-2", "supervisor")).cosign_note(note_id)
    assert w.as_(supervisor).cosign_note(note_id)["events"] == ["ProgressNoteCosigned"]
    assert w.as_(supervisor).add_addendum(note_id, "reviewed with trainee")["events"] == ["AddendumAdded"]
    [drafted] = [e for e in w.clinical() if e.type == "ProgressNoteDrafted"]
    assert drafted.data["author_role"] == "trainee" and drafted.data["author_id"] == "T-1"


def test_a_supervision_that_ended_ends_the_supervisor_s_rights_on_the_trainee_s_notes(w):
    trainee = w.people.member("T-2", "trainee")
    supervisor = w.people.member("S-3", "supervisor")
    w.people.supervise("S-3", "T-2")
    note_id = write_progress(w, trainee, supervisor_id="S-3")
    w.as_(trainee).sign_note(note_id)
    w.people.end_supervision("S-3", "T-2")
    before = len(w.clinical())
    with pytest.raises(NotAuthorizedError, match="no longer supervises T-2"):
        w.as_(supervisor).cosign_note(note_id)
    with pytest.raises(NotAuthorizedError, match="no longer supervises T-2"):
        w.as_(supervisor).add_addendum(note_id, "late review")
    assert len(w.clinical()) == before  # nothing written


def test_amendments_by_the_patient_decided_by_the_author_or_privacy_officer(w):
    note_id = write_progress(w)
    w.as_(w.clinician).sign_note(note_id)
    stranger = w.people.patient("P-2")
    with pytest.raises(NotAuthorizedError, match="not the patient of note"):
        w.as_(stranger).request_amendment(note_id, "employer", "changed jobs")
    with pytest.raises(NotAuthorizedError):  # a clinician is not the individual
        w.as_(w.clinician).request_amendment(note_id, "employer", "changed jobs")
    first = w.as_(w.patient).request_amendment(note_id, "employer", "changed jobs")["amendment_id"]
    second = w.as_(w.patient).request_amendment(note_id, "address", "moved")["amendment_id"]
    with pytest.raises(NotAuthorizedError, match="neither the author"):
        w.as_(w.other).deny_amendment(note_id, first, "accurate_and_complete", "accurate")
    w.as_(w.people.member("PO-1", "privacy_officer")).deny_amendment(note_id, first, "accurate_and_complete",
                                                                      "accurate")
    with pytest.raises(NotAuthorizedError):
        w.as_(stranger).append_disagreement(note_id, first, "I disagree")
    w.as_(w.patient).append_disagreement(note_id, first, "I disagree")
    w.as_(w.clinician).accept_amendment(note_id, second, progress_content(functional_status="moved"))
    by_type = {e.type: e.data for e in w.clinical()}
    assert by_type["AmendmentRequested"]["patient_id"] == PATIENT
    assert by_type["AmendmentDenied"]["decided_by"] == "PO-1" and by_type["AmendmentAccepted"]["decided_by"] == "C-A"


# -- reads and releases ------------------------------------------------------------------------

def test_list_notes_shape_and_every_decision_records_who_it_was_for(w):
    progress = write_progress(w)
    write_psych(w, text=PLAIN)
    session = w.other.in_session("sess-42")
    listed = w.as_(session).list_notes(PATIENT, "treatment")
    assert set(listed) == {"patient_id", "notes"} and [n["note_id"] for n in listed["notes"]] == [progress]
    decided = w.decisions()
    assert sorted(d.data["decision"] for d in decided) == ["deny", "permit"]  # the withheld one recorded too
    for d in decided:
        assert d.data["requester"]["id"] == "C-B" and d.data["requester"]["role"] == "clinician_same_practice"
        assert d.data["decided_for"]["subject"] == "C-B" and d.data["decided_for"]["session_id"] == "sess-42"
        assert d.data["decided_for"]["amr"] == ["pwd", "otp"]


def test_a_denied_read_is_recorded_for_the_principal(w):
    note_id = write_psych(w, text=PLAIN)
    with pytest.raises(errors.AccessDeniedError):
        w.as_(w.other).read_note(note_id, "treatment")
    [decided] = w.decisions()
    assert decided.data["decision"] == "deny" and decided.data["decided_for"]["subject"] == "C-B"


def test_release_fields_only_from_disclosures_for_whom_it_was_decided(w):
    note_id = write_psych(w)
    payer = w.people.payer("PAYER-1")
    decision_id = append_decision(w, note_id, "PAYER-1")
    _, pub = transport.ephemeral()
    for person, via, error in [(payer, None, NotAuthenticatedError), (payer, "gateway", NotAuthorizedError),
                               (w.people.payer("PAYER-2"), "disclosures", NotAuthorizedError),
                               (w.clinician, "disclosures", NotAuthorizedError)]:
        with pytest.raises(error):
            w.as_(person, via=via).release_fields(decision_id, [note_id], reply_public_key=pub)
    assert [e.type for e in w.store.read_stream(f"accessDecision-{decision_id}")] == ["AccessDecided"]
    assert len(w.refusals()) == 4
    w.as_(payer, via="disclosures").release_fields(decision_id, [note_id], reply_public_key=pub)
    assert [e.type for e in w.store.read_stream(f"accessDecision-{decision_id}")] == ["AccessDecided",
                                                                                       "ContentReleased"]


def test_right_of_access_only_from_disclosures_for_the_patient(w):
    progress = write_progress(w)
    w.as_(w.clinician).sign_note(progress)
    stranger = w.people.patient("P-2")
    with pytest.raises(NotAuthenticatedError):
        w.as_(w.patient).request_record_access(PATIENT)
    with pytest.raises(NotAuthorizedError):
        w.as_(stranger, via="disclosures").request_record_access(PATIENT)
    request = w.as_(w.patient, via="disclosures").request_record_access(PATIENT)
    with pytest.raises(NotAuthorizedError):
        w.as_(w.clinician).extend_record_access(request["request_id"], "archived")
    w.as_(w.people.member("ROI-1", "release_of_information")).extend_record_access(request["request_id"], "archived")
    with pytest.raises(NotAuthorizedError, match="not the patient of access request"):
        w.as_(stranger, via="disclosures").export_designated_record_set(request["request_id"])
    with pytest.raises(NotAuthorizedError):
        w.as_(w.patient, via="web").export_designated_record_set(request["request_id"])
    export = w.as_(w.patient, via="disclosures").export_designated_record_set(request["request_id"])
    assert [n["note_id"] for n in export["notes"]] == [progress] and export["fulfilled_at"]
    [received] = [e for e in w.clinical() if e.type == "AccessRequestReceived"]
    assert received.data["requested_by"] == PATIENT
    assert all(d.data["decided_for"]["subject"] == PATIENT for d in w.decisions())
