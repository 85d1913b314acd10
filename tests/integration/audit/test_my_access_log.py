"""``audit.my_access_log``: a patient sees who saw their record (by role and organisation, when, the
rule cited), their own record only, never a row on a psychotherapy note; other roles, a named patient
and the anonymous are refused (and recorded).

AuditService in a nameko container on a per-test vhost over a scratch schema; decisions appended to
the store as the notes service records them, then projected by the live relay.
"""
import uuid

import pytest
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ServiceRpcProxy

from confide.envelope import NewEvent
from confide.testing.polling import wait_for


def ids(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def call(config, context, **kwargs):
    with ServiceRpcProxy("audit", config, context_data=context, timeout=30) as proxy:
        return proxy.my_access_log(**kwargs)


def a_decision(store, patient_id, requester, note_kind="progress", decision="permit", purpose="treatment"):
    decision_id, note_id = str(uuid.uuid4()), str(uuid.uuid4())
    store.append(f"accessDecision-{decision_id}", [NewEvent("AccessDecided", {
        "decision_id": decision_id, "requester": requester, "patient_id": patient_id, "note_id": note_id,
        "note_kind": note_kind, "purpose": purpose, "action": "use", "decision": decision,
        "rule": "45 CFR 164.506(c)(1)", "request_id": str(uuid.uuid4())})])
    return decision_id, note_id


def test_a_patient_sees_her_own_record_by_role_never_psychotherapy_rows(audit, audit_config, audit_people,
                                                                       audit_store):
    me = audit_people.patient(ids("P"))
    other = audit_people.patient(ids("P"))
    clinician = {"id": ids("C"), "role": "clinician_same_practice", "org": "practice"}
    _, seen = a_decision(audit_store, me.subject, clinician)
    a_decision(audit_store, me.subject, clinician, note_kind="psychotherapy")
    a_decision(audit_store, other.subject, clinician)
    _, own = a_decision(audit_store, me.subject, {"id": me.subject, "role": "patient", "org": "practice"},
                        purpose="individual_access")
    insurer = {"id": "Plan-9", "role": "insurer_health_plan", "org": "Plan-9"}
    a_decision(audit_store, me.subject, insurer, decision="deny", purpose="payment")

    rows = wait_for(lambda: (r := call(audit_config, me.context())) and len(r) >= 3 and r, timeout=30)
    assert len(rows) == 3  # not the psychotherapy note's row, not the other patient's
    assert [r["purpose"] for r in rows] == ["payment", "individual_access", "treatment"]  # newest first
    assert rows[0]["requester_org"] == "Plan-9" and rows[0]["decision"] == "deny" and rows[0]["requester_id"] is None
    assert rows[1]["by_patient"] and rows[1]["requester_id"] == me.subject and rows[1]["note_id"] == own
    assert rows[2]["requester_role"] == "clinician_same_practice" and rows[2]["requester_id"] is None
    assert rows[2]["note_id"] == seen and rows[2]["rule"] == "45 CFR 164.506(c)(1)"
    assert all("patient_id" not in r and "request_id" not in r for r in rows)
    assert "psychotherapy" not in repr(rows)
    assert len(call(audit_config, me.context(), limit=1)) == 1


def test_the_practice_may_show_workforce_ids(container_factory, audit_config, audit_people, audit_store):
    from audit.service import AuditService

    me = audit_people.patient(ids("P"))
    clinician = {"id": ids("C"), "role": "clinician_same_practice", "org": "practice"}
    container_factory(AuditService, {**audit_config, "PATIENT_LOG_NAMES": "id"}).start()
    a_decision(audit_store, me.subject, clinician)
    rows = wait_for(lambda: call(audit_config, me.context()), timeout=30)
    assert rows[0]["requester_id"] == clinician["id"]


def test_naming_a_patient_is_refused_and_recorded(audit, audit_config, audit_people, audit_store):
    me, other = audit_people.patient(ids("P")), audit_people.patient(ids("P"))
    with pytest.raises(RemoteError) as exc:
        call(audit_config, me.context(), patient_id=other.subject)
    assert exc.value.exc_type == "NotAuthorizedError"
    recorded = [e.data for e in audit_store.read_category("accessAttempt") if e.data["method"] == "my_access_log"]
    assert [r["subject"] for r in recorded] == [me.subject]


@pytest.mark.parametrize("role", ["clinician", "auditor", "front_desk"])
def test_the_workforce_is_refused(audit, audit_config, audit_people, role):
    with pytest.raises(RemoteError) as exc:
        call(audit_config, audit_people.member(ids("M"), role).context())
    assert exc.value.exc_type == "NotAuthorizedError"


def test_an_anonymous_caller_is_refused(audit, audit_config):
    with pytest.raises(RemoteError) as exc:
        call(audit_config, {})
    assert exc.value.exc_type == "NotAuthenticatedError"
