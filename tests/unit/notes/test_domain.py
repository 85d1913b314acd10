"""Given events, when a command, then events (or a domain error) — the pure note model."""
from datetime import datetime, timedelta, timezone

import pytest

from notes.domain import commands as c
from notes.domain import errors
from notes.domain import events as e
from notes.domain import model as m

NOW = datetime(2026, 5, 1, 15, 0, tzinfo=timezone.utc)
T = "2026-05-01T15:00:00.000000Z"
CONTENT = {"session_date": "2026-05-01", "cpt_code": "90834"}


def drafted(kind=m.PROGRESS, role="clinician", supervisor=None):
    if kind == m.PROGRESS:
        return e.ProgressNoteDrafted("n1", "P-1", "C-A", role, "PsyD", supervisor, "2026-05-01", CONTENT, T)
    return e.PsychotherapyNoteDrafted("n1", "P-1", "C-A", role, "PsyD", supervisor, "2026-05-01",
                                      {"ciphertext": "x"}, [{"category": "summary_symptoms", "start": 0, "end": 3}], T)


def given(*events, kind=m.PROGRESS):
    return m.fold(m.Note("n1", kind), events)


def signed(kind=m.PROGRESS):
    cls = e.ProgressNoteSigned if kind == m.PROGRESS else e.PsychotherapyNoteSigned
    return cls("n1", 1, "C-A", T, False, None)


class TestWrite:
    def test_progress_note_drafted_on_session_day(self):
        cmd = c.WriteProgressNote("n1", "P-1", "C-A", "clinician", "PsyD", None, "2026-05-01", CONTENT, NOW)
        assert m.decide(given(), cmd) == [drafted()]

    def test_late_entry_is_flagged(self):
        late = {**CONTENT, "session_date": "2026-04-28", "late_entry_reason": "power cut at the clinic"}
        cmd = c.WriteProgressNote("n1", "P-1", "C-A", "clinician", "PsyD", None, "2026-04-28", late, NOW)
        events = m.decide(given(), cmd)
        assert events[1] == e.LateEntryFlagged("n1", "2026-04-28", T, 3)
        assert m.fold(given(), events).late_entry
        assert m.fold(given(), events).content["late_entry_reason"] == "power cut at the clinic"

    @pytest.mark.parametrize("reason", [None, "", "   "])
    def test_a_late_entry_without_a_reason_is_still_flagged_late(self, reason):
        late = {**CONTENT, "session_date": "2026-04-28", **({} if reason is None else {"late_entry_reason": reason})}
        cmd = c.WriteProgressNote("n1", "P-1", "C-A", "clinician", "PsyD", None, "2026-04-28", late, NOW)
        events = m.decide(given(), cmd)
        assert [type(ev) for ev in events] == [e.ProgressNoteDrafted, e.LateEntryFlagged]
        assert m.fold(given(), events).late_entry

    def test_a_same_day_note_needs_no_reason(self):
        cmd = c.WriteProgressNote("n1", "P-1", "C-A", "clinician", "PsyD", None, "2026-05-01", CONTENT, NOW)
        assert [type(ev) for ev in m.decide(given(), cmd)] == [e.ProgressNoteDrafted]

    def test_revising_a_late_entry_keeps_its_reason_and_its_session_date(self):
        late = {**CONTENT, "session_date": "2026-04-28", "late_entry_reason": "power cut"}
        state = given(*m.decide(given(), c.WriteProgressNote("n1", "P-1", "C-A", "clinician", "PsyD", None,
                                                             "2026-04-28", late, NOW)))
        with pytest.raises(errors.ValidationError, match="content.late_entry_reason"):
            m.decide(state, c.ReviseNote("n1", "C-A", NOW, {**late, "late_entry_reason": ""}))
        with pytest.raises(errors.ValidationError, match="content.session_date"):
            m.decide(state, c.ReviseNote("n1", "C-A", NOW, {**late, "session_date": "2026-04-27"}))
        [revised] = m.decide(state, c.ReviseNote("n1", "C-A", NOW, {**late, "symptoms": "better"}))
        assert revised.content["late_entry_reason"] == "power cut"

    def test_future_session_date_refused(self):
        cmd = c.WriteProgressNote("n1", "P-1", "C-A", "clinician", "PsyD", None, "2026-05-02", CONTENT, NOW)
        with pytest.raises(errors.ValidationError, match="session_date"):
            m.decide(given(), cmd)

    def test_trainee_needs_a_supervisor(self):
        cmd = c.WriteProgressNote("n1", "P-1", "T-1", "trainee", "MSW intern", None, "2026-05-01", CONTENT, NOW)
        with pytest.raises(errors.ValidationError, match="supervisor_id"):
            m.decide(given(), cmd)

    def test_writing_an_existing_note_refused(self):
        cmd = c.WriteProgressNote("n1", "P-1", "C-A", "clinician", "PsyD", None, "2026-05-01", CONTENT, NOW)
        with pytest.raises(errors.NoteExistsError):
            m.decide(given(drafted()), cmd)

    def test_psychotherapy_draft_carries_spans_not_text(self):
        spans = [{"category": "summary_symptoms", "start": 0, "end": 3}]
        cmd = c.WritePsychotherapyNote("n1", "P-1", "C-A", "clinician", "PsyD", None, "2026-05-01", spans, NOW)
        [ev] = m.decide(given(kind=m.PSYCHOTHERAPY), cmd)
        assert ev.content_in_psych_note == spans and ev.sealed == {}


class TestReviseAndSign:
    def test_revise_keeps_every_version(self):
        events = m.decide(given(drafted()), c.ReviseNote("n1", "C-A", NOW, {"cpt_code": "90837"}))
        assert events == [e.ProgressNoteRevised("n1", 2, {"cpt_code": "90837"}, "C-A", T)]
        assert m.fold(given(drafted()), events).revision == 2

    def test_only_the_author_revises(self):
        with pytest.raises(errors.NotAuthorError):
            m.decide(given(drafted()), c.ReviseNote("n1", "C-B", NOW, {"cpt_code": "90837"}))

    def test_sign_locks_the_note(self):
        state = given(drafted())
        events = m.decide(state, c.SignNote("n1", "C-A", NOW))
        assert events == [e.ProgressNoteSigned("n1", 1, "C-A", T, False, None)]
        locked = m.fold(state, events)
        with pytest.raises(errors.NoteSignedError, match="signed and locked"):
            m.decide(locked, c.ReviseNote("n1", "C-A", NOW, {"cpt_code": "90837"}))
        with pytest.raises(errors.NoteSignedError):
            m.decide(locked, c.SignNote("n1", "C-A", NOW))

    def test_psychotherapy_note_signed_event(self):
        state = given(drafted(m.PSYCHOTHERAPY), kind=m.PSYCHOTHERAPY)
        assert m.decide(state, c.SignNote("n1", "C-A", NOW))[0].type == "PsychotherapyNoteSigned"

    def test_missing_note(self):
        with pytest.raises(errors.NoteNotFoundError):
            m.decide(given(), c.SignNote("n1", "C-A", NOW))


class TestCosign:
    def trainee_signed(self):
        return given(drafted(role="trainee", supervisor="S-1"),
                     e.ProgressNoteSigned("n1", 1, "C-A", T, True, "S-1"))

    def test_supervisor_cosigns_a_trainee_note(self):
        state = self.trainee_signed()
        assert state.status == "awaiting_cosign"
        events = m.decide(state, c.CosignNote("n1", "S-1", NOW))
        assert events == [e.ProgressNoteCosigned("n1", "S-1", T)]
        assert m.fold(state, events).status == "signed"

    def test_only_the_named_supervisor(self):
        with pytest.raises(errors.CosignNotApplicableError):
            m.decide(self.trainee_signed(), c.CosignNote("n1", "S-2", NOW))

    def test_not_needed_for_a_licensed_author(self):
        with pytest.raises(errors.CosignNotApplicableError):
            m.decide(given(drafted(), signed()), c.CosignNote("n1", "S-1", NOW))

    def test_not_before_signing(self):
        with pytest.raises(errors.NoteNotSignedError):
            m.decide(given(drafted(role="trainee", supervisor="S-1")), c.CosignNote("n1", "S-1", NOW))


class TestAddendum:
    def test_addendum_after_signing(self):
        events = m.decide(given(drafted(), signed()), c.AddAddendum("n1", "a1", "C-A", NOW, "called PCP"))
        assert events == [e.AddendumAdded("n1", "a1", "C-A", T, "called PCP")]
        assert m.fold(given(drafted(), signed()), events).addenda[0].text == "called PCP"

    def test_addendum_before_signing_refused(self):
        with pytest.raises(errors.NoteNotSignedError):
            m.decide(given(drafted()), c.AddAddendum("n1", "a1", "C-A", NOW, "x"))


class TestAmendment:
    def requested(self):
        return e.AmendmentRequested("n1", "am1", "P-1", "correct employer", "wrong employer", T)

    def test_psychotherapy_notes_not_subject_to_164_526(self):
        state = given(drafted(m.PSYCHOTHERAPY), signed(m.PSYCHOTHERAPY), kind=m.PSYCHOTHERAPY)
        with pytest.raises(errors.AmendmentNotApplicableError, match=r"164\.526\(a\)\(2\)\(iii\).*164\.524"):
            m.decide(state, c.RequestAmendment("n1", "am1", "P-1", "x", "y", NOW))

    def test_request_by_the_patient(self):
        events = m.decide(given(drafted(), signed()),
                          c.RequestAmendment("n1", "am1", "P-1", "correct employer", "wrong employer", NOW))
        assert events == [self.requested()]

    def test_request_by_another_patient_refused(self):
        with pytest.raises(errors.ValidationError, match="patient_id"):
            m.decide(given(drafted(), signed()), c.RequestAmendment("n1", "am1", "P-2", "x", "y", NOW))

    def test_accept_adds_an_amended_version_linked_to_the_request(self):
        state = given(drafted(), signed(), self.requested())
        events = m.decide(state, c.AcceptAmendment("n1", "am1", "C-A", {"cpt_code": "90837"}, NOW))
        assert events == [e.AmendmentAccepted("n1", "am1", "C-A", T, 2),
                          e.ProgressNoteAmended("n1", "am1", 2, {"cpt_code": "90837"}, T)]
        after = m.fold(state, events)
        assert after.content == {"cpt_code": "90837"} and after.amendment("am1").amended_revision == 2

    def test_deny_on_a_164_526_a_2_ground_then_disagreement(self):
        state = given(drafted(), signed(), self.requested())
        denied = m.decide(state, c.DenyAmendment("n1", "am1", "C-A", "accurate_and_complete", "The note is accurate.", NOW))
        assert denied == [e.AmendmentDenied("n1", "am1", "accurate_and_complete", "45 CFR 164.526(a)(2)(iv)",
                                            "The note is accurate.", "C-A", T)]
        state = m.fold(state, denied)
        appended = m.decide(state, c.AppendDisagreement("n1", "am1", "I disagree.", NOW))
        assert appended == [e.DisagreementStatementAppended("n1", "am1", "I disagree.", T)]
        with pytest.raises(errors.AmendmentStateError):
            m.decide(m.fold(state, appended), c.AppendDisagreement("n1", "am1", "again", NOW))

    def test_deny_needs_a_known_ground_and_a_written_denial(self):
        state = given(drafted(), signed(), self.requested())
        with pytest.raises(errors.ValidationError, match="ground"):
            m.decide(state, c.DenyAmendment("n1", "am1", "C-A", "because", "text", NOW))
        with pytest.raises(errors.ValidationError, match="denial_statement"):
            m.decide(state, c.DenyAmendment("n1", "am1", "C-A", "accurate_and_complete", " ", NOW))

    def test_decided_once(self):
        state = given(drafted(), signed(), self.requested(),
                      e.AmendmentAccepted("n1", "am1", "C-A", T, 2))
        with pytest.raises(errors.AmendmentStateError):
            m.decide(state, c.DenyAmendment("n1", "am1", "C-A", "accurate_and_complete", "x", NOW))

    def test_disagreement_without_denial_refused(self):
        with pytest.raises(errors.AmendmentStateError):
            m.decide(given(drafted(), signed(), self.requested()), c.AppendDisagreement("n1", "am1", "x", NOW))


class TestAccessRequest:
    def received(self):
        return m.fold(m.AccessRequest("r1"), m.decide(m.AccessRequest("r1"),
                                                      c.ReceiveAccessRequest("r1", "P-1", "P-1", NOW)))

    def test_due_30_days_after_receipt(self):
        assert self.received().due_at == "2026-05-31T15:00:00.000000Z"

    def test_one_extension_with_a_written_reason(self):
        state = self.received()
        events = m.decide(state, c.ExtendAccessRequest("r1", "records off site", NOW + timedelta(days=20)))
        assert events[0].due_at == "2026-06-30T15:00:00.000000Z"
        with pytest.raises(errors.AccessRequestStateError, match="only one extension"):
            m.decide(m.fold(state, events), c.ExtendAccessRequest("r1", "again", NOW + timedelta(days=21)))
        with pytest.raises(errors.ValidationError, match="reason"):
            m.decide(state, c.ExtendAccessRequest("r1", "  ", NOW))

    def test_extension_after_the_deadline_refused(self):
        with pytest.raises(errors.AccessRequestStateError, match="first 30 days"):
            m.decide(self.received(), c.ExtendAccessRequest("r1", "late", NOW + timedelta(days=31)))

    def test_fulfilled_on_time_or_late(self):
        state = self.received()
        [ev] = m.decide(state, c.FulfilAccessRequest("r1", ["n1"], NOW + timedelta(days=31)))
        assert ev.on_time is False
        with pytest.raises(errors.AccessRequestStateError):
            m.decide(m.fold(state, [ev]), c.FulfilAccessRequest("r1", [], NOW))


class TestAddendumAuthor:
    def test_the_supervisor_on_the_note_may_add_one(self):
        state = given(drafted(role="trainee", supervisor="S-1"), signed())
        events = m.decide(state, c.AddAddendum("n1", "a1", "S-1", NOW, "reviewed"))
        assert events[0].author_id == "S-1"

    def test_anyone_else_is_refused(self):
        with pytest.raises(errors.NotAuthorError, match="author's supervisor"):
            m.decide(given(drafted(), signed()), c.AddAddendum("n1", "a1", "C-B", NOW, "intrusion"))
