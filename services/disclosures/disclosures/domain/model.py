"""Pure rules of the disclosure workflow (stdlib only).

A request's state is folded from its stream by the published read model
(:class:`confide.contracts.disclosures.DisclosureRequestState`, since audit re-judges it too);
what to append next is a plain function of that state and the engine's outcome.
"""
from __future__ import annotations

# 164.524(b)(2): act on a request for access within 30 days of receipt.
ACCESS_RESPONSE_DAYS = 30

# 164.514(h)(1): verify the identity and authority of a person requesting PHI
# when that person is not known to the covered entity. Workforce roles are
# known (authenticated inside the practice); everyone else must be verified.
WORKFORCE_ROLES = frozenset({
    "originator_clinician", "clinician_same_practice", "former_workforce_clinician", "trainee",
    "supervisor", "billing_staff", "compliance_staff", "practice_admin",
})


def needs_verification(requester: dict) -> bool:
    """164.514(h)(1): an unknown requester's identity and authority must be verified first."""
    if requester.get("role") in WORKFORCE_ROLES:
        return False
    return not requester.get("identity_verified")
