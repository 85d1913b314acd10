"""``audit.decisions_on_my_notes``: a note's author sees every access decision on the notes she
drafted, newest first, and nothing on anyone else's; other roles are refused and recorded. A decision
on several notes at once (a disclosure request) is hers when it covers one of her notes, shown once,
naming only her notes among them; the projection it is read from still rebuilds identically.

AuditService in a nameko container on a per-test vhost over a scratch schema; notes and decisions
appended to the store as the notes service records them, then projected by the live relay.
"""
import uuid

import pytest
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ServiceRpcProxy

from audit.replay import replay
from confide.envelope import NewEvent
from confide.testing.polling import wait_for


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


def a_disclosure_decision(store, note_ids, org="Acme Insurance", purpose="payment", decision="permit_minimum_necessary"):
    """An ``AccessDecided`` as the disclosures service records a request's decision: every note it
    covers in ``note_ids``, ``note_id`` only when there is exactly one, the request's id."""
    decision_id, request_id = str(uuid.uuid4()), f"req-{uuid.uuid4().hex[:8]}"
    store.append(f"accessDecision-{decision_id}", [NewEvent("AccessDecided", {
        "decision_id": decision_id, "requester": {"id": f"{org}-claims", "role": "insurer", "org": org},
        "patient_id": "P-1", "note_id": note_ids[0] if len(note_ids) == 1 else None, "note_ids": note_ids,
        "note_kind": "progress", "purpose": purpose, "action": "disclose", "decision": decision,
        "rule": "45 CFR 164.506(c)(4); 164.502(b)", "request_id": request_id})])
    return decision_id


def a_list_notes_decision(store, note_id, requester_id):
    """One of the decisions ``notes.list_notes`` records: one per note listed, ``note_ids`` = [it]."""
    decision_id = str(uuid.uuid4())
    store.append(f"accessDecision-{decision_id}", [NewEvent("AccessDecided", {
        "decision_id": decision_id, "requester": {"id": requester_id, "role": "clinician_same_practice",
                                                  "org": "North"},
        "patient_id": "P-1", "note_id": note_id, "note_ids": [note_id], "note_kind": "progress",
        "purpose": "treatment", "action": "use", "decision": "permit", "rule": "45 CFR 164.506(c)(1)"})])
    return decision_id


def test_a_decision_on_several_notes_shows_once_naming_only_her_notes(audit, audit_config, people, store):
    author = people.member(ids("C"), "clinician")
    colleague = people.member(ids("C"), "clinician")
    mine, mine_too = a_note(store, author.subject), a_note(store, author.subject)
    theirs = a_note(store, colleague.subject)
    insurer = a_disclosure_decision(store, [mine, theirs])
    court = a_disclosure_decision(store, [theirs, mine_too, mine], org="County Court", purpose="judicial",
                                  decision="deny")
    only_theirs = a_disclosure_decision(store, [theirs])
    listed = [a_list_notes_decision(store, n, colleague.subject) for n in (mine, theirs, mine_too)]

    rows = wait_for(lambda: (r := call(audit_config, author.context())) and len(r) >= 4 and r, timeout=30)
    assert [r["decision_id"] for r in rows] == [listed[2], listed[0], court, insurer]
    by_id = {r["decision_id"]: r for r in rows}
    # The insurer's decision covered her note and a colleague's: hers named, the colleague's never.
    assert by_id[insurer]["note_ids"] == [mine] and by_id[insurer]["note_id"] is None
    assert by_id[insurer]["requester_org"] == "Acme Insurance" and by_id[insurer]["rule"].startswith("45 CFR 164.506")
    # The court's covered two of hers: one row, both named, in the decision's order.
    assert by_id[court]["note_ids"] == [mine_too, mine] and by_id[court]["decision"] == "deny"
    assert by_id[listed[0]]["note_ids"] == [mine] and by_id[listed[0]]["note_id"] == mine
    assert theirs not in str(rows) and "request_id" not in rows[0] and "patient_id" not in rows[0]
    # The colleague sees every decision on her note, her note only.
    theirs_rows = wait_for(lambda: (r := call(audit_config, colleague.context())) and len(r) >= 4 and r, timeout=30)
    assert [r["decision_id"] for r in theirs_rows] == [listed[1], only_theirs, court, insurer]
    assert all(r["note_ids"] == [theirs] for r in theirs_rows)
    assert mine not in str(theirs_rows) and mine_too not in str(theirs_rows)
    # The auditor's log keeps one row per decision, however many notes it covers.
    log = store.projections.access_log_search({"decision": "deny"})
    assert [r["decision_id"] for r in log] == [court] and log[0]["note_ids"] == [theirs, mine_too, mine]
    assert store.projections.access_log_counts({})["total"] == 6
    # The projection still rebuilds from the log row for row.
    report = replay(store)
    assert report.matches and report.projections["access_log"]["rebuilt_rows"] == 6


def test_a_log_projected_before_note_ids_is_filled_in_place_as_a_rebuild_would(
        audit, audit_config, admin_dsn, test_db_dsn, people, store):
    """An install on a schema whose ``access_log_view`` predates ``note_ids`` adds the column and
    fills it from each row's own event; the live table then matches a rebuild and is searchable."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict

    from confide import config
    from confide.eventstore import install

    dbname = conninfo_to_dict(test_db_dsn)["dbname"]
    author = people.member(ids("C"), "clinician")
    mine, theirs = a_note(store, author.subject), a_note(store, "C-else")
    several = a_disclosure_decision(store, [theirs, mine])
    legacy = a_decision(store, mine, "C-other")  # recorded before note_ids existed: note_id only
    wait_for(lambda: len(call(audit_config, author.context())) == 2, timeout=30)
    with psycopg.connect(config.with_dbname(admin_dsn, dbname), autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER TABLE {}.access_log_view DROP COLUMN note_ids").format(sql.Identifier(store.schema)))
    install.install_schema(admin_dsn, dbname, store.schema)
    assert replay(store).matches
    rows = call(audit_config, author.context())
    assert [(r["decision_id"], r["note_ids"]) for r in rows] == [(legacy, [mine]), (several, [mine])]


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
