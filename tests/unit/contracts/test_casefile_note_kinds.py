"""Every note kind the notes service writes is read back as facts for a decision."""
from confide.contracts import casefile
from confide.contracts.notes import NOTE_KINDS


def test_every_note_kind_has_its_category_and_the_event_types_its_facts_are_read_from():
    assert set(casefile.NOTE_CATEGORIES.values()) == set(NOTE_KINDS)
    assert set(casefile.FACT_TYPES) == set(NOTE_KINDS)
