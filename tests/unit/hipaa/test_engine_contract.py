"""The engine's contract: outcome shape, determinism, malformed input and unknown values."""
from __future__ import annotations

import dataclasses
import json

import pytest

from confide.hipaa.engine import DECISIONS, OUTCOME_KEYS, CaseFileError, Outcome, decide


def test_outcome_to_dict_has_exactly_the_seven_keys(build):
    out = decide({"request": build({})})
    assert isinstance(out, Outcome)
    d = out.to_dict()
    assert tuple(d) == OUTCOME_KEYS
    assert json.loads(json.dumps(d)) == d
    assert d["decision"] in DECISIONS
    assert d["citations"][0] in d["rule"] or d["rule"].startswith("45 CFR")


def test_outcome_is_frozen(build):
    out = decide(build({}))
    with pytest.raises(dataclasses.FrozenInstanceError):
        out.decision = "deny"  # type: ignore[misc]


def test_deterministic(build):
    case = {"request": build({"purpose": "judicial", "requester": {"role": "attorney"},
                              "legal_process": {"type": "subpoena_without_court_order",
                                                "satisfactory_assurance": True}})}
    assert decide(case).to_dict() == decide(json.loads(json.dumps(case))).to_dict()


@pytest.mark.parametrize("case,field", [
    ({}, "request"),
    ({"request": None}, "request"),
    ({"request": []}, "request"),
    ([], "request"),
    ({"request": {"purpose": "payment"}}, "request.requester"),
    ({"request": {"requester": "insurer"}}, "request.requester"),
    ({"request": {"requester": {"role": 7}}}, "request.requester.role"),
])
def test_malformed_input_raises_case_file_error_naming_field(case, field):
    with pytest.raises(CaseFileError) as info:
        decide(case)
    assert info.value.field == field
    assert field in str(info.value)


@pytest.mark.parametrize("key,value,field", [
    ("purpose", None, "request.purpose"),
    ("note_kind", 3, "request.note_kind"),
    ("decision_time", None, "request.decision_time"),
    ("decision_time", "yesterday", "request.decision_time"),
    ("authorization", "AUTH-1", "request.authorization"),
    ("other_identified_participants", "P-002", "request.other_identified_participants"),
    ("emergency", "yes", "request.emergency"),
    ("legal_process", {"type": 1}, "request.legal_process.type"),
])
def test_wrong_types_name_the_field(build, key, value, field):
    req = build({})
    req[key] = value
    with pytest.raises(CaseFileError) as info:
        decide({"request": req})
    assert info.value.field == field


def test_authorization_field_types_are_checked(build, auth):
    with pytest.raises(CaseFileError, match="request.authorization.covers"):
        decide(build({"authorization": auth(covers="psychotherapy_notes")}))
    with pytest.raises(CaseFileError, match="request.authorization.expiration_date"):
        decide(build({"authorization": auth(expiration_date="end of year")}))


@pytest.mark.parametrize("key,value", [
    ("requester", {"role": "astrologer"}),
    ("purpose", "marketing_campaign"),
    ("note_kind", "billing"),
    ("action", "sell"),
])
def test_unknown_values_are_denied_with_reason_not_raised(build, key, value):
    out = decide(build({key: value})).to_dict()
    assert out["decision"] == "deny"
    assert any(str(value if key != "requester" else "astrologer") in r for r in out["reasons"])


def test_replay_and_patients_facts_are_accepted(build):
    out = decide(build({"replay": {"as_of": "2026-05-01T15:00:00Z"}, "patients": ["P-001", "P-002"]}))
    assert out.decision == "permit_minimum_necessary"


def test_exception_claimed_with_purpose_other(build):
    """An exception the requester invokes is decided on its facts."""
    out = decide(build({"requester": {"role": "person_able_to_prevent_threat"}, "purpose": "other",
                        "note_kind": "psychotherapy", "exception_claimed": "164.512(j)(1)(i)",
                        "good_faith_belief_imminent": True}))
    assert out.decision == "permit_minimum_necessary"
    out = decide(build({"requester": {"role": "law_enforcement"}, "purpose": "other",
                        "exception_claimed": "serious threat", "good_faith_belief_imminent": False}))
    assert out.decision == "deny"


def test_missing_action_defaults_by_requester(build):
    req = build({"requester": {"role": "billing_staff"}})
    del req["action"]
    assert decide(req).accounting_required is False
    req = build({"requester": {"role": "court"}, "purpose": "judicial",
                 "legal_process": {"type": "court_order", "signed_by_judge": True, "covers": ["progress"]}})
    del req["action"]
    assert decide(req).accounting_required is True


def test_hold_and_deny_release_nothing(build):
    for overrides in ({"requester": {"role": "patient", "identity_verified": False}, "purpose": "individual_access"},
                      {"requester": {"role": "insurer_non_covered"}}):
        out = decide(build(overrides))
        assert out.decision in ("hold", "deny")
        assert out.fields_released is None and out.accounting_required is False
