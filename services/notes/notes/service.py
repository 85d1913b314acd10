"""NotesService: nameko RPC entrypoints that load a payload, call a handler and return a JSON-safe reply.

Who is asking is the call's verified principal (``self.identity``, :mod:`confide.identity.provider`),
never an argument: the author of a note, who signs, revises, co-signs, decides an amendment and the
requester of a read all come from it (45 CFR 164.312(a)(2)(i), (d); 164.508(a)(2)). A payload that
still names who acts (``author``, ``signed_by``, ``requester``, ...) is refused with
NotAuthorizedError naming the field. The roles each RPC accepts: services/notes/README.md.

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

from typing import Optional

from confide import config, transport
from confide.contracts.directory import member_as_of, patient_as_of, payer_as_of
from confide.eventstore.provider import EventStore
from confide.identity.assertions import Principal
from confide.identity.errors import NotAuthenticatedError, NotAuthorizedError
from confide.identity.provider import DirectoryKeys, Identity
from confide.identity.requester import decision_identity, requester_for
from confide.providers import DecisionKeyDir
from confide.rpc import rpc
from confide.timestamps import now_utc
from notes import handlers, views, wire
from notes import schemas as s
from notes.dependencies import KeyringProvider, TransportKeyProvider
from notes.domain import errors
from notes.domain import model as m

USER_ERRORS = (errors.NotesError, NotAuthenticatedError, NotAuthorizedError)

#: Who writes, revises and signs notes (the author is the caller).
WRITERS = ("clinician", "trainee", "supervisor")
#: Who may decide an amendment besides the note's author (164.526(d)-(f): the covered entity).
AMENDMENT_OFFICERS = ("privacy_officer",)
#: Who may extend a right-of-access deadline (164.524(b)(2)(iii)).
ACCESS_STAFF = ("privacy_officer", "release_of_information")
#: The requester facts the engine decides a read on (e.g. ``supervises_author``, 164.508(a)(2)(i)(B)):
#: the service establishes them; a read naming one is refused and recorded (:meth:`NotesService._no_actor_named`).
REQUESTER_FACTS = frozenset({"supervises_author", "in_ce_training_program", "supervised", "is_workforce",
                             "identity_verified", "is_originator"})
#: The only service that may ask for content under a disclosure decision or a 164.524 export.
DISCLOSURES = "disclosures"


def hipaa_lint(text: str):
    from confide.hipaa.lint import lint

    return lint(text)


def hipaa_decide(case: dict):
    from confide.hipaa.engine import decide

    return decide(case)


def author_role(principal: Principal) -> str:
    """The role a principal writes a note in. A trainee writes as a trainee even when holding other
    roles: the note then needs its supervisor's co-signature (fail toward oversight)."""
    for role in ("trainee", "clinician", "supervisor"):
        if role in principal.roles:
            return role
    raise NotAuthorizedError(f"{principal.subject} holds no role that writes notes")  # require() ran first


class NotesService:
    name = "notes"

    store = EventStore()
    identity = Identity()
    directory_keys = DirectoryKeys()  # directory facts only as the directory sealed them
    keyring = KeyringProvider()
    transport_key = TransportKeyProvider()
    decision_key_dir = DecisionKeyDir()
    clock = staticmethod(now_utc)
    lint = staticmethod(hipaa_lint)
    engine = staticmethod(hipaa_decide)

    # -- who is asking ---------------------------------------------------------------------

    def _acting(self, *roles: str, payload=None) -> Principal:
        """The verified principal holding one of ``roles``; ``payload`` ({argument name: value}) must not
        name who acts (refused naming the field, e.g. ``note.author``)."""
        principal = self.identity.require(*roles)
        self.identity.refuse_requester_in_payload(payload)
        return principal

    def _author(self, principal: Principal, supervisor_id: Optional[str]) -> dict:
        """``author{id, role, credentials}`` of a new note: the caller, credentials from the directory.
        A named supervisor must be an active supervisor who supervises the author in the directory."""
        member = member_as_of(self.directory_keys(self.store), principal.subject)
        if supervisor_id is not None:
            sup = member_as_of(self.directory_keys(self.store), supervisor_id)
            if sup is None or not sup.active or "supervisor" not in sup.roles \
                    or principal.subject not in sup.supervisees:
                raise errors.ValidationError(
                    f"supervisor_id: {supervisor_id} is not an active supervisor of {principal.subject} "
                    "in the directory", {"supervisor_id": ["not the author's supervisor"]})
        return {"id": principal.subject, "role": author_role(principal),
                "credentials": member.credentials if member else ""}

    def _new_note(self, schema, note) -> dict:
        """``note`` loaded with ``schema``, about a patient the directory has registered. A patient id
        that is not in its canonical form (a look-alike: ValidationError) or not registered
        (PatientNotRegisteredError) is refused with that error, nothing written, and the refusal is
        recorded (AccessAttemptRefused) like the gate's own: writing about a patient the practice does
        not have is an access attempt, not a typo."""
        try:
            payload = s.load(schema, note)
        except errors.ValidationError as exc:
            if "patient_id" in exc.fields:
                self.identity.refuse(f"patient_id: {'; '.join(map(str, exc.fields['patient_id']))}")
            raise
        if patient_as_of(self.directory_keys(self.store), payload["patient_id"]) is None:
            reason = f"patient_id: {payload['patient_id']} is not registered in the directory; nothing written"
            self.identity.refuse(reason)  # recorded; the caller gets the notes service's own error
            raise errors.PatientNotRegisteredError(reason)
        return payload

    def _no_actor_named(self, named: dict) -> Principal:
        """The verified principal of a read whose keyword arguments beyond its signature are ``named``.
        The RPC catches them (``**named``) so that one naming who asks (``requester``, ...) is refused
        through the gate, NotAuthorizedError recorded as AccessAttemptRefused, rather than by nameko's
        signature check (IncorrectSignature, unrecorded); any other is a ValidationError naming it."""
        principal = self.identity.principal()
        self.identity.refuse_requester_in_payload(named)
        claimed = sorted(set(named) & REQUESTER_FACTS)
        if claimed:  # a fact the engine decides on, claimed by the caller: an access attempt, recorded
            raise self.identity.refuse(f"{claimed[0]}: a requester's facts come from the assertion, the notes "
                                       "and the directory, never from the call")
        if named:
            field = sorted(named)[0]
            raise errors.ValidationError(f"{field}: unknown argument", {field: ["Unknown field."]})
        return principal

    def _requester(self, principal: Principal) -> dict:
        """The engine's requester for the caller (a payer decides as the role it is registered with)."""
        engine_role = None
        if "insurer" in principal.roles:
            payer = payer_as_of(self.directory_keys(self.store), principal.org)
            engine_role = payer.engine_role if payer else None
        return requester_for(principal, engine_role)

    def _note(self, note_id) -> m.Note:
        return handlers.load_note(self.store, s.load(s.SignNoteSchema, {"note_id": note_id})["note_id"])[0]

    def _note_patient(self, principal: Principal, note: m.Note) -> None:
        if principal.subject != note.patient_id:
            raise self.identity.refuse(f"{principal.subject} is not the patient of note {note.note_id}")

    # -- writing ---------------------------------------------------------------------------

    @rpc(expected_exceptions=USER_ERRORS, sensitive_arguments=("note.content",))
    def write_progress_note(self, note):
        """clinician, trainee, supervisor (the author is the caller). Draft a progress note. ``note``:
        {note_id?, patient_id, supervisor_id?, content{session_date, start_time, stop_time, modality,
        cpt_code, frequency, diagnosis_codes[], symptoms, functional_status, interventions, treatment_plan,
        prognosis, progress_to_date, medications[{name, dose, prescription, monitoring}],
        clinical_tests{phq9, gad7}, risk_assessment{level, factors, plan}}} -> {note_id, kind, events[]}.
        Raises PatientNotRegisteredError for a patient the directory has not registered."""
        principal = self._acting(*WRITERS, payload={"note": note})
        payload = self._new_note(s.WriteProgressNoteSchema, note)
        payload["author"] = self._author(principal, payload["supervisor_id"])
        return handlers.write_progress_note(self.store, self.clock, payload)

    @rpc(expected_exceptions=USER_ERRORS)
    def transport_public_key(self):
        """Anyone. -> base64 X25519 public key: seal psychotherapy text to it (``confide.transport.seal_for``)."""
        return transport.public_key_b64(self.transport_key)

    @rpc(expected_exceptions=USER_ERRORS, sensitive_arguments=("note.sealed_text", "note.text"))
    def write_psychotherapy_note(self, note):
        """clinician, trainee, supervisor (the author is the caller). Draft a psychotherapy note (text
        sealed at rest). ``note``: {note_id?, patient_id, supervisor_id?, session_date, sealed_text}
        -> {note_id, kind, events[], findings[{category, start, end, suggestion}]}. ``sealed_text``:
        sealed box to :meth:`transport_public_key`; a ``text`` field is refused."""
        principal = self._acting(*WRITERS, payload={"note": note})
        payload = self._new_note(s.WritePsychotherapyNoteSchema, note)
        payload["author"] = self._author(principal, payload["supervisor_id"])
        payload["text"] = wire.open_text(self.transport_key, payload.pop("sealed_text"))
        return handlers.write_psychotherapy_note(self.store, self.keyring, self.clock, self.lint, payload)

    @rpc(expected_exceptions=USER_ERRORS, sensitive_arguments=("note.sealed_text", "note.text"))
    def write_sud_counseling_note(self, note):
        """clinician, trainee, supervisor (the author is the caller) of a 42 CFR Part 2 program
        (``CONFIDE_PRACTICE_PART2_PROGRAM``). Draft a SUD counseling note (42 CFR 2.11 as amended in
        2024: Part 2's counterpart of psychotherapy notes), sealed at rest in its own stream
        ``sudCounselingNote-<id>``, apart from the chart, as a psychotherapy note is; reads and
        disclosures are decided with ``note_kind: sud_counseling`` (2.31(b): a consent naming them).
        ``note``: {note_id?, patient_id, supervisor_id?, session_date, sealed_text} -> {note_id, kind,
        events[], findings[...]}. Raises NotAPart2ProgramError (a ValidationError naming ``note_kind``)
        when the practice is not a Part 2 program, before the text is opened; PatientNotRegisteredError."""
        principal = self._acting(*WRITERS, payload={"note": note})
        part2_program = config.practice()["part2_program"]
        m.require_part2_program(part2_program)
        payload = self._new_note(s.WriteSudCounselingNoteSchema, note)
        payload["author"] = self._author(principal, payload["supervisor_id"])
        payload["text"] = wire.open_text(self.transport_key, payload.pop("sealed_text"))
        return handlers.write_sud_counseling_note(self.store, self.keyring, self.clock, self.lint, payload,
                                                  part2_program=part2_program)

    @rpc(expected_exceptions=USER_ERRORS, sensitive_arguments=("content", "sealed_text", "text"))
    def revise_note(self, note_id, content=None, sealed_text=None, text=None):
        """The note's author. Revise a draft: ``content`` (progress) or ``sealed_text`` (psychotherapy, SUD
        counseling; a plaintext ``text`` is refused). Raises NoteSignedError, NotAuthorError."""
        principal = self._acting(*WRITERS, payload={"content": content})
        payload = s.load(s.ReviseNoteSchema, {"note_id": note_id, "content": content, "sealed_text": sealed_text,
                                              "text": text})
        payload["revised_by"] = principal.subject
        sealed = payload.pop("sealed_text", None)
        payload["text"] = wire.open_text(self.transport_key, sealed) if sealed is not None else None
        return handlers.revise_note(self.store, self.keyring, self.clock, self.lint, payload)

    @rpc(expected_exceptions=USER_ERRORS)
    def sign_note(self, note_id):
        """The note's author. Sign and lock a note -> {note_id, kind, events[]}. Raises NoteSignedError,
        NotAuthorError."""
        principal = self._acting(*WRITERS)
        payload = s.load(s.SignNoteSchema, {"note_id": note_id})
        return handlers.sign_note(self.store, self.clock, {**payload, "signed_by": principal.subject})

    def _still_supervises(self, supervisor_id: str, state) -> None:
        """The supervisor named on a note acts on it only while the directory still links them to its
        author (a supervision that ended ends the rights it gave). Raises NotAuthorizedError (recorded)."""
        sup = member_as_of(self.directory_keys(self.store), supervisor_id)
        if sup is None or not sup.active or state.author_id not in sup.supervisees:
            raise self.identity.refuse(
                f"{supervisor_id} no longer supervises {state.author_id} in the directory; nothing written")

    @rpc(expected_exceptions=USER_ERRORS)
    def cosign_note(self, note_id):
        """The note's supervisor. Co-signs a trainee's signed note. Raises CosignNotApplicableError."""
        principal = self._acting("supervisor")
        payload = s.load(s.CosignNoteSchema, {"note_id": note_id})
        state = handlers.load_note(self.store, payload["note_id"])[0]
        if state.supervisor_id == principal.subject:
            self._still_supervises(principal.subject, state)
        return handlers.cosign_note(self.store, self.clock, {**payload, "cosigned_by": principal.subject})

    @rpc(expected_exceptions=USER_ERRORS, sensitive_arguments=("text", "sealed_text"))
    def add_addendum(self, note_id, text=None, addendum_id=None, sealed_text=None):
        """The note's author or the author's supervisor on the note. Add a linked entry to a signed note
        -> {note_id, kind, events[], addendum_id}. ``sealed_text`` (sealed box to
        :meth:`transport_public_key`) for any note; plain ``text`` only for a progress note's addendum
        (not psychotherapy- or SUD-counseling-note content). Anyone else: NotAuthorizedError, nothing
        opened or written.
        Raises NoteNotSignedError."""
        principal = self._acting(*WRITERS)
        body = {"note_id": note_id, "text": text, "sealed_text": sealed_text}
        payload = s.load(s.AddAddendumSchema, {**body, **({"addendum_id": addendum_id} if addendum_id else {})})
        state = handlers.load_note(self.store, payload["note_id"])[0]
        if principal.subject not in (state.author_id, state.supervisor_id):
            raise self.identity.refuse(
                f"{principal.subject} is neither the author of note {state.note_id} nor the author's supervisor on it")
        if principal.subject != state.author_id:
            self._still_supervises(principal.subject, state)
        payload["author_id"] = principal.subject
        sealed = payload.pop("sealed_text", None)
        if sealed is not None:
            payload["text"] = wire.open_text(self.transport_key, sealed)
        elif state.sealed:
            raise wire.refuse_plaintext("text")
        return handlers.add_addendum(self.store, self.keyring, self.clock, self.lint, payload)

    # -- amendment (45 CFR 164.526) ----------------------------------------------------------

    @rpc(expected_exceptions=USER_ERRORS, sensitive_arguments=("requested_change", "reason"))
    def request_amendment(self, note_id, requested_change, reason, amendment_id=None):
        """The note's patient. 164.526(b) request -> {..., amendment_id}. Raises AmendmentNotApplicableError
        for psychotherapy notes."""
        principal = self._acting("patient")
        self._note_patient(principal, self._note(note_id))
        body = {"note_id": note_id, "requested_change": requested_change, "reason": reason}
        payload = s.load(s.RequestAmendmentSchema, {**body, **({"amendment_id": amendment_id} if amendment_id else {})})
        return handlers.request_amendment(self.store, self.clock, {**payload, "patient_id": principal.subject})

    def _amendment_decider(self, note_id, content=None) -> Principal:
        principal = self._acting(*WRITERS, *AMENDMENT_OFFICERS, payload={"content": content})
        note = self._note(note_id)
        if principal.subject != note.author_id and not set(AMENDMENT_OFFICERS) & set(principal.roles):
            raise self.identity.refuse(
                f"{principal.subject} is neither the author of note {note.note_id} nor a privacy officer")
        return principal

    @rpc(expected_exceptions=USER_ERRORS, sensitive_arguments=("content",))
    def accept_amendment(self, note_id, amendment_id, content):
        """The note's author or a privacy officer. Accept: the amended record (full ``content``) becomes a
        new revision linked to the request."""
        principal = self._amendment_decider(note_id, content)
        payload = s.load(s.AcceptAmendmentSchema, {"note_id": note_id, "amendment_id": amendment_id,
                                                   "content": content})
        return handlers.accept_amendment(self.store, self.clock, {**payload, "decided_by": principal.subject})

    @rpc(expected_exceptions=USER_ERRORS, sensitive_arguments=("denial_statement",))
    def deny_amendment(self, note_id, amendment_id, ground, denial_statement):
        """The note's author or a privacy officer. Deny in writing; ``ground`` one of model.DENIAL_GROUNDS
        (164.526(a)(2))."""
        principal = self._amendment_decider(note_id)
        payload = s.load(s.DenyAmendmentSchema, {"note_id": note_id, "amendment_id": amendment_id,
                                                 "ground": ground, "denial_statement": denial_statement})
        return handlers.deny_amendment(self.store, self.clock, {**payload, "decided_by": principal.subject})

    @rpc(expected_exceptions=USER_ERRORS, sensitive_arguments=("statement",))
    def extend_amendment_deadline(self, note_id, amendment_id, statement):
        """privacy_officer. The one extension of an amendment request's deadline by 30 days, with a
        written statement of the reasons for the delay, given within the 60 days (164.526(b)(2)(ii))
        -> {..., amendment_id, due_at}. Raises AmendmentStateError (decided, already extended, or
        past the deadline), AmendmentNotApplicableError."""
        principal = self._acting(*AMENDMENT_OFFICERS)
        payload = s.load(s.ExtendAmendmentDeadlineSchema, {"note_id": note_id, "amendment_id": amendment_id,
                                                           "statement": statement})
        return handlers.extend_amendment_deadline(self.store, self.clock,
                                                  {**payload, "extended_by": principal.subject})

    @rpc(expected_exceptions=USER_ERRORS)
    def amendment_requests(self, open_only=True):
        """privacy_officer. Every amendment request (164.526) on file, metadata and deadlines only ->
        {as_of, amendments[{amendment_id, note_id, patient_id, author_id, session_date, status,
        requested_at, due_at, extended, decided_at, decided_by, ground, overdue, due_soon,
        days_left}]}: open ones first, soonest due first. The requested change, the reason and the
        note are read through :meth:`read_note` (decided and recorded)."""
        self._acting(*AMENDMENT_OFFICERS)
        payload = s.load(s.AmendmentRequestsSchema, {"open_only": open_only})
        return handlers.amendment_requests(self.store, self.clock, payload)

    @rpc(expected_exceptions=USER_ERRORS)
    def get_amendment_request(self, note_id, amendment_id):
        """privacy_officer. One amendment request as the patient made it and as it stands -> {note_id,
        patient_id, author_id, session_date, amendment{amendment_id, status, requested_change, reason,
        requested_at, due_at, extended, extension_statement, decided_by, decided_at, ground, citation,
        denial_statement, statement_of_disagreement, amended_revision}}. The individual's request is
        addressed to the practice (164.526(b)(1)); the note's content is not here: read it through
        :meth:`read_note`. Raises NoteNotFoundError, AmendmentNotFoundError."""
        self._acting(*AMENDMENT_OFFICERS)
        payload = s.load(s.AmendmentRefSchema, {"note_id": note_id, "amendment_id": amendment_id})
        return handlers.get_amendment_request(self.store, payload)

    @rpc(expected_exceptions=USER_ERRORS, sensitive_arguments=("statement",))
    def append_disagreement(self, note_id, amendment_id, statement):
        """The note's patient. Append the individual's statement of disagreement to a denied amendment
        (164.526(d)(1)(iii))."""
        principal = self._acting("patient")
        self._note_patient(principal, self._note(note_id))
        payload = s.load(s.AppendDisagreementSchema, {"note_id": note_id, "amendment_id": amendment_id,
                                                      "statement": statement})
        return handlers.append_disagreement(self.store, self.clock, payload)

    # -- reading ------------------------------------------------------------------------------

    @rpc(expected_exceptions=USER_ERRORS)
    def read_note(self, note_id, purpose, presentation=None, exception_claimed=None, request_id=None,
                  reply_public_key=None, **named):
        """Any verified principal; the engine decides for them. Decide, record AccessDecided (with
        ``decided_for``), then release -> {decision{decision_id, decision, rule, citations,
        fields_released}, note{...}}. Psychotherapy text and excerpts come back only as
        ``{"sealed": box}`` to ``reply_public_key`` (base64 X25519; required for them: without it
        ValidationError naming it, the decision recorded). A keyword naming who asks (``requester``, ...)
        or claiming a requester fact (``supervises_author``, ...: :data:`REQUESTER_FACTS`) is refused:
        NotAuthorizedError, recorded. Raises AccessDeniedError."""
        principal = self._no_actor_named(named)
        payload = s.load(s.ReadNoteSchema, {"note_id": note_id, "purpose": purpose,
                                            "presentation": presentation, "exception_claimed": exception_claimed,
                                            "request_id": request_id, "reply_public_key": reply_public_key})
        requester = {**self._requester(principal), **self._supervision_facts(principal, payload["note_id"])}
        payload.update(requester=requester, decided_for=decision_identity(principal))
        return handlers.read_note(self.store, self.keyring, self.engine, self.clock, payload,
                                  key_dir=self.decision_key_dir)

    # -- emergency ("break-the-glass") access ---------------------------------------------------

    @rpc(expected_exceptions=USER_ERRORS, sensitive_arguments=("reason",))
    def take_emergency_access(self, note_id, claim, reason, presentation=None, reply_public_key=None, **named):
        """clinician, trainee, supervisor (the requester is the caller). An emergency read of one note
        under ``claim`` (a key of ``model.EMERGENCY_CLAIMS``: the purpose and citation the engine is
        given) with a stated ``reason`` (10-2000 characters). The engine decides and AccessDecided is
        recorded as for :meth:`read_note`; EmergencyAccessTaken follows whatever the decision, queued
        for the privacy officer's review -> read_note's reply + ``emergency_access_id``. A keyword
        naming who asks is refused (NotAuthorizedError, recorded). Raises AccessDeniedError (a denial
        stays a denial; it is queued too), ValidationError, NoteNotFoundError."""
        principal = self._acting(*WRITERS, payload=named or None)
        if named:
            field = sorted(named)[0]
            raise errors.ValidationError(f"{field}: unknown argument", {field: ["Unknown field."]})
        payload = s.load(s.EmergencyAccessSchema, {"note_id": note_id, "claim": claim, "reason": reason,
                                                   "presentation": presentation,
                                                   "reply_public_key": reply_public_key})
        if not payload["reason"].strip():
            raise errors.ValidationError("reason: a stated reason is required", {"reason": ["required"]})
        payload.update(requester=self._requester(principal), decided_for=decision_identity(principal))
        return handlers.take_emergency_access(self.store, self.keyring, self.engine, self.clock, payload,
                                              key_dir=self.decision_key_dir)

    @rpc(expected_exceptions=USER_ERRORS)
    def emergency_access_queue(self, open_only=True):
        """privacy_officer. Every emergency access, oldest first -> {emergency_accesses[{decision_id,
        note_id, patient_id, note_kind, claim, exception_claimed, reason, decision, rule, taken_at,
        requester_id, requester_role, reviewed, review{outcome, comment, reviewed_by, reviewed_at}}]};
        with ``open_only`` only those not yet reviewed. No note content."""
        self._acting(*AMENDMENT_OFFICERS)
        return handlers.emergency_access_queue(self.store, s.load(s.EmergencyAccessQueueSchema,
                                                                  {"open_only": open_only}))

    @rpc(expected_exceptions=USER_ERRORS, sensitive_arguments=("comment",))
    def review_emergency_access(self, decision_id, outcome, comment):
        """privacy_officer (the reviewer is the caller, never the person who took the access). Record
        EmergencyAccessReviewed (``outcome`` one of EMERGENCY_REVIEW_OUTCOMES, a comment) -> the queue
        row, reviewed. Raises EmergencyAccessNotFoundError, EmergencyAccessStateError (already
        reviewed, or one's own access)."""
        principal = self._acting(*AMENDMENT_OFFICERS)
        payload = s.load(s.ReviewEmergencyAccessSchema, {"decision_id": decision_id, "outcome": outcome,
                                                         "comment": comment})
        return handlers.review_emergency_access(self.store, self.clock,
                                                {**payload, "reviewed_by": principal.subject})

    @rpc(expected_exceptions=USER_ERRORS)
    def list_notes(self, patient_id, purpose, exception_claimed=None, kinds=None, **named):
        """Any verified principal; each note (of ``kinds``: progress, psychotherapy, sud_counseling; default all)
        decided and recorded for them -> {patient_id, notes[{note_id, kind, session_date, status, ...,
        decision_id}]}: nothing about notes not listed.
        A keyword naming who asks (``requester``, ...) or claiming a requester fact (:data:`REQUESTER_FACTS`)
        is refused: NotAuthorizedError, recorded."""
        principal = self._no_actor_named(named)
        payload = s.load(s.ListNotesSchema, {"patient_id": patient_id, "purpose": purpose,
                                             "exception_claimed": exception_claimed, "kinds": kinds})
        payload.update(requester=self._requester(principal), decided_for=decision_identity(principal))
        return handlers.list_notes(self.store, self.engine, self.clock, payload, key_dir=self.decision_key_dir)

    @rpc(expected_exceptions=USER_ERRORS)
    def my_notes(self, **named):
        """clinician, trainee, supervisor: the notes the caller wrote (the author is the verified
        principal, never an argument) -> {author_id, notes[{note_id, kind, patient_id, author_id,
        session_date, status, revision, late_entry, supervisor_id, drafted_at, signed_at,
        cosign_required, cosigned_by, cosigned_at, awaiting_cosign, addenda}]}, newest session first.
        Metadata only (no content, no psychotherapy text): a note's content is read through
        :meth:`read_note`, decided and recorded. A keyword naming who asks (``author``, ...) is
        refused: NotAuthorizedError, recorded."""
        principal = self._acting(*WRITERS, payload=named)
        if named:
            field = sorted(named)[0]
            raise errors.ValidationError(f"{field}: unknown argument", {field: ["Unknown field."]})
        return handlers.my_notes(self.store, {"author_id": principal.subject})

    @rpc(expected_exceptions=USER_ERRORS, sensitive_arguments=("sealed_text", "text"))
    def lint_text(self, sealed_text=None, text=None):
        """clinician, trainee, supervisor. ``sealed_text``: sealed box to :meth:`transport_public_key`
        (a plaintext ``text`` is refused) -> {findings[{category, start, end, suggestion}]} (164.501
        excluded content)."""
        self._acting(*WRITERS)
        payload = s.load(s.LintTextSchema, {"sealed_text": sealed_text, "text": text})
        opened = wire.open_text(self.transport_key, payload["sealed_text"], min_len=0)
        return handlers.lint_text(self.lint, {"text": opened})

    # -- supervision (review queue, the supervisor's facts on a read) ---------------------------

    def _supervisees(self, principal: Principal) -> list[str]:
        """The trainees the directory links to ``principal`` as an active supervisor now (none when
        the member is inactive, not a supervisor, or the supervision ended)."""
        sup = member_as_of(self.directory_keys(self.store), principal.subject)
        if sup is None or not sup.active or "supervisor" not in sup.roles:
            return []
        return list(sup.supervisees)

    def _supervision_facts(self, principal: Principal, note_id: str) -> dict:
        """``{"supervises_author": True}`` when the caller is the supervisor named on the note and the
        directory still links them to its author (a fact of the note and the directory, never a claim
        of the caller; 164.508(a)(2)(i)(B): the practice's own supervised training), else ``{}``."""
        if "supervisor" not in principal.roles:
            return {}
        state = handlers.load_note(self.store, note_id)[0]
        if state.supervisor_id != principal.subject or state.author_id not in self._supervisees(principal):
            return {}
        return {"supervises_author": True}

    @rpc(expected_exceptions=USER_ERRORS)
    def review_queue(self):
        """supervisor (the caller). The signed notes awaiting the caller's co-signature, of the trainees
        the directory links to them now -> [{note_id, patient_id, kind, author, session_date,
        signed_at}] (metadata only, oldest signature first; no content, no decision). A supervision
        that ended, or an inactive supervisor, gives an empty list (its rights ended with it).
        Raises NotAuthenticatedError, NotAuthorizedError (not a supervisor)."""
        principal = self._acting("supervisor")
        return handlers.review_queue(self.store, principal.subject, self._supervisees(principal))

    # -- releases for the disclosures service ----------------------------------------------------

    def _for_disclosures(self, *roles: str) -> Principal:
        """The user principal of a call made by the disclosures service (its service assertion verified)."""
        self.identity.calling_service(DISCLOSURES)
        return self.identity.require(*roles) if roles else self.identity.principal()

    @rpc(expected_exceptions=USER_ERRORS)
    def release_fields(self, decision_id, note_ids, request_id=None, reply_public_key=None):
        """Only from the ``disclosures`` service, for the principal the decision was made for (its
        recorded requester id is the caller's subject; for a payer, its org); anyone else:
        NotAuthorizedError, nothing released. -> {decision_id, fields_released, notes[{note_id, kind,
        fields{...}, withheld[{field, reason}]}]}. Only a sealed decision made for ``request_id`` (the
        disclosure request), for the notes it names, as they stood when decided; ContentReleased
        recorded first. Psychotherapy excerpts and text only as ``{"sealed": box}`` to
        ``reply_public_key`` (required for them). Raises AccessDeniedError."""
        principal = self._for_disclosures()
        payload = s.load(s.ReleaseFieldsSchema, {"decision_id": decision_id, "note_ids": note_ids,
                                                 "request_id": request_id, "reply_public_key": reply_public_key})
        decision, recorded = views.load_decision_events(self.store, payload["decision_id"], self.decision_key_dir)
        # The decision's requester (a payer: its org), or whoever's verified call it was decided in
        # (staff who verified an outside party's request and now hand the records over).
        recipient = principal.org if "insurer" in principal.roles else principal.subject
        decided_for = (decision.get("decided_for") or {}).get("subject")
        if recipient not in {str((decision.get("requester") or {}).get("id")), decided_for}:
            raise self.identity.refuse(
                f"decision {payload['decision_id']} was not made for {recipient}; nothing released")
        payload["recipient"] = recipient
        return handlers.release_fields(self.store, self.keyring, self.clock, payload,
                                       key_dir=self.decision_key_dir, loaded=(decision, recorded))

    # -- right of access (45 CFR 164.524) --------------------------------------------------------

    @rpc(expected_exceptions=USER_ERRORS)
    def request_record_access(self, patient_id, request_id=None):
        """Only from the ``disclosures`` service, for the patient themself. 164.524 request received
        -> {request_id, patient_id, received_at, due_at, extended, fulfilled_at}."""
        principal = self._for_disclosures("patient")
        body = {"patient_id": patient_id, **({"request_id": request_id} if request_id else {})}
        payload = s.load(s.RequestRecordAccessSchema, body)
        if payload["patient_id"] != principal.subject:
            raise self.identity.refuse(f"{principal.subject} may request access only to their own record")
        return handlers.request_record_access(self.store, self.clock, {**payload, "requested_by": principal.subject})

    @rpc(expected_exceptions=USER_ERRORS)
    def extend_record_access(self, request_id, reason):
        """privacy_officer, release_of_information. The one 30-day extension with a written reason.
        Raises AccessRequestStateError."""
        self._acting(*ACCESS_STAFF)
        payload = s.load(s.ExtendRecordAccessSchema, {"request_id": request_id, "reason": reason})
        return handlers.extend_record_access(self.store, self.clock, payload)

    @rpc(expected_exceptions=USER_ERRORS)
    def export_designated_record_set(self, request_id):
        """Only from the ``disclosures`` service, for the request's patient. Progress notes with addenda
        and amendments (never psychotherapy notes); each decided and recorded; fulfils the request."""
        principal = self._for_disclosures("patient")
        payload = s.load(s.ExportDesignatedRecordSetSchema, {"request_id": request_id})
        request = handlers.load_request(self.store, payload["request_id"])
        if request.exists and request.patient_id != principal.subject:
            raise self.identity.refuse(
                f"{principal.subject} is not the patient of access request {request.request_id}")
        payload.update(requester=self._requester(principal), decided_for=decision_identity(principal))
        return handlers.export_designated_record_set(self.store, self.engine, self.clock, payload,
                                                     key_dir=self.decision_key_dir)
