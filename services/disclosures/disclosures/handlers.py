"""Use cases of the disclosures service: load the stream, decide, append.

Every handler takes its collaborators as parameters: ``store`` (the event
store contract, seen through :func:`confide.identity.directory_seal.SealedDisclosures`:
requests and authorizations are sealed when appended and believed only when sealed), ``clock`` (a callable returning an aware datetime), ``notes``
(an object with ``release_fields(decision_id, note_ids)`` and optionally
``export_designated_record_set(decision_id, patient_id, note_ids)``, i.e. the
notes service's RPC proxy), ``engine`` (``decide(case) -> Outcome``,
default :func:`confide.hipaa.engine.decide`) and ``key_dir`` (the directory of
``decision.key``, default :func:`confide.config.key_dir`), which seals every
``AccessDecided`` so the notes service can tell it from one written straight to
the store.

Replies are JSON-safe dicts. They hold note content only under ``content``
of a released request; events never do.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import uuid
from datetime import timedelta
from typing import Any, Callable, Optional

from confide import config, keys, streams
from confide.contracts import casefile
from confide.contracts.access import PERMITS
from confide.contracts.disclosures import DisclosureRequestState, effective_requester, evolve, fold
from confide.envelope import NewEvent, StreamAppend
from confide.eventstore.errors import WrongExpectedVersionError
from confide.hipaa import accounting as hipaa_accounting
from confide.timestamps import format_ts as fmt_ts
from confide.timestamps import parse_ts
from disclosures.domain import accounting as acct
from disclosures.domain import commands, errors, model
from disclosures.domain import events as ev

log = logging.getLogger(__name__)

Clock = Callable[[], Any]
_NS = uuid.UUID("6f1b1a52-7c0e-4d8a-9a57-3d7f0c1e2b44")  # deterministic ids for idempotent retries


def default_engine(case: dict):
    from confide.hipaa.engine import decide

    return decide(case)


def _new(event: ev.Event, event_id: Optional[uuid.UUID] = None) -> NewEvent:
    if event_id is None:
        return NewEvent(event.type, event.to_data())
    return NewEvent(event.type, event.to_data(), event_id=event_id)


def _request_stream(request_id: str) -> str:
    return streams.stream_name(streams.DISCLOSURE_REQUEST, request_id)


def _accounting_stream(patient_id: str) -> str:
    return streams.stream_name(ev.ACCOUNTING, patient_id)


def _append(store, stream: str, events: list[ev.Event], expected: int) -> int:
    result = store.append(stream, [_new(e) for e in events], expected_version=expected)
    log.info("appended %s to %s at version %s", [e.type for e in events], stream, result.next_expected_version)
    return result.next_expected_version


class Unrecorded:
    """A new request's ``DisclosureRequested``: already folded into the state the handler works on,
    not yet on file. The first thing recorded on the request (its hold, or its decision with the
    decision's AccessDecided) carries it in the same transaction, so a request is received, decided
    and its access decision recorded in one commit. ``events`` is emptied once they are on file."""

    def __init__(self, events: list[NewEvent]) -> None:
        self.events = list(events)


def _record(store, state: DisclosureRequestState, events: list[ev.Event], pending: Optional[Unrecorded] = None,
            also: tuple[StreamAppend, ...] = ()) -> DisclosureRequestState:
    """Append ``events`` to the request's stream at ``state.version`` and return the state they lead to.

    ``pending``: events already folded into ``state`` but not on file (:class:`Unrecorded`), appended
    first, in the same batch. ``also``: appends to other streams made in the same transaction
    (``multi_stream_append``: all or nothing, one commit).

    Read-your-writes without reading the stream again: the append either stores exactly these events
    right after ``state`` (the expected version guards it) or raises WrongExpectedVersionError (someone
    else moved the request on: nothing of ours is on file, in any stream), so folding them onto
    ``state`` here gives what ``load_request`` would read back."""
    new = [_new(e) for e in events]  # each event's data built once, for the store and for the fold
    before = pending.events if pending is not None else []
    stream = _request_stream(state.request_id)
    batch = before + new
    expected = state.version - len(before)
    if also:
        result = store.multi_stream_append([StreamAppend(stream, batch, expected), *also])[0]
    else:
        result = store.append(stream, batch, expected_version=expected)
    if pending is not None:
        pending.events = []
    log.info("appended %s to %s at version %s%s", [e.type for e in batch], stream, result.next_expected_version,
             "".join(f" and {[e.type for e in a.events]} to {a.stream_name}" for a in also))
    for event in new:
        state = evolve(state, event.type, event.data)
    return state


def _append_accounting(store, patient_id: str, new_events: list[NewEvent]):
    """Append to ``accounting-<patient_id>`` (one stream per patient, written by concurrent
    disclosures) at whatever its version is: the store retries a lost race (``expected_version=None``),
    and event ids stay the same across its attempts, so an event that did land is not written twice."""
    stream = _accounting_stream(patient_id)
    result = store.append(stream, new_events, expected_version=None)
    log.info("appended %s to %s", [e.type for e in new_events], stream)
    return result


def _key_dir(key_dir):
    return key_dir if key_dir is not None else config.key_dir()


# -- disclosure requests -----------------------------------------------------

def load_request(store, request_id: str) -> DisclosureRequestState:
    """Fold ``disclosureRequest-<id>``. Raises DisclosureRequestNotFoundError, also when no
    ``DisclosureRequested`` the store believes is on file (``store`` checks the disclosures service's
    seals: a forged request is ignored, so it is not found)."""
    state = fold(request_id, ((e.type, e.data) for e in store.read_stream(_request_stream(request_id))))
    if state.version < 0 or not state.request:
        raise errors.DisclosureRequestNotFoundError(f"disclosure request {request_id} not found") from None
    return state


def request_disclosure(cmd: commands.RequestDisclosure, store, clock: Clock, notes, engine=default_engine, *,
                       key_dir=None, decided_for: Optional[dict] = None) -> dict:
    """Record a request and carry it as far as it can go (hold, refuse, or release).

    ``decided_for``: ``decision_identity`` of the verified principal whose call this is, recorded on a
    decision made now (the service passes it; handlers never work it out from a payload).
    Returns the request view (``view_request``) plus ``content`` when released.
    Raises DisclosureRequestExistsError if ``cmd.request_id`` is already taken (nothing is appended).
    """
    request_id = cmd.request_id or str(uuid.uuid4())
    received = ev.DisclosureRequested(
        request_id=request_id, requester=dict(cmd.requester), patient_id=cmd.patient_id, purpose=cmd.purpose,
        action=cmd.action, note_kind=cmd.note_kind, received_at=fmt_ts(clock()), date_from=cmd.date_from,
        date_to=cmd.date_to, note_ids=cmd.note_ids, authorization_id=cmd.authorization_id,
        exception_claimed=cmd.exception_claimed, facts=dict(cmd.facts), channel=dict(cmd.channel),
        recorded_by=cmd.recorded_by, received_from=dict(cmd.received_from) if cmd.received_from else None,
        await_release=bool(cmd.await_release))
    # Recorded with what is first decided on it (one transaction; see Unrecorded): the request id's
    # check is that append's expected version -1, so a taken id still records nothing.
    pending = Unrecorded([_new(received)])
    state = evolve(DisclosureRequestState(request_id), pending.events[0].type, pending.events[0].data)
    try:
        return _advance(state, store, clock, notes, engine, key_dir, decided_for, pending=pending)
    except WrongExpectedVersionError as exc:
        if pending.events and exc.stream_name == _request_stream(request_id):
            raise errors.DisclosureRequestExistsError(f"disclosure request {request_id} already exists") from None
        raise
    except Exception:
        if pending.events:
            _record_received(store, request_id, pending)
        raise


def _record_received(store, request_id: str, pending: Unrecorded) -> None:
    """A request whose deciding failed before anything was recorded (the engine, the case's facts, the
    decision key): record it alone, as received, for the process manager to carry on (as it would have
    been before its decision was recorded in the same transaction). Best effort: the caller re-raises
    what failed; a store that cannot take it either leaves nothing on file (the caller is told the
    request failed). The same event id as the failed batch, so a batch that did commit is not doubled."""
    try:
        store.append(_request_stream(request_id), pending.events, expected_version=-1)
        pending.events = []
    except Exception:
        log.warning("request %s could not be recorded after its deciding failed", request_id, exc_info=True)


def verify_requester(cmd: commands.VerifyRequester, store, clock: Clock, notes, engine=default_engine, *,
                     key_dir=None, decided_for: Optional[dict] = None) -> dict:
    """Record that a held request's requester is verified (164.514(h)) and decide it.

    Raises DisclosureRequestNotFoundError, InvalidTransitionError (not on hold).
    """
    state = load_request(store, cmd.request_id)
    if state.status != "on_hold":
        raise errors.InvalidTransitionError(f"request {cmd.request_id} is {state.status}, not on hold")
    verified = ev.RequesterVerified(
        request_id=cmd.request_id, verified_by=cmd.verified_by, method=cmd.method,
        identity_verified=cmd.identity_verified, authority_verified=cmd.authority_verified,
        verified_at=fmt_ts(clock()))
    return _advance(_record(store, state, [verified]), store, clock, notes, engine, key_dir, decided_for)


#: Case facts staff cannot amend: the notes' own events, the practice's configuration and the request
#: itself establish them (``casefile.build_case`` computes, overrides or drops them), the requester's
#: verification is ``verify_requester``'s, and whether a note is kept apart is the notes service's
#: stream (an amendment saying a psychotherapy note is not kept separately would strip its protection).
NOT_AMENDABLE_FACTS = frozenset(casefile.NOTE_CONTENT_FACTS + casefile.NOTE_ORIGINATOR_FACTS + casefile.PRACTICE_FACTS
                                + ("requester", "purpose", "note_kind", "action", "patient", "decision_time",
                                   "authorization", "exception_claimed", "note_sessions", "channel", "replay",
                                   "patients", "stored_separately"))


def _invalid(field: str, message: str) -> errors.InvalidRequestError:
    return errors.InvalidRequestError(f"{field}: {message}", field, {field: [message]})


def check_amended_facts(request: dict, facts: dict, at) -> None:
    """Check the facts a held request is amended with, merged over its own, against the case-file
    contract (the published JSON Schema, :mod:`confide.hipaa.case_schema`) before anything is
    appended. Raises InvalidRequestError naming the field (``facts.<name>...``): a name the contract
    does not document or that staff cannot amend (:data:`NOT_AMENDABLE_FACTS`), a value that does not
    conform, or legal process that does not name the request's note kind (45 CFR 164.512(e)(1)(i):
    an order permits only what it expressly authorizes)."""
    from confide.hipaa import case_schema

    documented = case_schema.request_properties()
    for name in sorted(facts):
        if name in NOT_AMENDABLE_FACTS:
            raise _invalid(f"facts.{name}", "not amended by staff: the store, the practice's configuration or "
                                            "the request itself establishes it")
        if name not in documented:
            raise _invalid(f"facts.{name}", "not a fact of the case-file contract (shared/cases/README.md)")
    merged = {**(request.get("facts") or {}), **facts}
    probe = {**{k: v for k, v in merged.items() if k not in NOT_AMENDABLE_FACTS},
             "requester": {k: v for k, v in request["requester"].items() if k in ("id", "role", "org")},
             "purpose": request["purpose"], "note_kind": request["note_kind"], "action": request["action"],
             "decision_time": fmt_ts(at)}
    try:
        case_schema.validate({"request": probe})
    except ValueError as exc:  # CaseFileError, whose field is "request.<path>"
        field = str(getattr(exc, "field", "request"))
        raise _invalid("facts" + field[len("request"):], getattr(exc, "problem", str(exc))) from None
    covers = (merged.get("legal_process") or {}).get("covers")
    if covers is not None and request["note_kind"] not in covers:
        raise _invalid("facts.legal_process.covers",
                       f"the legal process does not name {request['note_kind']} notes, which this request asks "
                       "for (45 CFR 164.512(e)(1)(i))")


def _amendment_id(cmd: commands.AmendDisclosureFacts) -> str:
    """The command's idempotency key: its own, else derived from the request and what it amends (the
    same facts sent twice, a redelivery, are one amendment)."""
    if cmd.amendment_id:
        return str(cmd.amendment_id)
    what = json.dumps({"facts": cmd.facts, "authorization_id": cmd.authorization_id}, sort_keys=True, default=str)
    return str(uuid.uuid5(_NS, f"{cmd.request_id}/facts/{what}"))


def amend_disclosure_facts(cmd: commands.AmendDisclosureFacts, store, clock: Clock, notes, engine=default_engine, *,
                           key_dir=None, decided_for: Optional[dict] = None) -> dict:
    """Amend the case facts of a held request and decide it again on them.

    A request on hold (164.514(h)(1) until its requester is verified, or held by the engine on a fact
    not yet known: whether an order is signed by a judge, 164.512(e)(1)(i); the Part 2 auditor's
    written agreement, 42 CFR 2.53) waits for facts release-of-information staff establish from the
    paper itself: legal process recorded with what it covers, an authorization received, a fact that
    was unknown now known. ``DisclosureFactsAmended`` records who, when, which fields and their values
    (case facts only, never clinical content); the request then goes back to ``requested`` (or
    ``verified``) and is carried on as any request: held again under 164.514(h)(1) if its requester is
    still unverified, else decided by the engine (the rule cited), recorded and released or refused.

    Idempotent: a redelivered command (the same ``amendment_id``, or without one the same facts) finds
    its amendment on file and returns the request as it stands, appending and deciding nothing; of
    two concurrent deliveries one appends (the expected version guards it) and the other returns that.
    Raises DisclosureRequestNotFoundError; InvalidTransitionError (not on hold); InvalidRequestError
    naming the field (:func:`check_amended_facts`; ``authorization_id`` of no authorization on file
    about the request's patient).
    """
    amendment_id = _amendment_id(cmd)
    state = load_request(store, cmd.request_id)
    if any(a.get("amendment_id") == amendment_id for a in state.amendments):
        log.info("amendment %s of request %s already recorded", amendment_id, cmd.request_id)
        return view_request(state)
    if state.status != "on_hold":
        raise errors.InvalidTransitionError(f"request {cmd.request_id} is {state.status}, not on hold: only a "
                                            "held request's facts are amended")
    now = clock()
    check_amended_facts(state.request, dict(cmd.facts), now)
    fields = [f"facts.{name}" for name in sorted(cmd.facts)]
    if cmd.authorization_id is not None:
        found = casefile.authorization_as_of(store, cmd.authorization_id, None)
        if not found.exists or found.patient_id != state.request["patient_id"]:
            raise _invalid("authorization_id", f"no authorization {cmd.authorization_id} about this request's "
                                               "patient is on file")
        fields.append("authorization_id")
    amended = ev.DisclosureFactsAmended(
        request_id=cmd.request_id, amendment_id=amendment_id, amended_by=cmd.amended_by, amended_at=fmt_ts(now),
        fields=fields, facts=dict(cmd.facts), authorization_id=cmd.authorization_id, reason=cmd.reason)
    try:
        state = _record(store, state, [amended])
    except WrongExpectedVersionError:
        state = load_request(store, cmd.request_id)  # moved on since read: by this very amendment?
        if any(a.get("amendment_id") == amendment_id for a in state.amendments):
            return view_request(state)
        raise
    return _advance(state, store, clock, notes, engine, key_dir, decided_for)


def _advance(state, store, clock, notes, engine, key_dir=None, decided_for: Optional[dict] = None,
             conclude: bool = True, pending: Optional[Unrecorded] = None) -> dict:
    requester = effective_requester(state)
    if state.status == "requested" and model.needs_verification(requester):
        hold = ev.DisclosurePlacedOnHold(
            request_id=state.request_id, reasons=["identity and authority of the requester are not verified"],
            rule="45 CFR 164.514(h)(1)", held_at=fmt_ts(clock()))
        return view_request(_record(store, state, [hold], pending))
    return _decide(state, requester, store, clock, notes, engine, key_dir, decided_for, conclude, pending)


def _outcome_dict(outcome) -> dict:
    if hasattr(outcome, "to_dict"):
        return outcome.to_dict()
    return dict(outcome)


def _decide(state, requester, store, clock, notes, engine, key_dir=None, decided_for: Optional[dict] = None,
            conclude: bool = True, pending: Optional[Unrecorded] = None) -> dict:
    """Decide ``state`` and record the decision and its AccessDecided in one transaction (with
    ``pending``, the request itself too); then (``conclude``) release or refuse it, else return the
    view as decided."""
    at = clock()
    request = state.request
    gathered = casefile.case_as_of(store, request, requester, at, practice=config.practice(), requested_kind_only=True)
    matched, authorization = gathered.notes, gathered.authorization
    outcome = _outcome_dict(engine(gathered.case))
    if outcome.get("decision") == "hold":
        hold = ev.DisclosurePlacedOnHold(request_id=state.request_id, reasons=list(outcome.get("reasons") or []),
                                         rule=str(outcome.get("rule") or ""), held_at=fmt_ts(at))
        return view_request(_record(store, state, [hold], pending))
    decided = _decided_event(state, outcome, matched, authorization, at, decided_for)
    # Sealed so that a DisclosureDecided written by anything but this engine run (the services'
    # database login can append events) is never turned into a sealed AccessDecided on resume.
    decided = dataclasses.replace(decided, seal=keys.seal_decision(_key_dir(key_dir), decided.to_data()))
    # The decision and the AccessDecided the notes service releases under, all or nothing: a decision
    # recorded here is never on file without its access decision (one recorded by a version that
    # appended them apart may be: resume_request and finish_request record it then).
    state = _record(store, state, [decided], pending,
                    also=(StreamAppend(*_access_decided(request, requester, decided, matched, key_dir), -1),))
    if not conclude or (request.get("await_release") and decided.decision in PERMITS):
        # Staff release it themselves: it waits, decided, with what will leave on file.
        return view_request(state)
    return _conclude(state, store, clock, notes)


def _decided_event(state, outcome: dict, matched: list[dict], authorization, at,
                   decided_for: Optional[dict] = None) -> ev.DisclosureDecided:
    citations = outcome.get("citations") or []
    return ev.DisclosureDecided(
        request_id=state.request_id, decision_id=str(uuid.uuid4()), decision=outcome["decision"],
        rule=str(outcome.get("rule") or "; ".join(citations)), citations=list(citations),
        reasons=list(outcome.get("reasons") or []), fields_released=outcome.get("fields_released"),
        minimum_necessary_applies=outcome.get("minimum_necessary_applies"),
        accounting_required=bool(outcome.get("accounting_required")),
        note_ids=[n["note_id"] for n in matched],
        authorization_id=authorization.authorization_id if authorization else None, decided_at=fmt_ts(at),
        decided_for=dict(decided_for) if decided_for else None)


def _access_decided(request: dict, requester: dict, decided: ev.DisclosureDecided, matched: list[dict],
                    key_dir=None) -> tuple[str, list[NewEvent]]:
    """(stream, [AccessDecided]): the record the notes service checks before releasing anything.

    It opens its own stream (appended at ``expected_version=-1``) and carries ``seal`` (HMAC under
    ``decision.key``; the notes service refuses an unsealed one). Its event id is derived from the
    decision id, so it is written once however often it is recorded. ``decided_for`` is the
    decision's own (who the engine decided for), never the resumer's. ``requester.id`` is the
    principal the notes service releases to on a later re-delivery.
    """
    authors = sorted({n.get("author_id") for n in matched if n.get("author_id")})
    access = ev.AccessDecided(
        decision_id=decided.decision_id,
        requester={k: requester.get(k) for k in ("id", "role", "org")}, purpose=request["purpose"],
        action=request["action"], patient_id=request["patient_id"],
        note_id=decided.note_ids[0] if len(decided.note_ids) == 1 else None, note_ids=decided.note_ids,
        note_kind=request["note_kind"], originator_id=authors[0] if len(authors) == 1 else None,
        decision=decided.decision, rule=decided.rule, citations=decided.citations,
        fields_released=decided.fields_released, request_id=decided.request_id, decided_at=decided.decided_at,
        decided_for=dict(decided.decided_for) if decided.decided_for else None)
    access = dataclasses.replace(access, seal=keys.seal_decision(_key_dir(key_dir), access.to_data()))
    return (streams.stream_name(streams.ACCESS_DECISION, decided.decision_id),
            [_new(access, uuid.uuid5(_NS, decided.decision_id))])


def _record_access_decision(store, request: dict, requester: dict, decided: ev.DisclosureDecided,
                            matched: list[dict], key_dir=None) -> None:
    """Append a decision's AccessDecided (:func:`_access_decided`) on its own: for a decision on file
    without it (recorded by a version that appended one stream at a time, a crash between the two).
    A retry writes it once: the stream then already holds that event, which is success. Anything
    else there is refused (WrongExpectedVersionError)."""
    stream, access = _access_decided(request, requester, decided, matched, key_dir)
    event_id = access[0].event_id
    try:
        store.append(stream, access, expected_version=-1)
    except WrongExpectedVersionError:
        first = store.read_stream(stream)[:1]
        if not first or str(first[0].event_id) != str(event_id):
            raise
        log.info("AccessDecided for decision %s already recorded", decided.decision_id)


def _conclude(state, store, clock, notes) -> dict:
    """Release or refuse a decided request. A decided request can be resumed after a crash."""
    decision = state.decision
    withdrawn = _authorization_withdrawn(store, decision, clock()) if decision["decision"] in PERMITS else None
    if decision["decision"] not in PERMITS or withdrawn:
        reason = "; ".join(decision["reasons"]) or decision["decision"]
        if decision["decision"] == "discretionary":
            reason = f"discretionary: declined by the practice's default pending review ({reason})"
        if withdrawn:
            reason, rule = withdrawn
            decision = {**decision, "rule": rule}
        refused = ev.DisclosureRefused(request_id=state.request_id, decision_id=decision["decision_id"],
                                       reason=reason, rule=decision["rule"], refused_at=fmt_ts(clock()))
        return view_request(_record(store, state, [refused]))
    content = fetch_content(notes, state.request, decision, state.request_id)
    entry_id = _record_accounting_entry(store, state, clock) if decision["accounting_required"] and decision["note_ids"] else None
    released = ev.DisclosureReleased(
        request_id=state.request_id, decision_id=decision["decision_id"], note_ids=decision["note_ids"],
        fields_released=list(decision.get("fields_released") or []), released_at=fmt_ts(clock()),
        accounting_entry_id=entry_id)
    return {**view_request(_record(store, state, [released])), "content": content}


#: Defects of an authorization that arise after a decision relied on it (164.508(b)(5) revocation,
#: 164.508(b)(2)(i) expiry by date or event, or an event whose occurrence is no longer known): a permit
#: not yet acted on is not released after them.
WITHDRAWN_DEFECTS = ("revoked", "expired", "expiration_event_occurred", "expiration_event_unknown")


def _authorization_withdrawn(store, decision: dict, at) -> Optional[tuple[str, str]]:
    """(reason, rule) when the authorization a permit relied on has been revoked (164.508(b)(5): effective
    on receipt except where the practice has already acted in reliance on it; a release not yet sent
    has not been) or has expired (164.508(b)(2)(i)) by ``at``; else None. A decision relying on no
    authorization is never withdrawn."""
    if not decision.get("authorization_id"):
        return None
    from confide.hipaa.authorization import authorization_defects

    state = casefile.authorization_as_of(store, decision["authorization_id"], None)
    if not state.exists:
        return ("the authorization relied on is no longer on file", "45 CFR 164.508(b)(2)")
    found = [d for d in authorization_defects(state.case_form(), request=None, at=at) if d.code in WITHDRAWN_DEFECTS]
    if not found:
        return None
    return ("; ".join(f"not released: {d.message}" for d in found), "; ".join(sorted({d.citation for d in found})))


class ReplyKeyed:
    """The notes proxy with the caller's ``reply_public_key`` added to every ``release_fields`` call:
    psychotherapy text and excerpts then come back sealed to the caller's ephemeral key (this
    service forwards the boxes, it cannot open them). Everything else is the proxy's."""

    def __init__(self, notes, reply_public_key: Optional[str]):
        self._notes = notes
        self._reply_public_key = reply_public_key

    def release_fields(self, decision_id, note_ids, request_id=None):
        return self._notes.release_fields(decision_id, note_ids, request_id,
                                          reply_public_key=self._reply_public_key)

    def __getattr__(self, name):
        return getattr(self._notes, name)


def with_reply_key(notes, reply_public_key: Optional[str]):
    """``notes`` itself without a key (a psychotherapy release is then refused by the notes
    service), else :class:`ReplyKeyed`."""
    if notes is None or not reply_public_key:
        return notes
    return ReplyKeyed(notes, reply_public_key)


def fetch_content(notes, request: dict, decision: dict, request_id: Optional[str] = None,
                  redelivery: bool = False) -> Any:
    """Exactly the decided fields of the decided notes, from the notes service (never stored here).

    With ``request_id``, an individual-access release is delegated to the notes service's
    ``export_designated_record_set`` (its 164.524 access request carries the same id; the first
    release opens it with ``request_record_access``); a notes service without that RPC falls back to
    ``release_fields``. A re-delivery of an individual-access request exports again under the same
    request (each note decided and recorded anew, the same fields every time): ``release_fields``
    under the first decision would release nothing, its ``fields_released`` being the engine's
    description of the designated record set, not field names. Other re-deliveries use
    ``release_fields``.
    """
    if not decision["note_ids"]:
        return []
    if request["purpose"] == "individual_access" and request_id:
        try:
            # Who asks rides along as the call's verified identity (the patient's own).
            if not redelivery:
                notes.request_record_access(request["patient_id"], request_id=request_id)
            return notes.export_designated_record_set(request_id)
        except Exception as exc:  # nameko's MethodNotFound: the notes service has no export RPC
            if type(exc).__name__ != "MethodNotFound" and not isinstance(exc, AttributeError):
                raise
    # The notes service releases only under a sealed decision made for this very request.
    return notes.release_fields(decision["decision_id"], decision["note_ids"], request_id)


def _record_accounting_entry(store, state, clock) -> str:
    """164.528(b)(2): date, recipient, brief description and purpose; appended to ``accounting-<patient>``."""
    request, decision = state.request, state.decision
    entry_id = str(uuid.uuid5(_NS, decision["decision_id"] + "/accounting"))
    requester = request["requester"]
    entry = ev.AccountingEntryRecorded(
        entry_id=entry_id, patient_id=request["patient_id"], request_id=state.request_id,
        decision_id=decision["decision_id"], disclosed_at=fmt_ts(clock()),
        recipient={k: requester.get(k) for k in ("id", "role", "org")}, purpose=request["purpose"],
        description=f"{len(decision['note_ids'])} {request['note_kind']} note(s): "
                    f"{', '.join(decision.get('fields_released') or [])}",
        rule=decision["rule"])
    _append_accounting(store, request["patient_id"], [_new(entry, uuid.UUID(entry_id))])
    return entry_id


def resume_request(request_id: str, store, clock: Clock, notes, engine=default_engine, *, key_dir=None,
                   decided_for: Optional[dict] = None) -> dict:
    """Carry on a request a crash (or the notes service being down) left half-way.

    ``requested``/``verified``: hold or decide it now (``decided_for``: the resuming principal's
    identity); ``decided``: record the access decision (once, naming the decision's own
    ``decided_for``) and release or refuse. Returns the request view (+ ``content`` when released).
    Raises DisclosureRequestNotFoundError, InvalidTransitionError (held, released or refused).
    """
    state = load_request(store, request_id)
    if state.status in ("requested", "verified"):
        return _advance(state, store, clock, notes, engine, key_dir, decided_for)
    if state.status != "decided":
        raise errors.InvalidTransitionError(f"request {request_id} is {state.status}, not decided")
    if not keys.verify_decision(_key_dir(key_dir), state.decision, state.decision.get("seal")):
        log.warning("refused to resume request %s: its decision is not sealed by this practice", request_id)
        raise errors.InvalidTransitionError(
            f"request {request_id}: its recorded decision is not sealed by this practice's decision key; "
            "nothing recorded or released")
    _record_access_decision(store, state.request, effective_requester(state),
                            ev.DisclosureDecided(**state.decision), [{"note_id": n} for n in state.decision["note_ids"]],
                            key_dir)
    return _conclude(state, store, clock, notes)


REQUEST_STATES = ("requested", "on_hold", "verified", "decided", "released", "refused")


# -- the process manager: work always finishes -----------------------------------------------

#: What the process manager names as itself on a decision it makes for a request a fault left
#: undecided (``decided_for.resumed_by``).
RESUMED_BY = "disclosures"


#: The event types that set a request's status when folded (``confide.contracts.disclosures.evolve``);
#: any other type, and an event whose seal does not verify (UNSEALED), only bumps its version.
STATUS_TYPES = frozenset({"DisclosureRequested", "DisclosurePlacedOnHold", "RequesterVerified",
                          "DisclosureFactsAmended", "DisclosureDecided", "DisclosureReleased", "DisclosureRefused"})
#: Of those, the ones that conclude it: released or refused, nothing left for the process manager.
CONCLUDING_TYPES = frozenset({"DisclosureReleased", "DisclosureRefused"})


class UnfinishedRequests:
    """The requests not yet released or refused, kept up to date from the ``disclosureRequest``
    category, read in global order over the skip-free prefix only (a transaction still open below the
    frontier is read once committed, never skipped), each as this service's store believes it (sealed
    by this service). One per process; ``scan`` is not thread-safe (the timer runs one worker at a time).

    Concluded requests are not read: of the events appended since the last scan only the stream, the
    type and the position are looked at (read from ``log``, the store beneath the seals, with no data
    parsed and no seal checked), and a request is let go on exactly one event, the last of its stream
    with a status-setting type (:data:`STATUS_TYPES`), when that is a conclusion (:data:`CONCLUDING_TYPES`)
    and its seal verifies: folded, its stream would end released or refused, whatever came before
    (nothing after it sets a status). Every other request whose stream moved (its last status event
    not a conclusion, or one whose seal does not verify: a forged DisclosureReleased hides nothing)
    is read whole through ``store`` and folded, as before. So a request acknowledged but not concluded
    is always found, however many concluded ones it sits behind, and a concluded one costs one seal
    check, not the read and check of each of its events.
    """

    def __init__(self) -> None:
        self.position = 1
        self._open: dict[str, tuple[DisclosureRequestState, Any]] = {}

    def scan(self, store, log=None, page: int = 1000) -> list[tuple[DisclosureRequestState, Any]]:
        """Read what was appended since the last scan → [(state, when its last event was recorded)] of
        every request not released or refused (on hold and awaiting staff included: the caller decides
        what is at rest). ``store``: this service's sealed reader; ``log``: the store it wraps (default
        ``store``). Without a reader that checks this service's seals (``store.seals``/``checked``) no
        event is believed on its own: every request that moved is read and folded."""
        log = store if log is None else log
        checks = callable(getattr(store, "checked", None)) and \
            bool(getattr(store, "seals", lambda category: False)(streams.DISCLOSURE_REQUEST))
        seen: dict[str, Any] = {}  # stream that moved → its last status event read so far, or None
        while True:
            events = log.read_category(streams.DISCLOSURE_REQUEST, self.position, page, prefix_only=True)
            moved = set()
            for event in events:
                if event.type in STATUS_TYPES:
                    seen[event.stream_name] = event
                    moved.add(event.stream_name)
                elif event.stream_name not in seen:
                    seen[event.stream_name] = None
            for name in moved if checks else ():  # a sealed conclusion: let go now, nothing kept of it
                last = seen[name]
                if last.type in CONCLUDING_TYPES and store.checked(last).type == last.type:
                    del seen[name]
                    self._open.pop(streams.id_of(name), None)
            if events:
                self.position = events[-1].global_position + 1
            if len(events) < page:
                break
        for name, last in seen.items():
            request_id = streams.id_of(name)
            if last is None and request_id not in self._open:
                continue  # no status event since a scan (or a page) let it go, or it never had one
            recorded = store.read_stream(name)
            state = fold(request_id, ((e.type, e.data) for e in recorded))
            if not recorded or state.status in ("released", "refused") or not state.request:
                self._open.pop(request_id, None)
                continue
            self._open[request_id] = (state, recorded[-1].recorded_at)
        return list(self._open.values())


def _resumer_identity(state: DisclosureRequestState) -> dict:
    """``decided_for`` of a decision the process manager makes: the identity the request was made under
    (``received_from``: the verified call that recorded it), or for a verified request the staff member
    who verified it (who would have been handed the records in that call); ``resumed_by`` says the
    disclosures service made it after a fault. The notes service releases content under it only to
    that subject (or the request's requester), in their own verified call: never to this service."""
    if state.status == "verified" and state.verification:
        base = {"subject": state.verification.get("verified_by"), "session_id": None, "amr": [],
                "auth_time": None, "acting_service": None}
    else:
        base = dict(state.request.get("received_from") or {"subject": None})
    return {**base, "resumed_by": RESUMED_BY}


def finish_request(request_id: str, store, clock: Clock, engine=default_engine, *, key_dir=None) -> str:
    """Carry a request a fault left half-way as far as this service may take it by itself → the
    request's status afterwards, or ``"awaiting_requester"``.

    ``requested``/``verified``: placed on hold, or decided (``decided_for``: :func:`_resumer_identity`)
    with its AccessDecided recorded; ``decided`` (its AccessDecided recorded once, as
    ``resume_request`` does): a refusal, a discretionary decision or a permit whose authorization was
    since revoked or expired is refused; a permit for no notes is released (nothing leaves). A permit
    for notes, and a request recorded with ``await_release``, rest there decided: content leaves only
    in the verified call of whom the decision was made for (the notes service's ``release_fields``
    check), so the requester's re-poll (``resume_request``, the gateway's GET or a retried POST)
    releases it, and staff release an ``await_release`` one. On hold rests for staff to verify.
    Idempotent: every append expects the version it read, so a second instance or a retry that lost
    the race finds the request moved on (WrongExpectedVersionError, for the caller to skip).
    Raises DisclosureRequestNotFoundError, InvalidTransitionError (a decision not sealed by this
    practice: nothing recorded).
    """
    state = load_request(store, request_id)
    if state.status in ("requested", "verified"):
        _advance(state, store, clock, None, engine, key_dir, _resumer_identity(state), conclude=False)
        state = load_request(store, request_id)
    if state.status != "decided":
        return state.status
    if not keys.verify_decision(_key_dir(key_dir), state.decision, state.decision.get("seal")):
        log.warning("request %s left decided: its decision is not sealed by this practice", request_id)
        raise errors.InvalidTransitionError(f"request {request_id}: its recorded decision is not sealed")
    decision = state.decision
    _record_access_decision(store, state.request, effective_requester(state), ev.DisclosureDecided(**decision),
                            [{"note_id": n} for n in decision["note_ids"]], key_dir)
    permitted = decision["decision"] in PERMITS
    withdrawn = _authorization_withdrawn(store, decision, clock()) if permitted else None
    if state.request.get("await_release") and permitted and not withdrawn:
        return "decided"  # staff release it themselves
    if permitted and not withdrawn and decision["note_ids"]:
        return "awaiting_requester"
    return _conclude(state, store, clock, None)["status"]


def queue_row(state: DisclosureRequestState) -> dict:
    """A request's metadata for the queue (no content, no facts beyond what it is)."""
    r = state.request
    rule = next((part.get("rule") for part in (state.refusal, state.decision, state.hold) if part), None)
    requester = r.get("requester") or {}
    return {"request_id": state.request_id, "status": state.status, "received_at": r.get("received_at"),
            "requester": {k: requester.get(k) for k in ("id", "role", "org")}, "patient_id": r.get("patient_id"),
            "purpose": r.get("purpose"), "note_kind": r.get("note_kind"), "date_from": r.get("date_from"),
            "date_to": r.get("date_to"), "recorded_by": r.get("recorded_by"), "rule": rule,
            "decision": (state.decision or {}).get("decision")}


def list_requests(store, state: Optional[str] = None, limit: int = 100) -> list[dict]:
    """Every request on file (the ``disclosureRequest`` category, as ``store`` believes it: sealed by
    this service), folded, newest first; only those in ``state`` if given; at most ``limit``."""
    streams_seen: dict[str, list] = {}
    for event in casefile.iter_category(store, streams.DISCLOSURE_REQUEST):
        streams_seen.setdefault(event.stream_name, []).append((event.type, event.data))
    rows = []
    for name, events in streams_seen.items():
        folded = fold(streams.id_of(name), events)
        if folded.request and (state is None or folded.status == state):
            rows.append(queue_row(folded))
    rows.sort(key=lambda row: row["received_at"] or "", reverse=True)
    return rows[:limit]


def view_request(state: DisclosureRequestState) -> dict:
    """The reply shape of a request (no content): ids, status, decision summary, release summary."""
    r = state.request
    view = {
        "request_id": state.request_id, "status": state.status, "requester": r["requester"],
        "patient_id": r["patient_id"], "purpose": r["purpose"], "note_kind": r["note_kind"],
        "action": r["action"], "date_from": r.get("date_from"), "date_to": r.get("date_to"),
        "received_at": r["received_at"], "channel": r.get("channel") or {}, "recorded_by": r.get("recorded_by"),
        "facts": r.get("facts") or {}, "authorization_id": r.get("authorization_id"),
        "await_release": bool(r.get("await_release")),
        "hold": state.hold, "verification": state.verification, "decision": None,
        "amendments": [dict(a) for a in state.amendments],
        "release": None, "refusal": None,
    }
    if state.decision:
        view["decision"] = {k: state.decision.get(k) for k in (
            "decision_id", "decision", "rule", "citations", "reasons", "fields_released",
            "minimum_necessary_applies", "accounting_required", "authorization_id", "decided_at", "note_ids")}
    if state.release:
        view["release"] = {k: state.release.get(k) for k in ("note_ids", "fields_released", "released_at")}
    if state.refusal:
        view["refusal"] = {k: state.refusal.get(k) for k in ("reason", "rule", "refused_at")}
    return view


def get_disclosure_request(request_id: str, store, org: Optional[str] = None, notes=None,
                           visible: Optional[Callable[[dict], bool]] = None, clock: Optional[Clock] = None) -> dict:
    """The request view; with ``org``, only a request made by that org, with ``visible``, only a
    request (the ``DisclosureRequested`` data) it accepts (else not found either way).

    With ``notes`` and a released request, ``content`` is fetched again under
    the same recorded decision (a re-delivery, not a new disclosure); with ``clock`` too, not once
    the authorization the decision relied on is withdrawn (``content_withheld`` says why instead).
    Raises DisclosureRequestNotFoundError.
    """
    state = load_request(store, request_id)
    if org is not None and state.request["requester"].get("org") != org:
        raise errors.DisclosureRequestNotFoundError(f"disclosure request {request_id} not found")
    if visible is not None and not visible(state.request):
        raise errors.DisclosureRequestNotFoundError(f"disclosure request {request_id} not found")
    view = view_request(state)
    if notes is not None and state.status == "released":
        # A re-delivery is a new sending: not once the authorization it relied on is revoked or expired
        # (164.508(b)(5), (b)(2)(i)); what left before stays lawful, nothing leaves again.
        withdrawn = _authorization_withdrawn(store, state.decision, clock()) if clock else None
        if withdrawn:
            view["content_withheld"] = f"{withdrawn[0]} ({withdrawn[1]})"
        else:
            view["content"] = fetch_content(notes, state.request, state.decision, request_id, redelivery=True)
    return view


# -- authorizations ----------------------------------------------------------

def _defect_dict(defect) -> dict:
    if hasattr(defect, "to_dict"):
        return defect.to_dict()
    if dataclasses.is_dataclass(defect):
        return dataclasses.asdict(defect)
    if isinstance(defect, dict):
        return dict(defect)
    return {"message": str(defect)}


def default_defects(authorization: dict, at) -> list:
    from confide.hipaa.authorization import authorization_defects

    return authorization_defects(authorization, request=None, at=at)


def check_authorization(form: dict, clock: Clock, defects_fn=default_defects) -> list[dict]:
    """The defects ``record_authorization`` would record for ``form`` now (nothing is appended)."""
    form = dict(form)
    form["id"] = str(form.get("id") or "unsaved")
    return [_defect_dict(d) for d in defects_fn(form, fmt_ts(clock()))]


def record_authorization(cmd: commands.RecordAuthorization, store, clock: Clock, defects_fn=default_defects) -> dict:
    """Record an authorization, checked against 164.508(b)-(c); a defective one is recorded as such.

    Returns ``view_authorization``. Raises AuthorizationAlreadyRecordedError.
    """
    now = clock()
    form = dict(cmd.authorization)
    form["id"] = str(form.get("id") or uuid.uuid4())
    defects = [_defect_dict(d) for d in defects_fn(form, fmt_ts(now))]
    recorded = ev.AuthorizationRecorded(
        authorization_id=form["id"], patient_id=form["patient"], authorization=form, defective=bool(defects),
        defects=defects, received_at=cmd.received_at or fmt_ts(now), recorded_at=fmt_ts(now))
    try:
        _append(store, streams.stream_name(streams.AUTHORIZATION, form["id"]), [recorded], -1)
    except WrongExpectedVersionError:
        raise errors.AuthorizationAlreadyRecordedError(f"authorization {form['id']} is already on file") from None
    return get_authorization(form["id"], store)


def _active_authorization(store, authorization_id: str):
    state = casefile.authorization_as_of(store, authorization_id, None)
    if not state.exists:
        raise errors.AuthorizationNotFoundError(f"authorization {authorization_id} not found")
    if state.revocation or state.expiration:
        raise errors.AuthorizationNotActiveError(f"authorization {authorization_id} is already {state.status}")
    return state


def revoke_authorization(cmd: commands.RevokeAuthorization, store, clock: Clock) -> dict:
    """164.508(b)(5): revoke in writing, effective when received; earlier reliance stays lawful.

    Raises RevocationNotInWritingError, AuthorizationNotFoundError, AuthorizationNotActiveError.
    """
    if not cmd.in_writing:
        raise errors.RevocationNotInWritingError("164.508(b)(5): a revocation must be in writing")
    state = _active_authorization(store, cmd.authorization_id)
    now = clock()
    received = parse_ts(cmd.received_at) if cmd.received_at else now
    revoked = ev.AuthorizationRevoked(
        authorization_id=cmd.authorization_id, patient_id=state.patient_id, in_writing=True,
        received_at=fmt_ts(min(received, now)), revoked_by=cmd.revoked_by, recorded_at=fmt_ts(now))
    _append(store, streams.stream_name(streams.AUTHORIZATION, cmd.authorization_id), [revoked], state.version)
    return get_authorization(cmd.authorization_id, store)


def expire_authorization(cmd: commands.ExpireAuthorization, store, clock: Clock) -> dict:
    """164.508(c)(1)(v): record expiry by its date or by the expiration event occurring.

    Raises AuthorizationNotFoundError, AuthorizationNotActiveError, InvalidRequestError.
    """
    if cmd.reason not in ("date", "event"):
        raise errors.InvalidRequestError("reason must be 'date' or 'event'", field="reason")
    state = _active_authorization(store, cmd.authorization_id)
    now = clock()
    expired = ev.AuthorizationExpired(
        authorization_id=cmd.authorization_id, patient_id=state.patient_id, reason=cmd.reason,
        expired_at=cmd.expired_at or fmt_ts(now), event_description=cmd.event_description, recorded_at=fmt_ts(now))
    _append(store, streams.stream_name(streams.AUTHORIZATION, cmd.authorization_id), [expired], state.version)
    return get_authorization(cmd.authorization_id, store)


def get_authorization(authorization_id: str, store, as_of: Optional[str] = None) -> dict:
    """The authorization as known at ``as_of`` (default now). Raises AuthorizationNotFoundError."""
    state = casefile.authorization_as_of(store, authorization_id, parse_ts(as_of))
    if not state.exists:
        raise errors.AuthorizationNotFoundError(f"authorization {authorization_id} not found")
    return {
        "authorization_id": authorization_id, "patient_id": state.patient_id, "status": state.status,
        "defective": state.defective, "defects": state.defects, "authorization": state.case_form(),
        "recorded_at": state.recorded_at, "revocation": state.revocation, "expiration": state.expiration,
        "as_of": as_of,
    }


# -- accounting of disclosures (164.528) -------------------------------------

def _accounting_events(store, patient_id: str) -> list:
    return store.read_stream(_accounting_stream(patient_id))


def suspend_accounting(cmd: commands.SuspendAccounting, store, clock: Clock) -> dict:
    """164.528(a)(2): suspend accounting of disclosures to an oversight agency or law enforcement.

    The rules (who may ask, how long a written or oral statement suspends) are
    :mod:`confide.hipaa.accounting`'s. Returns the suspension (``ends_at`` capped at 30 days for an
    oral statement). Raises InvalidRequestError naming ``agency.role``, ``starts_at`` or ``ends_at``.
    """
    if cmd.agency.get("role") not in hipaa_accounting.SUSPENDING_ROLES:
        raise errors.InvalidRequestError("agency.role must be health_oversight_agency or law_enforcement",
                                         field="agency.role")
    try:
        ends = hipaa_accounting.suspension_end(cmd.starts_at, cmd.ends_at, cmd.in_writing)
    except ValueError as exc:  # CaseFileError naming suspension.requested_at or suspension.until
        field = {"suspension.until": "ends_at"}.get(getattr(exc, "field", None), "starts_at")
        raise errors.InvalidRequestError(str(exc), field=field) from None
    if ends is None:
        raise errors.InvalidRequestError("ends_at: a written suspension statement must specify the time period "
                                         "(164.528(a)(2)(i))", field="ends_at")
    suspension = ev.AccountingSuspended(
        suspension_id=str(uuid.uuid4()), patient_id=cmd.patient_id, agency=dict(cmd.agency),
        in_writing=cmd.in_writing, statement=cmd.statement, starts_at=fmt_ts(parse_ts(cmd.starts_at)),
        ends_at=fmt_ts(ends), recorded_at=fmt_ts(clock()))
    _append_accounting(store, cmd.patient_id, [_new(suspension)])
    return suspension.to_data()


def request_accounting(cmd: commands.RequestAccounting, store, clock: Clock) -> dict:
    """An individual's request for an accounting (164.528): recorded, answered at once.

    What it holds is :func:`confide.hipaa.accounting.accounting` over the patient's recorded
    entries and suspensions; the deadline is 164.528(c)(1)'s.
    Returns {accounting_request_id, patient_id, received_at, due_at, period_start,
    entries: [AccountingEntryRecorded data, by date], withheld_under_suspension: int}.
    """
    now = clock()
    received = parse_ts(cmd.received_at) if cmd.received_at else now
    history = _accounting_events(store, cmd.patient_id)
    entries = {e.data["entry_id"]: e.data for e in history if e.type == "AccountingEntryRecorded"}
    suspensions = [acct.as_suspension(e.data) for e in history if e.type == "AccountingSuspended"]
    report = hipaa_accounting.accounting([acct.as_disclosure(e) for e in entries.values()], as_of=received,
                                         suspensions=suspensions)
    shown = [entries[e["disclosure_id"]] for e in report["entries"]]
    request_id = str(uuid.uuid4())
    requested = ev.AccountingRequested(accounting_request_id=request_id, patient_id=cmd.patient_id,
                                       requested_by=cmd.requested_by, received_at=fmt_ts(received),
                                       due_at=fmt_ts(acct.due_at(received)))
    provided = ev.AccountingProvided(accounting_request_id=request_id, entry_ids=[e["entry_id"] for e in shown],
                                     provided_at=fmt_ts(now))
    _append_accounting(store, cmd.patient_id, [_new(requested), _new(provided)])
    return {"accounting_request_id": request_id, "patient_id": cmd.patient_id, "received_at": requested.received_at,
            "due_at": requested.due_at, "period_start": fmt_ts(parse_ts(report["period_start"])),
            "entries": shown, "withheld_under_suspension": report["withheld_under_suspension"]}


def extend_accounting_deadline(cmd: commands.ExtendAccountingDeadline, store, clock: Clock) -> dict:
    """164.528(c)(1)(ii): one 30-day extension with a written reason, before the deadline.

    Raises AccountingRequestNotFoundError, ExtensionNotAllowedError.
    """
    history = [e for e in _accounting_events(store, cmd.patient_id)
               if e.data.get("accounting_request_id") == cmd.accounting_request_id]
    requested = next((e.data for e in history if e.type == "AccountingRequested"), None)
    if requested is None:
        raise errors.AccountingRequestNotFoundError(f"accounting request {cmd.accounting_request_id} not found")
    extended = [e.data for e in history if e.type == "AccountingDeadlineExtended"]
    current = parse_ts(extended[-1]["due_at"] if extended else requested["due_at"])
    new_due = acct.extended_due_at(current, bool(extended), clock())
    if new_due is None:
        raise errors.ExtensionNotAllowedError("164.528(c)(1)(ii): one extension only, before the deadline")
    event = ev.AccountingDeadlineExtended(accounting_request_id=cmd.accounting_request_id, reason=cmd.reason,
                                          due_at=fmt_ts(new_due), extended_at=fmt_ts(clock()))
    _append_accounting(store, cmd.patient_id, [_new(event)])
    return event.to_data()


# -- right of access (164.524) -------------------------------------------------

def request_access(patient_id: str, requester: dict, store, clock: Clock, notes, engine=default_engine, *,
                   key_dir=None, decided_for: Optional[dict] = None) -> dict:
    """164.524: the individual's access to the designated record set (psychotherapy notes excluded).

    Runs the disclosure workflow with purpose ``individual_access`` on progress
    notes; the notes service exports the set if it offers
    ``export_designated_record_set``. ``due_at`` is 30 days after receipt
    (164.524(b)(2)). Returns the request view (+ ``content``).
    """
    cmd = commands.RequestDisclosure(requester=requester, patient_id=patient_id, purpose="individual_access",
                                     note_kind="progress", action="disclose", received_from=decided_for)
    view = request_disclosure(cmd, store, clock, notes, engine, key_dir=key_dir, decided_for=decided_for)
    view["due_at"] = fmt_ts(parse_ts(view["received_at"]) + timedelta(days=model.ACCESS_RESPONSE_DAYS))
    return view
