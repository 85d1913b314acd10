"""SUD counseling notes (42 CFR 2.11 as amended in 2024): written only in a Part 2 program, sealed and
kept in their own stream like psychotherapy notes, decided with ``note_kind: sud_counseling``
(2.31(b)(1): only a consent naming them, besides the originator's own use)."""
import pytest

from confide import transport
from confide.contracts.casefile import note_index
from confide.hipaa.engine import decide as engine
from confide.hipaa.lint import lint
from confide.keys import verify_decision
from notes import handlers as h
from notes import schemas as s
from notes.domain import errors
from notes.domain import model as m

from .conftest import author
from .test_handlers import AUTHOR, NOTES_PUB, OTHER, READER_KEY, READER_PUB, decisions, opened, patient, read

MARKER = "OTTER-MARKER-4410"
SUD_TEXT = f"We talked about the night at the river and what he owes Dale. {MARKER}."


@pytest.fixture
def part2(monkeypatch):
    """The practice is a 42 CFR Part 2 program (as ``confide.config.practice`` reads it)."""
    monkeypatch.setenv("CONFIDE_PRACTICE_PART2_PROGRAM", "1")
    return True


def write_sud(store, keyring, clock, patient_id, text=SUD_TEXT, part2_program=True, lint_fn=lint):
    payload = s.load(s.WriteSudCounselingNoteSchema, {"patient_id": patient_id, "session_date": "2026-05-01",
                                                      "sealed_text": transport.seal_for(NOTES_PUB, text)})
    return h.write_sud_counseling_note(store, keyring, clock, lint_fn, opened({**payload, "author": author()}),
                                       part2_program=part2_program)


class TestWriting:
    def test_outside_a_part2_program_refused_naming_the_field_before_the_text_is_linted(self, store, keyring,
                                                                                          clock):
        linted = []
        with pytest.raises(errors.NotAPart2ProgramError) as info:
            write_sud(store, keyring, clock, patient(), part2_program=False, lint_fn=linted.append)
        assert str(info.value).startswith("note_kind:") and "CONFIDE_PRACTICE_PART2_PROGRAM" in str(info.value)
        assert "42 CFR 2.11" in str(info.value) and set(info.value.fields) == {"note_kind"}
        assert isinstance(info.value, errors.ValidationError)
        assert linted == [] and store.read_all() == []

    def test_the_domain_refuses_it_too(self):
        from notes.domain import commands as c

        from .conftest import NOW
        with pytest.raises(errors.NotAPart2ProgramError):
            m.decide(m.Note("n1", m.SUD_COUNSELING), c.WriteSudCounselingNote(
                "n1", "P-1", "C-A", "clinician", "PsyD", None, "2026-05-01", [], NOW, part2_program=False))

    def test_stored_sealed_in_its_own_stream(self, store, keyring, clock, part2):
        reply = write_sud(store, keyring, clock, patient())
        assert reply["kind"] == "sud_counseling" and reply["events"] == ["SudCounselingNoteDrafted"]
        [ev] = store.read_stream(f"sudCounselingNote-{reply['note_id']}")
        assert MARKER not in ev.data_json and "river" not in ev.data_json
        assert ev.data["sealed"]["data_key_id"] == reply["note_id"]
        assert store.read_stream(f"psychotherapyNote-{reply['note_id']}") == []
        assert store.read_stream(f"progressNote-{reply['note_id']}") == []

    def test_the_case_file_sees_its_kind_and_lint_categories(self, store, keyring, clock, part2):
        pid = patient()
        note_id = write_sud(store, keyring, clock, pid, text="Pt reports low mood, poor sleep and anhedonia.")["note_id"]
        [facts] = note_index(store, patient_id=pid)
        assert facts["kind"] == "sud_counseling" and facts["note_id"] == note_id
        assert facts["content_in_psych_note"] == ["summary_symptoms"]

    def test_revise_sign_addendum_stay_sealed_and_amendment_is_refused_citing_part2(self, store, keyring, clock,
                                                                                    part2):
        note_id = write_sud(store, keyring, clock, patient())["note_id"]
        h.revise_note(store, keyring, clock, lint, opened({**s.load(s.ReviseNoteSchema, {
            "note_id": note_id, "sealed_text": transport.seal_for(NOTES_PUB, f"second {MARKER}")}),
            "revised_by": "C-A"}))
        h.sign_note(store, clock, {"note_id": note_id, "signed_by": "C-A"})
        h.add_addendum(store, keyring, clock, lint, opened({**s.load(s.AddAddendumSchema, {
            "note_id": note_id, "sealed_text": transport.seal_for(NOTES_PUB, f"later {MARKER}")}), "author_id": "C-A"}))
        events = store.read_stream(f"sudCounselingNote-{note_id}")
        assert [e.type for e in events] == ["SudCounselingNoteDrafted", "SudCounselingNoteRevised",
                                            "SudCounselingNoteSigned", "AddendumAdded"]
        assert all(MARKER not in e.data_json for e in events)
        with pytest.raises(errors.AmendmentNotApplicableError, match=r"42 CFR 2\.11, 2\.31\(b\)"):
            h.request_amendment(store, clock, {"note_id": note_id, "amendment_id": "a", "patient_id": "P",
                                               "requested_change": "x", "reason": "y"})
        note = read(store, keyring, clock, note_id, AUTHOR)["note"]
        assert note["text"] == f"second {MARKER}" and note["addenda"][0]["text"] == f"later {MARKER}"
        assert note["kind"] == "sud_counseling" and note["status"] == "signed"


class TestReading:
    def test_the_author_reads_it_decided_as_sud_counseling(self, store, keyring, clock, part2):
        note_id = write_sud(store, keyring, clock, patient())["note_id"]
        reply = read(store, keyring, clock, note_id, AUTHOR)
        assert reply["note"]["text"] == SUD_TEXT
        [decided] = decisions(store)
        assert decided.data["note_kind"] == "sud_counseling" and decided.data["decision"] == "permit"
        assert any("42 CFR 2.31(b)(1)(i)(A)" in c for c in decided.data["citations"])
        assert MARKER not in decided.data_json

    def test_a_colleague_is_denied_and_recorded(self, store, keyring, clock, part2):
        note_id = write_sud(store, keyring, clock, patient())["note_id"]
        with pytest.raises(errors.AccessDeniedError) as info:
            read(store, keyring, clock, note_id, OTHER)
        assert MARKER not in str(info.value)
        [decided] = decisions(store)
        assert decided.data["decision"] == "deny" and decided.data["note_kind"] == "sud_counseling"

    def test_text_leaves_only_sealed(self, store, keyring, clock, key_dir, part2):
        note_id = write_sud(store, keyring, clock, patient())["note_id"]
        payload = {**s.load(s.ReadNoteSchema, {"note_id": note_id, "purpose": "treatment",
                                               "reply_public_key": READER_PUB}), "requester": AUTHOR}
        raw = h.read_note(store, keyring, engine, clock, payload, key_dir=keyring.key_dir)
        assert MARKER not in str(raw) and set(raw["note"]["text"]) == {"sealed"}
        assert transport.open_tree(READER_KEY, raw)["note"]["text"] == SUD_TEXT
        with pytest.raises(errors.ValidationError, match="reply_public_key"):
            h.read_note(store, keyring, engine, clock, {**payload, "reply_public_key": None},
                        key_dir=keyring.key_dir)

    def test_list_notes_decides_it_and_omits_it_when_denied(self, store, keyring, clock, key_dir, part2):
        pid = patient()
        note_id = write_sud(store, keyring, clock, pid)["note_id"]
        base = {"patient_id": pid, "purpose": "treatment", "exception_claimed": None}
        other = h.list_notes(store, engine, clock, {**base, "requester": OTHER}, key_dir=key_dir)
        mine = h.list_notes(store, engine, clock, {**base, "requester": AUTHOR}, key_dir=key_dir)
        assert other["notes"] == [] and [n["note_id"] for n in mine["notes"]] == [note_id]
        assert [d.data["decision"] for d in decisions(store)] == ["deny", "permit"]
        assert all(verify_decision(key_dir, d.data, d.data["seal"]) for d in decisions(store))

    def test_the_authors_worklist_shows_it_without_text(self, store, keyring, clock, part2):
        note_id = write_sud(store, keyring, clock, patient())["note_id"]
        [row] = h.my_notes(store, {"author_id": "C-A"})["notes"]
        assert row["note_id"] == note_id and row["kind"] == "sud_counseling" and MARKER not in str(row)
