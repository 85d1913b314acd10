"""45 CFR 164.528(a)(1) -- which disclosures go into the individual's accounting of disclosures.

Every *disclosure* (not a use inside the covered entity) made in the six years before a request
is accountable, except those: (i) to carry out treatment, payment or health care operations;
(ii) to the individual; (iii) incident to a permitted use or disclosure; (iv) pursuant to an
authorization; (v) for the facility directory or to persons involved in care (164.510);
(vi) for national security or intelligence; (vii) to correctional institutions or law enforcement
about inmates; (viii) as part of a limited data set; (ix) before the compliance date (2003-04-14).
Disclosures to the Secretary and under 164.512 are therefore accountable.
"""
from __future__ import annotations

from datetime import datetime, timezone

from confide.hipaa.rules._case import Case
from confide.hipaa.rules._ruling import (
    BASIS_AUTHORIZATION,
    BASIS_HHS,
    BASIS_INDIVIDUAL,
    BASIS_INVOLVEMENT,
    BASIS_PUBLIC_INTEREST,
    BASIS_TPO,
    Ruling,
)

COMPLIANCE_DATE = datetime(2003, 4, 14, tzinfo=timezone.utc)

#: basis -> the exclusion paragraph of 164.528(a)(1)
EXCLUSIONS = {
    BASIS_TPO: "45 CFR 164.528(a)(1)(i)",
    BASIS_INDIVIDUAL: "45 CFR 164.528(a)(1)(ii)",
    "incidental": "45 CFR 164.528(a)(1)(iii)",
    BASIS_AUTHORIZATION: "45 CFR 164.528(a)(1)(iv)",
    BASIS_INVOLVEMENT: "45 CFR 164.528(a)(1)(v)",
    "national_security": "45 CFR 164.528(a)(1)(vi)",
    "correctional": "45 CFR 164.528(a)(1)(vii)",
    "limited_data_set": "45 CFR 164.528(a)(1)(viii)",
}
ACCOUNTABLE = frozenset({BASIS_HHS, BASIS_PUBLIC_INTEREST})


def accounting_required(*, permitted: bool, is_disclosure: bool, basis: str,
                        at: datetime | None = None) -> tuple[bool, str]:
    """Is a decision accountable under 164.528(a)? Returns ``(required, citation)``.

    ``permitted``: the disclosure is permitted (nothing released means nothing to account);
    ``is_disclosure``: it leaves the covered entity; ``basis``: the permission's accounting basis
    (``tpo``, ``individual``, ``authorization``, ``involvement``, ``hhs``, ``164.512``, or one of
    the other exclusion names above); ``at``: when it is made."""
    if not permitted:
        return False, ""
    if not is_disclosure:
        return False, "45 CFR 164.528(a) (uses inside the covered entity are not disclosures)"
    if at is not None and at < COMPLIANCE_DATE:
        return False, "45 CFR 164.528(a)(1)(ix)"
    if basis in EXCLUSIONS:
        return False, EXCLUSIONS[basis]
    if basis in ACCOUNTABLE:
        return True, "45 CFR 164.528(a)(1)"
    return False, ""


def for_case(case: Case, ruling: Ruling) -> tuple[bool, str]:
    """:func:`accounting_required` for a decided case."""
    return accounting_required(permitted=ruling.permits, is_disclosure=case.is_disclosure,
                               basis=ruling.basis, at=case.at)
