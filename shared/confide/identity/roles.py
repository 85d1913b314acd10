"""The fixed catalogue of roles an identity assertion may carry, and what each means to the engine.

An assertion's ``roles`` come only from this catalogue: a role the catalogue does not name is
refused, never ignored (an unknown role could be a typo that grants nothing today and a
privilege after the next release). The catalogue has two parts:

- :data:`WORKFORCE_ROLES`: what a member of the practice's workforce (45 CFR 160.103) does there.
  One person may hold several (a clinician who also supervises).
- :data:`NON_WORKFORCE_PRINCIPALS`: the principals who are not workforce: the patient, an
  insurer's staff using the payer interface, and a Confide service acting on its own account.

The decision engine does not take these roles: it takes a *requester role* (``requester.role`` in
``shared/cases/README.md``, e.g. ``originator_clinician``, ``billing_staff``), which also depends
on facts about the request. :data:`ENGINE_ROLE` gives the requester role where the workforce role
alone settles it and ``None`` where it does not (the caller establishes it from the facts).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

__all__ = [
    "WORKFORCE_ROLES",
    "NON_WORKFORCE_PRINCIPALS",
    "ROLE_CATALOGUE",
    "ENGINE_REQUESTER_ROLES",
    "ENGINE_ROLE",
    "UnknownRoleError",
    "check_roles",
    "engine_role",
]

WORKFORCE_ROLES: Mapping[str, str] = MappingProxyType({
    "clinician": "A licensed clinician of the practice who treats patients and writes notes. Whether they "
                 "wrote the note asked for (originator_clinician) or not (clinician_same_practice) is a "
                 "fact of the note, decided by the notes service, not by the assertion.",
    "trainee": "A student, trainee or practitioner in a supervised training program of the practice "
               "(45 CFR 164.508(a)(2)(i)(B)); engine role trainee.",
    "supervisor": "A clinician who supervises trainees; engine role supervisor (whether they supervise "
                  "the note's author is a fact the caller establishes).",
    "front_desk": "Scheduling and check-in staff. Workforce, but the engine has no requester role for "
                  "them, so none is derived (the caller must not invent one).",
    "billing": "Billing and claims staff, using PHI for payment (164.506(c)); engine role billing_staff.",
    "release_of_information": "Staff who process requests for records on the practice's behalf. They are "
                              "not the requester: the engine judges the party asking (court, insurer, "
                              "patient ...), so there is no engine role.",
    "privacy_officer": "The privacy official of 164.530(a)(1) and compliance staff; engine role "
                       "compliance_staff.",
    "practice_admin": "Practice administration (operations, 164.501); engine role practice_admin.",
    "auditor": "Reads the audit trail and the accounting of disclosures (164.312(b), 164.528); engine "
               "role auditor.",
})
"""Workforce role -> what it is. The catalogue is fixed: adding a role is a code change and a review."""

NON_WORKFORCE_PRINCIPALS: Mapping[str, str] = MappingProxyType({
    "patient": "The individual the records are about, acting for themself (164.524 access, 164.526 "
               "amendment, 164.528 accounting); engine role patient. A personal representative or "
               "designee is a fact of the request (patient_designee, parent), not this role.",
    "insurer": "Staff of a payer using the payer interface. Whether the payer is a covered health plan "
               "(insurer_health_plan) or not (insurer_non_covered, workers_comp_carrier) is a fact about "
               "the org, so there is no engine role from this alone.",
    "service": "A Confide service acting on its own account (a projection rebuild, the outbox relay), "
               "never on a person's behalf; no engine role: a service is not a requester.",
})
"""Non-workforce principal -> what it is."""

ROLE_CATALOGUE: frozenset[str] = frozenset(WORKFORCE_ROLES) | frozenset(NON_WORKFORCE_PRINCIPALS)
"""Every role an assertion may carry."""

ENGINE_REQUESTER_ROLES: frozenset[str] = frozenset({
    "originator_clinician", "clinician_same_practice", "former_workforce_clinician", "trainee",
    "supervisor", "billing_staff", "compliance_staff", "practice_admin", "external_clinician",
    "external_clinician_group", "insurer_health_plan", "insurer_non_covered", "business_associate",
    "workers_comp_carrier", "patient", "patient_designee", "parent", "hhs_ocr", "court", "attorney",
    "defense_counsel", "prosecutor", "law_enforcement", "coroner_me", "health_oversight_agency",
    "child_protective_services", "researcher", "person_able_to_prevent_threat", "auditor",
})
"""The decision engine's requester roles (``requester.role`` in ``shared/cases/README.md``)."""

ENGINE_ROLE: Mapping[str, str | None] = MappingProxyType({
    "clinician": None,               # originator_clinician or clinician_same_practice: the note decides
    "trainee": "trainee",
    "supervisor": "supervisor",
    "front_desk": None,              # no engine role: nothing is granted on it
    "billing": "billing_staff",
    "release_of_information": None,  # processes requests; the requester is the party asking
    "privacy_officer": "compliance_staff",
    "practice_admin": "practice_admin",
    "auditor": "auditor",
    "patient": "patient",
    "insurer": None,                 # health plan or not is a fact about the org
    "service": None,                 # a service is not a requester
})
"""Catalogue role -> the engine's requester role when the role alone settles it, else ``None``."""


class UnknownRoleError(ValueError):
    """A role that is not in :data:`ROLE_CATALOGUE`. ``role`` is the refused value."""

    def __init__(self, role: object) -> None:
        self.role = role
        shown = repr(role)[:64] if isinstance(role, str) else f"of type {type(role).__name__}"  # repr escapes bidi controls
        super().__init__(f"role {shown} is not in the role catalogue")


def check_roles(roles: Iterable[object]) -> tuple[str, ...]:
    """``roles`` as a tuple, in the given order, once each checked against the catalogue.

    Raises UnknownRoleError for a role not in :data:`ROLE_CATALOGUE` (including a non-string), and
    ValueError when there is no role or a role is repeated (a repeat is a minting bug, not a grant).
    """
    out = tuple(roles)
    if not out:
        raise ValueError("no roles: a principal holds at least one role")
    for role in out:
        if not isinstance(role, str) or role not in ROLE_CATALOGUE:
            raise UnknownRoleError(role)
    if len(set(out)) != len(out):
        raise ValueError("a role is repeated")
    return out  # type: ignore[return-value]  # every element was checked to be a str


def engine_role(role: str) -> str | None:
    """The engine requester role a catalogue role settles on its own, or ``None`` (see :data:`ENGINE_ROLE`).

    Raises UnknownRoleError for a role not in the catalogue.
    """
    if role not in ENGINE_ROLE:
        raise UnknownRoleError(role)
    return ENGINE_ROLE[role]
