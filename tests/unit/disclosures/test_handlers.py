"""Disclosure workflow, authorizations and accounting on the in-memory store (given events / when / then)."""
import importlib.util
import pathlib
import uuid
from datetime import timedelta

import pytest

from confide.contracts import casefile as facts
from confide.envelope import NewEvent
from disclosures import handlers
from disclosures.domain import commands, errors

_conftest = importlib.util.spec_from_file_location("disclosures_unit_conftest", pathlib.Path(__file__).with_name("conftest.py"))
cf = importlib.util.module_from_spec(_conftest)
_conftest.loader.exec_module(cf)

PAYMENT_FIELDS = {"patient_id", "date_of_service", "session_start", "session_stop", "cpt_code_or_modality",
                  "frequency", "diagnosis_codes", "symptoms_summary", "functional_status",
                  "treatment_plan_summary", "progress_to_date", "rendering_clinician_and_credentials", "signature"}


def types(store, stream):
    return [e.type for e in store.read_stream(stream)]


def ask(store, clock, notes, patient_id, **kw):
    kw.setdefault("requester", cf.insurer())
    kw.setdefault("purpose", "payment")
    return handlers.request_disclosure(commands.RequestDisclosure(patient_id=patient_id, **kw), store, clock, notes)


class TestRequestDisclosure:
    def test_insurer_progress_payment_gets_only_minimum_necessary_fields(self, store, clock, notes, add_note, patient):
        in_range = add_note(patient, session_date="2026-02-10")
        add_note(patient, session_date="2025-12-01")  # outside the period
        add_note("someone-else", session_date="2026-02-10")

        view = ask(store, clock, notes, patient, date_from="2026-01-01", date_to="2026-03-31")

        assert view["status"] == "released"
        assert view["decision"]["decision"] == "permit_minimum_necessary"
        assert set(view["release"]["fields_released"]) == PAYMENT_FIELDS
        assert view["release"]["note_ids"] == [in_range]
        assert notes.calls == [(view["decision"]["decision_id"], [in_range])]
        released = view["content"]["notes"][0]["fields"]
        assert set(released) == PAYMENT_FIELDS
        assert types(store, f"disclosureRequest-{view['request_id']}") == [
            "DisclosureRequested", "DisclosureDecided", "DisclosureReleased"]

    def test_access_decided_is_recorded_with_the_decision(self, store, clock, notes, add_note, patient):
        note_id = add_note(patient)
        view = ask(store, clock, notes, patient)
        decided = store.read_stream(f"accessDecision-{view['decision']['decision_id']}")[0].data
        assert decided["note_id"] == note_id and decided["originator_id"] == "C-A"
        assert decided["request_id"] == view["request_id"] and decided["patient_id"] == patient
        assert decided["requester"] == {"id": "payer-user-1", "role": "insurer_health_plan", "org": "Acme Health Plan"}

    def test_events_hold_no_content(self, store, clock, notes, add_note, patient):
        add_note(patient)
        view = ask(store, clock, notes, patient)
        for event in store.read_stream(f"disclosureRequest-{view['request_id']}"):
            assert "<" not in event.data_json  # the fake's placeholder content never reaches an event

    def test_psychotherapy_without_authorization_is_refused_citing_508a2(self, store, clock, notes, add_note, patient):
        add_note(patient, kind="psychotherapy")
        view = ask(store, clock, notes, patient, note_kind="psychotherapy")
        assert view["status"] == "refused"
        assert "164.508(a)(2)" in view["refusal"]["rule"]
        assert notes.calls == []
        assert "content" not in view

    def test_unverified_requester_is_held_then_released_on_verification(self, store, clock, notes, add_note, patient):
        add_note(patient)
        view = ask(store, clock, notes, patient, requester=cf.insurer(verified=False))
        assert view["status"] == "on_hold" and "164.514(h)" in view["hold"]["rule"]
        assert notes.calls == []

        done = handlers.verify_requester(commands.VerifyRequester(view["request_id"], "staff-1", "call-back"),
                                         store, clock, notes)
        assert done["status"] == "released"
        assert types(store, f"disclosureRequest-{view['request_id']}") == [
            "DisclosureRequested", "DisclosurePlacedOnHold", "RequesterVerified", "DisclosureDecided",
            "DisclosureReleased"]

    def test_verify_requires_a_held_request(self, store, clock, notes, add_note, patient):
        view = ask(store, clock, notes, patient)
        with pytest.raises(errors.InvalidTransitionError):
            handlers.verify_requester(commands.VerifyRequester(view["request_id"], "s", "m"), store, clock, notes)

    def test_other_org_sees_not_found(self, store, clock, notes, patient):
        view = ask(store, clock, notes, patient)
        assert handlers.get_disclosure_request(view["request_id"], store, org="Acme Health Plan")["status"]
        with pytest.raises(errors.DisclosureRequestNotFoundError):
            handlers.get_disclosure_request(view["request_id"], store, org="Other Plan")

    def test_accounting_entry_when_outcome_requires_it(self, store, clock, notes, add_note, patient):
        add_note(patient, kind="psychotherapy")
        hhs = {"id": "ocr-1", "role": "hhs_ocr", "org": "HHS OCR", "identity_verified": True}
        view = ask(store, clock, notes, patient, requester=hhs, purpose="hhs_compliance", note_kind="psychotherapy")
        assert view["status"] == "released" and view["decision"]["accounting_required"]
        entries = store.read_stream(f"accounting-{patient}")
        assert [e.type for e in entries] == ["AccountingEntryRecorded"]
        assert entries[0].data["request_id"] == view["request_id"]


class TestIdempotentRequests:
    def test_a_taken_request_id_is_refused_and_nothing_is_appended(self, store, clock, notes, add_note, patient):
        add_note(patient)
        request_id = str(uuid.uuid4())
        first = ask(store, clock, notes, patient, request_id=request_id)
        before = types(store, f"disclosureRequest-{request_id}")
        with pytest.raises(errors.DisclosureRequestExistsError):
            ask(store, clock, notes, patient, request_id=request_id)
        assert types(store, f"disclosureRequest-{request_id}") == before and first["request_id"] == request_id

    def test_resume_decides_a_request_a_crash_left_requested(self, store, clock, notes, add_note, patient):
        add_note(patient)
        request_id = str(uuid.uuid4())
        store.append(f"disclosureRequest-{request_id}", [NewEvent("DisclosureRequested", {
            "request_id": request_id, "requester": cf.insurer(), "patient_id": patient, "purpose": "payment",
            "action": "disclose", "note_kind": "progress", "received_at": "2026-05-01T15:00:00.000000Z",
            "date_from": None, "date_to": None, "note_ids": None, "authorization_id": None,
            "exception_claimed": None, "facts": {}, "channel": {}})], expected_version=-1)
        view = handlers.resume_request(request_id, store, clock, notes)
        assert view["status"] == "released" and view["content"]["notes"]
        with pytest.raises(errors.InvalidTransitionError):
            handlers.resume_request(request_id, store, clock, notes)


class TestExcludedContentInPsychotherapyNotes:
    """45 CFR 164.501: content the definition excludes keeps no psychotherapy-note protection (EX-19)."""

    def psych_note(self, store, patient, categories):
        note_id = str(uuid.uuid4())
        data = {"note_id": note_id, "patient_id": patient, "author_id": "C-A", "session_date": "2026-02-10",
                "sealed": {"ciphertext": "<sealed>"},
                "content_in_psych_note": [{"category": c, "start": 0, "end": 1} for c in categories]}
        store.append(f"psychotherapyNote-{note_id}", [NewEvent("PsychotherapyNoteDrafted", data)], expected_version=-1)
        return note_id

    def revise(self, store, note_id, categories):
        data = {"note_id": note_id, "revision": 2, "sealed": {"ciphertext": "<sealed>"},
                "content_in_psych_note": [{"category": c, "start": 0, "end": 1} for c in categories]}
        store.append(f"psychotherapyNote-{note_id}", [NewEvent("PsychotherapyNoteRevised", data)])

    def test_health_plan_gets_only_the_excluded_fields(self, store, clock, notes, patient):
        note_id = self.psych_note(store, patient, ["session_content"])
        self.revise(store, note_id, ["summary_diagnosis", "medication_prescription_and_monitoring",
                                     "session_content"])
        view = ask(store, clock, notes, patient, note_kind="psychotherapy",
                   facts={"content_in_psych_note": ["summary_symptoms"]})  # not the requester's to say
        assert view["decision"]["decision"] == "permit_minimum_necessary", view
        assert set(view["decision"]["fields_released"]) == {"diagnosis_codes", "medication_prescription_and_monitoring"}
        assert "164.501" in view["decision"]["rule"] and view["release"]["note_ids"] == [note_id]

    def test_categories_are_those_on_file_at_the_decision(self, store, clock, notes, patient):
        note_id = self.psych_note(store, patient, ["session_content"])
        gathered = facts.case_as_of(store, {"patient_id": patient, "note_kind": "psychotherapy", "purpose": "payment",
                                            "action": "disclose", "requester": cf.insurer()},
                                    cf.insurer(), clock())
        clock.advance(minutes=5)
        self.revise(store, note_id, ["summary_diagnosis"])
        assert gathered.case["content_in_psych_note"] == ["session_content"]
        view = ask(store, clock, notes, patient, note_kind="psychotherapy")
        assert view["decision"]["fields_released"] == ["diagnosis_codes"]

    def test_only_session_content_stays_protected(self, store, clock, notes, patient):
        self.psych_note(store, patient, ["session_content", "process_analysis"])
        view = ask(store, clock, notes, patient, note_kind="psychotherapy")
        assert view["status"] == "refused" and "164.508(a)(2)" in view["refusal"]["rule"]


class TestAuthorizations:
    def record(self, store, clock, form):
        return handlers.record_authorization(commands.RecordAuthorization(form), store, clock)

    def test_valid_authorization_lets_psychotherapy_notes_go(self, store, clock, notes, add_note, patient):
        add_note(patient, kind="psychotherapy")
        recorded = self.record(store, clock, cf.authorization(patient))
        assert recorded["status"] == "active" and recorded["defects"] == []
        view = ask(store, clock, notes, patient, note_kind="psychotherapy")
        assert view["status"] == "released"
        assert view["decision"]["authorization_id"] == recorded["authorization_id"]

    def test_defective_authorization_is_recorded_with_its_defects(self, store, clock, patient):
        form = cf.authorization(patient, compound=True, combined_with=["general_records_release"],
                                statements_present={"right_to_revoke": False, "conditioning": True,
                                                    "redisclosure": True})
        recorded = self.record(store, clock, form)
        assert recorded["status"] == "defective" and recorded["defective"]
        codes = {d["code"] for d in recorded["defects"]}
        assert "missing_statement_right_to_revoke" in codes
        assert any(d["citation"].startswith("45 CFR 164.508") for d in recorded["defects"])

    def test_revocation_denies_later_requests_but_earlier_disclosure_stays(self, store, clock, notes, add_note, patient):
        add_note(patient, kind="psychotherapy")
        auth = self.record(store, clock, cf.authorization(patient))
        clock.advance(days=1)
        before = ask(store, clock, notes, patient, note_kind="psychotherapy")
        clock.advance(days=1)
        handlers.revoke_authorization(commands.RevokeAuthorization(
            auth["authorization_id"], True, clock().isoformat(), "patient"), store, clock)
        clock.advance(days=1)
        after = ask(store, clock, notes, patient, note_kind="psychotherapy")

        assert after["status"] == "refused" and "164.508(b)(5)" in after["refusal"]["rule"]
        assert handlers.get_disclosure_request(before["request_id"], store)["status"] == "released"
        as_then = handlers.get_authorization(auth["authorization_id"], store, as_of=before["received_at"])
        assert as_then["status"] == "active"
        assert handlers.get_authorization(auth["authorization_id"], store)["status"] == "revoked"

    def test_oral_revocation_is_refused(self, store, clock, patient):
        auth = self.record(store, clock, cf.authorization(patient))
        with pytest.raises(errors.RevocationNotInWritingError):
            handlers.revoke_authorization(commands.RevokeAuthorization(
                auth["authorization_id"], False, clock().isoformat(), "patient"), store, clock)

    def test_expiry_by_event(self, store, clock, patient):
        auth = self.record(store, clock, cf.authorization(patient, expiration_date=None,
                                                          expiration_event="end of the claim review"))
        view = handlers.expire_authorization(commands.ExpireAuthorization(
            auth["authorization_id"], "event", event_description="claim review closed"), store, clock)
        assert view["status"] == "expired" and view["authorization"]["expiration_event_occurred"] is True
        with pytest.raises(errors.AuthorizationNotActiveError):
            handlers.expire_authorization(commands.ExpireAuthorization(auth["authorization_id"], "date"), store, clock)

    def test_duplicate_and_missing(self, store, clock, patient):
        form = cf.authorization(patient)
        self.record(store, clock, form)
        with pytest.raises(errors.AuthorizationAlreadyRecordedError):
            self.record(store, clock, form)
        with pytest.raises(errors.AuthorizationNotFoundError):
            handlers.get_authorization("nope", store)


class TestAccounting:
    def disclose_to(self, store, clock, notes, patient, role, org, purpose):
        who = {"id": f"{org}-1", "role": role, "org": org, "identity_verified": True}
        return ask(store, clock, notes, patient, requester=who, purpose=purpose, note_kind="psychotherapy")

    def test_six_year_lookback_and_suspension(self, store, clock, notes, add_note, patient):
        add_note(patient, kind="psychotherapy")
        self.disclose_to(store, clock, notes, patient, "hhs_ocr", "HHS OCR", "hhs_compliance")
        clock.advance(days=6 * 365 + 10)
        self.disclose_to(store, clock, notes, patient, "hhs_ocr", "HHS OCR", "hhs_compliance")
        handlers.suspend_accounting(commands.SuspendAccounting(
            patient, {"org": "HHS OCR", "role": "health_oversight_agency"}, False, "investigation",
            clock().isoformat()), store, clock)
        clock.advance(days=1)
        reply = handlers.request_accounting(commands.RequestAccounting(patient, "patient"), store, clock)
        assert reply["entries"] == [] and reply["withheld_under_suspension"] == 1
        clock.advance(days=40)  # oral statement: at most 30 days (164.528(a)(2)(ii))
        reply = handlers.request_accounting(commands.RequestAccounting(patient, "patient"), store, clock)
        assert len(reply["entries"]) == 1 and reply["withheld_under_suspension"] == 0

    def test_deadline_60_days_and_one_extension(self, store, clock, patient):
        reply = handlers.request_accounting(commands.RequestAccounting(patient, "patient"), store, clock)
        assert reply["due_at"].startswith("2026-06-30")
        ext = handlers.extend_accounting_deadline(commands.ExtendAccountingDeadline(
            patient, reply["accounting_request_id"], "records offsite"), store, clock)
        assert ext["due_at"].startswith("2026-07-30")
        with pytest.raises(errors.ExtensionNotAllowedError):
            handlers.extend_accounting_deadline(commands.ExtendAccountingDeadline(
                patient, reply["accounting_request_id"], "again"), store, clock)

    def test_suspension_only_for_oversight_or_law_enforcement(self, store, clock, patient):
        with pytest.raises(errors.InvalidRequestError) as info:
            handlers.suspend_accounting(commands.SuspendAccounting(
                patient, {"org": "X", "role": "attorney"}, True, "s", clock().isoformat()), store, clock)
        assert info.value.field == "agency.role"


    def test_written_suspension_needs_its_period_and_names_match_without_case(self, store, clock, notes,
                                                                               add_note, patient):
        with pytest.raises(errors.InvalidRequestError) as info:
            handlers.suspend_accounting(commands.SuspendAccounting(
                patient, {"org": "State Board", "role": "health_oversight_agency"}, True, "s",
                clock().isoformat()), store, clock)
        assert info.value.field == "ends_at" and "164.528(a)(2)(i)" in str(info.value)
        assert store.read_stream(f"accounting-{patient}") == []  # nothing half-written
        add_note(patient, kind="psychotherapy")
        self.disclose_to(store, clock, notes, patient, "hhs_ocr", "HHS OCR", "hhs_compliance")
        handlers.suspend_accounting(commands.SuspendAccounting(
            patient, {"org": "hhs ocr", "role": "health_oversight_agency"}, True, "audit",
            clock().isoformat(), (clock() + timedelta(days=90)).isoformat()), store, clock)
        reply = handlers.request_accounting(commands.RequestAccounting(patient, "patient"), store, clock)
        assert reply["entries"] == [] and reply["withheld_under_suspension"] == 1


class TestRightOfAccess:
    def test_patient_gets_progress_notes_never_psychotherapy_notes(self, store, clock, notes, add_note, patient):
        progress = add_note(patient)
        add_note(patient, kind="psychotherapy")
        me = {"id": patient, "role": "patient", "org": "self", "identity_verified": True}
        view = handlers.request_access(patient, me, store, clock, notes)
        assert view["status"] == "released" and view["release"]["note_ids"] == [progress]
        assert view["due_at"].startswith("2026-05-31")


class TestSealedDecisions:
    """C5: every AccessDecided carries a seal under decision.key; item 5: new stream with -1."""

    def test_access_decided_is_sealed_with_the_decision_key(self, store, clock, notes, add_note, patient, key_dir,
                                                            tmp_path):
        from confide.keys import ensure_decision_key, verify_decision
        add_note(patient)
        view = ask(store, clock, notes, patient)
        [decided] = store.read_stream(f"accessDecision-{view['decision']['decision_id']}")
        assert decided.stream_version == 0 and verify_decision(key_dir, decided.data, decided.data["seal"])
        ensure_decision_key(tmp_path / "elsewhere")
        assert not verify_decision(tmp_path / "elsewhere", decided.data, decided.data["seal"])
        assert not verify_decision(key_dir, {**decided.data, "fields_released": ["full_note"]}, decided.data["seal"])

    def test_an_explicit_key_dir_is_used(self, store, clock, notes, add_note, patient, tmp_path):
        from confide.keys import ensure_decision_key, verify_decision
        own = tmp_path / "own-keys"
        ensure_decision_key(own)
        add_note(patient)
        view = handlers.request_disclosure(commands.RequestDisclosure(requester=cf.insurer(), patient_id=patient,
                                                                      purpose="payment"),
                                           store, clock, type("NoRelease", (), {"release_fields": lambda *a: {}})(),
                                           key_dir=own)
        [decided] = store.read_stream(f"accessDecision-{view['decision']['decision_id']}")
        assert verify_decision(own, decided.data, decided.data["seal"])

    def test_no_decision_key_records_nothing_and_releases_nothing(self, store, clock, notes, add_note, patient,
                                                                  tmp_path):
        add_note(patient)
        with pytest.raises(FileNotFoundError):
            handlers.request_disclosure(commands.RequestDisclosure(requester=cf.insurer(), patient_id=patient,
                                                                   purpose="payment"),
                                        store, clock, notes, key_dir=tmp_path / "no-keys")
        assert notes.calls == [] and not [e for e in store.read_all() if e.type == "AccessDecided"]

    def crash_after_decided(self, store, clock, notes, add_note, patient):
        """A request whose AccessDecided append was lost in a crash right after DisclosureDecided: what
        a version that appended one stream at a time could leave (the decision and its AccessDecided
        are now one transaction), and recovery must still finish."""
        add_note(patient)
        with pytest.raises(Crash):
            ask(OneStreamAtATime(store, crash_before="accessDecision-"), clock, notes, patient)
        [decided] = [e for e in store.read_all() if e.type == "DisclosureDecided"]
        return decided.data

    def test_resume_records_the_decision_once(self, store, clock, notes, add_note, patient, key_dir):
        from confide.keys import verify_decision
        decided = self.crash_after_decided(store, clock, notes, add_note, patient)
        stream = f"accessDecision-{decided['decision_id']}"
        assert store.read_stream(stream) == []
        view = handlers.resume_request(decided["request_id"], store, clock, notes)
        assert view["status"] == "released"
        [recorded] = store.read_stream(stream)
        assert verify_decision(key_dir, recorded.data, recorded.data["seal"])

    def test_resume_names_the_decisions_own_decided_for_not_the_resumers(self, store, clock, notes, add_note,
                                                                          patient, monkeypatch):
        payer = {"subject": "Acme Health Plan", "session_id": "s-1", "amr": ["swk"],
                 "auth_time": "2026-05-01T14:59:00.000000Z", "acting_service": None}
        add_note(patient)
        with pytest.raises(Crash):
            handlers.request_disclosure(commands.RequestDisclosure(requester=cf.insurer(), patient_id=patient,
                                                                   purpose="payment", received_from=payer),
                                        OneStreamAtATime(store, crash_before="accessDecision-"), clock, notes,
                                        decided_for=payer)
        [decided] = [e.data for e in store.read_all() if e.type == "DisclosureDecided"]
        assert decided["decided_for"] == payer
        someone_else = {**payer, "subject": "ROI-1", "session_id": "s-2"}
        handlers.resume_request(decided["request_id"], store, clock, notes, decided_for=someone_else)
        [access] = store.read_stream(f"accessDecision-{decided['decision_id']}")
        assert access.data["decided_for"] == payer

    def test_rerecording_an_existing_decision_is_a_no_op(self, store, clock, notes, add_note, patient):
        from disclosures.domain import events as ev
        add_note(patient)
        view = ask(store, clock, notes, patient)
        state = handlers.load_request(store, view["request_id"])
        stream = f"accessDecision-{view['decision']['decision_id']}"
        handlers._record_access_decision(store, state.request, handlers.effective_requester(state),
                                         ev.DisclosureDecided(**state.decision), [])
        assert types(store, stream) == ["AccessDecided"]

    def test_a_foreign_event_in_the_decision_stream_is_not_taken_for_ours(self, store, clock, notes, add_note,
                                                                          patient):
        from confide.eventstore.errors import WrongExpectedVersionError
        decided = self.crash_after_decided(store, clock, notes, add_note, patient)
        store.append(f"accessDecision-{decided['decision_id']}", [NewEvent("AccessDecided", {
            "decision_id": decided["decision_id"], "decision": "permit", "fields_released": ["full_note"]})], -1)
        with pytest.raises(WrongExpectedVersionError):
            handlers.resume_request(decided["request_id"], store, clock, notes)
        assert notes.calls == []


class Crash(BaseException):
    """The service died here: nothing after it happens (not even a handler's ``except Exception``)."""


class OneStreamAtATime:
    """``store`` as a version before multi-stream appends used it: a multi-stream append made stream
    by stream, each in its own transaction, and the service dying just before appending to the first
    stream named ``crash_before...`` (the records such a crash left on file)."""

    def __init__(self, store, crash_before):
        self.store, self.crash_before = store, crash_before

    def __getattr__(self, name):
        return getattr(self.store, name)

    def multi_stream_append(self, appends):
        results = []
        for name, events, expected in appends:
            if name.startswith(self.crash_before):
                raise Crash()
            results.append(self.store.append(name, events, expected))
        return results


class DiesAtCommit:
    """``store`` whose ``nth`` write (an append or a multi-stream append) dies before it commits."""

    def __init__(self, store, nth=1):
        self.store, self.left = store, nth

    def __getattr__(self, name):
        return getattr(self.store, name)

    def _write(self, call, *args, **kwargs):
        self.left -= 1
        if self.left == 0:
            raise Crash()
        return call(*args, **kwargs)

    def append(self, *args, **kwargs):
        return self._write(self.store.append, *args, **kwargs)

    def multi_stream_append(self, *args, **kwargs):
        return self._write(self.store.multi_stream_append, *args, **kwargs)


class TestOneTransactionPerDecision:
    """A new request, its decision and the decision's AccessDecided are recorded in one multi-stream
    append: a fault leaves all of them on file or none (and then nothing was released)."""

    def test_received_decided_and_access_decided_are_one_write(self, store, clock, notes, add_note, patient):
        add_note(patient)
        writes = []

        class Counting:
            def __getattr__(self, name):
                return getattr(store, name)

            def append(self, stream_name, events, expected_version=None):
                writes.append([stream_name.split("-")[0]])
                return store.append(stream_name, events, expected_version)

            def multi_stream_append(self, appends):
                writes.append([a[0].split("-")[0] for a in appends])
                return store.multi_stream_append(appends)

        view = ask(Counting(), clock, notes, patient)
        assert view["status"] == "released"
        assert writes == [["disclosureRequest", "accessDecision"], ["disclosureRequest"]]
        assert types(store, f"disclosureRequest-{view['request_id']}") == [
            "DisclosureRequested", "DisclosureDecided", "DisclosureReleased"]

    def test_dying_at_the_first_write_leaves_nothing_and_releases_nothing(self, store, clock, notes, add_note,
                                                                         patient):
        add_note(patient)
        request_id = str(uuid.uuid4())
        with pytest.raises(Crash):
            ask(DiesAtCommit(store), clock, notes, patient, request_id=request_id)
        assert notes.calls == [] and not [e for e in store.read_all() if e.type == "AccessDecided"]
        # The caller was told it failed; asking again under the same id is a new request, decided once.
        view = ask(store, clock, notes, patient, request_id=request_id)
        assert view["status"] == "released"
        assert types(store, f"disclosureRequest-{request_id}") == [
            "DisclosureRequested", "DisclosureDecided", "DisclosureReleased"]

    def test_dying_before_the_release_leaves_a_decision_with_its_access_decision(self, store, clock, notes,
                                                                                 add_note, patient):
        add_note(patient)
        request_id = str(uuid.uuid4())
        with pytest.raises(Crash):
            ask(DiesAtCommit(store, nth=2), clock, notes, patient, request_id=request_id)
        state = handlers.load_request(store, request_id)
        assert state.status == "decided"
        assert types(store, f"accessDecision-{state.decision['decision_id']}") == ["AccessDecided"]
        view = handlers.resume_request(request_id, store, clock, notes)
        assert view["status"] == "released"
        assert types(store, f"accessDecision-{state.decision['decision_id']}") == ["AccessDecided"]

    def test_a_deciding_that_fails_still_records_the_request_for_recovery(self, store, clock, notes, add_note,
                                                                         patient):
        add_note(patient)
        request_id = str(uuid.uuid4())

        def broken_engine(case):
            raise RuntimeError("engine fault")

        with pytest.raises(RuntimeError):
            handlers.request_disclosure(commands.RequestDisclosure(requester=cf.insurer(), patient_id=patient,
                                                                   purpose="payment", request_id=request_id),
                                        store, clock, notes, broken_engine)
        assert types(store, f"disclosureRequest-{request_id}") == ["DisclosureRequested"]
        assert notes.calls == []
        view = handlers.resume_request(request_id, store, clock, notes)
        assert view["status"] == "released"

    def test_a_request_held_for_verification_is_one_append(self, store, clock, notes, patient):
        attorney = {"id": "Smith LLP", "role": "attorney", "org": "Smith LLP"}
        view = ask(store, clock, notes, patient, requester=attorney, recorded_by="ROI-1")
        assert view["status"] == "on_hold"
        recorded = store.read_stream(f"disclosureRequest-{view['request_id']}")
        assert [e.type for e in recorded] == ["DisclosureRequested", "DisclosurePlacedOnHold"]
        assert recorded[0].recorded_at == recorded[1].recorded_at  # one batch


class ContendedStore:
    """Wraps a store: before each of the first ``losses`` appends to an accounting stream another
    writer appends there first, so a version read before the append is stale."""

    def __init__(self, store, losses):
        self.store, self.losses, self.attempts = store, losses, 0

    def __getattr__(self, name):
        return getattr(self.store, name)

    def append(self, stream_name, events, expected_version=None):
        if stream_name.startswith("accounting-"):
            # The store's one retry loop (any version) absorbs the race; a version read here would be stale.
            assert expected_version is None, "accounting appends leave the race to the store's retry"
            self.attempts += 1
            if self.attempts <= self.losses:
                self.store.append(stream_name, [NewEvent("AccountingRequested", {
                    "accounting_request_id": str(uuid.uuid4()), "patient_id": stream_name.split("-", 1)[1],
                    "requested_by": "other", "received_at": "2026-05-01T15:00:00.000000Z",
                    "due_at": "2026-06-30T15:00:00.000000Z"})], None)
        return self.store.append(stream_name, events, expected_version)


class TestAccountingContention:
    def test_a_lost_race_is_retried_and_the_entry_recorded_once(self, store, clock, notes, add_note, patient):
        add_note(patient, kind="psychotherapy")
        contended = ContendedStore(store, losses=3)
        hhs = {"id": "ocr-1", "role": "hhs_ocr", "org": "HHS OCR", "identity_verified": True}
        view = ask(contended, clock, notes, patient, requester=hhs, purpose="hhs_compliance",
                   note_kind="psychotherapy")
        assert view["status"] == "released" and contended.attempts == 1
        entries = [e for e in store.read_stream(f"accounting-{patient}") if e.type == "AccountingEntryRecorded"]
        assert len(entries) == 1 and entries[0].data["decision_id"] == view["decision"]["decision_id"]
        # The bound on the store's retries: tests/integration/shared/test_postgres_store.py.

