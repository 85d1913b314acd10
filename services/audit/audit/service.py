"""AuditService (nameko name ``audit``): projections fed by RabbitMQ, and the outbox relay.

- ``handle_event``: consumes ``audit.events`` (a quorum queue declared at deploy
  time) and applies each event to the projections, idempotently. A failure
  requeues the message (never nameko's ack-and-drop); RabbitMQ dead-letters it
  to ``audit.events.dlq`` after ``confide.broker.DELIVERY_LIMIT`` deliveries.
- ``seal_and_relay``: every half second, extends the keyed hash chain over
  newly committed events (signed checkpoints outside the database), then
  publishes them to RabbitMQ in global order with confirms and ``mandatory``.
- RPCs for the gateway, the CLI and tests: ``access_log``, ``disclosure_log``,
  ``accounting``, ``note_history``, ``status``, and ``health``; for the web,
  ``decisions_on_my_notes`` (who has seen the notes the caller wrote) (the gateway's
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

from nameko.dependency_providers import Config
from nameko.messaging import consume
from nameko.timer import timer

from audit import queries
from audit.dependencies import AuditIdentity, Relay
from audit.replay import apply_event
from confide.broker import audit_queue
from confide.eventstore.provider import EventStore
from confide.identity.errors import NotAuthenticatedError, NotAuthorizedError
from confide.rpc import rpc

log = logging.getLogger(__name__)
HEALTH_TIMEOUT = 2  # seconds for the database to answer the health RPC's ping
#: Who may read the audit trail and the audit side's status.
AUDIT_READERS = ("auditor", "privacy_officer")
#: Who may ask who has seen the notes they wrote (their own notes only).
NOTE_AUTHORS = ("clinician", "trainee", "supervisor")
#: The most rows ``decisions_on_my_notes`` / ``my_access_log`` answer with, whatever the caller asks.
MAX_SEEN_ROWS = 1000
USER_ERRORS = (NotAuthenticatedError, NotAuthorizedError)


class AuditService:
    name = "audit"

    store = EventStore()
    relay = Relay()
    identity = AuditIdentity()
    config = Config()

    @consume(audit_queue(), requeue_on_error=True)
    def handle_event(self, body):
        """Apply one stored event (``RecordedEvent.to_message()`` shape) to the projections."""
        written = apply_event(self.store.projections, body)
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
        """Access-log rows on the notes the caller drafted, newest first ("who has seen my notes").

        The author is the verified principal (never an argument), holding clinician, trainee or
        supervisor; rows: {global_position, recorded_at, decision_id, requester_id, requester_role,
        requester_org, note_id, note_kind, purpose, action, decision, rule}.
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
        """{"database": "ok"}, or {"database": "unreachable: <error type>"} when the store's ping fails.

        Any verified Confide service (the gateway asks it with its ServiceCredential).
        Never raises for an unreachable database (the caller reports it) and never names the DSN.
        """
        self.identity.calling_service()
        try:
            self.store.ping(timeout=HEALTH_TIMEOUT)
        except Exception as exc:  # EventStoreUnavailableError, or whatever the driver raised
            return {"database": f"unreachable: {type(exc).__name__}"}
        return {"database": "ok"}
