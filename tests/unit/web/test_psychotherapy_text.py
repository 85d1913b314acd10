"""The psychotherapy pane's hints and moves on the real 164.501 lint: each flagged sentence is found,
worded by its category, and lands in the right progress-note field; nothing of it is dropped."""
from __future__ import annotations

import pytest

from confide.hipaa.lint import lint
from web.pages.psychotherapy_text import MOVES, hints_for, message_for, moved_into, sentence_spans, without

TEXT = ("She spoke about her father's funeral and cried for the first time. "
        "Meets criteria for major depressive disorder, recurrent, moderate (F33.1). PHQ-9 was 14 today.\n"
        "Session 2:00-2:50 pm. She started sertraline 50 mg daily. We explored the anger underneath.")
BASE = {"session_date": "2026-05-01", "start_time": "14:00:00", "stop_time": "14:53:00", "symptoms": "",
        "diagnosis_codes": ["F32.1"], "medications": [], "clinical_tests": {"phq9": None, "gad7": None},
        "interventions": "CBT", "progress_to_date": ""}


def findings(text):
    return [{"category": f.category, "start": f.start, "end": f.end} for f in lint(text)]


def test_sentences_do_not_split_inside_a_code():
    assert [TEXT[a:b] for a, b in sentence_spans(TEXT)][1] == \
        "Meets criteria for major depressive disorder, recurrent, moderate (F33.1)."


def test_each_flagged_sentence_is_one_hint_worded_by_its_category():
    hints = hints_for(TEXT, findings(TEXT))
    assert [(h.sentence, h.categories[0]) for h in hints] == [
        ("Meets criteria for major depressive disorder, recurrent, moderate (F33.1).", "summary_diagnosis"),
        ("PHQ-9 was 14 today.", "clinical_test_results"),
        ("Session 2:00-2:50 pm.", "session_start_stop_times"),
        ("She started sertraline 50 mg daily.", "medication_prescription_and_monitoring"),
    ]
    assert hints[0].messages == ["this sentence reads like a diagnosis summary: it belongs in the progress note "
                                 "and would not be protected here"]
    assert hints[0].section == "Diagnosis and symptoms"
    assert all(TEXT[h.start:h.end] == h.sentence for h in hints)


def test_every_lint_category_has_its_own_words_and_a_destination():
    from confide.hipaa.rules.s164_501 import EXCLUDED_CATEGORY_FIELDS

    for category in EXCLUDED_CATEGORY_FIELDS:
        assert category in MOVES and "content the 164.501 definition excludes" not in message_for(category)


@pytest.mark.parametrize(("category", "sentence", "flagged", "check"), [
    ("summary_diagnosis", "Meets criteria for MDD, recurrent, moderate (F33.1).", "MDD",
     lambda c: "Diagnosis: Meets criteria" in c["symptoms"] and c["diagnosis_codes"] == ["F32.1", "F33.1"]),
    ("clinical_test_results", "PHQ-9 was 14 today, GAD-7 9.", "PHQ-9 was 14",
     lambda c: c["clinical_tests"] == {"phq9": 14, "gad7": 9} and "PHQ-9 was 14" in c["progress_to_date"]),
    ("session_start_stop_times", "Session 2:00-2:50 pm.", "2:00-2:50 pm",
     lambda c: (c["start_time"], c["stop_time"]) == ("14:00", "14:50")),
    ("session_start_stop_times", "We met from late to later.", "late",
     lambda c: "Session times: We met" in c["interventions"] and c["start_time"] == "14:00:00"),
    ("medication_prescription_and_monitoring", "She started sertraline 50 mg daily.", "started sertraline 50 mg",
     lambda c: c["medications"] == [{"name": "started sertraline 50 mg", "dose": "", "prescription": "",
                                     "monitoring": "She started sertraline 50 mg daily."}]),
    ("summary_treatment_plan", "Refer to DBT group.", "Refer to DBT group",
     lambda c: c["treatment_plan"] == "Refer to DBT group."),
    ("modalities_and_frequencies_of_treatment", "Weekly CBT sessions continue.", "Weekly CBT",
     lambda c: c["interventions"] == "CBT\nWeekly CBT sessions continue."),
])
def test_a_moved_sentence_lands_in_its_field(category, sentence, flagged, check):
    assert check(moved_into(BASE, category, sentence, flagged))


def test_taking_a_sentence_out_closes_the_gap():
    hints = hints_for(TEXT, findings(TEXT))
    rest = without(TEXT, hints[0].start, hints[0].end)
    assert hints[0].sentence not in rest
    assert rest.startswith("She spoke about her father's funeral and cried for the first time. PHQ-9 was 14 today.")
