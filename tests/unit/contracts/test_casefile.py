"""The case file's originator comes from the notes, never from the requester."""
from disclosures.facts import build_case

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
