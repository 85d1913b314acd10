"""DirectoryService: nameko RPC entrypoints. Each checks who is asking (``self.identity``, the
:class:`confide.identity.provider.Identity` dependency), loads the payload with a schema and calls a
handler with the verified subject as ``by``. User errors are ``USER_ERRORS`` (RemoteError ``exc_type``
is the class name); a refusal is NotAuthenticatedError / NotAuthorizedError, recorded first.
"""
from __future__ import annotations

from confide.eventstore.provider import EventStore
from confide.identity.errors import NotAuthenticatedError, NotAuthorizedError
from confide.identity.provider import DirectoryKeys, Identity
from confide.identity.roles import WORKFORCE_ROLES
from confide.rpc import rpc
from confide.timestamps import now_utc
from directory import handlers
from directory import schemas as s
from directory.domain import errors

USER_ERRORS = (errors.DirectoryError, NotAuthenticatedError, NotAuthorizedError)
ADMIN = "practice_admin"
REGISTRARS = ("front_desk", "practice_admin", "release_of_information")
WORKFORCE = tuple(sorted(WORKFORCE_ROLES))
PAYER_READER = "gateway"
#: Who may read the sign-in log and the refused access attempts (164.308(a)(1)(ii)(D), (a)(5)(ii)(C)).
LOG_READERS = ("privacy_officer", "practice_admin")  # the one service that reads a payer as itself (get_payer only)


class DirectoryService:
    name = "directory"

    raw_store = EventStore()
    directory_keys = DirectoryKeys(sign=True)
    identity = Identity()

    @property
    def store(self):
        """The event store as the directory sees it: facts it did not seal do not exist, and what it
        records is sealed with its own key (confide.identity.directory_seal)."""
        return self.directory_keys(self.raw_store)
    clock = staticmethod(now_utc)

    def _by(self, *roles: str, payload=None) -> str:
        principal = self.identity.require(*roles)
        self.identity.refuse_requester_in_payload(payload)
        return principal.subject

    @rpc(expected_exceptions=USER_ERRORS)
    def enrol_first_admin(self, member):
        """Set-up only (the ``cli`` service identity), while no active practice_admin exists.
        ``member``: {member_id, name, credentials, npi?} -> {member_id, events}."""
        self.identity.calling_service("cli")
        return handlers.enrol_first_admin(self.store, self.clock, s.load(s.FirstAdminSchema, member))

    @rpc(expected_exceptions=USER_ERRORS)
    def enrol_member(self, member):
        """practice_admin. ``member``: {member_id, name, credentials, npi?, roles[]} -> {member_id, events}."""
        by = self._by(ADMIN, payload=member)
        return handlers.enrol_member(self.store, self.clock, s.load(s.EnrolMemberSchema, member), by)

    @rpc(expected_exceptions=USER_ERRORS)
    def grant_role(self, member_id, role):
        """practice_admin -> {member_id, events} (no event when already granted)."""
        by = self._by(ADMIN)
        return handlers.grant_role(self.store, self.clock, s.load(s.RoleSchema, {"member_id": member_id, "role": role}), by)

    @rpc(expected_exceptions=USER_ERRORS)
    def revoke_role(self, member_id, role):
        """practice_admin -> {member_id, events}. Raises RoleNotGrantedError."""
        by = self._by(ADMIN)
        payload = s.load(s.RoleSchema, {"member_id": member_id, "role": role})
        return handlers.revoke_role(self.store, self.clock, payload, by)

    @rpc(expected_exceptions=USER_ERRORS)
    def link_supervision(self, supervisor_id, trainee_id):
        """practice_admin -> {supervisor_id, trainee_id, events}."""
        by = self._by(ADMIN)
        payload = s.load(s.SupervisionSchema, {"supervisor_id": supervisor_id, "trainee_id": trainee_id})
        return handlers.link_supervision(self.store, self.clock, payload, by)

    @rpc(expected_exceptions=USER_ERRORS)
    def end_supervision(self, supervisor_id, trainee_id):
        """practice_admin -> {supervisor_id, trainee_id, events}. Raises SupervisionNotFoundError."""
        by = self._by(ADMIN)
        payload = s.load(s.SupervisionSchema, {"supervisor_id": supervisor_id, "trainee_id": trainee_id})
        return handlers.end_supervision(self.store, self.clock, payload, by)

    @rpc(expected_exceptions=USER_ERRORS)
    def deactivate_member(self, member_id):
        """practice_admin -> {member_id, events}. Takes effect on every service within the cache TTL (<= 5 s)."""
        by = self._by(ADMIN)
        return handlers.deactivate_member(self.store, self.clock, s.load(s.MemberIdSchema, {"member_id": member_id}), by)

    @rpc(expected_exceptions=USER_ERRORS)
    def register_patient(self, patient):
        """front_desk, practice_admin, release_of_information. ``patient``: {patient_id, name, date_of_birth}."""
        by = self._by(*REGISTRARS, payload=patient)
        return handlers.register_patient(self.store, self.clock, s.load(s.RegisterPatientSchema, patient), by)

    @rpc(expected_exceptions=USER_ERRORS)
    def record_representative(self, representative):
        """Registrars. {patient_id, representative_id, name, authority}. Raises PatientNotRegisteredError."""
        by = self._by(*REGISTRARS, payload=representative)
        payload = s.load(s.RepresentativeSchema, representative)
        return handlers.record_representative(self.store, self.clock, payload, by)

    @rpc(expected_exceptions=USER_ERRORS)
    def revoke_representative(self, patient_id, representative_id):
        """Registrars -> {patient_id, events}. Raises RepresentativeNotFoundError."""
        by = self._by(*REGISTRARS)
        payload = s.load(s.RevokeRepresentativeSchema, {"patient_id": patient_id, "representative_id": representative_id})
        return handlers.revoke_representative(self.store, self.clock, payload, by)

    @rpc(expected_exceptions=USER_ERRORS)
    def register_payer(self, payer):
        """practice_admin. {org, name, engine_role, jwks{keys[]}} (public keys only) -> {org, events}."""
        by = self._by(ADMIN, payload=payer)
        return handlers.register_payer(self.store, self.clock, s.load(s.RegisterPayerSchema, payer), by)

    @rpc(expected_exceptions=USER_ERRORS)
    def replace_payer_keys(self, org, jwks):
        """practice_admin -> {org, events}."""
        by = self._by(ADMIN)
        return handlers.replace_payer_keys(self.store, self.clock, s.load(s.PayerKeysSchema, {"org": org, "jwks": jwks}), by)

    @rpc(expected_exceptions=USER_ERRORS)
    def deactivate_payer(self, org):
        """practice_admin -> {org, events}."""
        by = self._by(ADMIN)
        return handlers.deactivate_payer(self.store, self.clock, s.load(s.OrgSchema, {"org": org}), by)

    @rpc(expected_exceptions=USER_ERRORS)
    def get_member(self, member_id):
        """Any workforce role -> {member_id, name, credentials, npi, roles, active, supervisees, ...}."""
        self._by(*WORKFORCE)
        return handlers.get_member(self.store, s.load(s.MemberIdSchema, {"member_id": member_id}))

    @rpc(expected_exceptions=USER_ERRORS)
    def sign_in_lookup(self, subject_id):
        """The ``web`` service only, before anyone is signed in (it mints the person's assertion from
        the answer): {member_id, name, roles, active} for an enrolled member, roles ["patient"] for a
        registered patient, None for neither. No credentials, NPI or date of birth."""
        self.identity.calling_service("web")
        return handlers.sign_in_lookup(self.store, s.load(s.MemberIdSchema, {"member_id": subject_id}))

    @rpc(expected_exceptions=USER_ERRORS)
    def get_patient(self, patient_id):
        """Any workforce role -> {patient_id, name, date_of_birth, representatives}. Raises PatientNotRegisteredError."""
        self._by(*WORKFORCE)
        return handlers.get_patient(self.store, s.load(s.PatientIdSchema, {"patient_id": patient_id}))

    @rpc(expected_exceptions=USER_ERRORS)
    def get_payer(self, org):
        """Any workforce role -> {org, name, engine_role, jwks, active}. Also the ``gateway`` service
        asking as itself (its credential alone, no user's assertion): it checks payers' client
        assertions and access tokens against this record before any payer assertion exists."""
        if self.identity.service_alone():
            self.identity.calling_service(PAYER_READER)
        else:
            self._by(*WORKFORCE)
        return handlers.get_payer(self.store, s.load(s.OrgSchema, {"org": org}))

    @rpc(expected_exceptions=USER_ERRORS)
    def record_client_assertion(self, assertion_digest, until):
        """The ``gateway`` service asking as itself only: record a payer's client assertion it
        accepted (``assertion_digest``: SHA-256 hex of client id, NUL, jti; ``until``: RFC 3339 instant
        it verifies until)
        -> {at}. Raises ClientAssertionReplayedError when any gateway replica recorded it before: the
        replay cache all replicas share (an in-process cache would let a replay through another one)."""
        self.identity.calling_service(PAYER_READER)
        payload = s.load(s.ClientAssertionSchema, {"assertion_digest": assertion_digest, "until": until})
        return handlers.record_client_assertion(self.store, self.clock, payload)

    @rpc(expected_exceptions=USER_ERRORS)
    def list_members(self):
        """Any workforce role -> {members[]}."""
        self._by(*WORKFORCE)
        return handlers.list_members(self.store)

    @rpc(expected_exceptions=USER_ERRORS)
    def list_patients(self):
        """Any workforce role -> {patients[]}."""
        self._by(*WORKFORCE)
        return handlers.list_patients(self.store)

    @rpc(expected_exceptions=USER_ERRORS)
    def record_sign_in_event(self, event):
        """The ``web`` service only. ``event``: {type: SignedIn|SignInFailed|AccountLockedOut|SignedOut|
        SessionTimedOut|SessionRevoked, ...its fields} -> {type, at}. SessionRevoked also needs the
        revoking member's assertion (``by`` is taken from it): the session's own member or a practice_admin."""
        self.identity.calling_service("web")
        payload = s.load_sign_in_event(event)
        by = self._revoker(payload["member_id"]) if payload["type"] == "SessionRevoked" else None
        return handlers.record_sign_in_event(self.store, self.clock, payload, by)

    def _revoker(self, member_id) -> str:
        principal = self.identity.principal()
        return principal.subject if principal.subject == member_id else self._by(ADMIN)

    @rpc(expected_exceptions=USER_ERRORS)
    def sign_in_events(self, since=None, until=None, kind=None, member_id=None, limit=500):
        """privacy_officer, practice_admin. The sign-in log and refused access attempts of the UTC days
        ``since``..``until`` (ISO dates; default the last 30 days; at most a year), newest first ->
        {since, until, total, counts{type: n}, failures_by_username[{who, count}], events[{type, at,
        who, member_id, username, session_id, amr, reason, service, method, by, until, kind}]}.
        ``kind``: one event type or ``failures``; ``member_id``: the id (or ``sha256:`` digest, for a
        username that named no account: the only form in which the log holds it) the events name.
        Raises ValidationError (a bad date or kind, a reversed or too long period)."""
        self._by(*LOG_READERS)
        payload = s.load(s.SignInLogSchema, {"since": since, "until": until, "kind": kind,
                                             "member_id": member_id, "limit": limit})
        return handlers.sign_in_events(self.store, self.clock, payload, s.SIGN_IN_LOG_MAX_DAYS)

    @rpc(expected_exceptions=USER_ERRORS)
    def record_access_attempt_refused(self, attempt):
        """Any service identity (recorded as ``service``). {method, reason, subject?, session_id?} -> {type, at}."""
        service = self.identity.calling_service().subject
        payload = s.load(s.AccessAttemptSchema, attempt)
        return handlers.record_access_attempt_refused(self.store, self.clock, payload, service)
