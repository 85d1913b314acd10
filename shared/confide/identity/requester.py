"""The engine's requester, from a verified principal alone (never from an RPC's arguments).

A service that decides an access turns the call's :class:`~confide.identity.assertions.Principal`
into the case file's ``requester`` ({id, role, org, ...established facts}) here, one way for every
service. The facts set are the ones authentication itself establishes:

- ``identity_verified``: True: the person signed in (with the methods in ``amr``) or the payer
  proved possession of its registered key, which is the verification 45 CFR 164.514(h)(1) asks for.
- ``is_workforce``: True for a workforce principal (160.103), False otherwise.

The engine role comes from :func:`confide.identity.roles.engine_role` where a catalogue role settles
it. A clinician is ``clinician_same_practice`` here; the case builder makes them
``originator_clinician`` when the notes show they wrote them (a fact of the notes, never a claim).
A payer's role is the engine role it was registered with in the directory. A principal none of whose
roles maps to an engine role gets :data:`NO_ENGINE_ROLE`, which the engine refuses (fail closed).
"""
from __future__ import annotations

from typing import Optional

from confide.identity.assertions import Principal
from confide.identity.roles import WORKFORCE_ROLES, engine_role
from confide.timestamps import format_ts

#: The order in which a principal holding several workforce roles is taken to act.
ROLE_PRECEDENCE = ("clinician", "supervisor", "trainee", "privacy_officer", "billing", "practice_admin",
                   "auditor")
CLINICIAN_ENGINE_ROLE = "clinician_same_practice"
#: The engine role of a principal that has none: not in the engine's role list, so it is refused.
NO_ENGINE_ROLE = "no_engine_role"


def acting_role(principal: Principal) -> Optional[str]:
    """The catalogue role the principal acts in: its first role in :data:`ROLE_PRECEDENCE`, else
    ``patient`` / ``insurer`` if it holds one, else None."""
    for role in ROLE_PRECEDENCE:
        if role in principal.roles:
            return role
    for role in ("patient", "insurer"):
        if role in principal.roles:
            return role
    return None


def requester_for(principal: Principal, payer_engine_role: Optional[str] = None) -> dict:
    """The case file's requester for ``principal``.

    ``payer_engine_role``: for an insurer principal, the engine role its payer is registered with
    (``insurer_health_plan``, ``insurer_non_covered``, ``workers_comp_carrier``); without it an
    insurer has no engine role (refused). Never raises: an unmappable principal gets
    :data:`NO_ENGINE_ROLE`.
    """
    role = acting_role(principal)
    if role == "clinician":
        engine = CLINICIAN_ENGINE_ROLE
    elif role == "insurer":
        engine = payer_engine_role or NO_ENGINE_ROLE
    elif role is None:
        engine = NO_ENGINE_ROLE
    else:
        engine = engine_role(role) or NO_ENGINE_ROLE
    return {"id": principal.subject, "role": engine, "org": principal.org, "identity_verified": True,
            "is_workforce": any(r in WORKFORCE_ROLES for r in principal.roles)}


def decision_identity(principal: Principal) -> dict:
    """What a recorded decision names about who asked and how they proved it: subject, session and
    authentication strength (164.312(b) audit controls; 164.312(d))."""
    return {"subject": principal.subject, "session_id": principal.session_id,
            "amr": list(principal.amr), "auth_time": format_ts(principal.auth_time),
            "acting_service": principal.acting_service}
