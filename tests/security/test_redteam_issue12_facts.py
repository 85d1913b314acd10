"""Red team (issue 12/13): a clinician or a payer calling the disclosures service over RPC supplies the
case-file facts that would have a psychotherapy note released to them.

The case file's facts about the notes (``note_originator``, their content) and about the practice
(``jurisdiction``, ``practice_setting``, ``record_is_part2``) come from the store and the practice's
configuration (``confide.contracts.casefile.build_case``). What a *request's* ``facts`` say -- a law
compelling the disclosure (``mandate.compels``), a judge's order naming psychotherapy notes
(``legal_process``) -- is what release-of-information staff establish from the paper in front of
them (``external_requester``, the front desk's form). A workforce clinician or a payer asking for
themselves has no such standing: their request may carry no ``facts`` at all, so none of them can
talk the engine into 164.508(a)(2)(ii) (required by law) for a colleague's psychotherapy note.

Each attack is refused (NotAuthorizedError naming ``facts``, recorded as AccessAttemptRefused) before
any request is recorded, and nothing is released; the control shows staff still record an order's facts for an outside party.
"""
import pytest
from nameko.exceptions import RemoteError

from .test_identity_attacks import (  # noqa: F401  (the running services)
    MARKER,
    READER_PUB,
    a_signed_psychotherapy_note,
    call,
    ids,
    system,
    written,
)

COMPELLED = {"mandate": {"compels": True, "statute": "a statute nobody showed anyone"}}
ORDERED = {"legal_process": {"type": "court_order", "signed_by_judge": True, "covers": ["psychotherapy"],
                             "scope": "psychotherapy notes of sessions in 2026"}}
ATTEMPTS = [("required_by_law", COMPELLED), ("payment", COMPELLED), ("judicial", ORDERED),
            ("law_enforcement", ORDERED)]


def released(system):  # noqa: F811
    return [e for e in system.store.read_all(1, 100_000) if e.type in ("ContentReleased", "DisclosureReleased")]


@pytest.mark.parametrize("who", ["clinician", "payer"])
def test_a_caller_cannot_supply_the_facts_that_release_a_psychotherapy_note(system, who):  # noqa: F811
    patient, _author, note_id = a_signed_psychotherapy_note(system)
    caller = (system.people.member(ids("C"), "clinician") if who == "clinician"
              else system.people.payer(ids("Plan")))
    for purpose, facts in ATTEMPTS:
        before = written(system)
        with pytest.raises(RemoteError) as exc:
            reply = call(system, "disclosures", "request_disclosure", caller.context(),
                         {"patient_id": patient.subject, "purpose": purpose, "note_kind": "psychotherapy",
                          "facts": facts}, reply_public_key=READER_PUB)
            pytest.fail(f"{who} {purpose} with {facts}: {reply.get('status')} {reply.get('decision')}")
        assert exc.value.exc_type == "NotAuthorizedError", exc.value
        assert "facts" in exc.value.value and MARKER not in exc.value.value
        assert written(system) == before  # no request recorded, nothing decided
    assert released(system) == []
    # Without facts the same caller's request is recorded and refused, as it always was.
    reply = call(system, "disclosures", "request_disclosure", caller.context(),
                 {"patient_id": patient.subject, "purpose": "payment", "note_kind": "psychotherapy"},
                 reply_public_key=READER_PUB)
    assert reply["status"] == "refused" and not reply.get("content") and reply["release"] is None, reply
    assert reply["decision"]["note_ids"] == [note_id]  # the control decided on that very note


def test_staff_still_record_an_outside_partys_order_with_its_facts(system):  # noqa: F811
    patient, _author, _note_id = a_signed_psychotherapy_note(system)
    staff = system.people.member(ids("ROI"), "release_of_information")
    reply = call(system, "disclosures", "request_disclosure", staff.context(),
                 {"patient_id": patient.subject, "purpose": "judicial", "note_kind": "psychotherapy",
                  "external_requester": {"role": "court", "id": "Clerk-1", "org": "County Court"},
                  "facts": ORDERED, "await_release": True}, reply_public_key=READER_PUB)
    assert reply["status"] == "on_hold" and not reply.get("content"), reply  # 164.514(h) first
    view = call(system, "disclosures", "get_disclosure_request", staff.context(), reply["request_id"])
    assert view["facts"]["legal_process"]["covers"] == ["psychotherapy"]
