"""NotesService: nameko RPC entrypoints that load a payload, call a handler and return a JSON-safe reply.

Every entrypoint raises only the errors listed in ``USER_ERRORS`` for bad input
or refused steps (nameko's RemoteError carries the class name as ``exc_type``).
Arguments carrying clinical text are marked ``sensitive_arguments`` so nameko
tooling that records call arguments (tracers, loggers) redacts them.
"""
from __future__ import annotations

from confide.eventstore.provider import EventStore
from confide.providers import DecisionKeyDir
from confide.rpc import rpc
from confide.timestamps import now_utc
from notes import handlers
from notes import schemas as s
from notes.dependencies import KeyringProvider
from notes.domain import errors

USER_ERRORS = (errors.NotesError,)


def hipaa_lint(text: str):
    from confide.hipaa.lint import lint

    return lint(text)


def hipaa_decide(case: dict):
    from confide.hipaa.engine import decide

    return decide(case)


class NotesService:
    name = "notes"

    store = EventStore()
    keyring = KeyringProvider()
    decision_key_dir = DecisionKeyDir()
    clock = staticmethod(now_utc)
    lint = staticmethod(hipaa_lint)
    engine = staticmethod(hipaa_decide)

    @rpc(expected_exceptions=USER_ERRORS, sensitive_arguments=("note.content",))
    def write_progress_note(self, note):
        """Draft a progress note. ``note``: {note_id?, patient_id, author{id, role, credentials},
        supervisor_id?, content{session_date, start_time, stop_time, modality, cpt_code, frequency,
        diagnosis_codes[], symptoms, functional_status, interventions, treatment_plan, prognosis,
        progress_to_date, medications[{name, dose, prescription, monitoring}], clinical_tests{phq9, gad7},
        risk_assessment{level, factors, plan}}} -> {note_id, kind, events[]}."""
        return handlers.write_progress_note(self.store, self.clock, s.load(s.WriteProgressNoteSchema, note))

    @rpc(expected_exceptions=USER_ERRORS, sensitive_arguments=("note.text",))
    def write_psychotherapy_note(self, note):
        """Draft a psychotherapy note (text sealed). ``note``: {note_id?, patient_id, author{...},
        supervisor_id?, session_date, text} -> {note_id, kind, events[], findings[{category, start, end, suggestion}]}."""
        payload = s.load(s.WritePsychotherapyNoteSchema, note)
        return handlers.write_psychotherapy_note(self.store, self.keyring, self.clock, self.lint, payload)

    @rpc(expected_exceptions=USER_ERRORS, sensitive_arguments=("content", "text"))
    def revise_note(self, note_id, revised_by, content=None, text=None):
        """Revise a draft: ``content`` (progress) or ``text`` (psychotherapy). Raises NoteSignedError."""
        payload = s.load(s.ReviseNoteSchema, {"note_id": note_id, "revised_by": revised_by,
                                              "content": content, "text": text})
        return handlers.revise_note(self.store, self.keyring, self.clock, self.lint, payload)

    @rpc(expected_exceptions=USER_ERRORS)
    def sign_note(self, note_id, signed_by):
        """Sign and lock a note -> {note_id, kind, events[]}. Raises NoteSignedError, NotAuthorError."""
        payload = s.load(s.SignNoteSchema, {"note_id": note_id, "signed_by": signed_by})
        return handlers.sign_note(self.store, self.clock, payload)

    @rpc(expected_exceptions=USER_ERRORS)
    def cosign_note(self, note_id, cosigned_by):
        """Supervisor co-signs a trainee's signed note. Raises CosignNotApplicableError."""
        payload = s.load(s.CosignNoteSchema, {"note_id": note_id, "cosigned_by": cosigned_by})
        return handlers.cosign_note(self.store, self.clock, payload)

    @rpc(expected_exceptions=USER_ERRORS, sensitive_arguments=("text",))
    def add_addendum(self, note_id, author_id, text, addendum_id=None):
        """Add a linked entry to a signed note -> {note_id, kind, events[], addendum_id}. Raises NoteNotSignedError."""
        body = {"note_id": note_id, "author_id": author_id, "text": text}
        payload = s.load(s.AddAddendumSchema, {**body, **({"addendum_id": addendum_id} if addendum_id else {})})
        return handlers.add_addendum(self.store, self.keyring, self.clock, self.lint, payload)

    @rpc(expected_exceptions=USER_ERRORS, sensitive_arguments=("requested_change", "reason"))
    def request_amendment(self, note_id, patient_id, requested_change, reason, amendment_id=None):
        """164.526(b) request -> {..., amendment_id}. Raises AmendmentNotApplicableError for psychotherapy notes."""
        body = {"note_id": note_id, "patient_id": patient_id, "requested_change": requested_change, "reason": reason}
        payload = s.load(s.RequestAmendmentSchema, {**body, **({"amendment_id": amendment_id} if amendment_id else {})})
        return handlers.request_amendment(self.store, self.clock, payload)

    @rpc(expected_exceptions=USER_ERRORS, sensitive_arguments=("content",))
    def accept_amendment(self, note_id, amendment_id, decided_by, content):
        """Accept: the amended record (full ``content``) becomes a new revision linked to the request."""
        payload = s.load(s.AcceptAmendmentSchema, {"note_id": note_id, "amendment_id": amendment_id,
                                                   "decided_by": decided_by, "content": content})
        return handlers.accept_amendment(self.store, self.clock, payload)

    @rpc(expected_exceptions=USER_ERRORS, sensitive_arguments=("denial_statement",))
    def deny_amendment(self, note_id, amendment_id, decided_by, ground, denial_statement):
        """Deny in writing; ``ground`` one of model.DENIAL_GROUNDS (164.526(a)(2))."""
        payload = s.load(s.DenyAmendmentSchema, {"note_id": note_id, "amendment_id": amendment_id,
                                                 "decided_by": decided_by, "ground": ground,
                                                 "denial_statement": denial_statement})
        return handlers.deny_amendment(self.store, self.clock, payload)

    @rpc(expected_exceptions=USER_ERRORS, sensitive_arguments=("statement",))
    def append_disagreement(self, note_id, amendment_id, statement):
        """Append the individual's statement of disagreement to a denied amendment (164.526(d)(1)(iii))."""
        payload = s.load(s.AppendDisagreementSchema, {"note_id": note_id, "amendment_id": amendment_id,
                                                      "statement": statement})
        return handlers.append_disagreement(self.store, self.clock, payload)

    @rpc(expected_exceptions=USER_ERRORS)
    def read_note(self, note_id, requester, purpose, presentation=None, exception_claimed=None, request_id=None):
        """Decide, record AccessDecided, then release. ``requester``: {id, role, org, ...facts};
        -> {decision{decision_id, decision, rule, citations, fields_released}, note{...}}. Raises AccessDeniedError."""
        payload = s.load(s.ReadNoteSchema, {"note_id": note_id, "requester": requester, "purpose": purpose,
                                            "presentation": presentation, "exception_claimed": exception_claimed,
                                            "request_id": request_id})
        return handlers.read_note(self.store, self.keyring, self.engine, self.clock, payload,
                                  key_dir=self.decision_key_dir)

    @rpc(expected_exceptions=USER_ERRORS)
    def list_notes(self, patient_id, requester, purpose, exception_claimed=None):
        """-> {patient_id, notes[{note_id, kind, session_date, status, ..., decision_id}], withheld}."""
        payload = s.load(s.ListNotesSchema, {"patient_id": patient_id, "requester": requester,
                                             "purpose": purpose, "exception_claimed": exception_claimed})
        return handlers.list_notes(self.store, self.engine, self.clock, payload, key_dir=self.decision_key_dir)

    @rpc(expected_exceptions=USER_ERRORS, sensitive_arguments=("text",))
    def lint_text(self, text):
        """-> {findings[{category, start, end, suggestion}]} (164.501 excluded content)."""
        return handlers.lint_text(self.lint, s.load(s.LintTextSchema, {"text": text}))

    @rpc(expected_exceptions=USER_ERRORS)
    def release_fields(self, decision_id, note_ids, request_id=None):
        """-> {decision_id, fields_released, notes[{note_id, kind, fields{...}, withheld[{field, reason}]}]}.
        Only a sealed decision made for ``request_id`` (the disclosure request), for the notes it
        names, as they stood when decided; ContentReleased recorded first. Raises AccessDeniedError."""
        payload = s.load(s.ReleaseFieldsSchema, {"decision_id": decision_id, "note_ids": note_ids,
                                                 "request_id": request_id})
        return handlers.release_fields(self.store, self.keyring, self.clock, payload,
                                       key_dir=self.decision_key_dir)

    @rpc(expected_exceptions=USER_ERRORS)
    def request_record_access(self, patient_id, requested_by, request_id=None):
        """164.524 request received -> {request_id, patient_id, received_at, due_at, extended, fulfilled_at}."""
        body = {"patient_id": patient_id, "requested_by": requested_by}
        payload = s.load(s.RequestRecordAccessSchema, {**body, **({"request_id": request_id} if request_id else {})})
        return handlers.request_record_access(self.store, self.clock, payload)

    @rpc(expected_exceptions=USER_ERRORS)
    def extend_record_access(self, request_id, reason):
        """The one 30-day extension with a written reason. Raises AccessRequestStateError."""
        payload = s.load(s.ExtendRecordAccessSchema, {"request_id": request_id, "reason": reason})
        return handlers.extend_record_access(self.store, self.clock, payload)

    @rpc(expected_exceptions=USER_ERRORS)
    def export_designated_record_set(self, request_id, requester):
        """Progress notes with addenda and amendments (never psychotherapy notes); fulfils the request."""
        payload = s.load(s.ExportDesignatedRecordSetSchema, {"request_id": request_id, "requester": requester})
        return handlers.export_designated_record_set(self.store, self.engine, self.clock, payload,
                                                     key_dir=self.decision_key_dir)
