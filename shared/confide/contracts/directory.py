"""The practice's directory, published: who may ask (workforce, patients, payers) and how they signed in.

Streams (:mod:`confide.streams`):

- ``workforceMember-<member_id>``: WorkforceMemberEnrolled, RoleGranted, RoleRevoked,
  SupervisionLinked / SupervisionEnded (in the *supervisor's* stream), WorkforceMemberDeactivated.
- ``patient-<patient_id>``: PatientRegistered, PersonalRepresentativeRecorded / Revoked
  (45 CFR 164.502(g)). Other writers may add their own types to a patient's stream; the fold
  ignores types it does not know.
- ``payer-<org>``: PayerRegistered, PayerKeysReplaced, PayerDeactivated.
- ``signIn-<YYYY-MM-DD>`` (UTC day of ``at``): SignedIn, SignInFailed, AccountLockedOut, SignedOut,
  SessionTimedOut, SessionRevoked. One stream per day rather than per member because a failed
  sign-in often names no member (an unknown or malformed username) and a revocation names a session;
  appends never contend on a member's version (any-version append), and a day's log reads as one
  stream. Per-member questions are answered by filtering on ``member_id``.
- ``accessAttempt-<YYYY-MM-DD>``: AccessAttemptRefused, appended by every service's Identity
  provider before it refuses a call (:mod:`confide.identity.provider`).
- ``clientAssertion-<digest>``: ClientAssertionUsed, one stream per payer client assertion the
  gateway accepted (``digest``: SHA-256 of the client id and the assertion's ``jti``), appended at
  "no stream yet", so of two gateway replicas offered the same assertion exactly one records it:
  the replay cache every replica shares (RFC 7523 3(7)), and the log of payers' authentications.

No event carries clinical content: names, credentials and dates of birth of patients are directory
facts, never note text; a refusal carries the reason and ids only. Every id is canonical
(:func:`confide.identity.ids.normalise_id`) before it is written or looked up.

Read models (pure folds over ``(type, data)`` and readers taking a ``read_stream`` reader):
:func:`member_as_of`, :func:`patient_as_of`, :func:`payer_as_of`. Versioning:
:mod:`confide.contracts.base`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Iterable, Mapping, Optional, Protocol, Sequence

from confide.contracts.base import Event, event_from_stored, registry
from confide.envelope import canonical_json
from confide.identity.ids import normalise_id
from confide.streams import ACCESS_ATTEMPT, CLIENT_ASSERTION, PATIENT, PAYER, SIGN_IN, WORKFORCE_MEMBER, stream_name

#: The engine roles a payer organisation decides as (``requester.role`` of shared/cases/README.md).
PAYER_ENGINE_ROLES = ("insurer_health_plan", "insurer_non_covered", "workers_comp_carrier")
#: The authority a personal representative holds (164.502(g)(2)-(4)).
REPRESENTATIVE_AUTHORITIES = ("parent", "legal_guardian", "health_care_power_of_attorney",
                              "court_appointed", "executor_or_administrator")
#: Sign-in events (the web front door records them through the directory service).
SIGN_IN_EVENT_TYPES = ("SignedIn", "SignInFailed", "AccountLockedOut", "SignedOut", "SessionTimedOut",
                       "SessionRevoked")


# -- workforce -------------------------------------------------------------------------------

@dataclass(frozen=True)
class WorkforceMemberEnrolled(Event):
    member_id: str
    name: str
    credentials: str
    roles: list
    by: str  # the member who enrolled them, or "setup" for the first practice admin
    at: str
    npi: Optional[str] = None


@dataclass(frozen=True)
class RoleGranted(Event):
    member_id: str
    role: str
    by: str
    at: str


@dataclass(frozen=True)
class RoleRevoked(Event):
    member_id: str
    role: str
    by: str
    at: str


@dataclass(frozen=True)
class SupervisionLinked(Event):
    """In the supervisor's stream: ``supervisor_id`` now supervises ``trainee_id``."""

    supervisor_id: str
    trainee_id: str
    by: str
    at: str


@dataclass(frozen=True)
class SupervisionEnded(Event):
    supervisor_id: str
    trainee_id: str
    by: str
    at: str


@dataclass(frozen=True)
class WorkforceMemberDeactivated(Event):
    member_id: str
    by: str
    at: str


# -- patients --------------------------------------------------------------------------------

@dataclass(frozen=True)
class PatientRegistered(Event):
    patient_id: str
    name: str
    date_of_birth: str  # YYYY-MM-DD
    by: str
    at: str


@dataclass(frozen=True)
class PersonalRepresentativeRecorded(Event):
    patient_id: str
    representative_id: str
    name: str
    authority: str  # one of REPRESENTATIVE_AUTHORITIES
    by: str
    at: str


@dataclass(frozen=True)
class PersonalRepresentativeRevoked(Event):
    patient_id: str
    representative_id: str
    by: str
    at: str


# -- payers ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class PayerRegistered(Event):
    org: str
    name: str
    engine_role: str  # one of PAYER_ENGINE_ROLES
    jwks: dict  # public keys only (SMART Backend Services client authentication)
    by: str
    at: str


@dataclass(frozen=True)
class PayerKeysReplaced(Event):
    org: str
    jwks: dict
    by: str
    at: str


@dataclass(frozen=True)
class PayerDeactivated(Event):
    org: str
    by: str
    at: str


# -- sign-in (recorded by the web front door through the directory service) ------------------

@dataclass(frozen=True)
class SignedIn(Event):
    member_id: str
    session_id: str
    amr: list  # RFC 8176 methods
    at: str


@dataclass(frozen=True)
class SignInFailed(Event):
    """``username``: the normalised id, or ``sha256:<hex>`` of what was typed when it is not a valid id."""

    username: str
    reason: str
    at: str


@dataclass(frozen=True)
class AccountLockedOut(Event):
    username: str
    at: str
    until: Optional[str] = None


@dataclass(frozen=True)
class SignedOut(Event):
    member_id: str
    session_id: str
    at: str


@dataclass(frozen=True)
class SessionTimedOut(Event):
    member_id: str
    session_id: str
    at: str
    kind: str = "idle"  # idle | absolute


@dataclass(frozen=True)
class SessionRevoked(Event):
    session_id: str
    by: str
    at: str
    member_id: Optional[str] = None


# -- refusals --------------------------------------------------------------------------------

@dataclass(frozen=True)
class AccessAttemptRefused(Event):
    """A call refused by a service's Identity provider: which service and method, why, and who when
    that was verified (``subject``/``session_id`` are ``None`` for an unverifiable caller)."""

    service: str
    method: str
    reason: str
    at: str
    subject: Optional[str] = None
    session_id: Optional[str] = None


@dataclass(frozen=True)
class ClientAssertionUsed(Event):
    """A payer's client assertion the gateway accepted at the token endpoint: its digest (never the
    assertion), until when it could verify, and when it was used (45 CFR 164.312(b), (d))."""

    assertion_digest: str
    until: str
    at: str


MEMBER_EVENTS = registry([WorkforceMemberEnrolled, RoleGranted, RoleRevoked, SupervisionLinked, SupervisionEnded,
                          WorkforceMemberDeactivated])
PATIENT_EVENTS = registry([PatientRegistered, PersonalRepresentativeRecorded, PersonalRepresentativeRevoked])
PAYER_EVENTS = registry([PayerRegistered, PayerKeysReplaced, PayerDeactivated])
SIGN_IN_EVENTS = registry([SignedIn, SignInFailed, AccountLockedOut, SignedOut, SessionTimedOut, SessionRevoked])
ACCESS_ATTEMPT_EVENTS = registry([AccessAttemptRefused])
CLIENT_ASSERTION_EVENTS = registry([ClientAssertionUsed])
DIRECTORY_EVENTS = {**MEMBER_EVENTS, **PATIENT_EVENTS, **PAYER_EVENTS, **SIGN_IN_EVENTS, **ACCESS_ATTEMPT_EVENTS,
                    **CLIENT_ASSERTION_EVENTS}


# -- streams ---------------------------------------------------------------------------------

def member_stream(member_id: str) -> str:
    return stream_name(WORKFORCE_MEMBER, normalise_id(member_id, "member_id"))


def patient_stream(patient_id: str) -> str:
    return stream_name(PATIENT, normalise_id(patient_id, "patient_id"))


def payer_stream(org: str) -> str:
    return stream_name(PAYER, normalise_id(org, "org"))


def sign_in_stream(at: str) -> str:
    """The day's sign-in stream for an RFC 3339 UTC instant (``signIn-YYYY-MM-DD``)."""
    return stream_name(SIGN_IN, at[:10])


def access_attempt_stream(at: str) -> str:
    return stream_name(ACCESS_ATTEMPT, at[:10])


def client_assertion_digest(assertion_id: str) -> str:
    """SHA-256 (hex) of a client assertion's id as the gateway names it (client id, NUL, jti)."""
    import hashlib

    return hashlib.sha256(assertion_id.encode("utf-8")).hexdigest()


def client_assertion_stream(digest: str) -> str:
    """``clientAssertion-<digest>``: the one stream a used client assertion is recorded in
    (``digest``: :func:`client_assertion_digest` of its id)."""
    return stream_name(CLIENT_ASSERTION, digest)


# -- read models -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Member:
    """A workforce member as folded. ``version``: the stream version (-1: never enrolled)."""

    member_id: str
    version: int = -1
    name: str = ""
    credentials: str = ""
    npi: Optional[str] = None
    roles: frozenset = frozenset()
    active: bool = False
    supervisees: frozenset = frozenset()
    enrolled_at: Optional[str] = None
    deactivated_at: Optional[str] = None

    @property
    def enrolled(self) -> bool:
        # An enrolment on file (a stream holding only events the directory did not seal is none).
        return self.enrolled_at is not None


@dataclass(frozen=True)
class Representative:
    representative_id: str
    name: str
    authority: str
    recorded_at: str


@dataclass(frozen=True)
class Patient:
    patient_id: str
    version: int = -1
    registered: bool = False
    name: str = ""
    date_of_birth: str = ""
    representatives: Mapping[str, Representative] = field(default_factory=dict)


@dataclass(frozen=True)
class Payer:
    org: str
    version: int = -1
    name: str = ""
    engine_role: str = ""
    jwks: Mapping[str, Any] = field(default_factory=dict)
    active: bool = False

    @property
    def registered(self) -> bool:
        return bool(self.name)


def evolve_member(state: Member, event: Event) -> Member:
    state = replace(state, version=state.version + 1)
    if isinstance(event, WorkforceMemberEnrolled):
        return replace(state, name=event.name, credentials=event.credentials, npi=event.npi,
                       roles=frozenset(event.roles), active=True, enrolled_at=event.at)
    if isinstance(event, RoleGranted):
        return replace(state, roles=state.roles | {event.role})
    if isinstance(event, RoleRevoked):
        return replace(state, roles=state.roles - {event.role})
    if isinstance(event, SupervisionLinked):
        return replace(state, supervisees=state.supervisees | {event.trainee_id})
    if isinstance(event, SupervisionEnded):
        return replace(state, supervisees=state.supervisees - {event.trainee_id})
    if isinstance(event, WorkforceMemberDeactivated):
        return replace(state, active=False, deactivated_at=event.at)
    return state


def evolve_patient(state: Patient, event: Event | None) -> Patient:
    state = replace(state, version=state.version + 1)
    if isinstance(event, PatientRegistered):
        return replace(state, registered=True, name=event.name, date_of_birth=event.date_of_birth)
    if isinstance(event, PersonalRepresentativeRecorded):
        rep = Representative(event.representative_id, event.name, event.authority, event.at)
        return replace(state, representatives={**state.representatives, rep.representative_id: rep})
    if isinstance(event, PersonalRepresentativeRevoked):
        return replace(state, representatives={k: v for k, v in state.representatives.items()
                                               if k != event.representative_id})
    return state


def evolve_payer(state: Payer, event: Event) -> Payer:
    state = replace(state, version=state.version + 1)
    if isinstance(event, PayerRegistered):
        return replace(state, name=event.name, engine_role=event.engine_role, jwks=event.jwks, active=True)
    if isinstance(event, PayerKeysReplaced):
        return replace(state, jwks=event.jwks)
    if isinstance(event, PayerDeactivated):
        return replace(state, active=False)
    return state


def _events(types: Mapping[str, type[Event]], stored: Iterable[tuple[str, Mapping[str, Any]]]) -> list[Event | None]:
    # A type another writer put in the stream is kept as None: it still counts for the version.
    return [event_from_stored(types, t, d) if t in types else None for t, d in stored]


def fold_member(member_id: str, stored: Iterable[tuple[str, Mapping[str, Any]]]) -> Member:
    """The member from their stream's ``(type, data)`` pairs, in order."""
    state = Member(normalise_id(member_id, "member_id"))
    for event in _events(MEMBER_EVENTS, stored):
        state = evolve_member(state, event) if event else replace(state, version=state.version + 1)
    return state


def fold_patient(patient_id: str, stored: Iterable[tuple[str, Mapping[str, Any]]]) -> Patient:
    state = Patient(normalise_id(patient_id, "patient_id"))
    for event in _events(PATIENT_EVENTS, stored):
        state = evolve_patient(state, event)
    return state


def fold_payer(org: str, stored: Iterable[tuple[str, Mapping[str, Any]]]) -> Payer:
    state = Payer(normalise_id(org, "org"))
    for event in _events(PAYER_EVENTS, stored):
        state = evolve_payer(state, event) if event else replace(state, version=state.version + 1)
    return state


# -- seals: directory facts count only when the directory service signed them ----------------

#: Event metadata key of the directory service's Ed25519 signature (confide.identity.directory_seal).
SEAL_METADATA_KEY = "directory_seal"
#: The type a reader sees in place of a directory event whose seal does not verify: it counts for the
#: stream's version, and every fold ignores it.
UNSEALED = "UnsealedDirectoryEvent"
#: Directory state (sealed): who is enrolled with which roles, which patients and payers exist.
SEALED_TYPES = frozenset(MEMBER_EVENTS) | frozenset(PATIENT_EVENTS) | frozenset(PAYER_EVENTS)
SEALED_CATEGORIES = frozenset({WORKFORCE_MEMBER, PATIENT, PAYER})


def seal_payload(stream: str, type_: str, data: Mapping[str, Any]) -> bytes:
    """The bytes the directory signs for one event: RFC 8785 JSON of ``{stream, type, data}``."""
    return canonical_json({"stream": stream, "type": type_, "data": dict(data)}).encode("utf-8")


class _Recorded(Protocol):
    type: str
    data: Mapping[str, Any]
    recorded_at: datetime


class StreamReader(Protocol):
    """What the readers need of the store (:class:`confide.eventstore.interfaces.StreamReader`)."""

    def read_stream(self, stream_name: str, from_version: int = 0) -> Sequence[Any]: ...


def _stored(reader: StreamReader, stream: str, at: datetime | None) -> list[tuple[str, Mapping[str, Any]]]:
    if not getattr(reader, "verifies_directory_seals", False):
        # Fail closed: the services' database login can append events, so directory facts are
        # believed only through a reader that checks the directory's seal.
        raise TypeError("directory facts are read only through confide.identity.directory_seal.SealedDirectory")
    recorded = reader.read_stream(stream)
    return [(r.type, r.data) for r in recorded if at is None or r.recorded_at <= at]


class ReadAhead:
    """``reader`` with the given streams read now, in ONE ``read_streams`` call of it (one query on
    PostgreSQL, not one per stream): ``read_stream`` of one of them (from its start) answers what
    that call read, anything else goes to ``reader``. For the facts one call needs together (the
    payer and the patient of a disclosure request). ``reader`` must check the directory's seals as
    :func:`patient_as_of` requires (its ``read_streams`` checks them as its ``read_stream`` does);
    this wrapper says so only when ``reader`` does."""

    def __init__(self, reader: Any, stream_names: Iterable[str]) -> None:
        self._reader = reader
        names = list(dict.fromkeys(stream_names))
        self._read: dict[str, list] = {name: [] for name in names}
        for event in reader.read_streams(names) if names else ():
            self._read[event.stream_name].append(event)  # global order is each stream's order

    @property
    def verifies_directory_seals(self) -> bool:
        return bool(getattr(self._reader, "verifies_directory_seals", False))

    def read_stream(self, stream_name: str, from_version: int = 0) -> Sequence[Any]:
        if from_version == 0 and stream_name in self._read:
            return list(self._read[stream_name])
        return self._reader.read_stream(stream_name, from_version)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reader, name)


def member_as_of(reader: StreamReader, member_id: str, at: datetime | None = None) -> Member | None:
    """The member as recorded by ``at`` (aware datetime; default now), or None if never enrolled by then.
    Raises InvalidIdentifierError for an id that is not canonical-able."""
    member = fold_member(member_id, _stored(reader, member_stream(member_id), at))
    return member if member.enrolled else None


def patient_as_of(reader: StreamReader, patient_id: str, at: datetime | None = None) -> Patient | None:
    """The registered patient as of ``at``, or None when not registered by then."""
    patient = fold_patient(patient_id, _stored(reader, patient_stream(patient_id), at))
    return patient if patient.registered else None


def payer_as_of(reader: StreamReader, org: str, at: datetime | None = None) -> Payer | None:
    """The payer as of ``at`` (active or deactivated), or None when never registered by then."""
    payer = fold_payer(org, _stored(reader, payer_stream(org), at))
    return payer if payer.registered else None
