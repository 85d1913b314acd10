"""Decisions of the directory, pure: ``decide_*(state, command) -> list[Event]``.

State is the published read model (:mod:`confide.contracts.directory`: Member, Patient, Payer, folded
from their streams). A guard raises a domain error before any event exists; a command that changes
nothing (granting a role already held, linking a linked pair) decides no event, so a retried or
raced request records one fact once.
"""
from __future__ import annotations

from confide.contracts import directory as e
from confide.contracts.base import Event
from directory.domain import commands as c
from directory.domain import errors

PRACTICE_ADMIN = "practice_admin"


def _active(member: e.Member, what: str = "member") -> e.Member:
    if not member.enrolled:
        raise errors.MemberNotFoundError(f"{what} {member.member_id} is not enrolled")
    if not member.active:
        raise errors.MemberInactiveError(f"{what} {member.member_id} is deactivated")
    return member


def decide_member(state: e.Member, command) -> list[Event]:
    if isinstance(command, c.EnrolMember):
        if state.enrolled:
            raise errors.MemberExistsError(f"member {state.member_id} is already enrolled")
        return [e.WorkforceMemberEnrolled(member_id=command.member_id, name=command.name,
                                          credentials=command.credentials, roles=list(command.roles),
                                          by=command.by, at=command.at, npi=command.npi)]
    _active(state)
    if isinstance(command, c.GrantRole):
        if command.role in state.roles:
            return []
        return [e.RoleGranted(member_id=state.member_id, role=command.role, by=command.by, at=command.at)]
    if isinstance(command, c.RevokeRole):
        if command.role not in state.roles:
            raise errors.RoleNotGrantedError(f"role {command.role} is not granted to {state.member_id}")
        return [e.RoleRevoked(member_id=state.member_id, role=command.role, by=command.by, at=command.at)]
    if isinstance(command, c.DeactivateMember):
        return [e.WorkforceMemberDeactivated(member_id=state.member_id, by=command.by, at=command.at)]
    raise TypeError(f"not a member command: {type(command).__name__}")


def decide_supervision(supervisor: e.Member, trainee: e.Member, command) -> list[Event]:
    """Link or end a supervision (recorded in the supervisor's stream)."""
    _active(supervisor, "supervisor")
    if isinstance(command, c.LinkSupervision):
        _active(trainee, "trainee")
        if "supervisor" not in supervisor.roles:
            raise errors.RoleNotGrantedError(f"role supervisor is not granted to {supervisor.member_id}")
        if "trainee" not in trainee.roles:
            raise errors.RoleNotGrantedError(f"role trainee is not granted to {trainee.member_id}")
        if trainee.member_id in supervisor.supervisees:
            return []
        return [e.SupervisionLinked(supervisor_id=supervisor.member_id, trainee_id=trainee.member_id,
                                    by=command.by, at=command.at)]
    if isinstance(command, c.EndSupervision):
        if trainee.member_id not in supervisor.supervisees:
            raise errors.SupervisionNotFoundError(
                f"{supervisor.member_id} does not supervise {trainee.member_id}")
        return [e.SupervisionEnded(supervisor_id=supervisor.member_id, trainee_id=trainee.member_id,
                                   by=command.by, at=command.at)]
    raise TypeError(f"not a supervision command: {type(command).__name__}")


def may_enrol_first_admin(members: list[e.Member]) -> None:
    """Raise FirstAdminExistsError while any active member holds practice_admin."""
    admins = sorted(m.member_id for m in members if m.active and PRACTICE_ADMIN in m.roles)
    if admins:
        raise errors.FirstAdminExistsError(f"an active practice_admin exists ({admins[0]}): set-up enrolment is closed")


def decide_patient(state: e.Patient, command) -> list[Event]:
    if isinstance(command, c.RegisterPatient):
        if state.registered:
            raise errors.PatientExistsError(f"patient {state.patient_id} is already registered")
        return [e.PatientRegistered(patient_id=state.patient_id, name=command.name,
                                    date_of_birth=command.date_of_birth, by=command.by, at=command.at)]
    if not state.registered:
        raise errors.PatientNotRegisteredError(f"patient {state.patient_id} is not registered")
    if isinstance(command, c.RecordRepresentative):
        current = state.representatives.get(command.representative_id)
        if current and (current.name, current.authority) == (command.name, command.authority):
            return []
        return [e.PersonalRepresentativeRecorded(patient_id=state.patient_id,
                                                 representative_id=command.representative_id, name=command.name,
                                                 authority=command.authority, by=command.by, at=command.at)]
    if isinstance(command, c.RevokeRepresentative):
        if command.representative_id not in state.representatives:
            raise errors.RepresentativeNotFoundError(
                f"{command.representative_id} is not a current representative of patient {state.patient_id}")
        return [e.PersonalRepresentativeRevoked(patient_id=state.patient_id,
                                                representative_id=command.representative_id,
                                                by=command.by, at=command.at)]
    raise TypeError(f"not a patient command: {type(command).__name__}")


def decide_payer(state: e.Payer, command) -> list[Event]:
    if isinstance(command, c.RegisterPayer):
        if state.registered:
            raise errors.PayerExistsError(f"payer {state.org} is already registered")
        return [e.PayerRegistered(org=state.org, name=command.name, engine_role=command.engine_role,
                                  jwks=command.jwks, by=command.by, at=command.at)]
    if not state.registered:
        raise errors.PayerNotRegisteredError(f"payer {state.org} is not registered")
    if not state.active:
        raise errors.PayerInactiveError(f"payer {state.org} is deactivated")
    if isinstance(command, c.ReplacePayerKeys):
        return [e.PayerKeysReplaced(org=state.org, jwks=command.jwks, by=command.by, at=command.at)]
    if isinstance(command, c.DeactivatePayer):
        return [e.PayerDeactivated(org=state.org, by=command.by, at=command.at)]
    raise TypeError(f"not a payer command: {type(command).__name__}")
