"""The clinician pages' pure parts: the service's field errors mapped to form fields, the form read
into a progress-note record (only named fields; who acts never), and the ICD-10-CM package data."""
from __future__ import annotations

import re

import pytest

from notes import schemas as s
from web.pages import clinician as c


def test_field_errors_split_the_service_message_by_field():
    reason = ("content.cpt_code: not a CPT code; content.medications.1.name: Missing data for required field.; "
              "content.risk_assessment.level: Must be one of: none, low, moderate, high, imminent.")
    assert c.field_errors(reason) == {
        "content.cpt_code": "not a CPT code",
        "content.medications.1.name": "Missing data for required field.",
        "content.risk_assessment.level": "Must be one of: none, low, moderate, high, imminent.",
    }


@pytest.mark.parametrize("path, key", [
    ("content.cpt_code", "cpt_code"), ("content.medications.1.name", "med_1_name"),
    ("content.clinical_tests.phq9", "phq9"), ("content.risk_assessment.level", "risk_level"),
    ("content.diagnosis_codes.0", "diagnosis_codes"), ("content.late_entry_reason", "late_entry_reason"),
    ("content", "form"), ("patient_id", "patient_id"),
])
def test_each_error_lands_next_to_its_field(path, key):
    assert c.form_key(path) == key


def _post(**fields) -> dict:
    """A POST as the views read it (``.get`` and ``in``; QueryDict needs Django's settings)."""
    return dict(fields)


def test_the_form_reads_only_its_named_fields_and_the_record_loads():
    post = _post(session_date="2026-05-01", start_time="10:00", stop_time="10:50", modality="Individual",
                 cpt_code="90834", frequency="Weekly", diagnosis_codes="f41.1, F32.1", symptoms="low mood",
                 med_0_name="sertraline", med_0_dose="50 mg", med_1_name="", phq9="14", gad7="", risk_level="low",
                 late_entry_reason=" outage ", author="C-EVIL", author_id="C-EVIL", signed_by="C-EVIL",
                 patient_id="P-OTHER")
    content = c.content_from_post(post)
    assert content["diagnosis_codes"] == ["F41.1", "F32.1"]
    assert content["medications"] == [{"name": "sertraline", "dose": "50 mg", "prescription": "", "monitoring": ""}]
    assert content["clinical_tests"] == {"phq9": 14, "gad7": None}
    assert content["late_entry_reason"] == "outage"
    assert not {"author", "author_id", "signed_by", "patient_id"} & set(content)
    loaded = s.load(s.ProgressNoteContentSchema, content)
    assert loaded["cpt_code"] == "90834"


def test_an_empty_required_field_is_left_out_so_the_service_names_it_missing():
    content = c.content_from_post(_post(cpt_code="  ", phq9="fourteen"))
    assert "cpt_code" not in content
    with pytest.raises(ValueError, match="cpt_code: Missing data for required field"):
        s.load(s.ProgressNoteContentSchema, content)
    assert content["clinical_tests"]["phq9"] == "fourteen"  # the service names a bad score


def test_a_stored_record_fills_the_form_back():
    record = s.dump_content(s.load(s.ProgressNoteContentSchema, {
        "session_date": "2026-05-01", "start_time": "10:00", "stop_time": "10:50", "modality": "m",
        "cpt_code": "90834", "frequency": "w", "diagnosis_codes": ["F41.1"], "clinical_tests": {"phq9": 0},
        "medications": [{"name": "a"}], "risk_assessment": {"level": "none"}}))
    form = c.form_from_content(record)
    assert form["values"]["start_time"] == "10:00" and form["values"]["phq9"] == 0
    assert form["values"]["diagnosis_codes"] == "F41.1" and form["medications"][0]["name"] == "a"


def test_the_icd10_data_are_chapter_5_codes_in_the_schema_s_form():
    codes = c.icd10_codes()
    assert len(codes) >= 50 and len({code for code, _ in codes}) == len(codes)
    for code, title in codes:
        assert re.match(s.ICD10CM, code) and code.startswith("F") and title
    assert dict(codes)["F41.1"] == "Generalized anxiety disorder"


def test_icd10_search_by_code_prefix_and_by_words():
    assert [r["code"] for r in c.icd10_search("F43.1")] == ["F43.10", "F43.11", "F43.12"]
    assert {r["code"] for r in c.icd10_search("recurrent moderate")} == {"F33.1"}
    assert c.icd10_search("   ") == []
