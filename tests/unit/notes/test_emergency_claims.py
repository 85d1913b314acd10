"""An emergency claim gives the engine a purpose and a citation; re-judging (audit) reads a recorded
AccessDecided without the citation, so the citation must not change what the engine decides."""
import pytest

from confide.contracts.casefile import read_case
from confide.hipaa.engine import decide
from notes.domain.model import EMERGENCY_CLAIMS

NOTE = {"note_id": "n1", "patient_id": "P-1", "author_id": "C-A", "session_date": "2026-05-01", "kind": "progress"}
PSYCH = {**NOTE, "kind": "psychotherapy", "content_in_psych_note": []}


@pytest.mark.parametrize("claim", sorted(EMERGENCY_CLAIMS))
@pytest.mark.parametrize("note", [NOTE, PSYCH], ids=["progress", "psychotherapy"])
@pytest.mark.parametrize("reader", ["C-A", "C-B"], ids=["originator", "other clinician"])
def test_the_claimed_citation_does_not_change_the_decision(claim, note, reader):
    requester = {"id": reader, "role": "clinician_same_practice", "org": "practice", "identity_verified": True,
                 "is_workforce": True}
    purpose, citation = EMERGENCY_CLAIMS[claim]["purpose"], EMERGENCY_CLAIMS[claim]["citation"]
    with_claim = decide(read_case(note, requester, purpose, "use", "2026-06-01T00:00:00Z", citation)).to_dict()
    as_rejudged = decide(read_case(note, requester, purpose, "use", "2026-06-01T00:00:00Z")).to_dict()
    assert with_claim == as_rejudged


def test_another_clinicians_psychotherapy_note_stays_closed_under_every_claim():
    requester = {"id": "C-B", "role": "clinician_same_practice", "org": "practice", "identity_verified": True,
                 "is_workforce": True}
    for claim in EMERGENCY_CLAIMS.values():
        outcome = decide(read_case(PSYCH, requester, claim["purpose"], "use", "2026-06-01T00:00:00Z",
                                   claim["citation"])).to_dict()
        assert outcome["decision"] == "deny", claim
