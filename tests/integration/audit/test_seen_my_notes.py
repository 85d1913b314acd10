"""``audit.decisions_on_my_notes``: a note's author sees every access decision on the notes she
drafted, newest first, and nothing on anyone else's; other roles are refused and recorded.

AuditService in a nameko container on a per-test vhost over a scratch schema; notes and decisions
appended to the store as the notes service records them, then projected by the live relay.
"""
import uuid

import pytest
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ServiceRpcProxy

from confide.envelope import NewEvent
from confide.testing.polling import wait_for


@pytest.fixture
def store(audit_store):
    return audit_store


@pytest.fixture
def people(audit_people):
    return audit_people


def ids(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def call(config, context, **kwargs):
    with ServiceRpcProxy("audit", config, context_data=context, timeout=30) as proxy:
        return proxy.decisions_on_my_notes(**kwargs)


def a_note(store, author_id, kind="progress", supervisor_id=None):
    note_id = str(uuid.uuid4())
    stream = ("progressNote-" if kind == "progress" else "psychotherapyNote-") + note_id
    drafted = "ProgressNoteDrafted" if kind == "progress" else "PsychotherapyNoteDrafted"
    store.append(stream, [NewEvent(drafted, {
        "note_id": note_id, "patient_id": "P-1", "author_id": author_id, "author_role": "clinician",
        "author_credentials": "LCSW", "supervisor_id": supervisor_id, "session_date": "2026-12-01",
        "drafted_at": "2026-12-01T10:00:00Z"})], -1)
    if supervisor_id:  # a later version by someone else does not make the note theirs
        store.append(stream, [NewEvent(drafted.replace("Drafted", "Cosigned"), {
            "note_id": note_id, "cosigned_by": supervisor_id, "cosigned_at": "2026-12-01T11:00:00Z"})], 0)
    return note_id


def a_decision(store, note_id, requester_id, decision="permit", purpose="treatment"):
    decision_id = str(uuid.uuid4())
    store.append(f"accessDecision-{decision_id}", [NewEvent("AccessDecided", {
        "decision_id": decision_id, "requester": {"id": requester_id, "role": "clinician_same_practice",
                                                  "org": "North"},
        "patient_id": "P-1", "note_id": note_id, "note_kind": "progress", "purpose": purpose,
        "action": "use", "decision": decision, "rule": "45 CFR 164.506(c)(1)"})])
    return decision_id


def test_the_author_sees_decisions_on_her_notes_only_newest_first(audit, audit_config, people, store):
    author = people.member(ids("C"), "clinician")
    colleague = people.member(ids("C"), "clinician")
    supervisor = people.member(ids("S"), "supervisor")
    mine = a_note(store, author.subject, supervisor_id=supervisor.subject)
    mine_too = a_note(store, author.subject, kind="psychotherapy")
    theirs = a_note(store, colleague.subject)
    first = a_decision(store, mine, colleague.subject)
    a_decision(store, theirs, author.subject)
    second = a_decision(store, mine_too, "C-other", decision="deny", purpose="payment")
    third = a_decision(store, mine, supervisor.subject)

    rows = wait_for(lambda: (r := call(audit_config, author.context())) and len(r) >= 3 and r, timeout=30)
    assert [r["decision_id"] for r in rows] == [third, second, first]
    assert rows[1]["decision"] == "deny" and rows[1]["purpose"] == "payment"
    assert rows[2]["requester_id"] == colleague.subject and rows[2]["requester_org"] == "North"
    assert "patient_id" not in rows[0]
    assert [r["decision_id"] for r in call(audit_config, author.context(), limit=1)] == [third]
    # The colleague sees the author's decision on her own note, never those on the author's.
    theirs_rows = wait_for(lambda: call(audit_config, colleague.context()), timeout=30)
    assert [r["note_id"] for r in theirs_rows] == [theirs]
    # The co-signing supervisor did not write the note: nothing for him.
    assert call(audit_config, supervisor.context()) == []


@pytest.mark.parametrize("role", ["billing", "auditor", "front_desk"])
def test_other_roles_are_refused_and_recorded(audit, audit_config, people, store, role):
    member = people.member(ids("M"), role)
    a_decision(store, a_note(store, member.subject), "C-x")
    with pytest.raises(RemoteError) as exc:
        call(audit_config, member.context())
    assert exc.value.exc_type == "NotAuthorizedError"
    recorded = [e.data for e in store.read_category("accessAttempt") if e.data["method"] == "decisions_on_my_notes"]
    assert [r["subject"] for r in recorded] == [member.subject]


def test_an_anonymous_caller_is_refused(audit, audit_config):
    with pytest.raises(RemoteError) as exc:
        call(audit_config, {})
    assert exc.value.exc_type == "NotAuthenticatedError"
