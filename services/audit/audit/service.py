"""AuditService (nameko name ``audit``): projections fed by RabbitMQ, and the outbox relay.

- ``handle_event``: consumes ``audit.events`` (a quorum queue declared at deploy
  time) and applies each event to the projections, idempotently, as the projector's
  database login (``PROJECTOR_DSN``: the only one that may append projection rows) — except an
  event this process's relay has already applied (see ``seal_and_relay``), which it acks at once. A failure
  requeues the message (never nameko's ack-and-drop); RabbitMQ dead-letters it
  to ``audit.events.dlq`` after ``confide.broker.DELIVERY_LIMIT`` deliveries. While
  the database is unreachable the handler waits for it (:func:`apply_patiently`, up
  to ``STORE_PATIENCE`` seconds) instead: five quick failures of a database restart
  would otherwise dead-letter every event in flight, and the projections miss them.
- ``seal_and_relay``: every half second, extends the keyed hash chain over
  newly committed events (signed checkpoints outside the database), then, page by page, applies
  the page to the projections in one transaction and publishes it to RabbitMQ in global order
  with confirms and ``mandatory`` (as the projector's login too: it alone may extend the chain
  and move checkpoints). A page whose apply fails is published all the same; the consumer applies it.
- RPCs for the gateway, the CLI and tests: ``access_log``, ``disclosure_log``,
  ``accounting``, ``note_history``, ``status``, and ``health``; for the web,
  ``decisions_on_my_notes`` (who has seen the notes the caller wrote); for the auditor's pages
  ``patient_timeline``, ``note_timeline``, ``access_log_search``, ``export_access_log``,
  ``integrity_status``, ``verify_chain`` and ``rejudge_decisions`` (read-only) (the gateway's
  ``GET /health`` asks it whether the database answers, through the store).

Who may ask (docs/identity.md): the audit trail names every patient whose record
was read or disclosed, so the log RPCs and ``status`` answer only a verified
principal holding ``auditor`` or ``privacy_officer`` now (45 CFR 164.308(a)(1)(ii)(D),
164.312(b)); ``decisions_on_my_notes`` answers a clinician, trainee or supervisor about the notes
they drafted themselves (the author is the verified principal, never an argument);
``my_access_log`` answers a patient about their own record only (the patient is the verified
principal, never an argument; no rows on psychotherapy notes; other requesters by role and
organisation, their ids only where the practice chooses, ``PATIENT_LOG_NAMES``); ``health``
answers any verified Confide service (its own credential,
``confide_service``), and says nothing about patients. Refusals are recorded by
the gate (``AccessAttemptRefused``) before the caller gets NotAuthenticatedError /
NotAuthorizedError.
"""
from __future__ import annotations

import logging
import time

import eventlet
from nameko.dependency_providers import Config
from nameko.timer import timer

from audit import fhir_export, integrity, queries
from audit.dependencies import AuditIdentity, Integrity, Projector, Relay
from audit.replay import apply_event
from confide.broker import audit_queue
from confide.eventstore.errors import EventStoreUnavailableError
from confide.eventstore.provider import EventStore
from confide.identity.errors import NotAuthenticatedError, NotAuthorizedError
from confide.messaging import consume
from confide.rpc import rpc
from confide.validation import PayloadError

log = logging.getLogger(__name__)
#: Seconds ``handle_event`` waits for an unreachable database before it gives the message back.
STORE_PATIENCE = 120.0
HEALTH_TIMEOUT = 2  # seconds for the database to answer the health RPC's ping
#: Who may read the audit trail and the audit side's status.
AUDIT_READERS = ("auditor", "privacy_officer")
#: Who may ask who has seen the notes they wrote (their own notes only).
NOTE_AUTHORS = ("clinician", "trainee", "supervisor")
#: The most rows ``decisions_on_my_notes`` / ``my_access_log`` answer with, whatever the caller asks.
MAX_SEEN_ROWS = 1000
USER_ERRORS = (NotAuthenticatedError, NotAuthorizedError)
INPUT_ERRORS = USER_ERRORS + (PayloadError,)
#: The most access-log rows an export holds.
MAX_EXPORT_ROWS = 50_000
EXPORT_FORMATS = ("fhir", "csv")


def apply_patiently(projections, body: dict, patience: float = STORE_PATIENCE, sleep=eventlet.sleep,
                    clock=time.monotonic) -> int:
    """:func:`apply_event`, tried again with a backoff (0.5 s doubling to 5 s) while the store is
    unreachable (EventStoreUnavailableError), for at most ``patience`` seconds; returns its rows.
    Raises EventStoreUnavailableError after that, and any other error at once (the message goes
    back to the queue and counts towards its delivery limit)."""
    deadline, delay = clock() + patience, 0.5
    while True:
        try:
            return apply_event(projections, body)
        except EventStoreUnavailableError as exc:
            if clock() + delay > deadline:
                raise
            log.warning("event store unreachable (%s); event %s waits %.1fs", type(exc).__name__,
                        body.get("global_position"), delay)
            sleep(delay)
            delay = min(5.0, delay * 2)


class AuditService:
    name = "audit"

    store = EventStore()  # the services' login: reads, and the identity gate's refusals
    projections = Projector()
    relay = Relay()
    identity = AuditIdentity()
    integrity = Integrity()
    config = Config()

    @consume(audit_queue(), requeue_on_error=True)
    def handle_event(self, body):
        """Apply one stored event (``RecordedEvent.to_message()`` shape) to the projections, unless
        this process's relay already applied it (committed) before publishing it: then no database
        work at all. Any other event (above the relay's watermark, relayed by another instance, or
        whose page the relay failed to apply) is applied here as always."""
        position = body.get("global_position") if isinstance(body, dict) else None
        if self.relay.projected(position):
            log.debug("event at %s already applied by this process's relay", position)
            return
        written = apply_patiently(self.projections, body)
        log.debug("applied %s at %s (%d rows)", body.get("type"), body.get("global_position"), written)

    @timer(interval=0.5)
    def seal_and_relay(self):
        """Seal new events into the chain, then publish them (see module docstring)."""
        self.relay.run_once()

    @rpc(expected_exceptions=USER_ERRORS)
    def access_log(self, patient_id=None, limit=1000):
        """Access-log rows, newest last: [{global_position, recorded_at, requester_id, ...}]."""
        self.identity.require(*AUDIT_READERS)
        return queries.rows(self.store.projections, "access_log_view", patient_id, limit)

    @rpc(expected_exceptions=USER_ERRORS)
    def disclosure_log(self, patient_id=None, limit=1000):
        """Disclosure-log rows (each step of each request)."""
        self.identity.require(*AUDIT_READERS)
        return queries.rows(self.store.projections, "disclosure_log_view", patient_id, limit)

    @rpc(expected_exceptions=USER_ERRORS)
    def accounting(self, patient_id, limit=1000):
        """164.528 accounting rows for one patient."""
        self.identity.require(*AUDIT_READERS)
        return queries.rows(self.store.projections, "accounting_view", patient_id, limit)

    @rpc(expected_exceptions=USER_ERRORS)
    def note_history(self, note_id):
        """Every version of one note: [{stream_version, event_type, actor_id, recorded_at}]."""
        self.identity.require(*AUDIT_READERS)
        return queries.note_history(self.store.projections, note_id)

    @rpc(expected_exceptions=USER_ERRORS)
    def decisions_on_my_notes(self, limit=200):
        """Every access decision covering a note the caller drafted, each once, newest first ("who
        has seen my notes"): a read of one note, and a decision on several at once (an insurer's or a
        court's disclosure request, a patient's copy) that includes one of hers.

        The author is the verified principal (never an argument), holding clinician, trainee or
        supervisor; rows: {global_position, recorded_at, decision_id, requester_id, requester_role,
        requester_org, note_id (the decision's one note, else None), note_ids (the caller's notes it
        concerned, never another author's), note_kind, purpose, action, decision, rule}.
        """
        principal = self.identity.require(*NOTE_AUTHORS)
        limit = max(1, min(int(limit), MAX_SEEN_ROWS))
        return queries.decisions_on_notes_by(self.store.projections, principal.subject, limit)

    @rpc(expected_exceptions=USER_ERRORS)
    def my_access_log(self, limit=200, **named):
        """A patient's own access log (the patient portal's "who saw my record"), newest first.

        The patient is the verified principal holding ``patient`` (never an argument: a keyword naming
        a patient or requester is refused, NotAuthorizedError recorded). Rows: see
        :func:`audit.queries.access_log_of_patient` (who by role and organisation, when, purpose,
        decision and the rule cited; none on psychotherapy notes, 164.524(a)(1)(i)). Other requesters'
        ids only when the practice's ``PATIENT_LOG_NAMES`` is "id" (default "role")."""
        principal = self.identity.require("patient")
        self.identity.refuse_requester_in_payload(named)
        if named:
            raise self.identity.refuse(f"my_access_log takes no {sorted(named)[0]}: the patient is the caller")
        names = str(self.config.get("PATIENT_LOG_NAMES") or "role")
        limit = max(1, min(int(limit), MAX_SEEN_ROWS))
        return queries.access_log_of_patient(self.store.projections, principal.subject,
                                             names if names in queries.PATIENT_LOG_NAMES else "role", limit)

    @rpc(expected_exceptions=USER_ERRORS)
    def status(self):
        """{head_position, relayed_position, sealed_index}: how far the audit side has come."""
        self.identity.require(*AUDIT_READERS)
        return queries.status(self.store)

    @rpc(expected_exceptions=USER_ERRORS)
    def health(self):
        """{"database": "ok"}, or {"database": "unreachable: <error type>"} when the store's ping fails;
        with ``sealer_lease: "held by login <login> (pid <pid>)"`` when a session of another login than
        the audit service's holds the sealer/relay lease (sealing and relaying stopped: README), and
        ``relay: "halted: <error type>"`` while this instance's sealing/relaying passes fail (e.g. an
        event written through the services' login that no JSON reader can decode: README).

        Any verified Confide service (the gateway asks it with its ServiceCredential).
        Never raises for an unreachable database (the caller reports it) and never names the DSN.
        """
        self.identity.calling_service()
        try:
            self.store.ping(timeout=HEALTH_TIMEOUT)
        except Exception as exc:  # EventStoreUnavailableError, or whatever the driver raised
            return {"database": f"unreachable: {type(exc).__name__}"}
        reply = {"database": "ok"}
        usurper = getattr(getattr(self.relay, "lease", None), "usurper", None)
        if isinstance(usurper, dict):  # another login's session holds the lease: nothing is sealed or relayed
            reply["sealer_lease"] = f"held by login {usurper['login']} (pid {usurper['pid']})"
        halted = getattr(self.relay, "halted", None)
        if isinstance(halted, str) and halted:  # this instance's last sealing/relaying pass failed
            reply["relay"] = f"halted: {halted}"
        return reply

    # -- the auditor's pages (read-only; auditor or privacy officer) ----------------------------

    @rpc(expected_exceptions=INPUT_ERRORS)
    def patient_timeline(self, patient_id, limit=200, before_position=None):
        """One patient's history by global position: note versions, access decisions, disclosure
        steps, accounting entries (metadata only: ids, roles, purposes, decisions, rules).

        -> {patient_id, entries: [{position, at, kind, label, who, role, decision, rule, detail}]
        oldest first (the newest ``limit``, at most 500, below ``before_position``), total,
        older_before (where the next older page starts, or None)}. Auditor or privacy officer;
        PayloadError on a bad argument."""
        self.identity.require(*AUDIT_READERS)
        patient_id = _text("patient_id", patient_id)
        return queries.patient_timeline(self.store.projections, patient_id, _int("limit", limit),
                                        _position("before_position", before_position))

    @rpc(expected_exceptions=INPUT_ERRORS)
    def note_timeline(self, note_id, limit=200, before_position=None):
        """One note's versions and the access decisions on it, by global position (shape of
        ``patient_timeline`` plus note_id, patient_id, note_kind). Auditor or privacy officer."""
        self.identity.require(*AUDIT_READERS)
        note_id = _text("note_id", note_id)
        return queries.note_timeline(self.store.projections, note_id, _int("limit", limit),
                                     _position("before_position", before_position))

    @rpc(expected_exceptions=INPUT_ERRORS)
    def access_log_search(self, decision=None, rule=None, purpose=None, requester_role=None, since=None,
                          until=None, patient_id=None, limit=500):
        """The access log filtered (equality on decision, rule, purpose, requester_role, patient_id;
        ``since``/``until`` dates YYYY-MM-DD, both days included, UTC), newest first, with counts per
        rule and per day over every matching row: {rows, total, by_rule: [{rule, decision, n}],
        by_day: [{day, permit, deny, other}], choices}. Auditor or privacy officer."""
        self.identity.require(*AUDIT_READERS)
        filters, start, end = _filters(decision, rule, purpose, requester_role, patient_id, since, until)
        return queries.access_log_search(self.store.projections, filters, start, end, _int("limit", limit))

    @rpc(expected_exceptions=INPUT_ERRORS)
    def export_access_log(self, fmt, decision=None, rule=None, purpose=None, requester_role=None, since=None,
                          until=None, patient_id=None):
        """The filtered access log (the filters of ``access_log_search``), oldest first, as
        ``fmt`` "fhir" (a Bundle of IHE BALP AuditEvents, JSON text) or "csv" (cells that a
        spreadsheet would run as a formula are escaped): {filename, content_type, text, rows}.
        Auditor or privacy officer; PayloadError on a bad format or filter."""
        self.identity.require(*AUDIT_READERS)
        if fmt not in EXPORT_FORMATS:
            raise PayloadError({"fmt": [f"must be one of {', '.join(EXPORT_FORMATS)}"]})
        filters, start, end = _filters(decision, rule, purpose, requester_role, patient_id, since, until)
        rows = [queries._safe(r) for r in self.store.projections.access_log_search(
            filters, since=start, until=end, limit=MAX_EXPORT_ROWS, newest_first=False)]
        head = self.store.head_position()
        if fmt == "fhir":
            from confide import config

            resources = fhir_export.resources_for("access_log", rows, fhir_export.Site(endpoint=config.gateway_url()))
            text = fhir_export.dumps(fhir_export.bundle(resources, f"confide-access-log-{head}"))
            return {"filename": f"access-log-{head}.fhir.json", "content_type": "application/fhir+json",
                    "text": text, "rows": len(rows)}
        import io

        out = io.StringIO()
        n = fhir_export.write_csv("access_log", rows, out)
        return {"filename": f"access-log-{head}.csv", "content_type": "text/csv", "text": out.getvalue(), "rows": n}

    @rpc(expected_exceptions=USER_ERRORS)
    def integrity_status(self):
        """{status: {head_position, relayed_position, sealed_index}, last_verify (the last
        ``verify_chain`` result, or None), tree_heads: {heads (signed checkpoints, newest first),
        count, problems}, last_rejudge (checked, mismatches, unsealed, rejudged_at; None before the
        first run since start)}. Auditor or privacy officer."""
        self.identity.require(*AUDIT_READERS)
        last = self.integrity.last_rejudge
        return {"status": queries.status(self.store), "last_verify": self.integrity.last_verify(),
                "tree_heads": integrity.tree_heads(self.integrity.key_dir, self.integrity.checkpoint_dir),
                "last_rejudge": last and {"checked": last["checked"], "mismatches": len(last["mismatches"]),
                                          "unsealed": len(last["unsealed"]), "rejudged_at": last["rejudged_at"]}}

    @rpc(expected_exceptions=USER_ERRORS)
    def verify_chain(self):
        """Recompute every hash and MAC of the log now (``confide audit verify``; its cost grows
        with the log: one at a time) and keep the result as the last one: {ok, events, sealed,
        unsealed_tail, checkpoints, first_bad_position, problems, head_mac, root_hash, verified_at,
        tree_head}, or {busy: True} while another check runs. Auditor or privacy officer."""
        self.identity.require(*AUDIT_READERS)
        if not self.integrity.lock.acquire(blocking=False):
            return {"busy": True}
        try:
            result = integrity.run_verify(self.store, self.integrity.key_dir, self.integrity.checkpoint_dir)
        finally:
            self.integrity.lock.release()
        self.integrity.save_last_verify(result)
        log.info("verify_chain: ok=%s events=%s sealed=%s", result["ok"], result["events"], result["sealed"])
        return result

    @rpc(expected_exceptions=USER_ERRORS)
    def rejudge_decisions(self):
        """Re-judge every past decision with today's engine on the facts known then (``confide
        audit rejudge``): {checked, mismatches: [{kind, decision_id, decided_at, patient_id,
        request_id, recorded, current, findings, unsupported}], unsealed: [{stream, version,
        recorded_at}], rejudged_at}, or {busy: True} while another check runs. Reads only.
        Auditor or privacy officer."""
        self.identity.require(*AUDIT_READERS)
        if not self.integrity.lock.acquire(blocking=False):
            return {"busy": True}
        try:
            result = integrity.run_rejudge(self.store, self.integrity.key_dir)
        finally:
            self.integrity.lock.release()
        self.integrity.last_rejudge = result
        log.info("rejudge_decisions: checked=%s mismatches=%s", result["checked"], len(result["mismatches"]))
        return result


#: The longest id or filter value accepted.
MAX_TEXT = 200


def _text(field, value, required=True):
    if value is None or value == "":
        if required:
            raise PayloadError({field: ["is required"]})
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT or "\x00" in value:
        raise PayloadError({field: [f"must be text of at most {MAX_TEXT} characters"]})
    return value


def _int(field, value):
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value))
        except ValueError:
            raise PayloadError({field: ["must be a whole number"]}) from None
    if value < 1:
        raise PayloadError({field: ["must be at least 1"]})
    return value


def _position(field, value):
    return None if value in (None, "") else _int(field, value)


def _day(field, value):
    from datetime import date, datetime, timezone

    if value in (None, ""):
        return None
    try:
        day = date.fromisoformat(str(value))
    except ValueError:
        raise PayloadError({field: ["must be a date YYYY-MM-DD"]}) from None
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def _filters(decision, rule, purpose, requester_role, patient_id, since, until):
    from datetime import timedelta

    filters = {name: _text(name, value, required=False) for name, value in (
        ("decision", decision), ("rule", rule), ("purpose", purpose), ("requester_role", requester_role),
        ("patient_id", patient_id))}
    start, end = _day("since", since), _day("until", until)
    if end is not None:
        end += timedelta(days=1)  # the until day is included
    if start and end and start >= end:
        raise PayloadError({"until": ["must not be before since"]})
    return {k: v for k, v in filters.items() if v is not None}, start, end
