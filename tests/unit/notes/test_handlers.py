"""Use cases on InMemoryEventStore with a tmp keyring, a fixed clock, the real lint and engine."""
import uuid
from datetime import timedelta

import pytest

from confide import transport
from confide.eventstore.errors import EventStoreUnavailableError
from confide.eventstore.memory import InMemoryEventStore
from confide.hipaa.engine import decide as engine
from confide.hipaa.lint import lint
from confide.keys import ensure_decision_key, verify_decision
from notes import handlers as h
from notes import schemas as s
from notes import views, wire
from notes.domain import errors

from .conftest import NOW, author, progress_content

MARKER = "ZEBRA-MARKER-7781"
PSYCH_TEXT = f"She spoke about her father and the lake house. {MARKER}. Pt reports low mood, poor sleep and anhedonia."
PLAIN_TEXT = f"She spoke about her father and the lake house. {MARKER}."
AUTHOR = {"id": "C-A", "role": "originator_clinician", "org": "Northside"}
OTHER = {"id": "C-B", "role": "clinician_same_practice", "org": "Northside"}


# The notes transport key (front doors seal to it) and a requesting session's reply key.
NOTES_KEY, NOTES_PUB = transport.ephemeral()
READER_KEY, READER_PUB = transport.ephemeral()


def opened(payload: dict) -> dict:
    """A wire payload (``sealed_text``) as the service hands it to the handlers (``text``)."""
    sealed = payload.pop("sealed_text", None)
    return {**payload, "text": wire.open_text(NOTES_KEY, sealed) if sealed is not None else payload.get("text")}


def patient():
    return "P-" + uuid.uuid4().hex[:8]


def write_progress(store, clock, patient_id, **content):
    # The service adds ``author`` from the verified principal after loading the payload.
    payload = s.load(s.WriteProgressNoteSchema, {"patient_id": patient_id, "content": progress_content(**content)})
    return h.write_progress_note(store, clock, {**payload, "author": author()})


def write_psych(store, keyring, clock, patient_id, text=PSYCH_TEXT):
    payload = s.load(s.WritePsychotherapyNoteSchema, {"patient_id": patient_id, "session_date": "2026-05-01",
                                                      "sealed_text": transport.seal_for(NOTES_PUB, text)})
    return h.write_psychotherapy_note(store, keyring, clock, lint, opened({**payload, "author": author()}))


def read(store, keyring, clock, note_id, requester, purpose="treatment", presentation=None, reply_key=READER_PUB):
    """read_note as a requesting session: sends its reply key, opens the sealed parts of the reply."""
    # The service adds ``requester`` (requester_for(principal)) after loading the payload.
    payload = {**s.load(s.ReadNoteSchema, {"note_id": note_id, "purpose": purpose, "presentation": presentation,
                                           "reply_public_key": reply_key}), "requester": requester}
    ensure_decision_key(keyring.key_dir)
    return transport.open_tree(READER_KEY, h.read_note(store, keyring, engine, clock, payload,
                                                       key_dir=keyring.key_dir))


def decisions(store):
    return [e for e in store.read_all() if e.type == "AccessDecided"]


class TestPsychotherapyNote:
    def test_stored_sealed_with_spans_only(self, store, keyring, clock):
        reply = write_psych(store, keyring, clock, patient())
        assert {f["category"] for f in reply["findings"]} == {"summary_symptoms"}
        assert all(set(f) == {"category", "start", "end", "suggestion"} for f in reply["findings"])
        [ev] = store.read_stream(f"psychotherapyNote-{reply['note_id']}")
        assert MARKER not in ev.data_json and "low mood" not in ev.data_json
        assert ev.data["content_in_psych_note"] == [{"category": "summary_symptoms", "start": 77, "end": 111}]
        assert ev.data["sealed"]["data_key_id"] == reply["note_id"]

    def test_author_reads_her_note_permitted_and_recorded(self, store, keyring, clock):
        note_id = write_psych(store, keyring, clock, patient())["note_id"]
        reply = read(store, keyring, clock, note_id, AUTHOR)
        assert reply["note"]["text"] == PSYCH_TEXT
        [decided] = decisions(store)
        assert decided.data["decision"] == "permit" and decided.data["originator_id"] == "C-A"
        assert decided.data["decision_id"] == reply["decision"]["decision_id"]
        assert decided.stream_name == f"accessDecision-{decided.data['decision_id']}"
        assert MARKER not in decided.data_json

    def test_another_clinician_denied_and_recorded(self, store, keyring, clock):
        note_id = write_psych(store, keyring, clock, patient(), PLAIN_TEXT)["note_id"]
        with pytest.raises(errors.AccessDeniedError) as info:
            read(store, keyring, clock, note_id, OTHER)
        assert MARKER not in str(info.value)
        [decided] = decisions(store)
        assert decided.data["decision"] == "deny" and decided.data["requester"]["id"] == "C-B"

    def test_another_clinician_gets_no_summary_typed_in_the_note(self, store, keyring, clock):
        # The engine permits the excluded symptoms summary, but a summary span typed in a
        # psychotherapy note is withheld (C1): only tight items leave a psychotherapy note.
        note_id = write_psych(store, keyring, clock, patient())["note_id"]
        reply = read(store, keyring, clock, note_id, OTHER)
        assert reply["note"]["fields"] == {}
        assert reply["note"]["withheld"] == [{"field": "symptoms_summary", "reason": views.WITHHELD_SUMMARY_REASON}]
        assert MARKER not in str(reply) and "father" not in str(reply) and "low mood" not in str(reply)

    def test_claiming_the_originator_role_does_not_make_one(self, store, keyring, clock):
        note_id = write_psych(store, keyring, clock, patient(), PLAIN_TEXT)["note_id"]
        with pytest.raises(errors.AccessDeniedError):
            read(store, keyring, clock, note_id, {**OTHER, "role": "originator_clinician", "is_originator": True})
        assert decisions(store)[0].data["requester"]["role"] == "clinician_same_practice"

    def test_revise_and_addendum_stay_readable(self, store, keyring, clock):
        note_id = write_psych(store, keyring, clock, patient())["note_id"]
        h.revise_note(store, keyring, clock, lint, opened({**s.load(s.ReviseNoteSchema, {
            "note_id": note_id, "sealed_text": transport.seal_for(NOTES_PUB, "second version")}), "revised_by": "C-A"}))
        h.sign_note(store, clock, {"note_id": note_id, "signed_by": "C-A"})
        with pytest.raises(errors.NoteSignedError):
            h.revise_note(store, keyring, clock, lint, {"note_id": note_id, "revised_by": "C-A", "text": "x"})
        h.add_addendum(store, keyring, clock, lint, opened({**s.load(s.AddAddendumSchema, {
            "note_id": note_id, "sealed_text": transport.seal_for(NOTES_PUB, "later thought")}), "author_id": "C-A"}))
        note = read(store, keyring, clock, note_id, AUTHOR)["note"]
        assert note["text"] == "second version" and note["addenda"][0]["text"] == "later thought"
        assert note["revision"] == 2 and note["status"] == "signed"

    def test_amendment_refused_with_citation(self, store, keyring, clock):
        note_id = write_psych(store, keyring, clock, patient())["note_id"]
        h.sign_note(store, clock, {"note_id": note_id, "signed_by": "C-A"})
        with pytest.raises(errors.AmendmentNotApplicableError, match="164.526"):
            h.request_amendment(store, clock, {"note_id": note_id, "amendment_id": "a", "patient_id": "P",
                                               "requested_change": "x", "reason": "y"})


class FailingDecisionStore(InMemoryEventStore):
    def append(self, stream_name, events, expected_version=None):
        if stream_name.startswith("accessDecision-"):
            raise EventStoreUnavailableError("database went away")
        return super().append(stream_name, events, expected_version)


def test_fail_closed_when_the_decision_cannot_be_recorded(keyring, clock):
    store, pid = FailingDecisionStore(), patient()
    note_id = write_psych(store, keyring, clock, pid)["note_id"]
    with pytest.raises(EventStoreUnavailableError):
        read(store, keyring, clock, note_id, AUTHOR)
    with pytest.raises(EventStoreUnavailableError):
        h.list_notes(store, engine, clock, {"patient_id": pid, "requester": AUTHOR, "purpose": "treatment",
                                            "exception_claimed": None}, key_dir=keyring.key_dir)


class TestProgressNote:
    def test_write_read_in_each_presentation(self, store, keyring, clock):
        note_id = write_progress(store, clock, patient())["note_id"]
        for name in ("soap", "dap", "birp"):
            note = read(store, keyring, clock, note_id, OTHER, presentation=name)["note"]
            assert note["presentation"] == name
        assert read(store, keyring, clock, note_id, OTHER)["note"]["content"]["cpt_code"] == "90837"
        assert len(decisions(store)) == 4

    def test_late_entry_flagged(self, store, clock):
        reply = write_progress(store, clock, patient(), session_date="2026-04-20")
        assert reply["events"] == ["ProgressNoteDrafted", "LateEntryFlagged"]

    def test_invalid_content_writes_nothing(self, store, clock):
        with pytest.raises(errors.ValidationError, match="content.cpt_code"):
            write_progress(store, clock, patient(), cpt_code="x")
        assert store.read_all() == []

    def test_trainee_cosign(self, store, clock):
        payload = s.load(s.WriteProgressNoteSchema, {"patient_id": "P", "supervisor_id": "S-1",
                                                     "content": progress_content()})
        note_id = h.write_progress_note(store, clock, {**payload, "author": author("T-1", "trainee")})["note_id"]
        assert h.sign_note(store, clock, {"note_id": note_id, "signed_by": "T-1"})["events"] == ["ProgressNoteSigned"]
        assert h.cosign_note(store, clock, {"note_id": note_id, "cosigned_by": "S-1"})["events"] == [
            "ProgressNoteCosigned"]

    def test_amendment_accepted_and_denied(self, store, keyring, clock):
        pid = patient()
        note_id = write_progress(store, clock, pid)["note_id"]
        h.sign_note(store, clock, {"note_id": note_id, "signed_by": "C-A"})
        for amendment_id in ("a1", "a2"):
            h.request_amendment(store, clock, {"note_id": note_id, "amendment_id": amendment_id, "patient_id": pid,
                                               "requested_change": "employment", "reason": "outdated"})
        new = s.load(s.ProgressNoteContentSchema, progress_content(functional_status="working full time"))
        h.accept_amendment(store, clock, {"note_id": note_id, "amendment_id": "a1", "decided_by": "C-A",
                                          "content": new})
        h.deny_amendment(store, clock, {"note_id": note_id, "amendment_id": "a2", "decided_by": "C-A",
                                        "ground": "accurate_and_complete", "denial_statement": "accurate"})
        h.append_disagreement(store, clock, {"note_id": note_id, "amendment_id": "a2", "statement": "I disagree"})
        note = read(store, keyring, clock, note_id, AUTHOR)["note"]
        assert note["content"]["functional_status"] == "working full time" and note["revision"] == 2
        by_id = {a["amendment_id"]: a for a in note["amendments"]}
        assert by_id["a1"]["amended_revision"] == 2
        assert by_id["a2"]["statement_of_disagreement"] == "I disagree"
        assert by_id["a2"]["citation"] == "45 CFR 164.526(a)(2)(iv)"


def test_list_notes_records_every_decision_and_omits_denied(store, keyring, clock, key_dir):
    pid = patient()
    progress_id = write_progress(store, clock, pid)["note_id"]
    write_psych(store, keyring, clock, pid, PLAIN_TEXT)
    reply = h.list_notes(store, engine, clock, {"patient_id": pid, "requester": OTHER, "purpose": "treatment",
                                                "exception_claimed": None}, key_dir=key_dir)
    assert [n["note_id"] for n in reply["notes"]] == [progress_id]
    assert set(reply) == {"patient_id", "notes"}  # nothing about the omitted note, not even a count
    assert sorted(d.data["decision"] for d in decisions(store)) == ["deny", "permit"]
    assert all(verify_decision(key_dir, d.data, d.data["seal"]) for d in decisions(store))


TESTER_TEXT = (
    "Symptoms: insomnia and panic since she revealed she was molested by her uncle; she begged me never to tell anyone.\n"
    "Functional status: unable to work because she is hiding from her abusive husband at the Elm St shelter.\n"
    "Progress to date: she finally admitted the embezzlement at her firm and her plan to confess.\n"
    "Treatment plan: weekly sessions; process her guilt about the hit-and-run she was never charged for.\n"
    "Diagnosis F43.1 PTSD after the assault she never reported; patient's HIV status is positive per her confession.\n"
    "Medication: fluoxetine 20 mg daily; she sells half her pills to her coworker.\n")
PAYMENT_FIELDS = ["patient_id", "date_of_service", "session_start", "session_stop", "cpt_code_or_modality",
                  "frequency", "diagnosis_codes", "symptoms_summary", "functional_status", "treatment_plan_summary",
                  "progress_to_date", "medication_prescription_and_monitoring", "clinical_test_results",
                  "rendering_clinician_and_credentials", "signature"]


class MovingClock:
    def __init__(self, start=NOW):
        self.now = start

    def __call__(self):
        return self.now


class TestReleaseFields:
    def record(self, store, key_dir, seal=True, **data):
        """A decision as the services record it: AccessDecided, sealed, in its own stream."""
        from confide.envelope import NewEvent
        from confide.keys import seal_decision
        decision_id = str(uuid.uuid4())
        data = {"decision_id": decision_id, "decided_at": "2026-05-01T15:00:00Z", **data}
        if seal:
            data["seal"] = seal_decision(key_dir, data)
        store.append(f"accessDecision-{decision_id}", [NewEvent("AccessDecided", data)], -1)
        return decision_id

    def release(self, store, keyring, clock, key_dir, decision_id, note_ids, reply_key=READER_PUB):
        reply = h.release_fields(store, keyring, clock, {"decision_id": decision_id, "note_ids": note_ids,
                                                         "reply_public_key": reply_key}, key_dir=key_dir)
        return transport.open_tree(READER_KEY, reply)

    def test_exactly_the_fields_released(self, store, clock, key_dir):
        pid = patient()
        note_id = write_progress(store, clock, pid)["note_id"]
        h.sign_note(store, clock, {"note_id": note_id, "signed_by": "C-A"})
        fields = ["patient_id", "date_of_service", "diagnosis_codes", "signature", "notes as requested"]
        decision_id = self.record(store, key_dir, decision="permit_minimum_necessary", patient_id=pid,
                                  note_kind="progress", note_ids=[note_id], fields_released=fields)
        [out] = self.release(store, None, clock, key_dir, decision_id, [note_id])["notes"]
        assert set(out["fields"]) == {"patient_id", "date_of_service", "diagnosis_codes", "signature"}
        assert out["fields"]["diagnosis_codes"] == ["F32.1", "F41.1"] and out["withheld"] == []

    def test_an_authorizations_field_set_releases_the_whole_note(self, store, clock, key_dir):
        # 164.508(a)(1): the engine decides "records within authorization description (...)"; the
        # notes it names leave whole (minimum necessary does not apply, 164.502(b)(2)(iii)).
        pid = patient()
        note_id = write_progress(store, clock, pid)["note_id"]
        h.sign_note(store, clock, {"note_id": note_id, "signed_by": "C-A"})
        name = "records within authorization description (progress notes of 2026)"
        decision_id = self.record(store, key_dir, decision="permit", patient_id=pid, note_kind="progress",
                                  note_ids=[note_id], fields_released=[name])
        [out] = self.release(store, None, clock, key_dir, decision_id, [note_id])["notes"]
        assert list(out["fields"]) == [name]
        assert out["fields"][name]["note_id"] == note_id and out["fields"][name]["content"]["diagnosis_codes"]

    def test_every_release_is_recorded_without_content(self, store, clock, key_dir):
        pid = patient()
        note_id = write_progress(store, clock, pid)["note_id"]
        decision_id = self.record(store, key_dir, decision="permit", patient_id=pid, note_ids=[note_id],
                                  fields_released=["diagnosis_codes", "functional_status"])
        for _ in range(2):  # a re-delivery to the same recipient is recorded once (issue 12)
            self.release(store, None, clock, key_dir, decision_id, [note_id])
        stream = store.read_stream(f"accessDecision-{decision_id}")
        assert [e.type for e in stream] == ["AccessDecided", "ContentReleased"]
        assert stream[1].data == {"decision_id": decision_id, "note_ids": [note_id],
                                  "fields_released": ["diagnosis_codes", "functional_status"],
                                  "released_at": "2026-05-01T15:00:00.000000Z", "released_to": None}
        assert "F32.1" not in stream[1].data_json and "working part time" not in stream[1].data_json

    def test_one_release_recorded_per_recipient(self, store, clock, key_dir):
        pid = patient()
        note_id = write_progress(store, clock, pid)["note_id"]
        decision_id = self.record(store, key_dir, decision="permit", patient_id=pid, note_ids=[note_id],
                                  fields_released=["diagnosis_codes"])
        for recipient in ("PAYER-1", "STAFF-1", "PAYER-1"):
            h.release_fields(store, None, clock, {"decision_id": decision_id, "note_ids": [note_id],
                                                  "recipient": recipient}, key_dir=key_dir)
        stream = store.read_stream(f"accessDecision-{decision_id}")
        assert [e.data.get("released_to") for e in stream[1:]] == ["PAYER-1", "STAFF-1"]

    def test_nothing_returned_when_the_release_cannot_be_recorded(self, keyring, clock, key_dir):
        class NoReleaseRecord(InMemoryEventStore):
            def append(self, stream_name, events, expected_version=None):
                if any(e.type == "ContentReleased" for e in events):
                    raise EventStoreUnavailableError("database went away")
                return super().append(stream_name, events, expected_version)

        store, pid = NoReleaseRecord(clock=clock), patient()
        note_id = write_progress(store, clock, pid)["note_id"]
        decision_id = self.record(store, key_dir, decision="permit", patient_id=pid, note_ids=[note_id],
                                  fields_released=["diagnosis_codes"])
        with pytest.raises(EventStoreUnavailableError):
            self.release(store, None, clock, key_dir, decision_id, [note_id])

    def test_psychotherapy_note_withholds_summary_spans(self, store, keyring, clock, key_dir):
        pid = patient()
        note_id = write_psych(store, keyring, clock, pid)["note_id"]
        decision_id = self.record(store, key_dir, decision="permit_minimum_necessary", patient_id=pid,
                                  note_ids=[note_id], fields_released=["symptoms_summary"])
        [out] = self.release(store, keyring, clock, key_dir, decision_id, [note_id])["notes"]
        assert out["fields"] == {}
        assert out["withheld"] == [{"field": "symptoms_summary", "reason": views.WITHHELD_SUMMARY_REASON}]

    def test_tester_text_releases_only_tight_excerpts(self, store, keyring, clock, key_dir):
        # C1: an insurer's payment request on a psychotherapy note whose summary lines carry session content.
        pid = patient()
        note_id = write_psych(store, keyring, clock, pid, TESTER_TEXT)["note_id"]
        h.sign_note(store, clock, {"note_id": note_id, "signed_by": "C-A"})
        decision_id = self.record(store, key_dir, decision="permit_minimum_necessary", patient_id=pid,
                                  note_kind="psychotherapy", note_ids=[note_id], fields_released=PAYMENT_FIELDS)
        reply = self.release(store, keyring, clock, key_dir, decision_id, [note_id])
        [out] = reply["notes"]
        released = str(out["fields"])
        for secret in ("hiding from her abusive husband", "Elm St", "hit-and-run", "molested", "embezzlement",
                       "sells half", "assault", "HIV", "insomnia"):
            assert secret not in released
        assert out["fields"]["diagnosis_codes"] == ["Diagnosis F43.1 PTSD"]
        assert out["fields"]["medication_prescription_and_monitoring"] == ["fluoxetine 20 mg daily"]
        assert out["fields"]["cpt_code_or_modality"] == ["weekly sessions"]
        assert all(len(x) <= views.EXCERPT_MAX for v in out["fields"].values() if isinstance(v, list) for x in v)
        assert {w["field"] for w in out["withheld"]} == {
            "symptoms_summary", "functional_status", "treatment_plan_summary", "progress_to_date"}
        assert all(w["reason"] == views.WITHHELD_SUMMARY_REASON for w in out["withheld"])

    def test_excerpt_capped_at_its_own_span(self):
        text = "x " + "fluoxetine 20 mg daily " * 10 + "and then the secret"
        span = {"category": "medication_prescription_and_monitoring", "start": 2, "end": len(text) - 20}
        piece = views._excerpt(text, span)
        assert len(piece) <= views.EXCERPT_MAX and "secret" not in piece and piece.startswith("fluoxetine")
        assert views._excerpt("abc", {"start": 2, "end": 99}) == ""  # a span outside the text releases nothing

    def test_addendum_spans_count_too(self, store, keyring, clock):
        pid = patient()
        note_id = write_psych(store, keyring, clock, pid, PLAIN_TEXT)["note_id"]
        h.sign_note(store, clock, {"note_id": note_id, "signed_by": "C-A"})
        h.add_addendum(store, keyring, clock, lint, {"note_id": note_id, "addendum_id": "ad", "author_id": "C-A",
                                                     "text": "PHQ-9 score 14 today."})
        reply = read(store, keyring, clock, note_id, OTHER)
        assert reply["note"]["fields"] == {"clinical_test_results": ["PHQ-9 score 14"]}

    def test_content_written_after_the_decision_is_not_released(self, keyring, key_dir):
        # C4: a later fetch under an old decision releases the note as it stood when decided.
        clock = MovingClock()
        store, pid = InMemoryEventStore(clock=clock), patient()
        note_id = write_psych(store, keyring, clock, pid, PLAIN_TEXT)["note_id"]
        h.sign_note(store, clock, {"note_id": note_id, "signed_by": "C-A"})
        decision_id = self.record(store, key_dir, decision="permit", patient_id=pid, note_ids=[note_id],
                                  fields_released=["clinical_test_results", "full_note"],
                                  decided_at="2026-05-01T15:00:00Z")
        clock.now = NOW + timedelta(hours=2)
        h.add_addendum(store, keyring, clock, lint, {"note_id": note_id, "addendum_id": "late", "author_id": "C-A",
                                                     "text": "PHQ-9 score 22; LATE-SECRET disclosed."})
        [out] = self.release(store, keyring, clock, key_dir, decision_id, [note_id])["notes"]
        assert out["fields"]["clinical_test_results"] == []
        assert out["fields"]["full_note"]["addenda"] == [] and "LATE-SECRET" not in str(out)

    def test_a_note_not_on_file_when_decided_is_refused(self, keyring, key_dir):
        clock = MovingClock()
        store, pid = InMemoryEventStore(clock=clock), patient()
        decision_id = self.record(store, key_dir, decision="permit", patient_id=pid, fields_released=["full_note"],
                                  note_ids=["later-note"], decided_at="2026-05-01T15:00:00Z")
        clock.now = NOW + timedelta(hours=1)
        later = write_progress(store, clock, pid)["note_id"]
        store2_id = self.record(store, key_dir, decision="permit", patient_id=pid, fields_released=["full_note"],
                                note_ids=[later], decided_at="2026-05-01T15:00:00Z")
        with pytest.raises(errors.AccessDeniedError, match="not on file"):
            self.release(store, None, clock, key_dir, store2_id, [later])
        assert [e.type for e in store.read_stream(f"accessDecision-{decision_id}")] == ["AccessDecided"]

    @pytest.mark.parametrize("data", [
        {"decision": "deny", "fields_released": None},
        {"decision": "permit", "patient_id": "someone-else", "fields_released": ["full_note"]},
        {"decision": "permit", "note_ids": ["another-note"], "fields_released": ["full_note"]},
        {"decision": "permit", "note_kind": "psychotherapy", "fields_released": ["full_note"]},
        {"decision": "permit", "note_ids": [], "fields_released": ["full_note"]},
        {"decision": "permit", "note_ids": None, "note_id": None, "fields_released": ["full_note"]},
        {"decision": "permit", "decided_at": None, "fields_released": ["full_note"]},
    ])
    def test_refused(self, store, clock, key_dir, data):
        pid = patient()
        note_id = write_progress(store, clock, pid)["note_id"]
        data = {"patient_id": pid, "note_ids": [note_id], **data}
        decision_id = self.record(store, key_dir, **data)
        with pytest.raises(errors.AccessDeniedError):
            self.release(store, None, clock, key_dir, decision_id, [note_id])
        assert [e.type for e in store.read_stream(f"accessDecision-{decision_id}")] == ["AccessDecided"]

    def test_decision_naming_no_notes_releases_nothing(self, store, clock, key_dir):
        # C3: a payment decision whose date range matched no note must not release any note of the patient.
        pid = patient()
        note_id = write_progress(store, clock, pid)["note_id"]
        decision_id = self.record(store, key_dir, decision="permit_minimum_necessary", patient_id=pid,
                                  note_kind="progress", note_ids=[], fields_released=["diagnosis_codes"])
        with pytest.raises(errors.AccessDeniedError, match="names no notes"):
            self.release(store, None, clock, key_dir, decision_id, [note_id])

    @pytest.mark.parametrize("forge", ["unsealed", "wrong key", "tampered", "two decisions"])
    def test_forged_decision_refused(self, store, clock, key_dir, tmp_path, forge):
        # C5: a decision appended straight to the store, without the decision key, is refused.
        from confide.envelope import NewEvent
        from confide.keys import seal_decision
        pid = patient()
        note_id = write_progress(store, clock, pid)["note_id"]
        data = {"decision": "permit", "patient_id": pid, "note_ids": [note_id], "fields_released": ["full_note"]}
        if forge == "unsealed":
            decision_id = self.record(store, key_dir, seal=False, **data)
        elif forge == "wrong key":
            other = tmp_path / "other-keys"
            ensure_decision_key(other)
            decision_id = self.record(store, other, **data)
        elif forge == "tampered":
            decision_id = str(uuid.uuid4())
            sealed = {"decision_id": decision_id, "decided_at": "2026-05-01T15:00:00Z", **data,
                      "fields_released": ["diagnosis_codes"]}
            sealed["seal"] = seal_decision(key_dir, sealed)
            store.append(f"accessDecision-{decision_id}",
                         [NewEvent("AccessDecided", {**sealed, "fields_released": ["full_note"]})], -1)
        else:
            decision_id = self.record(store, key_dir, **{**data, "fields_released": ["diagnosis_codes"]})
            store.append(f"accessDecision-{decision_id}", [NewEvent("AccessDecided", {
                "decision_id": decision_id, "decided_at": "2026-05-01T15:00:00Z", **data})], 0)
        with pytest.raises(errors.AccessDeniedError, match="decision"):
            self.release(store, None, clock, key_dir, decision_id, [note_id])
        assert "ContentReleased" not in [e.type for e in store.read_stream(f"accessDecision-{decision_id}")]

    def test_unknown_decision(self, store, clock, key_dir):
        with pytest.raises(errors.AccessDeniedError, match="no recorded decision"):
            self.release(store, None, clock, key_dir, str(uuid.uuid4()), ["x"])

    def test_read_decisions_are_sealed_and_release_under_them(self, store, keyring, clock, key_dir):
        pid = patient()
        note_id = write_progress(store, clock, pid)["note_id"]
        decision_id = read(store, keyring, clock, note_id, OTHER)["decision"]["decision_id"]
        [decided] = decisions(store)
        assert verify_decision(key_dir, decided.data, decided.data["seal"])
        [out] = self.release(store, keyring, clock, key_dir, decision_id, [note_id])["notes"]
        assert out["fields"]["full_note"]["note_id"] == note_id


def test_export_designated_record_set(store, keyring, clock, key_dir):
    pid = patient()
    progress_id = write_progress(store, clock, pid)["note_id"]
    h.sign_note(store, clock, {"note_id": progress_id, "signed_by": "C-A"})
    h.add_addendum(store, keyring, clock, lint, {"note_id": progress_id, "addendum_id": "ad1", "author_id": "C-A",
                                                 "text": "called PCP"})
    write_psych(store, keyring, clock, pid)
    req = h.request_record_access(store, clock, {"request_id": str(uuid.uuid4()), "patient_id": pid,
                                                 "requested_by": pid})
    assert req["due_at"] == "2026-05-31T15:00:00.000000Z"
    ext = h.extend_record_access(store, clock, {"request_id": req["request_id"], "reason": "archived records"})
    assert ext["due_at"] == "2026-06-30T15:00:00.000000Z" and ext["extended"]
    reply = h.export_designated_record_set(store, engine, clock, {
        "request_id": req["request_id"], "requester": {"id": pid, "role": "patient", "org": "self"}},
        key_dir=key_dir)
    assert [n["note_id"] for n in reply["notes"]] == [progress_id]
    assert reply["notes"][0]["addenda"][0]["text"] == "called PCP"
    assert reply["fulfilled_at"] and MARKER not in str(reply)
    types = [e.type for e in store.read_stream(f"accessRequest-{req['request_id']}")]
    assert types == ["AccessRequestReceived", "AccessRequestExtended", "AccessRequestFulfilled"]
    with pytest.raises(errors.AccessDeniedError):
        h.export_designated_record_set(store, engine, clock, {
            "request_id": req["request_id"], "requester": {"id": "P-other", "role": "patient", "org": "self"}},
            key_dir=key_dir)


def test_a_fulfilled_access_request_exports_again_with_the_same_fields_each_time_decided(store, keyring, clock,
                                                                                        key_dir):
    """Issue 11: the patient's copy, as often as they like. A later export under the same request gives
    the same notes and fields, records a new AccessDecided per note for it, and leaves the request as
    it was (fulfilled once)."""
    pid = patient()
    progress_id = write_progress(store, clock, pid)["note_id"]
    h.sign_note(store, clock, {"note_id": progress_id, "signed_by": "C-A"})
    write_psych(store, keyring, clock, pid)
    req = h.request_record_access(store, clock, {"request_id": str(uuid.uuid4()), "patient_id": pid,
                                                 "requested_by": pid})
    me = {"request_id": req["request_id"], "requester": {"id": pid, "role": "patient", "org": "self"}}
    first, second = (h.export_designated_record_set(store, engine, clock, dict(me), key_dir=key_dir) for _ in range(2))
    assert first["notes"] == second["notes"] and [n["note_id"] for n in second["notes"]] == [progress_id]
    assert second["notes"][0]["content"] and MARKER not in str(second)
    assert second["fulfilled_at"] == first["fulfilled_at"]
    types = [e.type for e in store.read_stream(f"accessRequest-{req['request_id']}")]
    assert types == ["AccessRequestReceived", "AccessRequestFulfilled"]
    decided = [e for e in store.read_all() if e.type == "AccessDecided" and e.data.get("request_id") == req["request_id"]]
    assert [d.data["note_id"] for d in decided] == [progress_id, progress_id]
