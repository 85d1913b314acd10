"""The disclosures service fills the case file's new facts from the store and its configuration:
the notes' author as `note_originator` (45 CFR 164.508(a)(2)(ii)), the legal process staff
recorded with its structured coverage (164.512(e)(1)(i)), and the practice's jurisdiction
(160.203(b)) -- which a request cannot set."""
import importlib.util
import pathlib

from confide import config
from disclosures import handlers
from disclosures.domain import commands

_conftest = importlib.util.spec_from_file_location("disclosures_unit_conftest_facts",
                                                   pathlib.Path(__file__).with_name("conftest.py"))
cf = importlib.util.module_from_spec(_conftest)
_conftest.loader.exec_module(cf)

BOARD = {"id": "board-1", "role": "health_oversight_agency", "org": "State Board", "identity_verified": True}
COURT = {"id": "court-1", "role": "court", "org": "Family Court", "identity_verified": True}


def ask(store, clock, notes, patient_id, **kw):
    kw.setdefault("requester", cf.insurer())
    kw.setdefault("purpose", "payment")
    return handlers.request_disclosure(commands.RequestDisclosure(patient_id=patient_id, **kw), store, clock, notes)


def test_oversight_of_the_notes_author_uses_the_author_on_file(store, clock, notes, add_note, patient):
    """164.508(a)(2)(ii): the service passes the notes' author as note_originator; the oversight of
    that clinician reaches her psychotherapy notes, of another clinician it does not -- whatever
    the request says the originator is."""
    add_note(patient, kind="psychotherapy", author_id="C-A")
    of_author = ask(store, clock, notes, patient, requester=BOARD, purpose="health_oversight",
                    note_kind="psychotherapy", facts={"oversight_subject": "C-A"})
    assert of_author["decision"]["decision"] == "permit_minimum_necessary", of_author["decision"]
    other = ask(store, clock, notes, patient, requester=BOARD, purpose="health_oversight",
                note_kind="psychotherapy", facts={"oversight_subject": "C-B", "note_originator": "C-B"})
    assert other["status"] == "refused" and "164.508(a)(2)(ii)" in other["refusal"]["rule"]


def test_legal_process_coverage_recorded_by_staff_decides(store, clock, notes, add_note, patient):
    """164.512(e)(1)(i): an order whose recorded coverage names psychotherapy notes reaches them; one
    whose scope excludes them does not; one whose coverage is not on file is held."""
    add_note(patient, kind="psychotherapy")
    named = ask(store, clock, notes, patient, requester=COURT, purpose="judicial", note_kind="psychotherapy",
                facts={"legal_process": {"type": "court_order", "signed_by_judge": True,
                                         "covers": ["psychotherapy"]}})
    assert named["decision"]["decision"] == "permit"
    excluded = ask(store, clock, notes, patient, requester=COURT, purpose="judicial", note_kind="psychotherapy",
                   facts={"legal_process": {"type": "court_order", "signed_by_judge": True,
                                            "scope": "all records except psychotherapy notes"}})
    assert excluded["status"] == "refused" and "164.512(e)(1)(i)" in excluded["refusal"]["rule"]
    unknown = ask(store, clock, notes, patient, requester=COURT, purpose="judicial", note_kind="psychotherapy",
                  facts={"legal_process": {"type": "court_order", "signed_by_judge": True}})
    assert unknown["status"] == "on_hold" and "legal_process.covers" in " ".join(unknown["hold"]["reasons"])


def test_the_practices_jurisdiction_applies_and_a_request_cannot_choose_its_own(store, clock, notes, add_note,
                                                                               patient, monkeypatch):
    """160.203(b): the jurisdiction is the practice's configuration. An unknown one releases nothing
    (the refusal names it), even when the request claims federal rules only."""
    add_note(patient)
    monkeypatch.setenv(config.PRACTICE_JURISDICTION_KEY, "TX")
    view = ask(store, clock, notes, patient, facts={"jurisdiction": None})
    assert view["status"] == "refused" and "'TX'" in view["refusal"]["reason"]
    assert notes.calls == []


def test_california_holds_psychotherapy_information_until_the_written_request(store, clock, notes, add_note,
                                                                             patient, monkeypatch):
    """Cal. Civ. Code 56.104(a): configured as a California outpatient practice, a payer's request
    is held until its written request is on file; with it, released."""
    add_note(patient)
    monkeypatch.setenv(config.PRACTICE_JURISDICTION_KEY, "CA")
    monkeypatch.setenv(config.PRACTICE_SETTING_KEY, "outpatient_practice")
    held = ask(store, clock, notes, patient)
    assert held["status"] == "on_hold" and "56.104" in held["hold"]["rule"]
    request = {"signed": True, "specific_information_and_intended_use": True, "retention_period": True,
               "use_limited_to_intended_use": True, "destroy_or_return": True}
    released = ask(store, clock, notes, patient, facts={"psychotherapy_information_request": request})
    assert released["status"] == "released"
    assert "Cal. Civ. Code 56.104(b)" in released["decision"]["citations"]


def test_a_part2_program_attaches_the_redisclosure_notice(store, clock, notes, add_note, patient, monkeypatch):
    """42 CFR 2.32(a): configured as a Part 2 program, every record is flagged; a payer without the
    patient's consent is refused (2.31), with it the decision carries the notice."""
    add_note(patient)
    monkeypatch.setenv(config.PRACTICE_PART2_KEY, "1")
    refused = ask(store, clock, notes, patient)
    assert refused["status"] == "refused" and "42 CFR 2.13(a)" in refused["refusal"]["rule"]
    released = ask(store, clock, notes, patient, facts={"patient_consent": True})
    assert released["status"] == "released"
    assert "42 CFR 2.32(a)" in released["decision"]["citations"]
    assert any("prohibits unauthorized use or disclosure" in r for r in released["decision"]["reasons"])
