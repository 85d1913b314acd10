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
