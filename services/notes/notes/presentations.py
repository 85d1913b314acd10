"""SOAP, DAP and BIRP: three presentations of the same progress-note record.

Each maps section -> {record field: value}; every field of the record appears
in exactly one section of each presentation, so nothing is lost or invented.
"""
from __future__ import annotations

_LAYOUTS: dict[str, dict[str, tuple[str, ...]]] = {
    "soap": {
        "subjective": ("symptoms", "progress_to_date"),
        "objective": ("session_date", "late_entry_reason", "start_time", "stop_time", "modality", "cpt_code", "interventions",
                      "functional_status", "clinical_tests", "risk_assessment"),
        "assessment": ("diagnosis_codes", "prognosis"),
        "plan": ("treatment_plan", "frequency", "medications"),
    },
    "dap": {
        "data": ("session_date", "late_entry_reason", "start_time", "stop_time", "modality", "cpt_code", "symptoms",
                 "functional_status", "interventions", "clinical_tests"),
        "assessment": ("diagnosis_codes", "risk_assessment", "progress_to_date", "prognosis"),
        "plan": ("treatment_plan", "frequency", "medications"),
    },
    "birp": {
        "behavior": ("session_date", "late_entry_reason", "start_time", "stop_time", "symptoms", "functional_status",
                     "clinical_tests", "risk_assessment", "diagnosis_codes"),
        "intervention": ("modality", "cpt_code", "interventions"),
        "response": ("progress_to_date", "prognosis"),
        "plan": ("treatment_plan", "frequency", "medications"),
    },
}
PRESENTATIONS = tuple(_LAYOUTS)


def present(content: dict, presentation: str | None) -> dict:
    """``content`` laid out as ``presentation`` (soap|dap|birp), or unchanged for None.

    Raises ValueError for an unknown presentation.
    """
    if presentation is None:
        return dict(content)
    try:
        layout = _LAYOUTS[presentation]
    except KeyError:
        raise ValueError(f"presentation: must be one of {PRESENTATIONS}") from None
    return {section: {f: content.get(f) for f in names} for section, names in layout.items()}
