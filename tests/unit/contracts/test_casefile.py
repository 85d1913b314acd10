"""The case file's originator comes from the notes, never from the requester."""
from confide.contracts.casefile import request_case as build_case

REQUEST = {"purpose": "health_oversight", "note_kind": "psychotherapy", "action": "disclose",
           "patient_id": "P-1", "facts": {"oversight_subject": "C-B", "note_originator": "C-B"}}
REQUESTER = {"id": "board-1", "role": "health_oversight_agency", "org": "State Board"}


def test_note_originator_is_the_single_author_of_the_matched_notes():
    case = build_case(REQUEST, REQUESTER, [{"note_id": "n1", "author_id": "C-A"}], None, "2026-05-01T00:00:00Z")
    assert case["note_originator"] == "C-A"  # the requester's own claim (C-B) was dropped
    assert case["oversight_subject"] == "C-B"


def test_no_originator_when_the_notes_have_several_authors_or_none():
    two = build_case(REQUEST, REQUESTER, [{"note_id": "n1", "author_id": "C-A"},
                                          {"note_id": "n2", "author_id": "C-C"}], None, "2026-05-01T00:00:00Z")
    none = build_case(REQUEST, REQUESTER, [], None, "2026-05-01T00:00:00Z")
    assert "note_originator" not in two and "note_originator" not in none


def test_oversight_of_another_clinician_is_denied_for_psychotherapy_notes():
    from confide.hipaa.engine import decide

    case = build_case(REQUEST, REQUESTER, [{"note_id": "n1", "author_id": "C-A"}], None, "2026-05-01T00:00:00Z")
    out = decide(case)
    assert out.decision == "deny" and "164.508(a)(2)" in out.rule


# -- one builder for reads, requests and re-judging -----------------------------------------

from confide.contracts import casefile  # noqa: E402
from confide.contracts.patient_index import PATIENT_INDEXED_TYPES, sql_type_list  # noqa: E402

PSYCH_EVENTS = [
    ("PsychotherapyNoteDrafted", {"note_id": "n1", "patient_id": "P-1", "author_id": "C-A",
                                  "session_date": "2026-05-01", "sealed": {"ciphertext": "x"},
                                  "content_in_psych_note": [{"category": "summary_diagnosis", "start": 0, "end": 5}]}),
    ("PsychotherapyNoteRevised", {"note_id": "n1", "content_in_psych_note": [
        {"category": "medication_prescription_and_monitoring", "start": 1, "end": 9}]}),
    ("AddendumAdded", {"note_id": "n1", "content_in_psych_note": [{"category": "clinical_test_results",
                                                                   "start": 0, "end": 3}]}),
]


def test_note_facts_take_the_latest_text_and_every_addendum_and_copy_no_content():
    facts = casefile.note_facts("psychotherapy", PSYCH_EVENTS)
    assert facts == {"note_id": "n1", "patient_id": "P-1", "author_id": "C-A", "session_date": "2026-05-01",
                     "kind": "psychotherapy",
                     "content_in_psych_note": ["clinical_test_results", "medication_prescription_and_monitoring"]}


def test_a_note_never_drafted_has_no_facts():
    assert casefile.note_facts("progress", [("ProgressNoteSigned", {"note_id": "n2"})]) is None


def test_a_read_case_computes_the_originator_and_the_clinician_role_from_the_note():
    note = casefile.note_facts("psychotherapy", PSYCH_EVENTS)
    colleague = casefile.read_case(note, {"id": "C-B", "role": "originator_clinician", "org": "Practice"},
                                   "treatment", "use", "2026-05-01T15:00:00.000000Z")
    author = casefile.read_case(note, {"id": "C-A", "role": "clinician_same_practice", "org": "Practice"},
                                "treatment", "use", "2026-05-01T15:00:00.000000Z")
    assert colleague["requester"]["role"] == "clinician_same_practice"
    assert colleague["requester"]["is_originator"] is False
    assert author["requester"]["role"] == "originator_clinician" and author["requester"]["is_originator"] is True
    assert author["note_originator"] == "C-A" and author["patient"] == "P-1"
    assert author["content_in_psych_note"] == note["content_in_psych_note"]


def test_a_request_cannot_assert_facts_about_the_notes():
    request = {**REQUEST, "facts": {"content_in_psych_note": ["summary_diagnosis"], "originator": "C-B",
                                    "emergency": True}}
    case = build_case(request, REQUESTER, [{"note_id": "n1", "author_id": "C-A", "content_in_psych_note": []}],
                      None, "2026-05-01T00:00:00Z")
    assert case["content_in_psych_note"] == [] and "originator" not in case and case["emergency"] is True


def test_the_patient_index_sql_is_rendered_from_the_published_list():
    from confide.eventstore.install import render

    sql = render("WHERE type IN (:patient_indexed_types)", "confide")
    assert sql == f"WHERE type IN ({sql_type_list()})"
    assert all(f"'{name}'" in sql for name in PATIENT_INDEXED_TYPES)


# -- the practice's own facts: jurisdiction, setting, Part 2 program -------------------------

def test_the_practice_sets_jurisdiction_and_setting_and_a_request_cannot():
    """45 CFR 160.203(b): which state's law applies is the practice's, from its configuration; an
    outside party's request naming none (or another) changes nothing."""
    request = {**REQUEST, "facts": {"jurisdiction": None, "practice_setting": "outpatient_practice"}}
    practice = {"jurisdiction": "CA", "practice_setting": "lps_facility", "part2_program": False}
    case = build_case(request, REQUESTER, [{"note_id": "n1", "author_id": "C-A"}], None,
                      "2026-05-01T00:00:00Z", practice=practice)
    assert case["jurisdiction"] == "CA" and case["practice_setting"] == "lps_facility"
    unconfigured = build_case(request, REQUESTER, [], None, "2026-05-01T00:00:00Z")
    assert "jurisdiction" not in unconfigured and "practice_setting" not in unconfigured


def test_a_part2_program_flags_every_record_and_a_request_cannot_unflag_one():
    """42 CFR 2.11, 2.12: the segregation flag comes from the practice being a Part 2 program; a
    request may flag a record (true) but never take the flag off."""
    unflag = {**REQUEST, "facts": {"record_is_part2": False}}
    flagged = build_case(unflag, REQUESTER, [], None, "2026-05-01T00:00:00Z", practice={"part2_program": True})
    assert flagged["record_is_part2"] is True
    assert "record_is_part2" not in build_case(unflag, REQUESTER, [], None, "2026-05-01T00:00:00Z")
    flag = {**REQUEST, "facts": {"record_is_part2": True}}
    assert build_case(flag, REQUESTER, [], None, "2026-05-01T00:00:00Z")["record_is_part2"] is True


def test_config_practice_reads_the_environment(monkeypatch):
    import pytest

    from confide import config

    for key in (config.PRACTICE_JURISDICTION_KEY, config.PRACTICE_SETTING_KEY, config.PRACTICE_PART2_KEY):
        monkeypatch.delenv(key, raising=False)
    assert config.practice() == {"part2_program": False}
    monkeypatch.setenv(config.PRACTICE_JURISDICTION_KEY, " ny ")
    monkeypatch.setenv(config.PRACTICE_SETTING_KEY, "omh_facility")
    monkeypatch.setenv(config.PRACTICE_PART2_KEY, "true")
    assert config.practice() == {"jurisdiction": "NY", "practice_setting": "omh_facility", "part2_program": True}
    monkeypatch.setenv(config.PRACTICE_PART2_KEY, "maybe")
    with pytest.raises(ValueError, match=config.PRACTICE_PART2_KEY):
        config.practice()
