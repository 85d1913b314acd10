"""45 CFR 164.501 -- definitions that decide what a request is about.

*Psychotherapy notes* are notes by a mental-health professional documenting or analysing the
contents of a counseling session **that are separated from the rest of the individual's medical
record**, and the definition *excludes* medication prescription and monitoring, counseling
session start and stop times, the modalities and frequencies of treatment furnished, results of
clinical tests, and any summary of diagnosis, functional status, treatment plan, symptoms,
prognosis and progress to date.  Excluded content is therefore progress-note content wherever it
is written, and is decided as such (published case EX-19); a note kind ``psychotherapy`` that is
not stored separately (``stored_separately: false``) is not a psychotherapy note at all.
"""
from __future__ import annotations

from confide.hipaa.rules._case import SEPARATED_NOTE_KINDS, Case
from confide.hipaa.rules._ruling import Ruling, rule_string

#: content category -> the progress-note fields it becomes when released (164.501 exclusions)
EXCLUDED_CATEGORY_FIELDS: dict[str, tuple[str, ...]] = {
    "medication_prescription_and_monitoring": ("medication_prescription_and_monitoring",),
    "session_start_stop_times": ("session_start", "session_stop"),
    "modalities_and_frequencies_of_treatment": ("cpt_code_or_modality", "frequency"),
    "clinical_test_results": ("clinical_test_results",),
    "summary_diagnosis": ("diagnosis_codes",),
    "summary_functional_status": ("functional_status",),
    "summary_treatment_plan": ("treatment_plan_summary",),
    "summary_symptoms": ("symptoms_summary",),
    "summary_prognosis": ("prognosis",),
    "summary_progress_to_date": ("progress_to_date",),
}
#: categories that are psychotherapy-note content proper
PSYCHOTHERAPY_NOTE_CATEGORIES = frozenset({"session_content", "process_analysis"})

DEFINITION = "164.501"


def is_psychotherapy_note(case: Case) -> bool:
    """164.501: a psychotherapy note is one kept separate from the rest of the medical record; so
    are a Part 2 program's SUD counseling notes (42 CFR 2.11 as amended in 2024, defined in the same
    words and with the same exclusions), which the engine protects the same way.  Only an explicit
    ``stored_separately: false`` takes a note out (unknown keeps it protected)."""
    return case.note_kind in SEPARATED_NOTE_KINDS and case.fact("stored_separately") is not False


def not_separated(case: Case) -> bool:
    """A note labelled psychotherapy (or SUD counseling) that is kept with the medical record
    (164.501; 42 CFR 2.11)."""
    return case.note_kind in SEPARATED_NOTE_KINDS and case.fact("stored_separately") is False


def excluded_content_fields(case: Case) -> tuple[str, ...]:
    """Fields of the content categories in ``content_in_psych_note``/``content`` that 164.501
    excludes from psychotherapy notes, in the order given (unknown categories stay protected)."""
    out: list[str] = []
    for category in case.content or ():
        for f in EXCLUDED_CATEGORY_FIELDS.get(category, ()):
            if f not in out:
                out.append(f)
    return tuple(out)


def as_excluded_content(general: Ruling, fields: tuple[str, ...], psych: Ruling) -> Ruling:
    """Re-label a progress-note ruling as a release of excluded content only (164.501)."""
    kept = ", ".join(f for f in fields)
    return general.but(
        rule=rule_string(f"{DEFINITION} (excluded items are not psychotherapy notes)", general.rule),
        fields=fields,
        reasons=(f"Only content excluded from the psychotherapy-note definition may be released "
                 f"({kept}); the rest of the note stays protected: {psych.rule}.",)
        + general.reasons,
        extra_citations=general.extra_citations + tuple(psych.citations),
    )


def as_not_separated(general: Ruling, kind: str = "psychotherapy") -> Ruling:
    """Re-label a ruling on a note that is not kept separately (not a psychotherapy note, nor SUD
    counseling notes under 42 CFR 2.11: a Part 2 record like any other)."""
    what = "SUD counseling notes (42 CFR 2.11)" if kind == "sud_counseling" else "a psychotherapy note"
    return general.but(
        rule=rule_string(f"{DEFINITION} (not kept separate from the medical record, so not "
                         f"{what})", general.rule),
        reasons=("The note is stored with the rest of the record, so 164.508(a)(2) does not apply; "
                 "it is decided as progress-note content.",) + general.reasons,
    )
