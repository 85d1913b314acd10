"""Fail closed: a fact a permit depends on that is absent or null is unknown, not false.

One test per default changed (docs/fail-closed-defaults.md): with the fact established the rule
permits; with it absent (or null) the engine denies -- or holds, where a verification would settle
it -- and a reason or the rule names the missing fact.
"""
from __future__ import annotations

import pytest

from confide.hipaa.engine import decide
from confide.hipaa.minimum_necessary import build_policy

from .conftest import build_request

PSYCH = {"note_kind": "psychotherapy"}
BOARD = {"role": "health_oversight_agency", "org": "State Board of Psychology", "identity_verified": True}
COURT = {"role": "court", "org": "Family Court", "identity_verified": True}


def _names(outcome: dict, fact: str) -> bool:
    return fact in outcome["rule"] or any(fact in r for r in outcome["reasons"])


def test_164_508_a_2_ii_oversight_exception_needs_note_originator(run, expect):
    """45 CFR 164.508(a)(2)(ii), 164.512(d): oversight *of the originator*. Established (the
    subject is the note's author): permitted; `note_originator` absent: the originator is never
    taken from `oversight_subject` -- denied, naming the fact; another author: denied."""
    base = {**PSYCH, "requester": BOARD, "purpose": "health_oversight", "oversight_subject": "C-B"}
    expect(run({**base, "note_originator": "C-B"}), {"decision": "permit_minimum_necessary",
                                                     "cites": ["164.512(d)", "164.508(a)(2)(ii)"]})
    unknown = run(base)
    expect(unknown, {"decision": "deny", "cites": "164.508(a)(2)(ii)", "fields_released": None})
    assert _names(unknown, "note_originator")
    expect(run({**base, "note_originator": "C-A"}), {"decision": "deny", "reason": "not C-B"})
    # the originator is not read from look-alike fields either
    assert run({**base, "originator": "C-B", "author": "C-B"})["decision"] == "deny"


def test_164_508_a_2_ii_oversight_exception_needs_the_subject(run, expect):
    """45 CFR 164.508(a)(2)(ii): without `oversight_subject` whose conduct is overseen is unknown."""
    out = run({**PSYCH, "requester": BOARD, "purpose": "health_oversight", "note_originator": "C-A"})
    expect(out, {"decision": "deny"})
    assert _names(out, "oversight_subject")


def test_164_508_a_2_i_A_originator_contradicted_by_note_originator(run, expect):
    """45 CFR 164.508(a)(2)(i)(A): the originator's own use. A requester whose id differs from
    `note_originator` is not the originator, whatever `is_originator` says."""
    me = {"role": "originator_clinician", "id": "C-A", "is_originator": True}
    base = {**PSYCH, "purpose": "treatment", "action": "use"}
    expect(run({**base, "requester": me, "note_originator": "C-A"}), {"decision": "permit"})
    expect(run({**base, "requester": {**me, "id": "C-B"}, "note_originator": "C-A"}), {"decision": "deny"})


@pytest.mark.parametrize("requester,established", [
    ({"role": "trainee", "in_ce_training_program": True, "supervised": True}, True),
    ({"role": "trainee", "in_ce_training_program": True}, False),        # supervised unknown
    ({"role": "trainee", "supervised": True}, False),                    # own program unknown
])
def test_164_508_a_2_i_B_training_needs_program_and_supervision(run, expect, requester, established):
    """45 CFR 164.508(a)(2)(i)(B): the covered entity's own training programs in which trainees
    learn under supervision -- both facts established, else denied naming the unknown one."""
    out = run({**PSYCH, "requester": requester, "purpose": "training", "action": "use"})
    if established:
        expect(out, {"decision": "permit", "cites": "164.508(a)(2)(i)(B)"})
    else:
        expect(out, {"decision": "deny"})
        assert _names(out, "requester.supervised") or _names(out, "requester.in_ce_training_program")


@pytest.mark.parametrize("requester,established", [
    ({"role": "trainee", "in_ce_training_program": True, "supervised": True}, True),
    ({"role": "trainee", "in_ce_training_program": True}, False),
    ({"role": "clinician_same_practice"}, False),
])
def test_164_501_training_as_health_care_operations_needs_its_facts(run, expect, requester, established):
    """45 CFR 164.501 (health care operations: the covered entity's own supervised training
    programs), 164.506(c)(1): progress notes used for training."""
    out = run({"requester": requester, "purpose": "training", "action": "use"})
    if established:
        expect(out, {"decision": "permit_minimum_necessary", "cites": "164.506(c)(1)"})
    else:
        expect(out, {"decision": "deny", "reason": "unknown"})


def test_164_508_a_2_i_C_defense_needs_the_defendant(run, expect):
    """45 CFR 164.508(a)(2)(i)(C): the covered entity defends *itself* in a proceeding the
    individual brought; whom the proceeding is against must be on file."""
    base = {**PSYCH, "requester": {"role": "defense_counsel", "org": "Practice's counsel"},
            "purpose": "legal_defense_vs_individual"}
    expect(run({**base, "proceeding": {"initiator": "P-001", "defendant": "Northside Counseling Group"}}),
           {"decision": "permit", "cites": "164.508(a)(2)(i)(C)"})
    out = run({**base, "proceeding": {"initiator": "P-001"}})
    expect(out, {"decision": "deny"})
    assert _names(out, "proceeding.defendant")


def test_164_512_e_1_i_court_order_signature_unknown_is_held(run, expect):
    """45 CFR 164.512(e)(1)(i): an order of a court. `signed_by_judge` absent on a court order is
    unknown (not a judge's order by default): held until verified, naming the fact."""
    lp = {"type": "court_order", "covers": ["progress"]}
    base = {"requester": COURT, "purpose": "judicial"}
    expect(run({**base, "legal_process": {**lp, "signed_by_judge": True}}), {"decision": "permit"})
    out = run({**base, "legal_process": lp})
    expect(out, {"decision": "hold", "fields_released": None, "accounting_required": False})
    assert _names(out, "signed_by_judge")
    # psychotherapy notes too (164.508(a)(2)(ii) via 164.512(a)) -- held, not permitted
    psych = run({**base, **PSYCH, "legal_process": {**lp, "covers": ["psychotherapy"]}})
    expect(psych, {"decision": "hold"})


def test_164_512_f_1_ii_A_law_enforcement_order_signature_unknown_is_held(run, expect):
    """45 CFR 164.512(f)(1)(ii)(A): a court-ordered warrant or order -- signed by a judge?"""
    out = run({"requester": {"role": "law_enforcement", "identity_verified": True}, "purpose": "law_enforcement",
               "legal_process": {"type": "court_order", "covers": ["progress"]}})
    expect(out, {"decision": "hold", "cites": "164.512(f)(1)(ii)(A)"})


@pytest.mark.parametrize("kind,lp,decision", [
    ("psychotherapy", {"covers": ["psychotherapy"]}, "permit"),
    ("psychotherapy", {"covers": ["progress"]}, "deny"),
    ("psychotherapy", {"scope": "all records of P-001, excluding psychotherapy notes"}, "deny"),
    ("psychotherapy", {"scope": "progress notes only, not psychotherapy notes"}, "deny"),
    ("psychotherapy", {"scope": "progress notes 2025"}, "deny"),
    ("psychotherapy", {"scope": "psychotherapy notes of 2025"}, "permit"),
    ("psychotherapy", {"scope": "records of sessions in 2025"}, "hold"),
    ("psychotherapy", {}, "hold"),
    ("progress", {"covers": ["progress", "psychotherapy"]}, "permit"),
    ("progress", {"covers": ["psychotherapy"]}, "deny"),
    ("progress", {"scope": "records of sessions in 2025"}, "permit"),
    ("progress", {}, "hold"),
])
def test_164_512_e_1_i_order_permits_only_what_it_expressly_authorizes(run, expect, kind, lp, decision):
    """45 CFR 164.512(e)(1)(i): "only the protected health information expressly authorized by such
    order". `legal_process.covers` decides; else the scope text (an exclusion, or naming only other
    kinds, is not authority for these notes); coverage not on file: held until staff record it."""
    out = run({"requester": COURT, "purpose": "judicial", "note_kind": kind,
               "legal_process": {"type": "court_order", "signed_by_judge": True, **lp}})
    expect(out, {"decision": decision, "cites": "164.512(e)(1)(i)"})
    if decision == "hold":
        assert _names(out, "legal_process.covers")
    if decision == "deny" and kind == "psychotherapy":
        expect(out, {"cites": "164.508(a)(2)"})


def test_164_512_f_1_ii_C_representation_must_be_established(run, expect):
    """45 CFR 164.512(f)(1)(ii)(C): an administrative request needs the three-part representation;
    a `satisfactory_assurance` that is not `true` (a word meant for 164.512(e)) is not it."""
    base = {"requester": {"role": "law_enforcement"}, "purpose": "law_enforcement"}
    lp = {"type": "subpoena_without_court_order"}
    expect(run({**base, "legal_process": {**lp, "satisfactory_assurance": True}}),
           {"decision": "permit_minimum_necessary"})
    expect(run({**base, "legal_process": {**lp, "satisfactory_assurance": "qualified_protective_order"}}),
           {"decision": "deny", "cites": "164.512(f)(1)(ii)(C)"})


def test_164_512_g_1_coroner_needs_the_death_established(run, expect):
    """45 CFR 164.512(g)(1): a coroner or medical examiner identifies a *deceased* person or
    determines a cause of death. `patient_deceased` absent: held until the death is confirmed."""
    base = {"requester": {"role": "coroner_me", "org": "County ME"}, "purpose": "coroner_me"}
    expect(run({**base, "patient_deceased": True}), {"decision": "permit_minimum_necessary"})
    out = run(base)
    expect(out, {"decision": "hold", "cites": "164.512(g)(1)", "fields_released": None})
    assert _names(out, "patient_deceased")


def test_164_512_i_2_i_waiver_documentation_needs_its_date(run, expect):
    """45 CFR 164.512(i)(2)(i): the documentation states the date the waiver was approved; without
    it approval before the disclosure is not established."""
    base = {"requester": {"role": "researcher", "org": "State University"}, "purpose": "research"}
    expect(run({**base, "irb_waiver": {"documented": True, "date": "2026-03-01"}}),
           {"decision": "permit_minimum_necessary"})
    out = run({**base, "irb_waiver": {"documented": True}})
    expect(out, {"decision": "deny", "cites": "164.512(i)(2)(i)"})
    assert _names(out, "irb_waiver.date")


@pytest.mark.parametrize("verified,decision", [(True, "deny"), (False, "hold"), (None, "hold")])
def test_164_514_h_unverified_requester_asking_as_the_patient_is_held(run, expect, verified, decision):
    """45 CFR 164.514(h)(1), 164.524(a)(1): someone asks as the individual under another id. Only a
    verified identity shows they are not the individual (deny); unverified or unknown, nothing is
    released until it is verified (hold), and the reason names the fact."""
    requester = {"role": "patient", "id": "caller-17"}
    if verified is not None:
        requester["identity_verified"] = verified
    out = run({"requester": requester, "purpose": "individual_access"})
    expect(out, {"decision": decision, "fields_released": None})
    if decision == "hold":
        expect(out, {"cites": ["164.514(h)(1)", "164.524(a)(1)"], "reason": "identity_verified"})


def test_164_514_h_false_identity_verified_holds_a_permitted_release(run, expect):
    """45 CFR 164.514(h)(1): `identity_verified: false` where verification applies gives hold,
    never deny, and the eventual decision is named."""
    out = run({"requester": {"role": "patient", "id": "P-001", "identity_verified": False},
               "purpose": "individual_access"})
    expect(out, {"decision": "hold", "cites": "164.514(h)(1)", "reason": "once verified the decision would be permit"})


@pytest.mark.parametrize("changes,code", [
    ({"plain_language": None}, "plain_language"),
    ({"recipients": ["Acme Health Plan"]}, "requester.org"),
])
def test_164_508_c_authorization_facts_must_be_established(run, expect, auth, changes, code):
    """45 CFR 164.508(c)(3)(i) (plain language) and (c)(1)(iii) (the recipient): an authorization
    is relied on only when the form establishes each; unknown is a defect, not a pass."""
    requester = {"role": "insurer_health_plan", "org": "Acme Health Plan"}
    if code == "requester.org":
        requester = {"role": "insurer_health_plan"}  # who asks is not on file
    out = run({**PSYCH, "requester": requester, "authorization": auth(**changes)})
    expect(out, {"decision": "deny", "cites": "164.508(b)(2)(ii)" if code == "plain_language" else "164.508(c)(1)(iii)"})
    assert _names(out, code)
    expect(run({**PSYCH, "authorization": auth()}), {"decision": "permit"})


def test_164_508_a_1_authorization_needs_the_requests_patient(build, auth):
    """45 CFR 164.508(a)(1), (c)(1)(i): a request that names no patient cannot be matched with the
    individual the authorization is for."""
    req = build({**PSYCH, "authorization": auth()})
    del req["patient"]
    out = decide(req).to_dict()
    assert out["decision"] == "deny" and _names(out, "request.patient")


def test_164_508_b_2_i_expiration_event_occurred_may_be_a_date(run, expect, auth):
    """45 CFR 164.508(b)(2)(i): expired when the event is *known* to have occurred. A date at or
    before the decision: expired; a later date or false: not yet; null or absent: unknown, so the
    authorization may have expired and is not relied on (fail closed, the reason names the fact)."""
    base = {"expiration_date": None, "expiration_event": "end of treatment"}
    expect(run({**PSYCH, "authorization": auth(**base, expiration_event_occurred="2026-04-30")}),
           {"decision": "deny", "cites": "164.508(b)(2)(i)"})
    expect(run({**PSYCH, "authorization": auth(**base, expiration_event_occurred="2026-05-01T14:00:00Z")}),
           {"decision": "deny", "cites": "164.508(b)(2)(i)"})
    expect(run({**PSYCH, "authorization": auth(**base, expiration_event_occurred="2026-06-30")}),
           {"decision": "permit"})
    expect(run({**PSYCH, "authorization": auth(**base, expiration_event_occurred=False)}),
           {"decision": "permit"})
    unknown = run({**PSYCH, "authorization": auth(**base, expiration_event_occurred=None)})
    expect(unknown, {"decision": "deny", "cites": "164.508(b)(2)(i)"})
    assert any("expiration_event_occurred is unknown" in r for r in unknown["reasons"])


def test_164_514_d_3_no_configured_field_set_releases_nothing(build):
    """45 CFR 164.514(d)(3): a minimum-necessary disclosure releases the field set the policy gives
    its purpose; a policy with none for it denies, naming the missing configuration."""
    policy = build_policy({"purposes": {"payment": {"roles": {"billing_staff": ["patient_id"]}}}})
    out = decide(build({}), policy=policy).to_dict()
    assert out["decision"] == "deny" and "164.514(d)(3)" in out["rule"]
    assert out["fields_released"] is None and any("CONFIDE_MINIMUM_NECESSARY" in r for r in out["reasons"])


def test_hold_and_deny_never_release_fields():
    """Fail closed end to end: every outcome above that is not a permit releases nothing."""
    for overrides in ({"requester": {"role": "coroner_me"}, "purpose": "coroner_me"},
                      {"requester": COURT, "purpose": "judicial", "legal_process": {"type": "court_order"}}):
        out = decide({"request": build_request(overrides)}).to_dict()
        assert out["decision"] in ("hold", "deny")
        assert out["fields_released"] is None and out["minimum_necessary_applies"] is None


def test_164_508_b_4_a_non_covered_recipients_own_condition_is_no_defect(run, expect, auth):
    """45 CFR 164.508(b)(4) binds covered entities: a life insurer (not a covered entity) may make the
    policy's issuance depend on an authorization, which stays valid; the practice making treatment
    depend on it is a defect whoever receives the notes. An unknown recipient counts as covered."""
    life = {"role": "insurer_non_covered", "org": "Summit Life", "id": "INS-LIFE", "identity_verified": True}
    base = {"requester": life, "purpose": "other", "note_kind": "progress", "action": "disclose"}
    recipients = {"recipients": ["Summit Life"], "covers": ["progress_notes"]}
    expect(run({**base, "authorization": auth(**recipients, conditioned_on="issuance of the life insurance policy")}),
           {"decision": "permit"})
    expect(run({**base, "authorization": auth(**recipients, conditioned_on="continued treatment at the practice")}),
           {"decision": "deny", "cites": "164.508(b)(4)"})
    # a health plan is a covered entity: the same condition on a psychotherapy-notes authorization is a defect
    plan = {**life, "role": "insurer_health_plan"}
    expect(run({**base, "requester": plan, **PSYCH,
                "authorization": auth(recipients=["Summit Life"], conditioned_on="issuance of the policy")}),
           {"decision": "deny", "cites": "164.508(b)(4)"})


def test_164_501_supervising_the_author_establishes_the_practices_training_program(run, expect):
    """45 CFR 164.501, 164.506(c)(1): a supervisor the practice links to the note's author
    (``supervises_author``, established by the notes service from the sealed directory) reads the
    trainee's progress note in the practice's own supervised training program; without that link and
    without ``in_ce_training_program`` the program is unknown and the read is denied."""
    sup = {"role": "supervisor", "id": "S-1", "org": "Northside Counseling Group", "is_workforce": True}
    base = {"purpose": "training", "action": "use", "note_kind": "progress", "note_originator": "T-1"}
    expect(run({**base, "requester": {**sup, "supervises_author": True}}),
           {"decision": "permit_minimum_necessary", "cites": "164.506(c)(1)"})
    out = run({**base, "requester": sup})
    expect(out, {"decision": "deny"})
    assert _names(out, "in_ce_training_program")
