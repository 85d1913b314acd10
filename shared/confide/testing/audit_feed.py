"""Synthetic access decisions and reading a queue of the audit feed, for the audit tests and benches."""
from __future__ import annotations

import time
import uuid

from confide.envelope import NewEvent


def access_decided(patient: str = "P-1", decision: str = "deny") -> tuple[str, NewEvent]:
    """(stream name, an AccessDecided event): a clinician's treatment read of a psychotherapy note,
    decided under 45 CFR 164.508(a)(2); synthetic ids, no note text."""
    decision_id = str(uuid.uuid4())
    return f"accessDecision-{decision_id}", NewEvent("AccessDecided", {
        "decision_id": decision_id, "requester": {"id": "C-B", "role": "clinician_same_practice", "org": "North"},
        "patient_id": patient, "note_id": "n-1", "note_kind": "psychotherapy", "purpose": "treatment",
        "action": "use", "decision": decision, "rule": "45 CFR 164.508(a)(2)"})


def drain(amqp_uri: str, queue, n: int, timeout: float = 10) -> list:
    """Up to ``n`` message payloads from ``queue`` (a name or a kombu Queue; acked), waiting at most
    ``timeout`` seconds in all."""
    from kombu import Connection

    bodies: list = []
    with Connection(amqp_uri) as conn:
        q = conn.SimpleQueue(queue)
        deadline = time.time() + timeout
        while len(bodies) < n and time.time() < deadline:
            try:
                msg = q.get(timeout=0.5)
            except q.Empty:
                continue
            bodies.append(msg.payload)
            msg.ack()
        q.close()
    return bodies
