"""NotesService: nameko RPC entrypoints that load a payload, call a handler and return a JSON-safe reply.

Every entrypoint raises only the errors listed in ``USER_ERRORS`` for bad input
or refused steps (nameko's RemoteError carries the class name as ``exc_type``).
Arguments carrying clinical text are marked ``sensitive_arguments`` so nameko
tooling that records call arguments (tracers, loggers) redacts them.

Psychotherapy text crosses the broker only in libsodium sealed boxes (:mod:`notes.wire`,
:mod:`confide.transport`): in as ``sealed_text`` to this service's transport key
(:meth:`NotesService.transport_public_key`), out as ``{"sealed": box}`` to the caller's
``reply_public_key``. A plaintext ``text`` for psychotherapy content is refused naming it.
"""
from __future__ import annotations

from confide import transport
from confide.eventstore.provider import EventStore
from confide.providers import DecisionKeyDir
from confide.rpc import rpc
from confide.timestamps import now_utc
from notes import handlers, wire
from notes import schemas as s
from notes.dependencies import KeyringProvider, TransportKeyProvider
from notes.domain import errors
from notes.domain import model as m

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
    transport_key = TransportKeyProvider()
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

    @rpc(expected_exceptions=USER_ERRORS)
    def transport_public_key(self):
        """-> base64 X25519 public key: seal psychotherapy text to it (``confide.transport.seal_for``)."""
        return transport.public_key_b64(self.transport_key)

    @rpc(expected_exceptions=USER_ERRORS, sensitive_arguments=("note.sealed_text", "note.text"))
    def write_psychotherapy_note(self, note):
        """Draft a psychotherapy note (text sealed at rest). ``note``: {note_id?, patient_id, author{...},
        supervisor_id?, session_date, sealed_text} -> {note_id, kind, events[], findings[{category, start, end,
        suggestion}]}. ``sealed_text``: sealed box to :meth:`transport_public_key`; a ``text`` field is refused."""
        payload = s.load(s.WritePsychotherapyNoteSchema, note)
        payload["text"] = wire.open_text(self.transport_key, payload.pop("sealed_text"))
        return handlers.write_psychotherapy_note(self.store, self.keyring, self.clock, self.lint, payload)

    @rpc(expected_exceptions=USER_ERRORS, sensitive_arguments=("content", "sealed_text", "text"))
    def revise_note(self, note_id, revised_by, content=None, sealed_text=None, text=None):
        """Revise a draft: ``content`` (progress) or ``sealed_text`` (psychotherapy; a plaintext ``text`` is
        refused). Raises NoteSignedError."""
        payload = s.load(s.ReviseNoteSchema, {"note_id": note_id, "revised_by": revised_by,
                                              "content": content, "sealed_text": sealed_text, "text": text})
        sealed = payload.pop("sealed_text", None)
        payload["text"] = wire.open_text(self.transport_key, sealed) if sealed is not None else None
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

    @rpc(expected_exceptions=USER_ERRORS, sensitive_arguments=("text", "sealed_text"))
    def add_addendum(self, note_id, author_id, text=None, addendum_id=None, sealed_text=None):
        """Add a linked entry to a signed note -> {note_id, kind, events[], addendum_id}. ``sealed_text`` (sealed
        box to :meth:`transport_public_key`) for any note; plain ``text`` only for a progress note's addendum
        (not psychotherapy-note content). Raises NoteNotSignedError."""
        body = {"note_id": note_id, "author_id": author_id, "text": text, "sealed_text": sealed_text}
        payload = s.load(s.AddAddendumSchema, {**body, **({"addendum_id": addendum_id} if addendum_id else {})})
        sealed = payload.pop("sealed_text", None)
        if sealed is not None:
            payload["text"] = wire.open_text(self.transport_key, sealed)
        elif handlers.load_note(self.store, payload["note_id"])[0].kind == m.PSYCHOTHERAPY:
            raise wire.refuse_plaintext("text")
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
    def read_note(self, note_id, requester, purpose, presentation=None, exception_claimed=None, request_id=None,
                  reply_public_key=None):
        """Decide, record AccessDecided, then release. ``requester``: {id, role, org, ...facts};
        -> {decision{decision_id, decision, rule, citations, fields_released}, note{...}}. Psychotherapy text and
        excerpts come back only as ``{"sealed": box}`` to ``reply_public_key`` (base64 X25519; required for them:
        without it ValidationError naming it, the decision recorded). Raises AccessDeniedError."""
        payload = s.load(s.ReadNoteSchema, {"note_id": note_id, "requester": requester, "purpose": purpose,
                                            "presentation": presentation, "exception_claimed": exception_claimed,
                                            "request_id": request_id, "reply_public_key": reply_public_key})
        return handlers.read_note(self.store, self.keyring, self.engine, self.clock, payload,
                                  key_dir=self.decision_key_dir)

    @rpc(expected_exceptions=USER_ERRORS)
    def list_notes(self, patient_id, requester, purpose, exception_claimed=None):
        """-> {patient_id, notes[{note_id, kind, session_date, status, ..., decision_id}], withheld}."""
        payload = s.load(s.ListNotesSchema, {"patient_id": patient_id, "requester": requester,
                                             "purpose": purpose, "exception_claimed": exception_claimed})
        return handlers.list_notes(self.store, self.engine, self.clock, payload, key_dir=self.decision_key_dir)

    @rpc(expected_exceptions=USER_ERRORS, sensitive_arguments=("sealed_text", "text"))
    def lint_text(self, sealed_text=None, text=None):
        """``sealed_text``: sealed box to :meth:`transport_public_key` (a plaintext ``text`` is refused)
        -> {findings[{category, start, end, suggestion}]} (164.501 excluded content)."""
        payload = s.load(s.LintTextSchema, {"sealed_text": sealed_text, "text": text})
        opened = wire.open_text(self.transport_key, payload["sealed_text"], min_len=0)
        return handlers.lint_text(self.lint, {"text": opened})

    @rpc(expected_exceptions=USER_ERRORS)
    def release_fields(self, decision_id, note_ids, request_id=None, reply_public_key=None):
        """-> {decision_id, fields_released, notes[{note_id, kind, fields{...}, withheld[{field, reason}]}]}.
        Only a sealed decision made for ``request_id`` (the disclosure request), for the notes it
        names, as they stood when decided; ContentReleased recorded first. Psychotherapy excerpts
        and text only as ``{"sealed": box}`` to ``reply_public_key`` (required for them). Raises AccessDeniedError."""
        payload = s.load(s.ReleaseFieldsSchema, {"decision_id": decision_id, "note_ids": note_ids,
                                                 "request_id": request_id, "reply_public_key": reply_public_key})
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
