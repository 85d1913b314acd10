"""RPC payload schemas: every error names its field (nested with dots)."""
import pytest

from notes import schemas as s
from notes.domain.errors import ValidationError

from .conftest import progress_content


def write(**content):
    return {"patient_id": "P-1", "content": progress_content(**content)}


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
    ({"clinical_tests": {"phq9": 5.5}}, "content.clinical_tests.phq9"),
    ({"clinical_tests": {"phq9": "5"}}, "content.clinical_tests.phq9"),
    ({"clinical_tests": {"gad7": 5.0}}, "content.clinical_tests.gad7"),
    ({"clinical_tests": {"gad7": True}}, "content.clinical_tests.gad7"),
    ({"medications": [{"name": f"drug {i}"} for i in range(s.MAX_MEDICATIONS + 1)]}, "content.medications"),
    ({"start_time": "14:00:00+00:00", "stop_time": "14:50:00+02:00"}, "content.stop_time"),
    ({"start_time": "14:00:00", "stop_time": "14:50:00+00:00"}, "content.stop_time"),
    ({"start_time": "14:00:00-05:00", "stop_time": "14:50:00"}, "content.stop_time"),
    ({"symptoms": "low mood \ud800"}, "content.symptoms"),
    ({"medications": [{"name": "sertraline", "dose": "50\udfff mg"}]}, "content.medications.0.dose"),
    ({"risk_assessment": {"level": "low", "plan": "call\x00"}}, "content.risk_assessment.plan"),
])
def test_errors_name_the_field(override, field):
    with pytest.raises(ValidationError) as info:
        s.load(s.WriteProgressNoteSchema, write(**override))
    assert field in info.value.fields
    assert str(info.value).startswith(field) or f"; {field}:" in str(info.value)


def test_missing_required_fields_are_named():
    with pytest.raises(ValidationError) as info:
        s.load(s.WritePsychotherapyNoteSchema, {})
    assert {"patient_id", "session_date", "sealed_text"} <= set(info.value.fields)


@pytest.mark.parametrize("schema", ["WritePsychotherapyNoteSchema", "ReviseNoteSchema", "LintTextSchema"])
def test_plaintext_psychotherapy_text_is_refused_naming_the_field(schema):
    with pytest.raises(ValidationError, match="^text: psychotherapy text is not accepted in the clear") as info:
        s.load(getattr(s, schema), {"text": "she spoke of the lake house"})
    assert "sealed_text" in str(info.value) and "text" in info.value.fields


def test_a_reply_key_must_be_an_x25519_public_key():
    with pytest.raises(ValidationError, match="^reply_public_key: not an X25519 public key"):
        s.load(s.ReleaseFieldsSchema, {"decision_id": "0" * 8 + "-0000-0000-0000-" + "0" * 12,
                                       "note_ids": ["0" * 8 + "-0000-0000-0000-" + "0" * 12],
                                       "reply_public_key": "c2hvcnQ="})


def test_unknown_fields_refused():
    with pytest.raises(ValidationError, match="colour"):
        s.load(s.SignNoteSchema, {"note_id": "0" * 8 + "-0000-0000-0000-" + "0" * 12, "colour": 1})


@pytest.mark.parametrize("schema, field", [
    (s.WriteProgressNoteSchema, "author"), (s.WritePsychotherapyNoteSchema, "author"),
    (s.SignNoteSchema, "signed_by"), (s.CosignNoteSchema, "cosigned_by"), (s.ReviseNoteSchema, "revised_by"),
    (s.AddAddendumSchema, "author_id"), (s.AcceptAmendmentSchema, "decided_by"),
    (s.DenyAmendmentSchema, "decided_by"), (s.ReadNoteSchema, "requester"), (s.ListNotesSchema, "requester"),
    (s.RequestRecordAccessSchema, "requested_by"), (s.ExportDesignatedRecordSetSchema, "requester"),
])
def test_no_schema_takes_who_acts(schema, field):
    # Who acts is the verified principal; the service refuses such a field before any schema sees it.
    assert field not in schema().fields


@pytest.mark.parametrize("bad", ["P-1\u200b", "P-\u202e1", " P-1", "P-\u00a01"])
def test_look_alike_ids_are_refused_naming_the_field(bad):
    with pytest.raises(ValidationError) as info:
        s.load(s.WriteProgressNoteSchema, {**write(), "patient_id": bad})
    assert str(info.value).startswith("patient_id:") and "patient_id" in info.value.fields
    with pytest.raises(ValidationError, match="^supervisor_id:"):
        s.load(s.WriteProgressNoteSchema, {**write(), "supervisor_id": bad})


def test_ids_are_nfc_normalised():
    assert s.load(s.ListNotesSchema, {"patient_id": "Jose\u0301", "purpose": "treatment"})["patient_id"] == "Jos\u00e9"


def test_presentation_choice():
    with pytest.raises(ValidationError, match="presentation"):
        s.load(s.ReadNoteSchema, {"note_id": "00000000-0000-0000-0000-000000000000", "purpose": "treatment",
                                  "presentation": "prose"})


def test_same_offset_or_naive_times_load():
    data = s.load(s.WriteProgressNoteSchema, write(start_time="14:00:00-05:00", stop_time="14:50:00-05:00"))
    assert s.dump_content(data["content"])["stop_time"] == "14:50:00-05:00"
    assert s.load(s.WriteProgressNoteSchema, write(medications=[{"name": "x"}] * s.MAX_MEDICATIONS))
    assert s.load(s.WriteProgressNoteSchema, write(clinical_tests={"phq9": 5, "gad7": 0}))


@pytest.mark.parametrize("schema, payload, field", [
    (s.WritePsychotherapyNoteSchema, {"patient_id": "P-1", "session_date": "2026-05-01",
                                      "text": "session \ud800 text"}, "text"),
    (s.WritePsychotherapyNoteSchema, {"patient_id": "P-\udc00", "session_date": "2026-05-01",
                                      "text": "x"}, "patient_id"),
    (s.AddAddendumSchema, {"note_id": "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d", "text": "\ud83d alone"}, "text"),
    (s.LintTextSchema, {"text": "\udfff"}, "text"),
    (s.ReadNoteSchema, {"note_id": "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d", "purpose": "treatment",
                        "request_id": "R-\ud800"}, "request_id"),
])
def test_lone_surrogates_are_a_validation_error_naming_the_field(schema, payload, field):
    with pytest.raises(ValidationError) as info:
        s.load(schema, payload)
    assert field in info.value.fields and str(info.value).startswith(f"{field}:")
    str(info.value).encode("utf-8")  # the message itself is encodable (JSON-safe reply)


def test_a_paired_surrogate_escape_is_ordinary_text():
    from confide import transport
    from notes import wire

    key, pub = transport.ephemeral()
    text = "mood \U0001F600 better"  # an astral character is one code point, not a lone surrogate
    box = s.load(s.LintTextSchema, {"sealed_text": transport.seal_for(pub, text)})["sealed_text"]
    assert wire.open_text(key, box) == text
    with pytest.raises(ValidationError, match="^sealed_text: must not contain NUL"):
        wire.open_text(key, transport.seal_for(pub, "a\x00b"))  # the opened text is checked as text fields are
