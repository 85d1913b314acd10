"""DisclosuresService: nameko RPC entrypoints that only translate (schema → command → handler → reply).

Every reply is a JSON-safe dict. User errors (listed in ``expected_exceptions``)
reach callers as nameko RemoteErrors with the domain error's class name as
``exc_type``; InvalidRequestError carries (message, field, messages) in ``exc_args``.

Who is asking is the call's verified identity (``confide.identity``: ``self.identity``), never a
payload member: one naming who acts (``requester``, ``requested_by``, ``verified_by``,
``revoked_by``, ...) is refused with NotAuthorizedError naming it, and the refusal is recorded
(``AccessAttemptRefused``). The engine's requester is ``requester_for(principal, payer engine role)``
(164.312(d), 164.514(h)); every decision records ``decided_for`` = ``decision_identity(principal)``.
This service's own credential (``ServiceCredential``) rides on its calls to the notes service, with
the caller's assertion, so the notes service can tell the call comes from ``disclosures`` for whom.
A patient id the directory has not registered is refused before anything is written.

``reply_public_key`` (optional, every call that can release content): the caller's ephemeral
X25519 public key (base64), forwarded to ``notes.release_fields``; psychotherapy text and excerpts
come back as ``{"sealed": box}`` to it and this service passes them on unopened. Without it a
release of psychotherapy content is refused by the notes service.
"""
from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Optional

from nameko.extensions import DependencyProvider
from nameko.timer import Timer

from confide import config, validation
from confide.contracts.directory import (
    AccessAttemptRefused,
    ReadAhead,
    access_attempt_stream,
    patient_as_of,
    patient_stream,
    payer_as_of,
    payer_stream,
)
from confide.envelope import NewEvent
from confide.eventstore.errors import WrongExpectedVersionError
from confide.eventstore.provider import EventStore
from confide.identity.assertions import Principal
from confide.identity.errors import NotAuthenticatedError, NotAuthorizedError
from confide.identity.ids import InvalidIdentifierError, normalise_id
from confide.identity.provider import DirectoryKeys, DisclosureKeys, Identity, ServiceCredential
from confide.identity.requester import decision_identity, requester_for
from confide.providers import Clock, DecisionKeyDir
from confide.rpc import RpcProxy, rpc
from confide.timestamps import format_ts
from disclosures import handlers, schemas
from disclosures.domain import commands, errors

log = logging.getLogger(__name__)

USER_ERRORS = (
    errors.DisclosuresError,
    NotAuthenticatedError,
    NotAuthorizedError,
)

#: Staff who handle requests and authorizations: they may record an outside party's request
#: (held until they verify it), verify requesters, see any request, and keep authorizations.
REQUEST_STAFF = ("release_of_information", "front_desk", "privacy_officer")
#: Members naming who acts that a payload may never carry (beyond the gate's REQUESTER_KEYS):
#: the service takes each from the verified identity.
ACTOR_FIELDS = ("requester", "requested_by", "verified_by", "revoked_by", "recorded_by", "decided_by", "amended_by")


#: 164.524(c): a patient has a copy of their record as often as they reasonably ask for it, but each
#: copy decides and records every note anew (AccessDecided, hash-chained, kept for six years): a
#: portal refreshed in a loop wrote without bound. At most this many copies per patient ...
COPIES_PER_WINDOW = 30
#: ... in any window this long; past it TooManyCopiesError, nothing recorded.
COPY_WINDOW = timedelta(seconds=60)


def copies_per_replica(replicas: int) -> int:
    """Each instance's share of ``COPIES_PER_WINDOW`` when ``replicas`` instances of this service run
    (``CONFIDE_REPLICAS``): the broker hands a patient's calls to any of them, so each counts its own
    and grants at most its share, and together they never grant more than the budget (fail closed: a
    patient whose calls all land on one instance is refused sooner, never later). At least 1."""
    return max(1, COPIES_PER_WINDOW // max(1, replicas))


class CopyBudget:
    """How many copies of their record each patient was given in the last ``COPY_WINDOW`` by this
    instance; ``limit`` per patient (:func:`copies_per_replica` of the replicas running)."""

    def __init__(self, limit: int | None = None) -> None:
        self._given: dict[str, list] = {}
        self._lock = threading.Lock()
        self.limit = limit

    def take(self, patient_id: str, now) -> bool:
        """Count one copy for ``patient_id`` at ``now`` and say True, or False (nothing counted) when
        the patient already had this instance's share of ``COPIES_PER_WINDOW`` in the window. Raises
        ValueError when ``CONFIDE_REPLICAS`` is not a number from 1 to 16 (nothing counted)."""
        limit = self.limit if self.limit is not None else copies_per_replica(config.replicas())
        with self._lock:
            if len(self._given) > 10_000:  # forget patients with no copy in the window
                self._given = {p: t for p, t in self._given.items() if t and now - t[-1] < COPY_WINDOW}
            recent = [t for t in self._given.get(patient_id, []) if now - t < COPY_WINDOW]
            given = len(recent) < limit
            if given:
                recent.append(now)
            self._given[patient_id] = recent
            return given


_COPIES = CopyBudget()


#: Config keys of the process manager (``resume_unfinished``): how often it looks for requests a fault
#: left half-way (seconds; 0 turns it off, as the integration tests' shared schema does), and how long
#: a request must have been still before it is taken over (a call still carrying it on must not lose
#: its append to the process manager: longer than any call takes, the gateway's 30 s included).
RESUME_INTERVAL_KEY, RESUME_INTERVAL = "DISCLOSURES_RESUME_INTERVAL", 10.0
RESUME_AFTER_KEY, RESUME_AFTER = "DISCLOSURES_RESUME_AFTER", 35.0


class ResumeTimer(Timer):
    """nameko's timer, firing at start and every ``DISCLOSURES_RESUME_INTERVAL`` seconds of the
    container's config (never when it is 0)."""

    def setup(self):
        self.interval = float(self.container.config.get(RESUME_INTERVAL_KEY, RESUME_INTERVAL))

    def start(self):
        if self.interval > 0:
            super().start()

    def stop(self):
        if self.gt is not None:
            super().stop()

    def kill(self):
        if self.gt is not None:
            super().kill()


class Unfinished(DependencyProvider):
    """This container's :class:`handlers.UnfinishedRequests` and its ``DISCLOSURES_RESUME_AFTER``."""

    def setup(self):
        self.requests = handlers.UnfinishedRequests()
        self.resting: set[str] = set()  # decided, waiting for their requester or staff: not looked at again
        self.after = timedelta(seconds=float(self.container.config.get(RESUME_AFTER_KEY, RESUME_AFTER)))

    def get_dependency(self, worker_ctx):
        return self


def load(schema, payload) -> dict:
    """Validate ``payload`` fully; raise InvalidRequestError naming the first bad field."""
    try:
        return validation.load(schema, payload or {})
    except validation.PayloadError as exc:
        raise errors.InvalidRequestError(f"invalid field {exc.field}", exc.field, exc.messages) from None


def _case_errors(call):
    # The engine and authorization_defects raise CaseFileError (a ValueError with .field).
    try:
        return call()
    except ValueError as exc:
        if hasattr(exc, "field"):
            raise errors.InvalidRequestError(str(exc), exc.field) from None
        raise


class DisclosuresService:
    """Disclosure requests, authorizations and the accounting of disclosures."""

    name = "disclosures"

    raw_store = EventStore()
    clock = Clock()
    notes = RpcProxy("notes")
    decision_key_dir = DecisionKeyDir()
    identity = Identity()
    directory_keys = DirectoryKeys()  # directory facts only as the directory sealed them
    disclosure_keys = DisclosureKeys(sign=True)  # its own requests and authorizations, sealed by it
    credential = ServiceCredential()  # notes.release_fields accepts calls from `disclosures` only
    unfinished = Unfinished()

    @property
    def store(self):
        """The event store as this service sees it: directory facts only as the directory sealed them,
        requests and authorizations only as this service sealed them (a forged one does not exist),
        and what it records there sealed with ``service-keys/disclosures.key``
        (confide.identity.directory_seal)."""
        return self.disclosure_keys(self.directory_keys(self.raw_store))

    # -- who is asking ---------------------------------------------------------------------

    def _refuse(self, principal: Optional[Principal], reason: str) -> NotAuthorizedError:
        """Record AccessAttemptRefused (no content) and return the NotAuthorizedError to raise."""
        at = format_ts(self.clock())
        event = AccessAttemptRefused(service=self.name, method=self.identity.method, reason=reason, at=at,
                                     subject=principal.subject if principal else None,
                                     session_id=principal.session_id if principal else None)
        try:
            self.store.append(access_attempt_stream(at), [NewEvent(event.type, event.to_data(), event_id=uuid.uuid4())])
        except Exception:  # a store failure is logged, never turned into a permit
            log.exception("could not record AccessAttemptRefused for %s.%s", self.name, self.identity.method)
        log.warning("refused %s.%s: %s", self.name, self.identity.method, reason)
        return NotAuthorizedError(reason)

    def _no_actor_named(self, principal: Principal, payload: Any, named: Optional[Mapping] = None) -> None:
        """Refuse a payload (or keyword arguments) naming who acts: that comes from the identity alone."""
        self.identity.refuse_requester_in_payload(payload)
        for where in (payload, named or {}):
            if isinstance(where, Mapping):
                for field in ACTOR_FIELDS:
                    if field in where:
                        raise self._refuse(principal, f"payload names who acts ({field}); who is asking "
                                                      "comes from the assertion")

    def _requester(self, principal: Principal, reader=None) -> dict:
        """The engine's requester for the principal; an insurer's role is the one its payer is registered
        with (read through ``reader``, default the store)."""
        engine_role = None
        if "insurer" in principal.roles:
            payer = payer_as_of(reader if reader is not None else self.store, principal.org)
            engine_role = payer.engine_role if payer is not None else None
        return requester_for(principal, engine_role)

    def _read_ahead(self, principal: Principal, patient_id: Any):
        """The store with the caller's payer stream (an insurer's) and the patient's stream read in one
        query (:class:`ReadAhead`), for ``_requester`` and ``_patient`` of the same call; the store
        itself when the patient id is not canonical (``_patient`` refuses it, reading nothing)."""
        try:
            canonical = normalise_id(patient_id, "patient_id")
        except InvalidIdentifierError:
            return self.store
        names = [patient_stream(canonical)]
        if "insurer" in principal.roles:
            names.append(payer_stream(principal.org))
        return ReadAhead(self.store, names)

    def _patient(self, patient_id: Any, field: str = "patient_id", reader=None) -> str:
        """The canonical id of a patient the directory has registered. Raises InvalidRequestError
        naming ``field`` (a look-alike or unregistered id); nothing is written before this but the
        refusal, recorded as AccessAttemptRefused (asking about a patient the practice does not have
        is an access attempt)."""
        try:
            canonical = normalise_id(patient_id, field)
        except InvalidIdentifierError as exc:
            self.identity.refuse(f"{field}: {exc.reason}")  # recorded; the caller gets InvalidRequestError
            raise errors.InvalidRequestError(f"invalid field {field}: {exc.reason}", field,
                                             {field: [exc.reason]}) from None
        if patient_as_of(reader if reader is not None else self.store, canonical) is None:
            self.identity.refuse(f"{field}: no patient registered with id {canonical}")
            raise errors.InvalidRequestError(f"{field}: no patient registered with that id", field,
                                             {field: ["no patient registered with that id"]})
        return canonical

    def _establishes_facts(self, principal: Principal) -> None:
        """Only request staff establish a request's case facts: a law compelling the disclosure, a
        judge's order naming psychotherapy notes, a Part 2 consent received are what
        release-of-information staff establish from the paper itself. A clinician or a payer asking
        for themselves would otherwise choose the facts that release a note (164.508(a)(2)(ii),
        164.512(a)(1), (e)(1)(i); 42 CFR 2.31(b)). Raises NotAuthorizedError (recorded) for anyone else."""
        if not set(principal.roles) & set(REQUEST_STAFF):
            raise self.identity.refuse("facts: only release-of-information staff establish a request's "
                                       "case facts (legal process, a law compelling it); ask without them")

    def _receives(self, principal: Principal, request: dict) -> bool:
        """May content released under this request reach ``principal``? The requester itself (a payer:
        its org) for a request it made; request staff for an outside party's request they recorded."""
        if request.get("recorded_by") is not None:
            return bool(set(principal.roles) & set(REQUEST_STAFF))
        requester = request.get("requester") or {}
        if requester.get("id") == principal.subject:
            return True
        return "insurer" in principal.roles and requester.get("org") == principal.org

    def _sees(self, principal: Principal, request: dict) -> bool:
        """Request staff see every request; anyone else only their own (a payer: its org's)."""
        return bool(set(principal.roles) & set(REQUEST_STAFF)) or self._receives(principal, request)

    def _visible_request(self, principal: Principal, request_id: str):
        """The request's state if ``principal`` may see it, else DisclosureRequestNotFoundError (as for none)."""
        state = handlers.load_request(self.store, request_id)
        if not self._sees(principal, state.request):
            raise errors.DisclosureRequestNotFoundError(f"disclosure request {request_id} not found")
        return state

    def _copy_budget(self, patient_id: str) -> None:
        """Raise TooManyCopiesError when ``patient_id`` had ``COPIES_PER_WINDOW`` copies of their record
        in the last ``COPY_WINDOW`` (164.524(c); see ``COPIES_PER_WINDOW``); before anything is decided."""
        if not _COPIES.take(patient_id, self.clock()):
            log.warning("copy of the record refused: more than %d in %s for one patient", COPIES_PER_WINDOW,
                        COPY_WINDOW)
            raise errors.TooManyCopiesError(
                f"you have asked for your record {COPIES_PER_WINDOW} times in the last "
                f"{int(COPY_WINDOW.total_seconds())} seconds; please try again in a minute")

    # -- disclosure requests --------------------------------------------------------------

    @rpc(expected_exceptions=USER_ERRORS)
    def request_disclosure(self, payload, reply_public_key=None):
        """Record and process a disclosure request made by the caller (the verified principal).

        payload: {"patient_id": "P-001", "purpose": "payment", "note_kind": "progress",
        "date_from": "2026-01-01", "date_to": "2026-03-31"}; release-of-information, front-desk and
        privacy-officer staff may add ``external_requester`` {"role", "id", "org", ...facts} to record a
        request an outside party made (held under 164.514(h) until ``verify_requester``).
        → {"request_id", "status": requested|on_hold|decided|released|refused, "decision": {...},
        "release": {"note_ids", "fields_released"}, "refusal": {"reason", "rule"}, "content": [...]}
        An optional ``request_id`` (UUID) already on file raises DisclosureRequestExistsError.
        With ``external_requester``, ``await_release: true`` keeps a permitted request ``decided``
        (decision and fields on file, nothing sent) until staff release it with ``resume_request``.
        ``facts`` (case facts such as ``legal_process``, ``mandate``) are established by request staff
        only: from anyone else they raise NotAuthorizedError (recorded), nothing else written.
        ``facts.legal_process`` (court order, subpoena) is structured (``schemas.LegalProcessSchema``:
        ``type``, ``covers`` [note kinds it names], ...); the request's ``note_kind`` must be one it
        covers and its ``date_from``/``date_to`` are the dates it covers (InvalidRequestError otherwise).
        """
        principal = self.identity.principal()
        self._no_actor_named(principal, payload)
        data = load(schemas.RequestDisclosureSchema(), payload)
        external = data.pop("external_requester", None)
        ahead = None  # the payer and the patient, read in one query (_read_ahead)
        if external is not None:
            principal = self.identity.require(*REQUEST_STAFF)
            requester, recorded_by = dict(external), principal.subject
        else:
            if data.get("await_release"):
                raise errors.InvalidRequestError("await_release: only staff recording an outside party's "
                                                 "request release it themselves", "await_release",
                                                 {"await_release": ["only with external_requester"]})
            if data.get("facts"):
                self._establishes_facts(principal)
            ahead = self._read_ahead(principal, data["patient_id"])
            requester, recorded_by = self._requester(principal, ahead), None
        data["patient_id"] = self._patient(data["patient_id"], reader=ahead)
        data["request_id"] = str(data["request_id"]) if data.get("request_id") else None
        identity = decision_identity(principal)
        cmd = commands.RequestDisclosure(requester=requester, recorded_by=recorded_by, received_from=identity, **data)
        notes = handlers.with_reply_key(self.notes, reply_public_key)
        return _case_errors(lambda: handlers.request_disclosure(
            cmd, self.store, self.clock, notes, key_dir=self.decision_key_dir, decided_for=identity))

    @rpc(expected_exceptions=USER_ERRORS)
    def list_requests(self, state=None, limit=100):
        """The disclosure request queue, newest first, for request staff (release of information,
        front desk, privacy officer; NotAuthorizedError for anyone else, recorded): metadata only
        (request id, received at, requester, patient, purpose, note kind, dates, state, the rule of
        its hold, decision or refusal), never content. ``state``: one of requested, on_hold,
        verified, decided, released, refused (InvalidRequestError naming ``state`` otherwise);
        ``limit`` 1..500 (InvalidRequestError naming ``limit``)."""
        self.identity.require(*REQUEST_STAFF)
        if state is not None and state not in handlers.REQUEST_STATES:
            raise errors.InvalidRequestError("invalid field state", "state", {"state": ["unknown state"]})
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 500:
            raise errors.InvalidRequestError("invalid field limit", "limit", {"limit": ["an integer 1..500"]})
        return handlers.list_requests(self.store, state=state, limit=limit)

    @rpc(expected_exceptions=USER_ERRORS)
    def verify_requester(self, payload, reply_public_key=None):
        """Release a held request once identity/authority is verified (164.514(h)); request staff only,
        the verifier being the caller.

        payload: {"request_id": "...", "method": "photo id"} → request view.
        """
        principal = self.identity.require(*REQUEST_STAFF)
        self._no_actor_named(principal, payload)
        data = load(schemas.VerifyRequesterSchema(), payload)
        cmd = commands.VerifyRequester(verified_by=principal.subject, **data)
        notes = handlers.with_reply_key(self.notes, reply_public_key)
        return _case_errors(lambda: handlers.verify_requester(
            cmd, self.store, self.clock, notes, key_dir=self.decision_key_dir,
            decided_for=decision_identity(principal)))

    @rpc(expected_exceptions=USER_ERRORS)
    def amend_disclosure_facts(self, payload, reply_public_key=None):
        """Amend the case facts of a held request and decide it again (request staff only; the staff
        member is the caller, recorded as ``amended_by``; anyone else: NotAuthorizedError, recorded,
        nothing written). ``DisclosureFactsAmended`` (who, when, which fields) is recorded, then the
        request is carried on as ``verify_requester`` carries it: held again under 164.514(h)(1) while
        its requester is unverified, else decided with the rule cited, released or refused.

        payload: {"request_id": "...", "facts": {"legal_process": {"type": "court_order",
        "signed_by_judge": true, "covers": ["progress"]}}, "authorization_id": "AUTH-9"?,
        "amendment_id": "<uuid>"?, "reason": "legal_process_received"?} → request view (+ ``content``
        when released). Facts are checked against the case-file JSON Schema: InvalidRequestError naming
        the field (``facts.legal_process.signed_by_judge``), also for a fact staff cannot amend (the
        notes' author or content, the practice's state, the requester) or legal process not naming
        the request's note kind. Raises InvalidTransitionError (not on hold),
        DisclosureRequestNotFoundError. A redelivery (same ``amendment_id``, or the same facts) appends
        nothing and returns the request as it stands.
        """
        principal = self.identity.principal()
        self._establishes_facts(principal)
        self._no_actor_named(principal, payload)
        data = load(schemas.AmendDisclosureFactsSchema(), payload)
        data["amendment_id"] = str(data["amendment_id"]) if data.get("amendment_id") else None
        cmd = commands.AmendDisclosureFacts(amended_by=principal.subject, **data)
        notes = handlers.with_reply_key(self.notes, reply_public_key)
        return _case_errors(lambda: handlers.amend_disclosure_facts(
            cmd, self.store, self.clock, notes, key_dir=self.decision_key_dir,
            decided_for=decision_identity(principal)))

    @rpc(expected_exceptions=USER_ERRORS)
    def get_disclosure_request(self, request_id, include_content=False, reply_public_key=None):
        """The request view, for request staff or the request's own requester (a payer: its org; a
        patient: their own); anyone else gets DisclosureRequestNotFoundError, as for no request.
        ``include_content`` re-fetches released fields under the recorded decision (a re-delivery),
        only for whom the content was released (NotAuthorizedError otherwise); a patient's copy of their
        record within ``COPIES_PER_WINDOW`` per ``COPY_WINDOW`` (TooManyCopiesError past it)."""
        principal = self.identity.principal()
        request_id = str(request_id)
        state = self._visible_request(principal, request_id)
        if include_content and not self._receives(principal, state.request):
            raise self._refuse(principal, f"content of request {request_id} is re-delivered only to its requester")
        if include_content and state.status == "released" and state.request.get("purpose") == "individual_access":
            self._copy_budget(state.request["patient_id"])  # a new copy decides and records every note
        notes = handlers.with_reply_key(self.notes, reply_public_key) if include_content else None
        return handlers.get_disclosure_request(request_id, self.store, notes=notes, clock=self.clock,
                                               visible=lambda request: self._sees(principal, request))

    @rpc(expected_exceptions=USER_ERRORS)
    def resume_request(self, request_id, reply_public_key=None):
        """Carry on a request left ``requested``/``verified``/``decided`` (a crash, or the notes service
        unavailable) → request view; for whom its content is released (its requester; staff for an
        outside party's request). Raises InvalidTransitionError for one on hold or finished."""
        principal = self.identity.principal()
        request_id = str(request_id)
        state = self._visible_request(principal, request_id)
        if not self._receives(principal, state.request):
            raise self._refuse(principal, f"request {request_id} is carried on only by its requester")
        notes = handlers.with_reply_key(self.notes, reply_public_key)
        return _case_errors(lambda: handlers.resume_request(
            request_id, self.store, self.clock, notes, key_dir=self.decision_key_dir,
            decided_for=decision_identity(principal)))

    @ResumeTimer.decorator(interval=RESUME_INTERVAL, eager=True)
    def resume_unfinished(self):
        """The process manager (no caller: it acts as this service): at start and every
        ``DISCLOSURES_RESUME_INTERVAL`` seconds, carry every request a fault left between states and
        still for ``DISCLOSURES_RESUME_AFTER`` as far as this service may by itself
        (``handlers.finish_request``): placed on hold, refused, released when nothing leaves, or decided
        with its AccessDecided recorded. A permitted release of notes waits for its requester's own
        call (``resume_request``; the gateway's GET or retried POST): content goes only to whom the
        decision was made for, never to this service. Held requests and ``await_release`` ones are at
        rest (staff act on them). → {request_id: outcome} of what it touched (ids only, no content)."""
        now = self.clock()
        outcomes = {}
        for state, last in self.unfinished.requests.scan(self.store, self.raw_store):
            if now - last < self.unfinished.after or state.status == "on_hold":
                continue
            if state.request_id in self.unfinished.resting:
                continue
            try:
                outcome = handlers.finish_request(state.request_id, self.store, self.clock,
                                                  key_dir=self.decision_key_dir)
            except WrongExpectedVersionError:  # another instance, or the requester, moved it on first
                outcome = "moved on"
            except errors.InvalidTransitionError:  # a decision not sealed by this practice: never acted on
                outcome = "left: decision not sealed"
                self.unfinished.resting.add(state.request_id)
            except Exception:  # one request's failure never stops the others (its id only is logged)
                log.exception("could not finish disclosure request %s", state.request_id)
                continue
            if outcome in ("awaiting_requester", "decided"):
                self.unfinished.resting.add(state.request_id)
            outcomes[state.request_id] = outcome
            log.info("process manager: disclosure request %s %s", state.request_id, outcome)
        return outcomes

    # -- authorizations (release of information, privacy officer, front desk) ----------------

    @rpc(expected_exceptions=USER_ERRORS)
    def record_authorization(self, authorization, received_at=None):
        """Record an authorization (case-file form); defective ones are recorded with their defects.

        authorization: {"id": "AUTH-1", "patient": "P-001", "covers": ["psychotherapy_notes"], ...}
        → {"authorization_id", "status": active|defective, "defective", "defects": [{code, citation, ...}], ...}
        """
        self.identity.require(*REQUEST_STAFF)
        # No actor check on the document itself: an authorization names its signer (``signed_by``,
        # 164.508(c)(1)(vi)) as part of what it says; the staff member recording it is the caller.
        data = load(schemas.RecordAuthorizationSchema(), {"authorization": authorization, "received_at": received_at})
        data["authorization"]["patient"] = self._patient(data["authorization"]["patient"], "authorization.patient")
        cmd = commands.RecordAuthorization(**data)
        return _case_errors(lambda: handlers.record_authorization(cmd, self.store, self.clock))

    @rpc(expected_exceptions=USER_ERRORS)
    def check_authorization(self, authorization):
        """The defects this service would record for ``authorization`` (the case-file form, as for
        ``record_authorization``), without recording anything: 164.508(b)-(c) as
        ``confide.hipaa.authorization.authorization_defects`` finds them now. Request staff only
        (NotAuthorizedError). → {"defective", "defects": [{code, citation, ...}]}. Raises
        InvalidRequestError naming a malformed field or an unregistered ``authorization.patient``."""
        self.identity.require(*REQUEST_STAFF)
        data = load(schemas.RecordAuthorizationSchema(), {"authorization": authorization})
        data["authorization"]["patient"] = self._patient(data["authorization"]["patient"], "authorization.patient")
        defects = _case_errors(lambda: handlers.check_authorization(data["authorization"], self.clock))
        return {"defective": bool(defects), "defects": defects}

    @rpc(expected_exceptions=USER_ERRORS)
    def revoke_authorization(self, authorization_id, in_writing, received_at=None, **named):
        """164.508(b)(5) written revocation, effective when received → authorization view. The
        revocation is recorded by the caller (``revoked_by``); naming anyone else is refused."""
        principal = self.identity.require(*REQUEST_STAFF)
        self._no_actor_named(principal, named, named)
        if named:
            field = sorted(named)[0]
            raise errors.InvalidRequestError(f"invalid field {field}", field, {field: ["Unknown field."]})
        data = load(schemas.RevokeAuthorizationSchema(), {"authorization_id": authorization_id,
                    "in_writing": in_writing, "received_at": received_at})
        return handlers.revoke_authorization(commands.RevokeAuthorization(revoked_by=principal.subject, **data),
                                             self.store, self.clock)

    @rpc(expected_exceptions=USER_ERRORS)
    def expire_authorization(self, authorization_id, reason, expired_at=None, event_description=None):
        """Record expiry by ``reason`` "date" or "event" → authorization view."""
        self.identity.require(*REQUEST_STAFF)
        data = load(schemas.ExpireAuthorizationSchema(), {"authorization_id": authorization_id, "reason": reason,
                    "expired_at": expired_at, "event_description": event_description})
        return handlers.expire_authorization(commands.ExpireAuthorization(**data), self.store, self.clock)

    @rpc(expected_exceptions=USER_ERRORS)
    def get_authorization(self, authorization_id, as_of=None):
        """The authorization as known at ``as_of`` (RFC 3339; default now) → authorization view."""
        self.identity.require(*REQUEST_STAFF)
        return handlers.get_authorization(str(authorization_id), self.store, as_of)

    # -- the individual's rights (164.524, 164.528) -----------------------------------------

    @rpc(expected_exceptions=USER_ERRORS)
    def request_access(self, **named):
        """164.524 right of access to the designated record set (no psychotherapy notes), for the
        calling patient → request view. Naming a patient or requester is refused. Raises
        TooManyCopiesError past ``COPIES_PER_WINDOW`` copies per ``COPY_WINDOW`` (nothing recorded)."""
        principal = self.identity.require("patient")
        self._no_actor_named(principal, named, named)
        if named:
            field = sorted(named)[0]
            raise self._refuse(principal, f"request_access takes no {field}: the patient is the caller")
        self._copy_budget(principal.subject)
        identity = decision_identity(principal)
        return _case_errors(lambda: handlers.request_access(
            principal.subject, self._requester(principal), self.store, self.clock, self.notes,
            key_dir=self.decision_key_dir, decided_for=identity))

    @rpc(expected_exceptions=USER_ERRORS)
    def request_accounting(self, payload):
        """164.528 accounting: {"patient_id", "received_at"?} → {"entries", "due_at", ...}; the patient
        for themself, or the privacy officer (recorded as ``requested_by``)."""
        principal = self.identity.require("patient", "privacy_officer")
        self._no_actor_named(principal, payload)
        data = load(schemas.RequestAccountingSchema(), payload)
        data["patient_id"] = self._patient(data["patient_id"])
        if "privacy_officer" not in principal.roles and data["patient_id"] != principal.subject:
            raise self._refuse(principal, "a patient may request the accounting of their own disclosures only")
        cmd = commands.RequestAccounting(requested_by=principal.subject, **data)
        return handlers.request_accounting(cmd, self.store, self.clock)

    @rpc(expected_exceptions=USER_ERRORS)
    def suspend_accounting(self, payload):
        """164.528(a)(2) suspension (privacy officer): {"patient_id", "agency": {"org", "role"},
        "in_writing", "statement", "starts_at", "ends_at"?} → the suspension."""
        principal = self.identity.require("privacy_officer")
        self._no_actor_named(principal, payload)
        data = load(schemas.SuspendAccountingSchema(), payload)
        data["patient_id"] = self._patient(data["patient_id"])
        return handlers.suspend_accounting(commands.SuspendAccounting(**data), self.store, self.clock)

    @rpc(expected_exceptions=USER_ERRORS)
    def extend_accounting_deadline(self, payload):
        """164.528(c)(1)(ii) one 30-day extension (privacy officer): {"patient_id",
        "accounting_request_id", "reason"}."""
        principal = self.identity.require("privacy_officer")
        self._no_actor_named(principal, payload)
        cmd = commands.ExtendAccountingDeadline(**load(schemas.ExtendAccountingDeadlineSchema(), payload))
        return handlers.extend_accounting_deadline(cmd, self.store, self.clock)
