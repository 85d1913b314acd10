"""Engine fixes found by the review cases (``review_cases.json``), one test per paragraph."""
from __future__ import annotations

THREAT_TARGET = {"role": "person_able_to_prevent_threat", "org": "Intended target"}


def test_164_512_j_1_good_faith_belief_governs_not_hindsight(run, expect):
    """45 CFR 164.512(j)(1): permitted "if the covered entity, in good faith, believes" the
    disclosure necessary to prevent or lessen a serious and imminent threat; (j)(4) presumes good
    faith. A belief later shown mistaken (imminent_threat: false) still permits -- for
    psychotherapy notes too, through 164.508(a)(2)(ii).  (RV-77)"""
    for kind in ("psychotherapy", "progress"):
        out = run({"requester": THREAT_TARGET, "purpose": "serious_threat", "note_kind": kind,
                   "good_faith_belief_imminent": True, "imminent_threat": False})
        expect(out, {"decision": "permit_minimum_necessary", "cites": "164.512(j)(1)(i)",
                     "accounting_required": True, "minimum_necessary_applies": True})
    # no belief: denied whatever the threat turned out to be
    out = run({"requester": THREAT_TARGET, "purpose": "serious_threat", "note_kind": "psychotherapy",
               "good_faith_belief_imminent": False, "imminent_threat": True})
    expect(out, {"decision": "deny"})
    # no belief recorded either way: the established imminent threat stands in for it
    out = run({"requester": THREAT_TARGET, "purpose": "serious_threat", "imminent_threat": True})
    expect(out, {"decision": "permit_minimum_necessary"})


def test_164_512_l_compelled_workers_comp_disclosure_is_required_by_law(run, expect):
    """45 CFR 164.512(l) with 164.512(a)(1): where the workers' compensation law compels the
    disclosure, what it requires may go without a minimum-necessary determination
    (164.502(b)(2)(v); HHS, Disclosures for Workers' Compensation Purposes).  (RV-86)"""
    carrier = {"role": "workers_comp_carrier", "org": "StateFund Workers Comp"}
    out = run({"requester": carrier, "purpose": "workers_comp",
               "mandate": {"statute": "Labor Code 4603.2", "compels": True}})
    expect(out, {"decision": "permit", "cites": ["164.512(l)", "164.512(a)(1)", "164.502(b)(2)(v)"],
                 "minimum_necessary_applies": False, "accounting_required": True})
    permitted_only = run({"requester": carrier, "purpose": "workers_comp"})
    expect(permitted_only, {"decision": "permit_minimum_necessary", "minimum_necessary_applies": True})


def test_164_508_a_2_denial_names_the_exception_tried_and_not_met(run, expect):
    """45 CFR 164.508(a)(2): a psychotherapy-notes denial cites the (a)(2)(i)(A)-(C) or (a)(2)(ii)
    exception the request invoked and the condition that failed, not only the general rule.
    (RV-05, RV-58, RV-60, RV-62, RV-74)"""
    psych = {"note_kind": "psychotherapy"}
    left = run({**psych, "requester": {"role": "former_workforce_clinician", "is_originator": True,
                                       "is_workforce": False}, "purpose": "treatment"})
    expect(left, {"decision": "deny", "cites": ["164.508(a)(2)", "164.508(a)(2)(i)(A)"]})
    outside = run({**psych, "requester": {"role": "trainee", "in_ce_training_program": False,
                                          "is_workforce": False}, "purpose": "training"})
    expect(outside, {"decision": "deny", "cites": "164.508(a)(2)(i)(B)"})
    spouse = run({**psych, "requester": {"role": "defense_counsel"},
                  "purpose": "legal_defense_vs_individual",
                  "proceeding": {"initiator": "Spouse of P-001", "defendant": "Northside"}})
    expect(spouse, {"decision": "deny", "cites": "164.508(a)(2)(i)(C)"})
    attorney = run({**psych, "requester": {"role": "attorney"}, "purpose": "serious_threat",
                    "good_faith_belief_imminent": True, "imminent_threat": True})
    expect(attorney, {"decision": "deny",
                      "cites": ["164.508(a)(2)", "164.508(a)(2)(ii)", "164.512(j)(1)(i)(B)"]})
    alive = run({**psych, "requester": {"role": "coroner_me"}, "purpose": "coroner_me",
                 "patient_deceased": False})
    expect(alive, {"decision": "deny", "cites": ["164.508(a)(2)(ii)", "164.512(g)(1)"]})


def test_164_502_g_parent_as_personal_representative_is_cited(run, expect):
    """45 CFR 164.502(g)(1), (g)(3): a parent exercises an unemancipated minor's access as the
    personal representative; both the access grant and the psychotherapy-notes discretion say
    so.  (RV-39, RV-40)"""
    parent = {"role": "parent", "identity_verified": True}
    out = run({"requester": parent, "purpose": "individual_access"})
    expect(out, {"decision": "permit", "cites": ["164.524(a)(1)", "164.502(g)(3)"]})
    out = run({"requester": parent, "purpose": "individual_access", "note_kind": "psychotherapy"})
    expect(out, {"decision": "discretionary", "cites": ["164.524(a)(1)(i)", "164.502(g)(3)"]})


def test_164_508_b_5_relied_on_revocation_and_160_203_consent_are_cited(run, expect, auth):
    """45 CFR 164.508(b)(5): an oral revocation does not end an authorization -- the permit cites
    (b)(5). 45 CFR 160.203(b): a TPO disclosure that met the stricter state consent rule cites it.
    (RV-95, RV-73)"""
    oral = run({"note_kind": "psychotherapy",
                "authorization": auth(revoked=True, revocation={"in_writing": False,
                                                                "received_at": "2026-04-20T09:00:00Z"})})
    expect(oral, {"decision": "permit", "cites": ["164.508(a)(2)", "164.508(b)(5)"]})
    consented = run({"jurisdiction_overlay": {"payment_requires_patient_consent": True},
                     "patient_consent": True})
    expect(consented, {"decision": "permit_minimum_necessary", "cites": ["164.506(c)(3)", "160.203(b)"]})
