"""Attacks on "who is asking" against running services (docs/identity.md): each one is REFUSED,
recorded as ``AccessAttemptRefused`` before the reply, releases nothing and writes nothing else.

NotesService, DisclosuresService, AuditService and DirectoryService run in nameko containers on a
per-test vhost over the real store in a scratch schema (so the log holds only this test's events);
principals are enrolled with :class:`confide.testing.identities.Identities` and every call goes over
RabbitMQ with its assertions in nameko context data, as the front doors send them. The calls are
written against the RPC surface of docs/identity.md ("The RPC surface once every service verifies
who is asking"): no ``requester`` / ``author`` / ``signed_by`` arguments, who is asking is the
verified principal. Waits poll with a deadline, never a fixed sleep.

The tap attack (a queue bound with ``#`` to ``nameko-rpc`` while a psychotherapy note is written,
revised, signed, given an addendum and read back) is
``tests/integration/notes/test_no_plaintext.py::test_rpc_request_and_reply_bodies_and_the_broker_disk_hold_no_psychotherapy_text``:
it sees every request and reply body (and RabbitMQ's disk) and finds no marker text, only sealed
boxes. It is not repeated here.
"""
import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ServiceRpcProxy

from audit.service import AuditService
from confide import transport
from confide.eventstore.store import PostgresEventStore
from confide.identity.assertions import mint
from confide.identity.gate import AUDIENCE
from confide.identity.keys import load_assertion_signing_key
from confide.identity.provider import identity_context
from confide.keys import ensure_keys
from confide.testing.identities import Identities
from confide.testing.polling import wait_for
from confide.timestamps import now_utc
from directory.service import DirectoryService
from disclosures.service import DisclosuresService
from notes.service import NotesService

REFUSALS = ("NotAuthenticatedError", "NotAuthorizedError")
READER_KEY, READER_PUB = transport.ephemeral()
MARKER = "IDATTACK"


# -- the running system ---------------------------------------------------------------------

@pytest.fixture
def system(runner_factory, service_config, scratch_schema, test_db_dsn, monkeypatch):
    # The attacks assert on nameko's RemoteError (exc_type). A process that imported the gateway has
    # local classes registered for two disclosures errors (gateway.errors), which nameko would raise
    # instead; hide those registrations here so the result does not depend on test order.
    import nameko.exceptions

    monkeypatch.setattr(nameko.exceptions, "registry", {k: v for k, v in nameko.exceptions.registry.items()
                                                        if not k.startswith("disclosures.")})
    cfg = {**service_config, "DB_SCHEMA": scratch_schema, "IDENTITY_CACHE_TTL": 0.5}
    ensure_keys(cfg["KEY_DIR"])  # every key before any service reads the ones it trusts
    store = PostgresEventStore(test_db_dsn, schema=scratch_schema, pool_size=2)
    people = Identities(store, cfg["KEY_DIR"])
    runner = runner_factory(cfg, NotesService, DisclosuresService, AuditService, DirectoryService)
    runner.start()
    yield SimpleNamespace(config=cfg, store=store, people=people)
    store.close()


def ids(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def call(system, service, method, context, *args, **kwargs):
    with ServiceRpcProxy(service, system.config, context_data=context, timeout=30) as proxy:
        return getattr(proxy, method)(*args, **kwargs)


def written(system):
    """Every event but the refusal log: what an attack must leave as it was."""
    return [(e.stream_name, e.type, e.event_id) for e in system.store.read_all(1, 100_000)
            if not e.stream_name.startswith("accessAttempt-")]


def refusals(system, service=None, method=None):
    return [e.data for e in system.store.read_category("accessAttempt")
            if (service is None or e.data["service"] == service) and (method is None or e.data["method"] == method)]


def attack(system, service, method, context, *args, expect=REFUSALS, **kwargs):
    """Make the call; assert it was refused (one of ``expect``), recorded as AccessAttemptRefused for
    ``service.method``, and that nothing but the refusal was written. Returns (RemoteError, refusal)."""
    before, recorded = written(system), len(refusals(system, service, method))
    with pytest.raises(RemoteError) as exc:
        reply = call(system, service, method, context, *args, **kwargs)
        pytest.fail(f"{service}.{method} answered: {reply!r}")  # pragma: no cover - the attack worked
    assert exc.value.exc_type in expect, (service, method, exc.value.exc_type, exc.value.value)
    after = refusals(system, service, method)
    assert len(after) == recorded + 1, f"{service}.{method}: refusal not recorded ({exc.value.value})"
    assert written(system) == before, f"{service}.{method}: the refused call wrote something"
    assert MARKER not in after[-1]["reason"]  # a refusal names no content
    return exc.value, after[-1]


# -- what the attacks go after --------------------------------------------------------------

def progress_content(**overrides):
    content = {"session_date": "2026-05-01", "start_time": "14:00", "stop_time": "14:53",
               "modality": "individual psychotherapy", "cpt_code": "90837", "frequency": "weekly",
               "diagnosis_codes": ["F32.1"], "symptoms": f"low mood {MARKER}", "functional_status": "working",
               "interventions": "CBT", "treatment_plan": "continue weekly", "prognosis": "fair",
               "progress_to_date": "improving", "medications": [], "clinical_tests": {"phq9": 12},
               "risk_assessment": {"level": "low"}, "late_entry_reason": "written after the session"}
    content.update(overrides)
    return content


def sealed(system, text):
    return transport.seal_for(call(system, "notes", "transport_public_key", {}), text)


def a_patient_and_a_note(system):
    """A registered patient, clinician A (the author) and A's progress note on them."""
    patient = system.people.patient(ids("P"))
    author = system.people.member(ids("C"), "clinician")
    note_id = call(system, "notes", "write_progress_note", author.context(),
                   {"patient_id": patient.subject, "content": progress_content()})["note_id"]
    return patient, author, note_id


def a_signed_psychotherapy_note(system):
    patient = system.people.patient(ids("P"))
    author = system.people.member(ids("C"), "clinician")
    note_id = call(system, "notes", "write_psychotherapy_note", author.context(), {
        "patient_id": patient.subject, "session_date": "2026-05-01",
        "sealed_text": sealed(system, f"process notes {MARKER}")})["note_id"]
    call(system, "notes", "sign_note", author.context(), note_id)
    return patient, author, note_id


# Each target: (service, method, who may call it, args for the call given a prepared world).
def target_read_note(system):
    _, author, note_id = a_patient_and_a_note(system)
    return "notes", "read_note", author, (note_id, "treatment"), {"reply_public_key": READER_PUB}


def target_request_disclosure(system):
    patient, _, _ = a_patient_and_a_note(system)
    officer = system.people.member(ids("R"), "release_of_information")
    payload = {"patient_id": patient.subject, "purpose": "payment", "note_kind": "progress"}
    return "disclosures", "request_disclosure", officer, (payload,), {"reply_public_key": READER_PUB}


def target_access_log(system):
    return "audit", "access_log", system.people.member(ids("A"), "auditor"), (), {"patient_id": ids("P")}


def target_get_member(system):
    member = system.people.member(ids("F"), "front_desk")
    return "directory", "get_member", member, (member.subject,), {}


def _staff(role, prefix):
    return lambda system: system.people.member(ids(prefix), role)


# The RPCs behind the front desk, privacy officer and auditor pages (issue 11): (service, method, who may
# call it, args, kwargs); an insider with a broker login calls them with no, forged or stale assertions.
NEW_RPCS = {
    "disclosures.list_requests": ("disclosures", "list_requests", _staff("front_desk", "F"), (), {}),
    "disclosures.check_authorization": ("disclosures", "check_authorization",
                                        _staff("release_of_information", "R"), ({"patient": "P-x", "covers": ["x"]},),
                                        {}),
    "disclosures.resume_request": ("disclosures", "resume_request", _staff("release_of_information", "R"),
                                   (str(uuid.uuid4()),), {}),
    "notes.amendment_requests": ("notes", "amendment_requests", _staff("privacy_officer", "PO"), (), {}),
    "notes.emergency_access_queue": ("notes", "emergency_access_queue", _staff("privacy_officer", "PO"), (), {}),
    "notes.review_emergency_access": ("notes", "review_emergency_access", _staff("privacy_officer", "PO"),
                                      (str(uuid.uuid4()), "appropriate", "fine"), {}),
    "audit.patient_timeline": ("audit", "patient_timeline", _staff("auditor", "A"), ("P-x",), {}),
    "audit.export_access_log": ("audit", "export_access_log", _staff("auditor", "A"), ("csv",), {}),
    "audit.verify_chain": ("audit", "verify_chain", _staff("auditor", "A"), (), {}),
    "audit.rejudge_decisions": ("audit", "rejudge_decisions", _staff("privacy_officer", "PO"), (), {}),
    "directory.sign_in_events": ("directory", "sign_in_events", _staff("privacy_officer", "PO"), (), {}),
}


def _new_rpc_target(name):
    service, method, who, args, kwargs = NEW_RPCS[name]
    return lambda system: (service, method, who(system), args, kwargs)


def target_take_emergency_access(system):
    _, _, note_id = a_patient_and_a_note(system)
    clinician = system.people.member(ids("C"), "clinician")
    return ("notes", "take_emergency_access", clinician, (note_id, "treatment", "Patient in crisis, clinician away."),
            {"reply_public_key": READER_PUB})


TARGETS = {"notes.read_note": target_read_note, "disclosures.request_disclosure": target_request_disclosure,
           "audit.access_log": target_access_log, "directory.get_member": target_get_member,
           "notes.take_emergency_access": target_take_emergency_access,
           **{name: _new_rpc_target(name) for name in NEW_RPCS}}


@pytest.fixture(params=list(TARGETS))
def target(request, system):
    service, method, principal, args, kwargs = TARGETS[request.param](system)
    return SimpleNamespace(service=service, method=method, principal=principal, args=args, kwargs=kwargs)


def hit(system, t, context, expect=REFUSALS, **extra):
    return attack(system, t.service, t.method, context, *t.args, expect=expect, **{**t.kwargs, **extra})


def assertion_for(person, *, key=None, audience=AUDIENCE, now=None, ttl_seconds=120, roles=None):
    now = now or now_utc()
    return mint(key or load_assertion_signing_key(person.key_dir), subject=person.subject,
                roles=tuple(roles or person.roles), org=person.org, session_id=str(uuid.uuid4()),
                auth_time=now - timedelta(minutes=1), amr=person.amr, audience=audience, issuer=person.issuer,
                now=now, ttl_seconds=ttl_seconds)


# -- who is asking is not proven ------------------------------------------------------------

def test_anonymous_call_is_refused(system, target):
    exc, refusal = hit(system, target, {}, expect=("NotAuthenticatedError",))
    assert refusal["subject"] is None and "no identity assertion" in refusal["reason"]


def test_forged_assertion_signed_by_an_untrusted_key_is_refused(system, target):
    forged = assertion_for(target.principal, key=Ed25519PrivateKey.generate())
    hit(system, target, identity_context(forged), expect=("NotAuthenticatedError",))


def test_expired_assertion_is_refused(system, target):
    stale = assertion_for(target.principal, now=now_utc() - timedelta(minutes=10), ttl_seconds=120)
    hit(system, target, identity_context(stale), expect=("NotAuthenticatedError",))


def test_assertion_for_another_audience_is_refused(system, target):
    elsewhere = assertion_for(target.principal, audience="some-other-system")
    hit(system, target, identity_context(elsewhere), expect=("NotAuthenticatedError",))


def test_a_service_credential_without_a_user_assertion_cannot_read_a_note(system):
    _, _, note_id = a_patient_and_a_note(system)
    for service in ("disclosures", "gateway", "web"):
        context = identity_context(None, system.people.service_assertion(service))
        _, refusal = attack(system, "notes", "read_note", context, note_id, "treatment",
                            reply_public_key=READER_PUB, expect=("NotAuthenticatedError",))
        assert refusal["subject"] is None


# -- proven, but not allowed ----------------------------------------------------------------

@pytest.mark.parametrize("name", ["notes.read_note", "audit.access_log", "directory.get_member"])
def test_a_replayed_assertion_is_refused_once_the_member_is_deactivated(system, name):
    service, method, principal, args, kwargs = TARGETS[name](system)
    token = assertion_for(principal)  # one assertion, presented again and again (by design, for <= 120 s)
    call(system, service, method, identity_context(token), *args, **kwargs)  # accepted while active
    system.people.deactivate(principal.subject)

    def refused():
        try:
            call(system, service, method, identity_context(token), *args, **kwargs)
        except RemoteError as exc:
            return exc
        return None

    exc = wait_for(refused, timeout=10)  # within the gate's cache TTL (0.5 s here, <= 5 s always)
    assert exc.exc_type == "NotAuthorizedError" and "deactivated" in exc.value
    before = written(system)
    _, refusal = attack(system, service, method, identity_context(token), *args,
                        expect=("NotAuthorizedError",), **kwargs)
    assert refusal["subject"] == principal.subject and "deactivated" in refusal["reason"]
    assert written(system) == before


def test_a_role_not_granted_is_refused(system, target):
    clinician = system.people.member(ids("C"), "clinician")
    claimed = assertion_for(clinician, roles=("clinician", "privacy_officer"))
    exc, refusal = hit(system, target, identity_context(claimed), expect=("NotAuthorizedError",))
    assert "privacy_officer" in exc.value and "not granted" in exc.value
    assert refusal["subject"] == clinician.subject


def test_a_requester_named_in_read_note_kwargs_is_refused(system):
    patient, author, note_id = a_patient_and_a_note(system)
    someone_else = {"id": ids("C"), "role": "originator_clinician", "org": "practice"}
    exc, refusal = attack(system, "notes", "read_note", author.context(), note_id, "treatment",
                          requester=someone_else, reply_public_key=READER_PUB, expect=("NotAuthorizedError",))
    assert "requester" in exc.value and refusal["subject"] == author.subject


def test_a_requester_named_in_a_disclosure_payload_is_refused(system):
    patient, _, _ = a_patient_and_a_note(system)
    officer = system.people.member(ids("R"), "release_of_information")
    payload = {"patient_id": patient.subject, "purpose": "payment", "note_kind": "progress",
               "requester": {"id": "payer-x", "role": "insurer_health_plan", "org": "Acme",
                             "identity_verified": True}}
    exc, _ = attack(system, "disclosures", "request_disclosure", officer.context(), payload,
                    reply_public_key=READER_PUB, expect=("NotAuthorizedError",))
    assert "requester" in exc.value


def test_an_addendum_by_a_non_author_on_a_signed_psychotherapy_note_is_refused(system):
    _, author, note_id = a_signed_psychotherapy_note(system)
    other = system.people.member(ids("C"), "clinician")
    _, refusal = attack(system, "notes", "add_addendum", other.context(), note_id,
                        sealed_text=sealed(system, f"not mine to add {MARKER}"), expect=("NotAuthorizedError",))
    assert refusal["subject"] == other.subject


LOOK_ALIKES = {"unregistered": lambda pid: ids("P"), "zero width space": lambda pid: pid + "\u200b",
               "right-to-left override": lambda pid: "\u202e" + pid}


@pytest.mark.parametrize("kind", list(LOOK_ALIKES))
def test_a_new_note_for_an_unregistered_or_look_alike_patient_is_refused(system, kind):
    patient = system.people.patient(ids("P"))
    clinician = system.people.member(ids("C"), "clinician")
    patient_id = LOOK_ALIKES[kind](patient.subject)
    attack(system, "notes", "write_progress_note", clinician.context(),
           {"patient_id": patient_id, "content": progress_content()},
           expect=REFUSALS + ("PatientNotRegisteredError", "InvalidNoteError", "ValidationError"))


@pytest.mark.parametrize("kind", list(LOOK_ALIKES))
def test_a_disclosure_request_for_an_unregistered_or_look_alike_patient_is_refused(system, kind):
    patient, _, _ = a_patient_and_a_note(system)
    officer = system.people.member(ids("R"), "release_of_information")
    payload = {"patient_id": LOOK_ALIKES[kind](patient.subject), "purpose": "payment", "note_kind": "progress"}
    attack(system, "disclosures", "request_disclosure", officer.context(), payload, reply_public_key=READER_PUB,
           expect=REFUSALS + ("PatientNotRegisteredError", "InvalidRequestError", "ValidationError"))


def test_release_fields_called_directly_by_a_clinician_is_refused(system):
    patient, author, note_id = a_patient_and_a_note(system)
    call(system, "notes", "read_note", author.context(), note_id, "treatment", reply_public_key=READER_PUB)
    auditor = system.people.member(ids("A"), "auditor")
    rows = wait_for(lambda: [r for r in call(system, "audit", "access_log", auditor.context(),
                                             patient_id=patient.subject) if r["decision_id"]], timeout=30)
    decision_id = rows[-1]["decision_id"]  # a real decision, made for this very clinician
    exc, refusal = attack(system, "notes", "release_fields", author.context(), decision_id, [note_id],
                          reply_public_key=READER_PUB)
    assert MARKER not in exc.value


def test_the_access_log_refuses_a_clinician(system):
    clinician = system.people.member(ids("C"), "clinician")
    exc, refusal = attack(system, "audit", "access_log", clinician.context(), patient_id=ids("P"),
                          expect=("NotAuthorizedError",))
    assert "auditor" in exc.value and refusal["subject"] == clinician.subject


@pytest.mark.parametrize("name,role", [(n, r) for n in sorted(NEW_RPCS) for r in ("clinician", "patient", "front_desk")
                                       # resume_request answers any principal about their own request only
                                       if n != "disclosures.resume_request"
                                       and not (r == "front_desk" and n.startswith("disclosures."))])
def test_a_granted_role_that_is_not_the_rpcs_is_refused(system, name, role):
    """A clinician, a patient or the front desk reaching the privacy officer's, the auditor's or the
    front desk's RPCs directly: refused and recorded, nothing else written."""
    service, method, _, args, kwargs = NEW_RPCS[name]
    person = system.people.patient(ids("P")) if role == "patient" else system.people.member(ids("X"), role)
    attack(system, service, method, person.context(), *args, expect=("NotAuthorizedError",), **kwargs)
