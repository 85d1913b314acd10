"""Synthetic note content for tests and benches (no real person; never clinical data)."""
from __future__ import annotations


def progress_content(session_date: str = "2026-03-02", **changes) -> dict:
    """A complete, valid structured progress note's ``content`` for ``session_date``; ``changes``
    replace fields (e.g. ``symptoms=f"low mood {marker}"`` to find the note again)."""
    return {
        "session_date": session_date, "start_time": "14:00:00", "stop_time": "14:53:00",
        "modality": "individual psychotherapy (CBT)", "cpt_code": "90834", "frequency": "weekly",
        "diagnosis_codes": ["F33.1"], "symptoms": "low mood, poor sleep", "functional_status": "working part time",
        "interventions": "cognitive restructuring", "treatment_plan": "continue weekly CBT",
        "prognosis": "fair", "progress_to_date": "PHQ-9 down from 18 to 12",
        "medications": [{"name": "sertraline", "dose": "100 mg", "prescription": "daily", "monitoring": ""}],
        "clinical_tests": {"phq9": 12, "gad7": 9},
        "risk_assessment": {"level": "low", "factors": "", "plan": ""},
        "late_entry_reason": "written after the session",
        **changes,
    }
