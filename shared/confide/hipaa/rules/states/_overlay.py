"""What the state overlays share: how a stricter state rule turns a HIPAA ruling into its own."""
from __future__ import annotations

from confide.hipaa.rules._case import Case
from confide.hipaa.rules._ruling import BASIS_PUBLIC_INTEREST, BASIS_TPO, HOLD, Ruling, deny

PREEMPTION = "45 CFR 160.203(b)"


def stricter(ruling: Ruling, state_cite: str, why: str, *reasons: str, hold: bool = False) -> Ruling:
    """The ruling a stricter state rule gives instead of HIPAA's permission: a denial (or, with
    ``hold``, a hold until what the state requires is done), citing 160.203(b) and ``state_cite``
    first, then HIPAA's own citations."""
    rule = f"{PREEMPTION} (more stringent state law: {state_cite} -- {why})"
    told = (*reasons, f"HIPAA alone would give {ruling.decision} under {ruling.rule}.")
    if hold:
        return Ruling(HOLD, rule, tuple(told), extra_citations=(state_cite, *ruling.citations))
    return deny(rule, *told, citations=(state_cite, *ruling.citations))


def noted(ruling: Ruling, state_cite: str, *reasons: str) -> Ruling:
    """The ruling unchanged but for a state requirement that goes with it (a deadline, a notice)."""
    return ruling.but(extra_citations=ruling.extra_citations + (state_cite,)).with_reason(*reasons)


def setting_applies(case: Case, setting: str, settings: tuple[str, ...]) -> tuple[bool, str]:
    """Do a state's rules for ``setting`` apply to this practice?  Yes when the case names it; when
    the case names no setting, or one the state does not know, yes too -- the stricter answer --
    with a sentence saying why."""
    given = case.practice_setting
    if given == setting:
        return True, ""
    if given in settings:
        return False, ""
    what = "is not on file" if not given else f"{given!r} is not one this state's overlay knows"
    return True, (f"The practice setting {what} (practice_setting: one of {', '.join(settings)}), "
                  f"so the rules for {setting} apply too.")


def released_without_authorization(ruling: Ruling) -> bool:
    """A permitted disclosure made on HIPAA's own permission (TPO or a 164.512 paragraph), not on
    the individual's authorization or access."""
    return ruling.permits and ruling.basis in (BASIS_TPO, BASIS_PUBLIC_INTEREST)
