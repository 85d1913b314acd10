"""Red team (issues 13-15): what was added with amend_disclosure_facts, SUD counseling notes, replicated
services and the cluster tooling, attacked as an insider with a staff login, a services database
login or a shell on the host would.

Each test names the attack and fails on the code before its fix.
"""
import time
import uuid
from datetime import datetime, timedelta

import psycopg
import pytest

from confide.envelope import NewEvent
from confide.eventstore.memory import InMemoryEventStore
from confide.keys import ensure_decision_key
from confide.testing.identities import sealed_disclosures
from disclosures import handlers
from disclosures.domain import commands

PAYER = {"id": "payer-user-1", "role": "insurer_health_plan", "org": "Acme Health Plan", "identity_verified": True}
COURT = {"id": "court-1", "role": "court", "org": "Family Court", "identity_verified": True}


class _Clock:
    def __init__(self):
        self.now = datetime.fromisoformat("2026-05-01T15:00:00+00:00")

    def __call__(self):
        return self.now

    def advance(self, **kw):
        self.now += timedelta(**kw)


class _Notes:
    """The notes service's release, as far as these tests need it: which notes left."""

    def __init__(self, store):
        self.store = store
        self.calls = []

    def release_fields(self, decision_id, note_ids, request_id=None):
        decided = self.store.read_stream(f"accessDecision-{decision_id}")[-1].data
        assert set(note_ids) <= set(decided["note_ids"])
        self.calls.append((decision_id, list(note_ids)))
        fields = decided["fields_released"] or []
        return {"decision_id": decision_id, "fields_released": fields,
                "notes": [{"note_id": n, "fields": {f: f"<{f}>" for f in fields}} for n in note_ids]}


@pytest.fixture
def world(tmp_path, monkeypatch):
    keys = tmp_path / "keys"
    ensure_decision_key(keys)
    monkeypatch.setenv("CONFIDE_KEY_DIR", str(keys))
    clock = _Clock()
    store = sealed_disclosures(InMemoryEventStore(clock=clock), keys)
    return store, clock, _Notes(store)


def _note(store, patient_id, kind):
    category, event_type = {"psychotherapy": ("psychotherapyNote", "PsychotherapyNoteDrafted"),
                            "sud_counseling": ("sudCounselingNote", "SudCounselingNoteDrafted")}[kind]
    note_id = str(uuid.uuid4())
    store.append(f"{category}-{note_id}", [NewEvent(event_type, {
        "note_id": note_id, "patient_id": patient_id, "author_id": "C-A", "session_date": "2026-02-10",
        "content": {"placeholder": True}})], expected_version=-1)
    return note_id


# -- 1. amend_disclosure_facts / request facts ----------------------------------------------------

@pytest.mark.parametrize("kind", ["psychotherapy", "sud_counseling"])
def test_staff_cannot_say_a_separated_note_is_not_kept_separately(world, kind, monkeypatch):
    """Attack: release-of-information staff record a payer's request with ``facts: {stored_separately:
    false}``. amend_disclosure_facts refuses that fact (the notes service's stream establishes it),
    but request_disclosure's facts went into the case file as they were, and the engine then decided
    the psychotherapy note as ordinary record content (164.501): released for payment with no
    authorization (164.508(a)(2)), and a SUD counseling note without a consent naming it (42 CFR
    2.31(b)). The case file now drops the fact from any request's facts; unknown keeps the note protected."""
    if kind == "sud_counseling":
        monkeypatch.setenv("CONFIDE_PRACTICE_PART2_PROGRAM", "true")
    store, clock, notes = world
    patient = f"P-{uuid.uuid4().hex[:8]}"
    _note(store, patient, kind)
    view = handlers.request_disclosure(commands.RequestDisclosure(
        patient_id=patient, requester=PAYER, purpose="payment", note_kind=kind,
        facts={"stored_separately": False}), store, clock, notes)
    assert view["status"] == "refused", view
    assert notes.calls == []
    assert "164.501 (not kept separate" not in (view.get("refusal") or {}).get("rule", "")


# -- 3. the sealer/relay lease taken by another login ----------------------------------------------

def test_a_services_login_holding_the_sealer_lease_is_named_not_silent(test_db_dsn, projector_db_dsn):
    """Attack: whoever has the services' database login (every service holds it) takes the audit
    service's sealer/relay advisory lock first and keeps its session open: no audit instance can take
    the lease, and sealing and relaying stop without a word (advisory locks need no privilege, so this
    cannot be refused). The lease now names the foreign holder (login and pid) so health reports it,
    and takes the lease once that session is ended."""
    from confide.eventstore.lease import LEASE_CLASS, AdvisoryLease

    schema = "rt_" + uuid.uuid4().hex[:10]
    lease = AdvisoryLease(projector_db_dsn, schema, "sealer-relay", identity="audit-1")
    peer = AdvisoryLease(projector_db_dsn, schema, "sealer-relay", identity="audit-2")
    intruder = psycopg.connect(test_db_dsn, autocommit=True)
    try:
        login = intruder.execute("SELECT current_user").fetchone()[0]
        assert intruder.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))",
                                (LEASE_CLASS, f"{schema}:sealer-relay")).fetchone()[0]
        assert not lease.hold()
        assert lease.usurper == {"login": login, "pid": intruder.info.backend_pid}
        intruder.close()  # the session ended (pg_terminate_backend, as the README says)
        deadline = time.monotonic() + 10
        while not lease.hold():
            assert time.monotonic() < deadline, "the lease was never taken after the intruder left"
            time.sleep(0.05)
        assert lease.usurper is None
        assert not peer.hold() and peer.usurper is None  # its own login's peer is no usurper
    finally:
        intruder.close()
        lease.release()
        peer.release()


# -- 4. cluster tooling -------------------------------------------------------------------------------

def test_patroni_rest_api_writes_need_a_login(tmp_path):
    """Attack: any user on the machine POSTs to a node's Patroni REST API on 127.0.0.1 (/switchover,
    /restart, /reinitialize: the latter wipes a standby's data directory, PATCH /config turns the
    synchronous standby off). The generated configuration now requires a login for its writes
    (``restapi.authentication``, password generated per cluster, kept in the 0600 state file and the
    0600 patroni.yml); reads (HAProxy's GET /primary and /replica) stay open."""
    import json
    import stat

    from confide.cluster import postgres_ha

    cluster = postgres_ha.HaPostgres(tmp_path / "ha")
    restapi = cluster._patroni_config(cluster.nodes[0])["restapi"]
    auth = restapi.get("authentication") or {}
    assert auth.get("username") and len(auth.get("password") or "") >= 24, restapi
    assert auth["password"] not in (cluster.superuser_password, cluster.replication_password)
    assert restapi["listen"].startswith("127.0.0.1:")
    state = cluster.save_state()
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert postgres_ha.HaPostgres.attach(tmp_path / "ha").restapi_password == auth["password"]
    assert json.loads(state.read_text())["restapi_password"] == auth["password"]
