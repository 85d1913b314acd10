"""Stream names: ``<category>-<id>``; the category is camelCase because ``-`` separates it."""
from __future__ import annotations

PROGRESS_NOTE = "progressNote"
PSYCHOTHERAPY_NOTE = "psychotherapyNote"
SUD_COUNSELING_NOTE = "sudCounselingNote"  # 42 CFR Part 2 SUD counseling notes (2.11), kept apart
ACCESS_DECISION = "accessDecision"
DISCLOSURE_REQUEST = "disclosureRequest"
AUTHORIZATION = "authorization"
AMENDMENT_REQUEST = "amendmentRequest"
ACCESS_REQUEST = "accessRequest"
EMERGENCY_ACCESS = "emergencyAccess"  # one stream per emergency access: emergencyAccess-<decision_id>
PATIENT = "patient"
WORKFORCE_MEMBER = "workforceMember"
PAYER = "payer"
SIGN_IN = "signIn"  # one stream per UTC day: signIn-YYYY-MM-DD (confide.contracts.directory)
ACCESS_ATTEMPT = "accessAttempt"  # one stream per UTC day: accessAttempt-YYYY-MM-DD
CLIENT_ASSERTION = "clientAssertion"  # one stream per payer client assertion used: clientAssertion-<digest>


def stream_name(category: str, entity_id: str) -> str:
    """Build ``category-id``. Raises ValueError if the category holds ``-`` or is empty."""
    if not category or "-" in category:
        raise ValueError(f"category {category!r} must be non-empty and contain no '-'")
    return f"{category}-{entity_id}"


def category_of(name: str) -> str:
    """The category of a stream name (the part before the first ``-``)."""
    return name.split("-", 1)[0]


def id_of(name: str) -> str:
    """The entity id of a stream name (the part after the first ``-``)."""
    return name.split("-", 1)[1] if "-" in name else ""
