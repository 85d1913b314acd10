"""Amending the case facts of a held request (release-of-information staff), then deciding it again:
``DisclosureFactsAmended`` (who, when, which fields), checked against the case-file JSON Schema,
idempotent under redelivery; and SUD counseling notes (42 CFR 2.31(b)) never released to a payer
without a consent naming them."""
import importlib.util
import pathlib
import uuid

import pytest

from confide.contracts.disclosures import fold
from confide.envelope import NewEvent
from disclosures import handlers
from disclosures.domain import commands, errors

_conftest = importlib.util.spec_from_file_location("disclosures_unit_conftest_amend",
                                                   pathlib.Path(__file__).with_name("conftest.py"))
cf = importlib.util.module_from_spec(_conftest)
_conftest.loader.exec_module(cf)

COURT = {"id": "court-1", "role": "court", "org": "Family Court", "identity_verified": True}
ORDER = {"type": "court_order", "signed_by_judge": True}  # what it covers is not on file yet


def ask(store, clock, notes, patient_id, **kw):
    kw.setdefault("requester", COURT)
    kw.setdefault("purpose", "judicial")
    kw.setdefault("note_kind", "psychotherapy")
    return handlers.request_disclosure(commands.RequestDisclosure(patient_id=patient_id, **kw), store, clock, notes)


def amend(store, clock, notes, request_id, **kw):
    kw.setdefault("amended_by", "roi-1")
    return handlers.amend_disclosure_facts(commands.AmendDisclosureFacts(request_id=request_id, **kw), store,
                                           clock, notes)


def types(store, request_id):
    return [e.type for e in store.read_stream(f"disclosureRequest-{request_id}")]


@pytest.fixture
def held(store, clock, notes, add_note, patient):
    """A judge's order whose coverage is not on file: held (164.512(e)(1)(i))."""
    add_note(patient, kind="psychotherapy")
    view = ask(store, clock, notes, patient, facts={"legal_process": dict(ORDER)})
    assert view["status"] == "on_hold" and "legal_process.covers" in " ".join(view["hold"]["reasons"])
    return view


class TestAmendFacts:
    def test_the_coverage_recorded_decides_it_with_the_rule_cited(self, store, clock, notes, held):
        clock.advance(minutes=5)
        done = amend(store, clock, notes, held["request_id"], reason="legal_process_received",
                     facts={"legal_process": {**ORDER, "covers": ["psychotherapy"]}})
        assert done["status"] == "released" and done["decision"]["decision"] == "permit"
        assert "164.512(e)(1)(i)" in done["decision"]["rule"] or any(
            "164.512(e)(1)(i)" in c for c in done["decision"]["citations"])
        assert types(store, held["request_id"]) == ["DisclosureRequested", "DisclosurePlacedOnHold",
                                                    "DisclosureFactsAmended", "DisclosureDecided",
                                                    "DisclosureReleased"]
        [amended] = [e for e in store.read_stream(f"disclosureRequest-{held['request_id']}")
                     if e.type == "DisclosureFactsAmended"]
        assert amended.data["amended_by"] == "roi-1" and amended.data["fields"] == ["facts.legal_process"]
        assert amended.data["amended_at"] == "2026-05-01T15:05:00.000000Z" and amended.data["reason"] == "legal_process_received"
        assert "<" not in amended.data_json  # no note content (the fake notes' placeholders)
        assert done["amendments"] == [{"amendment_id": amended.data["amendment_id"], "amended_by": "roi-1",
                                       "amended_at": "2026-05-01T15:05:00.000000Z", "fields": ["facts.legal_process"],
                                       "reason": "legal_process_received"}]
        access = [e for e in store.read_all() if e.type == "AccessDecided"]
        assert [a.data["decision_id"] for a in access] == [done["decision"]["decision_id"]]

    def test_coverage_excluding_the_kind_is_refused_not_permitted(self, store, clock, notes, held):
        done = amend(store, clock, notes, held["request_id"],
                     facts={"legal_process": {**ORDER, "scope": "all records except psychotherapy notes"}})
        assert done["status"] == "refused" and "164.512(e)(1)(i)" in done["refusal"]["rule"]
        assert notes.calls == []

    def test_an_unverified_requester_stays_held_until_verified(self, store, clock, notes, add_note, patient):
        add_note(patient, kind="psychotherapy")
        unverified = {**COURT, "identity_verified": False}
        view = ask(store, clock, notes, patient, requester=unverified, facts={"legal_process": dict(ORDER)})
        assert view["status"] == "on_hold" and "164.514(h)" in view["hold"]["rule"]
        again = amend(store, clock, notes, view["request_id"],
                      facts={"legal_process": {**ORDER, "covers": ["psychotherapy"]}})
        assert again["status"] == "on_hold" and "164.514(h)" in again["hold"]["rule"] and notes.calls == []
        done = handlers.verify_requester(commands.VerifyRequester(view["request_id"], "roi-1", "court clerk"),
                                         store, clock, notes)
        assert done["status"] == "released" and done["decision"]["decision"] == "permit"

    def test_an_authorization_received_is_relied_on(self, store, clock, notes, add_note, patient):
        add_note(patient, kind="psychotherapy")
        payer = cf.insurer(verified=False)
        view = ask(store, clock, notes, patient, requester=payer, purpose="payment", facts={})
        form = cf.authorization(patient)
        handlers.record_authorization(commands.RecordAuthorization(form), store, clock)
        amended = amend(store, clock, notes, view["request_id"], authorization_id=form["id"])
        assert amended["status"] == "on_hold"  # still unverified: the authorization alone releases nothing
        assert fold(view["request_id"], [(e.type, e.data) for e in store.read_stream(
            f"disclosureRequest-{view['request_id']}")]).request["authorization_id"] == form["id"]
        done = handlers.verify_requester(commands.VerifyRequester(view["request_id"], "roi-1", "call-back"),
                                         store, clock, notes)
        assert done["status"] == "released" and done["decision"]["authorization_id"] == form["id"]

    def test_only_a_held_request(self, store, clock, notes, add_note, patient):
        add_note(patient, kind="psychotherapy")
        view = ask(store, clock, notes, patient, facts={"legal_process": {**ORDER, "covers": ["psychotherapy"]}})
        assert view["status"] == "released"
        with pytest.raises(errors.InvalidTransitionError, match="not on hold"):
            amend(store, clock, notes, view["request_id"], facts={"mandate": True})
        with pytest.raises(errors.DisclosureRequestNotFoundError):
            amend(store, clock, notes, str(uuid.uuid4()), facts={"mandate": True})


class TestValidation:
    @pytest.mark.parametrize("facts, field", [
        ({"legal_process": {**ORDER, "signed_by_judge": "yes"}}, "facts.legal_process.signed_by_judge"),
        ({"legal_process": {**ORDER, "covers": ["progress"]}}, "facts.legal_process.covers"),
        ({"emergency": "certainly"}, "facts.emergency"),
        ({"favourite_colour": "blue"}, "facts.favourite_colour"),
        ({"note_originator": "C-Z"}, "facts.note_originator"),
        ({"content_in_psych_note": []}, "facts.content_in_psych_note"),
        ({"jurisdiction": "TX"}, "facts.jurisdiction"),
        ({"stored_separately": False}, "facts.stored_separately"),
        ({"purpose": "treatment"}, "facts.purpose"),
    ])
    def test_errors_name_the_field_and_nothing_is_written(self, store, clock, notes, held, facts, field):
        before = types(store, held["request_id"])
        with pytest.raises(errors.InvalidRequestError) as info:
            amend(store, clock, notes, held["request_id"], facts=facts)
        assert info.value.field == field and str(info.value).startswith(field)
        assert types(store, held["request_id"]) == before

    def test_an_authorization_of_another_patient_is_refused(self, store, clock, notes, held):
        form = cf.authorization("P-someone-else")
        handlers.record_authorization(commands.RecordAuthorization(form), store, clock)
        for authorization_id in (form["id"], "AUTH-not-on-file"):
            with pytest.raises(errors.InvalidRequestError) as info:
                amend(store, clock, notes, held["request_id"], authorization_id=authorization_id)
            assert info.value.field == "authorization_id"
        assert types(store, held["request_id"]) == ["DisclosureRequested", "DisclosurePlacedOnHold"]


class TestIdempotence:
    def test_a_redelivered_amendment_appends_and_decides_nothing(self, store, clock, notes, held):
        amendment_id = str(uuid.uuid4())
        facts = {"legal_process": {**ORDER, "covers": ["psychotherapy"]}}
        first = amend(store, clock, notes, held["request_id"], facts=facts, amendment_id=amendment_id)
        recorded = types(store, held["request_id"])
        again = amend(store, clock, notes, held["request_id"], facts=facts, amendment_id=amendment_id)
        assert types(store, held["request_id"]) == recorded and again["status"] == first["status"] == "released"
        assert len(notes.calls) == 1 and len([e for e in store.read_all() if e.type == "AccessDecided"]) == 1

    def test_without_an_id_the_same_facts_are_one_amendment(self, store, clock, notes, add_note, patient):
        add_note(patient, kind="psychotherapy")
        view = ask(store, clock, notes, patient, requester={**COURT, "identity_verified": False},
                   facts={"legal_process": dict(ORDER)})
        facts = {"legal_process": {**ORDER, "covers": ["psychotherapy"]}}
        amend(store, clock, notes, view["request_id"], facts=facts)
        recorded = types(store, view["request_id"])
        amend(store, clock, notes, view["request_id"], facts=facts)
        assert types(store, view["request_id"]) == recorded
        assert recorded.count("DisclosureFactsAmended") == 1

    def test_a_concurrent_delivery_that_lost_the_race_returns_the_winners(self, store, clock, notes, held,
                                                                          monkeypatch):
        facts = {"legal_process": {**ORDER, "covers": ["psychotherapy"]}}
        real_load = handlers.load_request
        stale = real_load(store, held["request_id"])
        won, raced = [], []

        def load_then_lose(s, request_id):
            if not raced:  # the other delivery appends between this one's read and its append
                raced.append(True)
                won.append(amend(store, clock, notes, request_id, facts=facts))
                return stale
            return real_load(s, request_id)

        monkeypatch.setattr(handlers, "load_request", load_then_lose)
        lost = amend(store, clock, notes, held["request_id"], facts=facts)
        assert lost["status"] == won[0]["status"] == "released"
        assert types(store, held["request_id"]).count("DisclosureFactsAmended") == 1


def add_sud_note(store, patient_id, author_id="C-A"):
    note_id = str(uuid.uuid4())
    data = {"note_id": note_id, "patient_id": patient_id, "author_id": author_id, "session_date": "2026-02-10",
            "sealed": {}, "content_in_psych_note": []}
    store.append(f"sudCounselingNote-{note_id}", [NewEvent("SudCounselingNoteDrafted", data)], expected_version=-1)
    return note_id


class TestSudCounselingNotes:
    """42 CFR 2.31(b)(1): SUD counseling notes go only with a consent that names them."""

    @pytest.fixture(autouse=True)
    def part2(self, monkeypatch):
        monkeypatch.setenv("CONFIDE_PRACTICE_PART2_PROGRAM", "1")

    def ask_as_payer(self, store, clock, notes, patient_id, form):
        handlers.record_authorization(commands.RecordAuthorization(form), store, clock)
        return handlers.request_disclosure(commands.RequestDisclosure(
            requester=cf.insurer(), patient_id=patient_id, purpose="payment", note_kind="sud_counseling",
            authorization_id=form["id"]), store, clock, notes)

    @pytest.mark.parametrize("covers", [["progress_notes", "psychotherapy_notes"], ["part2_records"],
                                        ["all records"]])
    def test_a_payer_with_a_general_authorization_gets_nothing(self, store, clock, notes, patient, covers):
        add_sud_note(store, patient)
        form = cf.authorization(patient, covers=covers, description="All my records",
                                part2_tpo_consent=True if covers == ["part2_records"] else None)
        view = self.ask_as_payer(store, clock, notes, patient, form)
        assert view["status"] == "refused" and notes.calls == [] and "content" not in view
        assert "2.31(b)(1)" in view["refusal"]["reason"] and "SUD counseling notes" in view["refusal"]["reason"]

    def test_a_consent_naming_them_releases_with_the_notice(self, store, clock, notes, patient):
        note_id = add_sud_note(store, patient)
        form = cf.authorization(patient, covers=["sud_counseling_notes"],
                                description="SUD counseling notes of sessions 2026-01-05 to 2026-03-30 by Dr. A")
        view = self.ask_as_payer(store, clock, notes, patient, form)
        assert view["status"] == "released", view["decision"]
        assert view["decision"]["note_ids"] == [note_id]
        assert any("2.32" in c for c in view["decision"]["citations"])


def test_the_reason_for_an_amendment_is_a_code_never_free_text():
    """Nothing clinical can be typed into the record of an amendment: its reason is one of a list."""
    from marshmallow import ValidationError

    from disclosures.schemas import AMENDMENT_REASONS, AmendDisclosureFactsSchema

    ok = AmendDisclosureFactsSchema().load({"request_id": "r-1", "facts": {"identity_verified": True},
                                            "reason": AMENDMENT_REASONS[0]})
    assert ok["reason"] == "legal_process_received"
    with pytest.raises(ValidationError) as err:
        AmendDisclosureFactsSchema().load({"request_id": "r-1", "facts": {"identity_verified": True},
                                           "reason": "client disclosed relapse on heroin"})
    assert "reason" in err.value.messages
