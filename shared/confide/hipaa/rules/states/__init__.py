"""State overlays: a state's mental-health confidentiality law applied on top of HIPAA where it is
contrary to and more stringent than the Privacy Rule (45 CFR 160.203(b); 160.202 "more
stringent": it prohibits or restricts a use or disclosure HIPAA permits, or gives the individual
greater access).  One module per state, each citing its sections; each applies only where its
state's rule is stricter than HIPAA's answer, never to loosen it.

Selection: the case's ``jurisdiction`` -- the practice's US state as a two-letter code, filled by
the services from the practice's configuration (``CONFIDE_PRACTICE_JURISDICTION``) -- and, for
rules that reach only some settings, its ``practice_setting`` (``CONFIDE_PRACTICE_SETTING``:
``outpatient_practice``, ``lps_facility``, ``omh_facility``).  An absent or unknown setting applies
every setting's rules of that state (the stricter answer) and says so.

* ``jurisdiction`` null or absent: federal rules only (``shared/cases/README.md``).
* a code with a module here (:data:`OVERLAYS`): that state's rules.
* any other code: what that state's law requires is unknown here, so nothing is released on it:
  a permitted (or held, or discretionary) release is denied with a reason naming the code --
  except the individual's own access and a disclosure the Secretary requires, which no state law
  can make stricter (160.202, 160.203(b)).
"""
from __future__ import annotations

from types import ModuleType

from confide.hipaa.rules._case import Case
from confide.hipaa.rules._ruling import BASIS_HHS, BASIS_INDIVIDUAL, DENY, Ruling, deny
from confide.hipaa.rules.states import california, new_york

#: state code -> its overlay module (``CODE``, ``NAME``, ``SETTINGS``, ``apply(case, ruling)``)
OVERLAYS: dict[str, ModuleType] = {m.CODE: m for m in (california, new_york)}


def overlay_for(jurisdiction: str | None) -> ModuleType | None:
    """The overlay module of a jurisdiction code (case-insensitive), or None."""
    if jurisdiction is None:
        return None
    return OVERLAYS.get(jurisdiction.strip().upper())


def apply(case: Case, ruling: Ruling) -> Ruling:
    """Apply the overlay of ``case.jurisdiction`` to ``ruling`` (unchanged for federal-only cases)."""
    code = case.jurisdiction
    if code is None or not code.strip():
        return ruling
    module = overlay_for(code)
    if module is not None:
        return module.apply(case, ruling)
    if ruling.decision == DENY or ruling.basis in (BASIS_INDIVIDUAL, BASIS_HHS):
        return ruling.with_reason(f"No state overlay is configured for jurisdiction {code!r}; this "
                                  "outcome does not depend on it.")
    known = ", ".join(sorted(OVERLAYS))
    return deny(f"45 CFR 160.203(b) (unknown jurisdiction {code!r}: whether its more stringent law "
                "permits this is not known)",
                f"The practice's jurisdiction {code!r} has no state overlay here (known: {known}); "
                "what its law requires is unknown, so nothing is released. Configure the overlay or "
                f"correct the code. HIPAA alone would give {ruling.decision} under {ruling.rule}.",
                citations=tuple(ruling.citations))
