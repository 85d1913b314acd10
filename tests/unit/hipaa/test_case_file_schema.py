"""The case file published as a JSON Schema (draft 2020-12, confide/hipaa/case_file.schema.json):
every published and review case conforms, the engine refuses one that does not with an error naming
the field, the services' case files conform, and the services' marshmallow schemas agree with it
on field names and vocabularies."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from confide.contracts import casefile
from confide.hipaa import case_schema
from confide.hipaa.engine import CaseFileError, decide
from confide.hipaa.rules._case import KNOWN_PURPOSES, KNOWN_ROLES, NOTE_KINDS
from confide.hipaa.schemas import RequesterFactsSchema
from disclosures import schemas as service

from .conftest import cases_dir

REVIEW = json.loads((Path(__file__).with_name("review_cases.json")).read_text(encoding="utf-8"))

#: The fields shared/cases/README.md documents (request, requester, authorization, legal_process).
README_REQUEST = {
    "requester", "purpose", "note_kind", "jurisdiction", "action", "patient", "decision_time", "authorization",
    "exception_claimed", "note_originator", "legal_process", "proceeding", "patient_deceased",
    "good_faith_belief_imminent", "imminent_threat", "emergency", "oversight_subject", "mandate", "irb_waiver",
    "session_type", "other_identified_participants", "content_in_psych_note", "content", "stored_separately",
    "channel", "jurisdiction_overlay", "patient_consent", "record_is_part2", "directed_by_patient", "replay",
    "patients",
}
README_REQUESTER = {"role", "id", "org", "is_originator", "is_workforce", "in_ce_training_program", "supervised",
                    "supervises_author", "is_covered_entity", "is_health_care_provider", "identity_verified",
                    "baa_in_place"}
README_AUTHORIZATION = {"id", "patient", "covers", "description", "authorized_discloser", "recipients", "purposes",
                        "signed_by", "signer_role", "rep_authority_described", "signed_date", "expiration_date",
                        "expiration_event", "expiration_event_occurred", "revoked", "revocation", "compound",
                        "combined_with", "conditioned_on", "statements_present", "plain_language",
                        "part2_tpo_consent"}
README_LEGAL_PROCESS = {"type", "signed_by_judge", "scope", "covers", "satisfactory_assurance",
                        "objection_period_lapsed"}


def _examples() -> list[dict]:
    return json.loads((cases_dir() / "examples.json").read_text(encoding="utf-8"))


def test_schema_is_draft_2020_12_package_data():
    schema = case_schema.schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)  # raises SchemaError unless it is a valid 2020-12 schema
    assert schema["required"] == ["request"]


def test_every_published_and_review_case_conforms():
    validator = Draft202012Validator(case_schema.schema())
    cases = _examples() + REVIEW
    assert cases
    for case in cases:
        assert validator.is_valid(case), (case["id"], [e.message for e in validator.iter_errors(case)])


def test_the_schema_documents_every_field_of_the_readme():
    assert README_REQUEST <= case_schema.request_properties()
    assert README_REQUESTER <= case_schema.request_properties("requester")
    assert README_AUTHORIZATION <= case_schema.request_properties("authorization")
    assert README_LEGAL_PROCESS <= case_schema.request_properties("legal_process")


def test_the_engines_vocabularies_are_the_schemas():
    assert set(case_schema.vocabulary("role")) == KNOWN_ROLES
    assert set(case_schema.vocabulary("purpose")) == KNOWN_PURPOSES
    assert set(case_schema.vocabulary("note_kind")) == NOTE_KINDS
    from confide.hipaa.rules import states
    assert set(case_schema.vocabulary("jurisdiction")) == set(states.OVERLAYS)
    settings = {s for m in states.OVERLAYS.values() for s in m.SETTINGS}
    assert set(case_schema.vocabulary("practice_setting")) == settings


def test_the_services_marshmallow_schemas_agree_with_the_json_schema():
    """The disclosures service validates its payloads with marshmallow; its field names and
    vocabularies are the JSON Schema's."""
    assert tuple(service.ROLES) == case_schema.vocabulary("role")
    assert tuple(service.PURPOSES) == case_schema.vocabulary("purpose")
    assert set(service.NOTE_KINDS) <= set(case_schema.vocabulary("note_kind"))
    assert set(service.ACTIONS) == set(case_schema.vocabulary("action"))
    assert tuple(service.LEGAL_PROCESS_TYPES) == case_schema.vocabulary("legal_process_type")
    assert set(service.LegalProcessSchema().fields) == case_schema.request_properties("legal_process")
    assert set(RequesterFactsSchema().fields) <= case_schema.request_properties("requester")
    requester = set(service.RequesterSchema().fields) | set(service.ExternalRequesterSchema().fields)
    assert requester <= case_schema.request_properties("requester")
    authorization = service.AuthorizationSchema().fields
    assert set(authorization) <= case_schema.request_properties("authorization")
    signer = authorization["signer_role"].validate.choices  # type: ignore[union-attr]
    assert tuple(signer) == case_schema.vocabulary("signer_role")


def test_the_services_accept_an_expiration_event_date_and_part2_consent_fields():
    loaded = service.AuthorizationSchema().load({
        "patient": "P-001", "covers": ["part2_records"], "expiration_event_occurred": "2026-04-30",
        "part2_tpo_consent": True})
    assert loaded["expiration_event_occurred"] == "2026-04-30" and loaded["part2_tpo_consent"] is True
    assert loaded["plain_language"] is None  # not assumed (164.508(c)(3)(i))
    with pytest.raises(Exception) as info:
        service.AuthorizationSchema().load({"patient": "P-001", "covers": ["x"],
                                            "expiration_event_occurred": "soon"})
    assert "expiration_event_occurred" in str(info.value)


NONCONFORMING = [
    ("channel", {"standard": "CDex", "claim": 123}, "request.channel.claim"),
    ("mandate", {"statute": 7, "compels": True}, "request.mandate.statute"),
    ("jurisdiction_overlay", {"payment_requires_patient_consent": "yes"},
     "request.jurisdiction_overlay.payment_requires_patient_consent"),
    ("psychotherapy_information_request", {"signed": "yes"}, "request.psychotherapy_information_request.signed"),
    ("part2_audit_agreement", "yes", "request.part2_audit_agreement"),
    ("danger_determined_by", True, "request.danger_determined_by"),
    ("recipient_is_endangered_individual", "yes", "request.recipient_is_endangered_individual"),
    ("legal_process", {"type": "court_order", "covers": "psychotherapy"}, "request.legal_process.covers"),
    ("legal_process", {"type": "court_order", "covers": ["progress", 2]}, "request.legal_process.covers[1]"),
    ("note_originator", 5, "request.note_originator"),
    ("jurisdiction", ["CA"], "request.jurisdiction"),
    ("proceeding", {"initiator": True}, "request.proceeding.initiator"),
    ("irb_waiver", {"documented": "yes"}, "request.irb_waiver.documented"),
]


@pytest.mark.parametrize("key,value,field", NONCONFORMING)
def test_the_engine_refuses_a_nonconforming_case_file_naming_the_field(build, key, value, field):
    req = build({})
    req[key] = value
    with pytest.raises(CaseFileError) as info:
        decide({"request": req})
    assert info.value.field == field, str(info.value)
    assert field in str(info.value)


def test_the_schema_alone_names_a_field_the_parser_does_not_check():
    """case_schema.validate is the check for shapes the rule parser does not read."""
    with pytest.raises(CaseFileError) as info:
        case_schema.validate({"request": {"requester": {"role": "patient"}, "purpose": "other",
                                          "note_kind": "progress", "decision_time": "2026-05-01T00:00:00Z",
                                          "directed_by_patient": {"signed": "yes"}}})
    assert info.value.field == "request.directed_by_patient.signed"
    with pytest.raises(CaseFileError) as info:
        case_schema.validate({"request": {"purpose": "other"}})
    assert info.value.field == "request.requester" and "missing" in str(info.value)


@pytest.mark.parametrize("value", ["yesterday", 3, ["2026-01-01"]])
def test_expiration_event_occurred_is_a_boolean_or_a_date(build, auth, value):
    req = build({"note_kind": "psychotherapy", "authorization": auth(expiration_event_occurred=value)})
    with pytest.raises(CaseFileError) as info:
        decide(req)
    assert info.value.field == "request.authorization.expiration_event_occurred"


def test_unknown_vocabulary_values_are_decided_not_refused(build):
    """Vocabularies are documented, not enforced: an unheard-of note kind is denied with a reason."""
    out = decide(build({"note_kind": "billing", "jurisdiction": "ZZ"}))
    assert out.decision == "deny"


def test_python_dates_are_read_as_their_iso_form(build, auth):
    from datetime import date

    out = decide(build({"note_kind": "psychotherapy", "authorization": auth(signed_date=date(2026, 4, 1))}))
    assert out.decision == "permit"


def test_the_services_case_files_conform():
    """confide.contracts.casefile builds what the engine judges; with the practice's facts too."""
    request = {"purpose": "judicial", "note_kind": "psychotherapy", "action": "disclose", "patient_id": "P-1",
               "facts": {"legal_process": {"type": "court_order", "signed_by_judge": True,
                                           "covers": ["psychotherapy"], "scope": "psychotherapy notes 2026"}},
               "channel": {}}
    case = casefile.request_case(request, {"id": "court-1", "role": "court", "org": "Court"},
                                 [{"note_id": "n1", "author_id": "C-A", "session_date": "2026-02-01",
                                   "content_in_psych_note": []}], None, "2026-05-01T00:00:00Z",
                                 practice={"jurisdiction": "NY", "practice_setting": "outpatient_practice",
                                           "part2_program": False})
    case_schema.validate({"request": case})
    assert case["note_originator"] == "C-A" and case["jurisdiction"] == "NY"
    assert case["legal_process"]["covers"] == ["psychotherapy"]
    assert decide(case).decision == "permit"


def test_the_fast_validator_agrees_with_jsonschema(build, auth):
    """validate() asks jsonschema_rs first and believes a "conforms" from it without asking
    jsonschema: on conforming and nonconforming case files alike the two must answer the same."""
    import jsonschema_rs

    fast = jsonschema_rs.Draft202012Validator(case_schema.schema())
    reference = Draft202012Validator(case_schema.schema())
    cases = _examples() + REVIEW
    for key, value, _field in NONCONFORMING:
        req = build({})
        req[key] = value
        cases.append({"request": req})
    for value in ("yesterday", 3, ["2026-01-01"], True, "2026-01-01"):
        cases.append({"request": build({"note_kind": "psychotherapy",
                                        "authorization": auth(expiration_event_occurred=value)})})
    cases += [{"request": {"purpose": "other"}}, {}, {"request": []}, {"request": {"requester": {"role": 7}}}]
    verdicts = [(fast.is_valid(c), reference.is_valid(c)) for c in cases]
    assert all(a == b for a, b in verdicts), [c for c, (a, b) in zip(cases, verdicts) if a != b]
    assert {a for a, _ in verdicts} == {True, False}  # both answers were exercised
def _mutations(case: dict):
    """Each example with one field dropped, retyped or added, anywhere in it (deterministic)."""
    def paths(node, at=()):
        if isinstance(node, dict):
            for k, v in node.items():
                yield at + (k,)
                yield from paths(v, at + (k,))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                yield at + (i,)
                yield from paths(v, at + (i,))

    for n, path in enumerate(paths(case)):
        for how in ("drop", "retype", "add"):
            mutated = json.loads(json.dumps(case))
            parent = mutated
            for k in path[:-1]:
                parent = parent[k]
            if how == "drop" and isinstance(parent, dict):
                del parent[path[-1]]
            elif how == "add" and isinstance(parent, dict):
                parent[f"undocumented_{n}"] = 1
            else:
                parent[path[-1]] = [None, 1, "x", {}, [], True][n % 6]
            yield mutated


def test_the_compiled_validator_accepts_exactly_what_the_reference_validator_accepts():
    """``validate`` asks ``jsonschema_rs`` whether a case conforms and ``jsonschema`` only what is wrong
    with one that does not: the two must agree on every case, or a case the contract refuses would be
    decided."""
    reference = Draft202012Validator(case_schema.schema())
    compiled = case_schema._fast_validator()
    assert compiled is not None  # requirements.lock installs jsonschema_rs
    checked = refused = 0
    for example in _examples():
        for mutated in _mutations(example):
            conforms = reference.is_valid(mutated)
            assert compiled.is_valid(mutated) == conforms, mutated
            checked, refused = checked + 1, refused + (not conforms)
            if not conforms:
                with pytest.raises(CaseFileError):
                    case_schema.validate(mutated)
    assert checked > 1000 and 0 < refused < checked
