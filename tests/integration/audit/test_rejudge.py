"""``confide audit rejudge``: past decisions re-decided by the current engine on the facts known then.

Synthetic events (no real person, no note text) are appended straight to a scratch schema: the
store stamps ``recorded_at`` when it appends, so what a decision "knew" is whatever was appended
before its ``decided_at``.
"""
import json
import uuid
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner

from audit.commands import rejudge as rejudge_command
from audit.rejudge import rejudge
from confide.contracts import casefile as facts
from confide.envelope import NewEvent
from confide.hipaa.engine import decide
from confide.testing.identities import sealed_disclosures
from confide.timestamps import format_ts as fmt_ts

INSURER = {"id": "payer-user-1", "role": "insurer_health_plan", "org": "Acme Health Plan", "identity_verified": True}


@pytest.fixture
def raw_store(scratch_store):
    """The services' login on this test's scratch schema, seals unchecked (the audit tier's conftest)."""
    return scratch_store


@pytest.fixture
def key_dir(tmp_path):
    """The installation's key directory (``service-keys/disclosures.key`` made here, and the
    directory's key, whose seals the re-judging checks on a supervisor's recorded link)."""
    from confide.identity.keys import ensure_service_keys

    ensure_service_keys(tmp_path / "keys", ("directory",))
    return tmp_path / "keys"


@pytest.fixture
def store(raw_store, key_dir):
    """The scratch schema as the disclosures service writes it: requests and authorizations sealed."""
    return sealed_disclosures(raw_store, key_dir)


def cli_env(test_db_dsn, key_dir):
    return {"CONFIDE_DB_DSN": test_db_dsn, "CONFIDE_KEY_DIR": str(key_dir)}


def now():
    return datetime.now(timezone.utc)


def uid(prefix):
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def append(store, stream, type_, data):
    store.append(stream, [NewEvent(type_, data)], expected_version=None)


def note(store, patient, kind="psychotherapy", author="C-A", categories=("session_content",), supervisor=None):
    note_id = uid("n-")
    data = {"note_id": note_id, "patient_id": patient, "author_id": author, "author_role": "clinician",
            "author_credentials": "PsyD", "supervisor_id": supervisor, "session_date": "2026-02-10",
            "drafted_at": fmt_ts(now())}
    if kind == "psychotherapy":
        data.update(sealed={"alg": "AES-256-GCM", "data_key_id": "k", "nonce": "", "ciphertext": ""},
                    content_in_psych_note=[{"category": c, "start": 0, "end": 1} for c in categories])
        append(store, f"psychotherapyNote-{note_id}", "PsychotherapyNoteDrafted", data)
    else:
        data["content"] = {"session_date": "2026-02-10"}
        append(store, f"progressNote-{note_id}", "ProgressNoteDrafted", data)
    return note_id


def authorization(store, patient, auth_id=None):
    auth_id = auth_id or uid("AUTH-")
    form = {"id": auth_id, "patient": patient, "covers": ["psychotherapy_notes"],
            "description": "Psychotherapy notes of sessions 2026-01-05 to 2026-03-30 by Dr. A",
            "authorized_discloser": "Northside Counseling Group (Dr. A)", "recipients": ["Acme Health Plan"],
            "purposes": ["at the request of the individual"], "signed_by": "patient", "signer_role": "individual",
            "signed_date": "2026-01-01", "expiration_date": "2099-12-31",
            "statements_present": {"right_to_revoke": True, "conditioning": True, "redisclosure": True},
            "plain_language": True}
    t = fmt_ts(now())
    append(store, f"authorization-{auth_id}", "AuthorizationRecorded",
           {"authorization_id": auth_id, "patient_id": patient, "authorization": form, "defective": False,
            "defects": [], "received_at": t, "recorded_at": t})
    return auth_id


def request(store, patient, note_kind="psychotherapy", authorization_id=None):
    request_id = str(uuid.uuid4())
    data = {"request_id": request_id, "requester": INSURER, "patient_id": patient, "purpose": "payment",
            "action": "disclose", "note_kind": note_kind, "received_at": fmt_ts(now()), "date_from": None,
            "date_to": None, "note_ids": None, "authorization_id": authorization_id, "exception_claimed": None,
            "facts": {}, "channel": {}}
    append(store, f"disclosureRequest-{request_id}", "DisclosureRequested", data)
    return data


def decided(store, req, outcome, note_ids, authorization_id=None, at=None):
    decision_id = str(uuid.uuid4())
    append(store, f"disclosureRequest-{req['request_id']}", "DisclosureDecided", {
        "request_id": req["request_id"], "decision_id": decision_id, "decision": outcome["decision"],
        "rule": outcome["rule"], "citations": outcome.get("citations") or [], "reasons": [],
        "fields_released": outcome["fields_released"],
        "minimum_necessary_applies": outcome.get("minimum_necessary_applies"),
        "accounting_required": bool(outcome.get("accounting_required")), "note_ids": note_ids,
        "authorization_id": authorization_id, "decided_at": fmt_ts(at or now())})
    return decision_id


def decided_by_the_engine(store, req):
    """What the disclosures service would have recorded at this instant."""
    at = now()
    gathered = facts.case_as_of(store, req, req["requester"], at)
    outcome = decide(gathered.case).to_dict()
    auth = gathered.authorization.authorization_id if gathered.authorization else None
    return decided(store, req, outcome, [n["note_id"] for n in gathered.notes], auth, at), outcome


def only(result, decision_id):
    return [m for m in result["mismatches"] if m["decision_id"] == decision_id]


def test_a_consistent_decision_and_note_read_hold(store):
    patient = uid("P-")
    note(store, patient, kind="progress")
    decision_id, outcome = decided_by_the_engine(store, request(store, patient, note_kind="progress"))
    assert outcome["decision"] == "permit_minimum_necessary"

    psych = note(store, patient)
    read_id = str(uuid.uuid4())
    author = {"id": "C-A", "role": "originator_clinician", "org": "Northside"}
    read = decide({"requester": {**author, "is_originator": True}, "purpose": "treatment",
                   "note_kind": "psychotherapy", "action": "use", "patient": patient, "decision_time": fmt_ts(now()),
                   "authorization": None, "exception_claimed": None,
                   "content_in_psych_note": ["session_content"]}).to_dict()
    assert read["decision"] == "permit"
    append(store, f"accessDecision-{read_id}", "AccessDecided", {
        "decision_id": read_id, "requester": author, "purpose": "treatment", "action": "use",
        "patient_id": patient, "note_id": psych, "note_kind": "psychotherapy", "originator_id": "C-A",
        "decision": read["decision"], "rule": read["rule"], "citations": read["citations"],
        "fields_released": read["fields_released"], "decided_at": fmt_ts(now()), "request_id": None})
    # the disclosures service's own AccessDecided (it has a request_id) is judged through its DisclosureDecided
    append(store, f"accessDecision-{decision_id}", "AccessDecided", {
        "decision_id": decision_id, "requester": INSURER, "purpose": "payment", "action": "disclose",
        "patient_id": patient, "note_id": None, "note_ids": [], "note_kind": "progress", "decision": "deny",
        "rule": "x", "citations": [], "fields_released": None, "decided_at": fmt_ts(now()), "request_id": "r"})

    result = rejudge(store)
    assert result["checked"] == 2
    assert result["mismatches"] == [], result["mismatches"]


def test_reliance_on_an_authorization_revoked_later_is_not_a_mismatch(store):
    patient = uid("P-")
    note(store, patient)
    auth_id = authorization(store, patient)
    decision_id, outcome = decided_by_the_engine(store, request(store, patient))
    assert outcome["decision"] in {"permit", "permit_minimum_necessary"}, outcome
    t = fmt_ts(now())
    append(store, f"authorization-{auth_id}", "AuthorizationRevoked",
           {"authorization_id": auth_id, "patient_id": patient, "in_writing": True, "received_at": t,
            "revoked_by": "patient", "recorded_at": t})
    later = request(store, patient)
    assert facts.case_as_of(store, later, INSURER, now()).case["authorization"]["revoked"] is True

    assert only(rejudge(store), decision_id) == []


def test_a_recorded_outcome_the_engine_does_not_give_is_reported_with_both_citations(store, test_db_dsn, key_dir):
    patient = uid("P-")
    note_id = note(store, patient)
    req = request(store, patient)
    recorded = {"decision": "permit", "rule": "45 CFR 164.506(c)(3)", "fields_released": ["full_note"]}
    decision_id = decided(store, req, recorded, [note_id])

    result = rejudge(store)
    [mismatch] = only(result, decision_id)
    assert mismatch["kind"] == "disclosure" and not mismatch["unsupported"]
    assert mismatch["recorded"]["decision"] == "permit" and mismatch["recorded"]["rule"] == "45 CFR 164.506(c)(3)"
    assert mismatch["current"]["decision"] == "deny" and "164.508(a)(2)" in mismatch["current"]["rule"]
    assert any(f.startswith("decision: recorded permit, now deny") for f in mismatch["findings"])

    env = cli_env(test_db_dsn, key_dir)
    run = CliRunner().invoke(rejudge_command, ["--schema", store.schema, "--json"], env=env)
    assert run.exit_code == 1, run.output
    assert only(json.loads(run.output), decision_id)[0]["current"]["decision"] == "deny"
    table = CliRunner().invoke(rejudge_command, ["--schema", store.schema], env=env)
    assert table.exit_code == 1 and decision_id[:8] in table.output


def test_a_decision_naming_an_authorization_recorded_later_is_unsupported(store):
    patient = uid("P-")
    note_id = note(store, patient)
    auth_id = uid("AUTH-")
    req = request(store, patient, authorization_id=auth_id)
    recorded = {"decision": "permit", "rule": "45 CFR 164.508(a)(2)", "fields_released": ["full_note"]}
    decision_id = decided(store, req, recorded, [note_id, "n-not-yet-written"], authorization_id=auth_id)
    authorization(store, patient, auth_id)  # on file only after the decision
    note(store, patient)

    [mismatch] = only(rejudge(store), decision_id)
    assert mismatch["unsupported"] is True
    assert f"authorization {auth_id} was not on file at the decision time" in mismatch["findings"]
    assert any("n-not-yet-written" in f and "not written" in f for f in mismatch["findings"])
    assert mismatch["current"]["decision"] == "deny"


def test_exit_0_when_every_decision_holds(store, test_db_dsn, key_dir):
    patient = uid("P-")
    note(store, patient, kind="progress")
    decided_by_the_engine(store, request(store, patient, note_kind="progress"))
    run = CliRunner().invoke(rejudge_command, ["--schema", store.schema, "--json"],
                             env=cli_env(test_db_dsn, key_dir))
    assert run.exit_code == 0, run.output
    assert json.loads(run.output) == {"checked": 1, "mismatches": [], "unsealed": []}


def test_unsealed_requests_and_authorizations_are_listed_not_believed(store, raw_store, test_db_dsn, key_dir):
    """Events the disclosures service did not seal (forged with the services' login, or recorded before
    seals) are neither re-judged nor relied on, and are reported rather than silently dropped."""
    patient = uid("P-")
    note_id = note(store, patient)
    auth_id = authorization(raw_store, patient)  # not sealed
    req = request(raw_store, patient, authorization_id=auth_id)  # not sealed
    recorded = {"decision": "permit", "rule": "45 CFR 164.508(a)(2)", "fields_released": ["full_note"]}
    decided(raw_store, req, recorded, [note_id], authorization_id=auth_id)  # not sealed

    result = rejudge(store)
    assert {u["stream"] for u in result["unsealed"]} == {f"authorization-{auth_id}",
                                                         f"disclosureRequest-{req['request_id']}"}
    assert len(result["unsealed"]) == 3 and result["checked"] == 0
    assert facts.authorization_as_of(store, auth_id, None).exists is False
    with pytest.raises(TypeError):
        rejudge(raw_store)  # a reader that does not check the seals is refused

    table = CliRunner().invoke(rejudge_command, ["--schema", store.schema], env=cli_env(test_db_dsn, key_dir))
    assert table.exit_code == 0, table.output
    assert f"unsealed, not believed: disclosureRequest-{req['request_id']}" in table.output


def test_the_cli_believes_a_recorded_supervision_fact_only_as_the_sealed_directory_and_the_note_support_it(
        store, raw_store, test_db_dsn, key_dir):
    """An AccessDecided claiming ``supervises_author`` (164.508(a)(2)(i)(B)) for a supervisor the
    directory did not link to the note's author, or who is not the one named on the note, is reported
    unsupported; the named, linked supervisor's read holds."""
    from confide.testing.identities import Identities

    people = Identities(raw_store, key_dir)  # directory events sealed with the installation's key
    trainee = people.member(uid("T-"), "trainee")
    named, other, stranger = (people.member(uid(p), "supervisor") for p in ("S-", "O-", "N-"))
    for sup in (named, other):
        people.supervise(sup.subject, trainee.subject)
    patient = uid("P-")
    psych = note(store, patient, author=trainee.subject, supervisor=named.subject)
    ids = {}
    for who in (named, other, stranger):
        requester = {"id": who.subject, "role": "supervisor", "org": "Northside", "supervises_author": True}
        outcome = decide({"requester": {**requester, "is_workforce": True, "identity_verified": True},
                          "purpose": "training", "note_kind": "psychotherapy", "action": "use", "patient": patient,
                          "decision_time": fmt_ts(now()), "authorization": None, "exception_claimed": None,
                          "content_in_psych_note": ["session_content"]}).to_dict()
        assert outcome["rule"] == "45 CFR 164.508(a)(2)(i)(B)"
        ids[who.subject] = str(uuid.uuid4())
        append(store, f"accessDecision-{ids[who.subject]}", "AccessDecided", {
            "decision_id": ids[who.subject], "requester": requester, "purpose": "training", "action": "use",
            "patient_id": patient, "note_id": psych, "note_kind": "psychotherapy", "originator_id": trainee.subject,
            "decision": outcome["decision"], "rule": outcome["rule"], "citations": outcome["citations"],
            "fields_released": outcome["fields_released"], "decided_at": fmt_ts(now()), "request_id": None})

    run = CliRunner().invoke(rejudge_command, ["--schema", store.schema, "--json"], env=cli_env(test_db_dsn, key_dir))
    result = json.loads(run.output)
    assert only(result, ids[named.subject]) == []
    for who in (other, stranger):
        [mismatch] = only(result, ids[who.subject])
        assert mismatch["unsupported"] and mismatch["current"]["decision"] == "deny"
        assert any(f.startswith("supervises_author:") for f in mismatch["findings"])


def test_a_request_decided_on_amended_facts_is_rejudged_on_them(store, key_dir, monkeypatch):
    """``DisclosureFactsAmended`` is part of the facts known when the request was decided again: the
    re-judging folds it through the published request model, so the decision holds; the same decision
    judged on the request as first recorded would not (the order's coverage was not on file)."""
    from confide.contracts.disclosures import fold
    from confide.keys import ensure_decision_key
    from disclosures import handlers
    from disclosures.domain import commands

    monkeypatch.setenv("CONFIDE_KEY_DIR", str(key_dir))
    ensure_decision_key(key_dir)
    patient = uid("P-")
    note(store, patient, kind="progress")
    court = {"id": "court-1", "role": "court", "org": "Family Court", "identity_verified": True}
    held = handlers.request_disclosure(commands.RequestDisclosure(
        requester=court, patient_id=patient, purpose="judicial", note_kind="progress", await_release=True,
        facts={"legal_process": {"type": "court_order", "signed_by_judge": True}}), store, now, None,
        key_dir=key_dir)
    assert held["status"] == "on_hold"
    done = handlers.amend_disclosure_facts(commands.AmendDisclosureFacts(
        request_id=held["request_id"], amended_by="roi-1",
        facts={"legal_process": {"type": "court_order", "signed_by_judge": True, "covers": ["progress"]}}),
        store, now, None, key_dir=key_dir)
    assert done["status"] == "decided" and done["decision"]["decision"] == "permit"
    assert only(rejudge(store, decide), done["decision"]["decision_id"]) == []
    first = fold(held["request_id"], [(e.type, e.data) for e in store.read_stream(
        f"disclosureRequest-{held['request_id']}") if e.type == "DisclosureRequested"])
    unamended = decide(facts.case_as_of(store, first.request, court, now()).case).to_dict()
    assert unamended["decision"] == "hold"
