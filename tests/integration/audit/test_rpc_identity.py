"""Who may ask the audit service (docs/identity.md, "The RPC surface"): the log RPCs and ``status``
answer an auditor or a privacy officer only; ``health`` answers any verified Confide service.

AuditService in a nameko container on a per-test vhost over a scratch schema (so the refusal log
holds only this test's refusals); principals enrolled with :class:`confide.testing.identities.Identities`
and calls made over RabbitMQ with their assertions in nameko context data, as every client sends them.
"""
import uuid

import pytest
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ServiceRpcProxy

from confide.envelope import NewEvent
from confide.identity.provider import identity_context
from confide.testing.polling import wait_for

LOG_RPCS = [("access_log", {}), ("disclosure_log", {}), ("accounting", {"patient_id": "P-none"}),
            ("note_history", {"note_id": "n-none"}), ("status", {})]


def ids(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def call(config, method, context, **kwargs):
    with ServiceRpcProxy("audit", config, context_data=context, timeout=30) as proxy:
        return getattr(proxy, method)(**kwargs)


def refused(config, method, context, **kwargs) -> RemoteError:
    with pytest.raises(RemoteError) as exc:
        call(config, method, context, **kwargs)
    return exc.value


def refusals(store, method=None):
    return [e.data for e in store.read_category("accessAttempt")
            if e.data["service"] == "audit" and (method is None or e.data["method"] == method)]


def a_decision(store, patient_id):
    decision_id = str(uuid.uuid4())
    store.append(f"accessDecision-{decision_id}", [NewEvent("AccessDecided", {
        "decision_id": decision_id, "requester": {"id": "C-B", "role": "clinician_same_practice", "org": "North"},
        "patient_id": patient_id, "note_id": "n-1", "note_kind": "psychotherapy", "purpose": "treatment",
        "action": "use", "decision": "deny", "rule": "45 CFR 164.508(a)(2)"})])
    return decision_id


@pytest.mark.parametrize("role", ["auditor", "privacy_officer"])
def test_auditor_and_privacy_officer_read_the_trail(audit, audit_config, people, store, role):
    patient_id = ids("P")
    decision_id = a_decision(store, patient_id)
    reader = people.member(ids("M"), role)
    # The relay seals and publishes, the projection applies: poll until the row is there.
    rows = wait_for(lambda: call(audit_config, "access_log", reader.context(), patient_id=patient_id), timeout=30)
    assert [r["decision_id"] for r in rows] == [decision_id]
    for method, kwargs in LOG_RPCS:
        call(audit_config, method, reader.context(), **kwargs)
    assert call(audit_config, "status", reader.context())["head_position"] >= 1
    assert refusals(store) == []


@pytest.mark.parametrize("role", ["clinician", "front_desk", "billing", "practice_admin", "supervisor"])
def test_other_workforce_roles_are_refused_and_recorded(audit, audit_config, people, store, role):
    patient_id = ids("P")
    a_decision(store, patient_id)
    member = people.member(ids("M"), role)
    for method, kwargs in LOG_RPCS:
        exc = refused(audit_config, method, member.context(), **kwargs)
        assert exc.exc_type == "NotAuthorizedError" and "auditor" in exc.value, (method, exc)
    recorded = refusals(store)
    assert [r["method"] for r in recorded] == [m for m, _ in LOG_RPCS]
    assert {r["subject"] for r in recorded} == {member.subject}
    assert all(patient_id not in r["reason"] for r in recorded)  # the refusal names no content


def test_anonymous_and_service_only_callers_get_no_log(audit, audit_config, people, store):
    a_decision(store, ids("P"))
    assert refused(audit_config, "access_log", {}).exc_type == "NotAuthenticatedError"
    # A service's own credential proves the service, not a person: no audit trail for it either.
    as_gateway = identity_context(None, people.service_assertion("gateway"))
    assert refused(audit_config, "access_log", as_gateway).exc_type == "NotAuthenticatedError"
    assert [(r["method"], r["subject"]) for r in refusals(store)] == [("access_log", None), ("access_log", None)]


def test_a_role_claimed_but_not_granted_is_refused(audit, audit_config, people, store):
    clinician = people.member(ids("C"), "clinician")
    exc = refused(audit_config, "access_log", clinician.context(roles=("clinician", "auditor")))
    assert exc.exc_type == "NotAuthorizedError" and "not granted" in exc.value
    assert refusals(store, "access_log")[0]["subject"] == clinician.subject


def test_a_deactivated_auditor_is_refused_within_the_cache_ttl(audit, audit_config, people, store):
    auditor = people.member(ids("A"), "auditor")
    call(audit_config, "status", auditor.context())
    people.deactivate(auditor.subject)

    def refusal():
        try:
            call(audit_config, "status", auditor.context())
        except RemoteError as exc:
            return exc
        return None

    exc = wait_for(refusal, timeout=10)  # IDENTITY_CACHE_TTL is 0.5 s here (<= 5 s always)
    assert exc.exc_type == "NotAuthorizedError" and "deactivated" in exc.value
    assert any("deactivated" in r["reason"] for r in refusals(store, "status"))


def test_health_answers_a_confide_service_only(audit, audit_config, people, store):
    as_gateway = identity_context(None, people.service_assertion("gateway"))
    assert call(audit_config, "health", as_gateway) == {"database": "ok"}
    assert refused(audit_config, "health", {}).exc_type == "NotAuthenticatedError"
    # A person is not a service: an auditor's assertion alone does not reach health.
    auditor = people.member(ids("A"), "auditor")
    assert refused(audit_config, "health", auditor.context()).exc_type == "NotAuthenticatedError"
    assert [r["method"] for r in refusals(store)] == ["health", "health"]
