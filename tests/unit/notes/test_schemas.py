"""RPC payload schemas: every error names its field (nested with dots)."""
import pytest

from notes import schemas as s
from notes.domain.errors import ValidationError

from .conftest import author, progress_content


def write(**content):
    return {"patient_id": "P-1", "author": author(), "content": progress_content(**content)}


def test_valid_progress_note_loads_and_dumps_json_safe():
    data = s.load(s.WriteProgressNoteSchema, write())
    assert s.dump_content(data["content"])["start_time"] == "14:00:00"
    assert len(data["note_id"]) == 36


@pytest.mark.parametrize("override, field", [
    ({"cpt_code": "abc"}, "content.cpt_code"),
    ({"diagnosis_codes": ["F32.1", "depression"]}, "content.diagnosis_codes.1"),
    ({"diagnosis_codes": []}, "content.diagnosis_codes"),
    ({"stop_time": "13:00:00"}, "content.stop_time"),
    ({"clinical_tests": {"phq9": 28}}, "content.clinical_tests.phq9"),
    ({"clinical_tests": {"gad7": -1}}, "content.clinical_tests.gad7"),
    ({"risk_assessment": {"level": "meh"}}, "content.risk_assessment.level"),
    ({"session_date": "yesterday"}, "content.session_date"),
    ({"medications": [{"dose": "5 mg"}]}, "content.medications.0.name"),
])
def test_errors_name_the_field(override, field):
    with pytest.raises(ValidationError) as info:
        s.load(s.WriteProgressNoteSchema, write(**override))
    assert field in info.value.fields
    assert str(info.value).startswith(field) or f"; {field}:" in str(info.value)


def test_missing_required_fields_are_named():
    with pytest.raises(ValidationError) as info:
        s.load(s.WritePsychotherapyNoteSchema, {"author": author()})
    assert {"patient_id", "session_date", "text"} <= set(info.value.fields)


def test_unknown_fields_refused():
    with pytest.raises(ValidationError, match="colour"):
        s.load(s.SignNoteSchema, {"note_id": "0" * 8 + "-0000-0000-0000-" + "0" * 12, "signed_by": "C", "colour": 1})


def test_caller_cannot_claim_to_be_the_originator():
    loaded = s.load(s.RequesterSchema, {"id": "C-B", "role": "clinician_same_practice", "is_originator": True})
    assert "is_originator" not in loaded


def test_presentation_choice():
    with pytest.raises(ValidationError, match="presentation"):
        s.load(s.ReadNoteSchema, {"note_id": "00000000-0000-0000-0000-000000000000",
                                  "requester": {"id": "C", "role": "x"}, "purpose": "treatment",
                                  "presentation": "prose"})
