"""Use cases of the directory: load the stream(s), fold, decide, append at the expected version.

Collaborators arrive as parameters: ``store`` (StreamReader + CategoryReader + EventAppender),
``clock`` (-> aware datetime); ``by`` is the verified subject (``setup`` for the first admin).
Payloads are what the schemas loaded; replies are JSON-safe dicts. A raced append is decided
again on the fresh stream (at most ``ATTEMPTS`` times): a second grant of a role already held then
decides nothing, so two racing requests record one fact. Logs carry stream names and event types only.
"""
from __future__ import annotations

import logging
import uuid
from collections import Counter
from datetime import timedelta
from typing import Callable

from confide.contracts import directory as d
from confide.contracts.base import Event
from confide.envelope import NewEvent
from confide.eventstore.errors import WrongExpectedVersionError
from confide.streams import PATIENT, WORKFORCE_MEMBER, id_of
from confide.timestamps import format_ts
from directory.domain import commands as c
from directory.domain import errors
from directory.domain import model as m

log = logging.getLogger(__name__)
ATTEMPTS = 3
SETUP = "setup"
PAGE = 1000


def _append(store, stream: str, expected: int | None, events: list[Event]) -> None:
    if events:
        result = store.append(stream, [NewEvent(ev.type, ev.to_data(), event_id=uuid.uuid4()) for ev in events],
                              expected_version=expected)
        log.info("appended %s to %s at %s", [ev.type for ev in events], stream, result.global_positions)


def _run(store, stream: str, load: Callable[[], tuple[int, list[Event]]]) -> list[Event]:
    """``load()`` -> (stream version, decided events); appended at that version, decided again if raced."""
    for _ in range(ATTEMPTS):
        version, events = load()
        try:
            _append(store, stream, version, events)
            return events
        except WrongExpectedVersionError:
            log.info("raced on %s; deciding again", stream)
    raise errors.ConcurrentChangeError(f"{stream} kept changing; nothing was written, try again")


def _member(store, member_id: str) -> d.Member:
    return d.fold_member(member_id, [(r.type, r.data) for r in store.read_stream(d.member_stream(member_id))])


def _patient(store, patient_id: str) -> d.Patient:
    return d.fold_patient(patient_id, [(r.type, r.data) for r in store.read_stream(d.patient_stream(patient_id))])


def _payer(store, org: str) -> d.Payer:
    return d.fold_payer(org, [(r.type, r.data) for r in store.read_stream(d.payer_stream(org))])


def _reply(key: str, value: str, events: list[Event]) -> dict:
    return {key: value, "events": [ev.type for ev in events]}


# -- workforce ---------------------------------------------------------------------------------

def _member_command(store, command) -> dict:
    stream = d.member_stream(command.member_id)

    def load():
        state = _member(store, command.member_id)
        return state.version, m.decide_member(state, command)

    return _reply("member_id", command.member_id, _run(store, stream, load))


def enrol_member(store, clock, payload: dict, by: str) -> dict:
    """Enrol a workforce member. Raises MemberExistsError."""
    return _member_command(store, c.EnrolMember(payload["member_id"], payload["name"], payload["credentials"],
                                                tuple(payload["roles"]), by, format_ts(clock()), payload["npi"]))


def enrol_first_admin(store, clock, payload: dict) -> dict:
    """The set-up's practice admin, only while no active practice_admin exists (``by`` = setup).
    Raises FirstAdminExistsError."""
    m.may_enrol_first_admin(list_member_states(store))
    roles = tuple(dict.fromkeys([m.PRACTICE_ADMIN, *payload.get("roles", ())]))
    return enrol_member(store, clock, {**payload, "roles": roles}, SETUP)


def grant_role(store, clock, payload: dict, by: str) -> dict:
    return _member_command(store, c.GrantRole(payload["member_id"], payload["role"], by, format_ts(clock())))


def revoke_role(store, clock, payload: dict, by: str) -> dict:
    return _member_command(store, c.RevokeRole(payload["member_id"], payload["role"], by, format_ts(clock())))


def deactivate_member(store, clock, payload: dict, by: str) -> dict:
    return _member_command(store, c.DeactivateMember(payload["member_id"], by, format_ts(clock())))


def _supervision(store, command) -> dict:
    def load():
        supervisor = _member(store, command.supervisor_id)
        return supervisor.version, m.decide_supervision(supervisor, _member(store, command.trainee_id), command)

    events = _run(store, d.member_stream(command.supervisor_id), load)
    return {"supervisor_id": command.supervisor_id, "trainee_id": command.trainee_id,
            "events": [ev.type for ev in events]}


def link_supervision(store, clock, payload: dict, by: str) -> dict:
    return _supervision(store, c.LinkSupervision(payload["supervisor_id"], payload["trainee_id"], by,
                                                 format_ts(clock())))


def end_supervision(store, clock, payload: dict, by: str) -> dict:
    return _supervision(store, c.EndSupervision(payload["supervisor_id"], payload["trainee_id"], by,
                                                format_ts(clock())))


# -- patients and payers -----------------------------------------------------------------------

def _patient_command(store, command) -> dict:
    def load():
        state = _patient(store, command.patient_id)
        return state.version, m.decide_patient(state, command)

    return _reply("patient_id", command.patient_id, _run(store, d.patient_stream(command.patient_id), load))


def register_patient(store, clock, payload: dict, by: str) -> dict:
    return _patient_command(store, c.RegisterPatient(payload["patient_id"], payload["name"],
                                                     payload["date_of_birth"].isoformat(), by, format_ts(clock())))


def record_representative(store, clock, payload: dict, by: str) -> dict:
    return _patient_command(store, c.RecordRepresentative(payload["patient_id"], payload["representative_id"],
                                                          payload["name"], payload["authority"], by,
                                                          format_ts(clock())))


def revoke_representative(store, clock, payload: dict, by: str) -> dict:
    return _patient_command(store, c.RevokeRepresentative(payload["patient_id"], payload["representative_id"],
                                                          by, format_ts(clock())))


def _payer_command(store, command) -> dict:
    def load():
        state = _payer(store, command.org)
        return state.version, m.decide_payer(state, command)

    return _reply("org", command.org, _run(store, d.payer_stream(command.org), load))


def register_payer(store, clock, payload: dict, by: str) -> dict:
    return _payer_command(store, c.RegisterPayer(payload["org"], payload["name"], payload["engine_role"],
                                                 payload["jwks"], by, format_ts(clock())))


def replace_payer_keys(store, clock, payload: dict, by: str) -> dict:
    return _payer_command(store, c.ReplacePayerKeys(payload["org"], payload["jwks"], by, format_ts(clock())))


def deactivate_payer(store, clock, payload: dict, by: str) -> dict:
    return _payer_command(store, c.DeactivatePayer(payload["org"], by, format_ts(clock())))


# -- reads -------------------------------------------------------------------------------------

def member_view(member: d.Member) -> dict:
    return {"member_id": member.member_id, "name": member.name, "credentials": member.credentials,
            "npi": member.npi, "roles": sorted(member.roles), "active": member.active,
            "supervisees": sorted(member.supervisees), "enrolled_at": member.enrolled_at,
            "deactivated_at": member.deactivated_at}


def patient_view(patient: d.Patient) -> dict:
    return {"patient_id": patient.patient_id, "name": patient.name, "date_of_birth": patient.date_of_birth,
            "representatives": [{"representative_id": r.representative_id, "name": r.name,
                                 "authority": r.authority, "recorded_at": r.recorded_at}
                                for r in sorted(patient.representatives.values(), key=lambda r: r.representative_id)]}


def get_member(store, payload: dict) -> dict:
    member = d.member_as_of(store, payload["member_id"])
    if member is None:
        raise errors.MemberNotFoundError(f"member {payload['member_id']} is not enrolled")
    return member_view(member)


def sign_in_lookup(store, payload: dict) -> dict | None:
    """Who ``member_id`` is for the front door's sign-in: a member, a patient, or None."""
    member = d.member_as_of(store, payload["member_id"])
    if member is not None:
        return {"member_id": member.member_id, "name": member.name, "roles": sorted(member.roles),
                "active": member.active}
    patient = d.patient_as_of(store, payload["member_id"])
    if patient is not None:
        return {"member_id": patient.patient_id, "name": patient.name, "roles": ["patient"], "active": True}
    return None


def get_patient(store, payload: dict) -> dict:
    patient = d.patient_as_of(store, payload["patient_id"])
    if patient is None:
        raise errors.PatientNotRegisteredError(f"patient {payload['patient_id']} is not registered")
    return patient_view(patient)


def get_payer(store, payload: dict) -> dict:
    payer = d.payer_as_of(store, payload["org"])
    if payer is None:
        raise errors.PayerNotRegisteredError(f"payer {payload['org']} is not registered")
    return {"org": payer.org, "name": payer.name, "engine_role": payer.engine_role, "jwks": dict(payer.jwks),
            "active": payer.active}


def _category_streams(store, category: str) -> dict[str, list[tuple[str, dict]]]:
    streams: dict[str, list[tuple[str, dict]]] = {}
    position = 1
    while True:
        batch = store.read_category(category, from_position=position, limit=PAGE)
        for r in batch:
            streams.setdefault(id_of(r.stream_name), []).append((r.type, r.data))
        if len(batch) < PAGE:
            return streams
        position = batch[-1].global_position + 1


def list_member_states(store) -> list[d.Member]:
    return [d.fold_member(mid, events) for mid, events in sorted(_category_streams(store, WORKFORCE_MEMBER).items())]


def list_members(store) -> dict:
    return {"members": [member_view(mem) for mem in list_member_states(store) if mem.enrolled]}


def list_patients(store) -> dict:
    patients = [d.fold_patient(pid, events) for pid, events in sorted(_category_streams(store, PATIENT).items())]
    return {"patients": [patient_view(p) for p in patients if p.registered]}


# -- sign-in and refusals ------------------------------------------------------------------------

def record_sign_in_event(store, clock, payload: dict, by: str | None = None) -> dict:
    """Append one sign-in event to the day's ``signIn-`` stream (any version: a log, not a decision)."""
    at = format_ts(clock())
    body = {k: v for k, v in payload.items() if k != "type"}
    if payload["type"] == "AccountLockedOut" and body.get("until") is not None:
        body["until"] = format_ts(body["until"])
    if payload["type"] == "SessionRevoked":
        body["by"] = by
    event = d.SIGN_IN_EVENTS[payload["type"]].from_data({**body, "at": at})
    _append(store, d.sign_in_stream(at), None, [event])
    return {"type": event.type, "at": at}


def record_access_attempt_refused(store, clock, payload: dict, service: str) -> dict:
    at = format_ts(clock())
    event = d.AccessAttemptRefused(service=service, method=payload["method"], reason=payload["reason"], at=at,
                                   subject=payload["subject"], session_id=payload["session_id"])
    _append(store, d.access_attempt_stream(at), None, [event])
    return {"type": event.type, "at": at}


def record_client_assertion(store, clock, payload: dict) -> dict:
    """Record that the gateway accepted the client assertion whose digest is
    ``payload["assertion_digest"]`` (valid until ``payload["until"]``): ClientAssertionUsed, the first event of its own stream, appended at
    "no stream yet". Whichever gateway replica records it first wins; every later attempt, on any
    replica, finds the stream there. -> {at}. Raises ClientAssertionReplayedError for an assertion
    already recorded (a replay, RFC 7523 3(7))."""
    at = format_ts(clock())
    digest = payload["assertion_digest"]
    event = d.ClientAssertionUsed(assertion_digest=digest, until=format_ts(payload["until"]), at=at)
    try:
        _append(store, d.client_assertion_stream(digest), -1, [event])
    except WrongExpectedVersionError:
        raise errors.ClientAssertionReplayedError("this client assertion was already used") from None
    return {"at": at}


#: Event types the sign-in log counts as failures.
FAILURE_TYPES = ("SignInFailed", "AccountLockedOut", "AccessAttemptRefused")
#: Days shown when no period is given.
DEFAULT_LOG_DAYS = 30


def _log_row(r) -> dict:
    data = dict(r.data)
    who = data.get("member_id") or data.get("subject") or data.get("username")
    return {"type": r.type, "at": data.get("at") or format_ts(r.recorded_at), "who": who,
            "member_id": data.get("member_id"), "username": data.get("username"),
            "session_id": data.get("session_id"), "amr": data.get("amr"), "reason": data.get("reason"),
            "service": data.get("service"), "method": data.get("method"), "by": data.get("by"),
            "until": data.get("until"), "kind": data.get("kind")}


def sign_in_events(store, clock, payload: dict, max_days: int) -> dict:
    """The sign-in log (``signIn-<day>``) and the refused access attempts (``accessAttempt-<day>``)
    of the days ``since``..``until`` (UTC; default the last 30 days), newest first, at most
    ``limit`` rows; ``kind`` one type or ``failures``; ``member_id`` the member, patient or
    ``sha256:`` digest the event names. ``counts`` per type and ``failures_by_username`` cover every
    matching event, not only the rows returned. Raises ValidationError for a reversed or too long period."""
    today = clock().date()
    until = payload["until"] or today
    since = payload["since"] or until - timedelta(days=DEFAULT_LOG_DAYS - 1)
    if since > until:
        raise errors.ValidationError("since: must not be after until", {"since": ["after until"]})
    days = (until - since).days + 1
    if days > max_days:
        raise errors.ValidationError(f"since: at most {max_days} days at a time", {"since": ["period too long"]})
    names = []
    for i in range(days):
        day = format_ts_day(since + timedelta(days=i))
        names += [d.sign_in_stream(day), d.access_attempt_stream(day)]
    rows = [_log_row(r) for r in store.read_streams(names)
            if r.type in d.SIGN_IN_EVENT_TYPES or r.type == "AccessAttemptRefused"]
    kind, member = payload["kind"], payload["member_id"]
    if kind == "failures":
        rows = [r for r in rows if r["type"] in FAILURE_TYPES]
    elif kind:
        rows = [r for r in rows if r["type"] == kind]
    if member:
        rows = [r for r in rows if member in (r["member_id"], r["username"], r["who"])]
    rows.sort(key=lambda r: r["at"], reverse=True)
    failures = Counter(r["who"] or "(unverified caller)" for r in rows if r["type"] in FAILURE_TYPES)
    return {"since": since.isoformat(), "until": until.isoformat(), "total": len(rows),
            "counts": dict(Counter(r["type"] for r in rows)),
            "failures_by_username": [{"who": k, "count": v} for k, v in failures.most_common()],
            "events": rows[:payload["limit"]]}


def format_ts_day(day) -> str:
    """An RFC 3339 instant at the start of a UTC ``day`` (what the day's stream names are built from)."""
    return f"{day.isoformat()}T00:00:00Z"
