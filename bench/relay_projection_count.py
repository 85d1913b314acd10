"""Database work per relayed event on the audit side: relay pass + consumer, with and without the
relay applying each page's projections (docs/performance.md, step 4).

Usage::

    .venv/bin/python bench/relay_projection_count.py [--events 500] [--per-pass 50] [--repeat 3]

In a throw-away schema and vhost (``relaycount_<random>``, dropped at the end): ``--per-pass``
synthetic events at a time (an access decision, a disclosure request's steps, a note version: the
event mix of one insurer disclosure request) are appended, then one relay pass (``OutboxRelay``,
as the projector's login) publishes them to ``audit.events`` and the audit consumer
(``AuditService.handle_event``, nameko's worker_factory) takes each one back from the queue. Mode
``consumer`` is the design before this change (the relay only publishes; the consumer applies every
event in its own transaction); mode ``relay`` applies each page in the relay (``PageProjector``)
and the consumer skips what is under the watermark. Counted on the client, per event: database
transactions (``transaction()`` blocks plus statements run outside one, each its own), statements
(each ``execute``, each row of an ``executemany``, BEGIN/COMMIT of a block), and the Python CPU
(``time.process_time``) of relay + consumer. The modes alternate, ``--repeat`` times; medians.
"""
from __future__ import annotations

import argparse
import statistics
import time
import uuid
from contextlib import contextmanager

import psycopg
from nameko.testing.services import worker_factory

import harness
from audit.dependencies import PageProjector
from audit.service import AuditService
from confide.broker import ConfirmingPublisher, audit_queue, declare_topology
from confide.envelope import NewEvent
from confide.eventstore.store import PostgresEventStore
from confide.relay import OutboxRelay
from confide.testing.audit_feed import drain


class Counter:
    """Client-side counts of transactions and statements on every psycopg connection of this process."""

    def __init__(self):
        self.transactions = self.statements = 0
        self.depth = 0
        self.on = False

    def install(self):
        counter = self
        real_tx, real_exec, real_many = psycopg.Connection.transaction, psycopg.Cursor.execute, psycopg.Cursor.executemany

        @contextmanager
        def transaction(conn, *a, **kw):
            if counter.on and counter.depth == 0 and conn.autocommit:
                counter.transactions += 1
                counter.statements += 2  # BEGIN, COMMIT/ROLLBACK
            counter.depth += 1
            try:
                with real_tx(conn, *a, **kw) as tx:
                    yield tx
            finally:
                counter.depth -= 1

        def execute(cur, *a, **kw):
            if counter.on:
                counter.statements += 1
                if counter.depth == 0 and cur.connection.autocommit:
                    counter.transactions += 1
            return real_exec(cur, *a, **kw)

        def executemany(cur, query, params_seq, *a, **kw):
            params_seq = list(params_seq)
            if counter.on:
                counter.statements += len(params_seq)
                if counter.depth == 0 and cur.connection.autocommit:
                    counter.transactions += 1
            return real_many(cur, query, params_seq, *a, **kw)

        psycopg.Connection.transaction = transaction
        psycopg.Cursor.execute = execute
        psycopg.Cursor.executemany = executemany


def request_events(tag: str, i: int) -> list[tuple[str, NewEvent]]:
    """The five events of one synthetic insurer disclosure request (no person, no content)."""
    request_id, decision_id, note_id = (str(uuid.uuid4()) for _ in range(3))
    patient = f"P-{tag}-{i % 7}"
    requester = {"id": "I-bench", "role": "insurer", "org": "Bench payer"}
    stream = f"disclosureRequest-{request_id}"
    return [
        (stream, NewEvent("DisclosureRequested", {"request_id": request_id, "patient_id": patient,
                                                  "requester": requester, "purpose": "payment",
                                                  "note_kind": "progress"})),
        (stream, NewEvent("DisclosureDecided", {"request_id": request_id, "patient_id": patient,
                                                "decision": "permit", "rule": "45 CFR 164.506(c)"})),
        (f"accessDecision-{decision_id}", NewEvent("AccessDecided", {
            "decision_id": decision_id, "requester": requester, "patient_id": patient, "note_id": note_id,
            "note_kind": "progress", "purpose": "payment", "action": "disclose", "decision": "permit",
            "rule": "45 CFR 164.506(c)", "request_id": request_id})),
        (f"accessDecision-{decision_id}", NewEvent("ContentReleased", {"decision_id": decision_id})),
        (stream, NewEvent("DisclosureReleased", {"request_id": request_id, "patient_id": patient,
                                                 "fields_released": ["date"]})),
    ]


def drain_all(amqp_uri: str, n: int, timeout: float = 30) -> list[dict]:
    bodies = drain(amqp_uri, audit_queue(), n, timeout)
    if len(bodies) != n:
        raise RuntimeError(f"expected {n} messages, got {len(bodies)}")
    return bodies


def run(mode: str, scratch, amqp_uri: str, events: int, per_pass: int, counter: Counter, tag: str) -> dict:
    app = PostgresEventStore(scratch.app_dsn, schema=scratch.schema_name, pool_size=2)
    projector = PostgresEventStore(scratch.projector_dsn, schema=scratch.schema_name, pool_size=3)
    publisher = ConfirmingPublisher(amqp_uri)
    pages = PageProjector(projector.projections) if mode == "relay" else None
    relay = OutboxRelay(projector, publisher, before_publish=pages)
    relay_dep = type("RelayStub", (), {"projected": staticmethod(pages.applied if pages else (lambda p: False))})()
    service = worker_factory(AuditService, relay=relay_dep, projections=projector.projections)
    relay.relay()  # start from the head (the other mode's events are already relayed)
    drain_all(amqp_uri, 0)
    totals = {"events": 0, "transactions": 0, "statements": 0, "cpu_s": 0.0}
    try:
        for start in range(0, events, per_pass):
            batch = [e for i in range(start // 5, (start + per_pass) // 5) for e in request_events(tag, i)]
            for stream, ev in batch:
                app.append(stream, [ev])
            counter.transactions = counter.statements = 0
            counter.on = True
            cpu = time.process_time()
            published = relay.relay()
            counter.on = False
            bodies = drain_all(amqp_uri, published)
            counter.on = True
            for body in bodies:
                service.handle_event(body)
            totals["cpu_s"] += time.process_time() - cpu
            counter.on = False
            totals["events"] += published
            totals["transactions"] += counter.transactions
            totals["statements"] += counter.statements
    finally:
        counter.on = False
        publisher.close()
        projector.close()
        app.close()
    return totals


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=500)
    ap.add_argument("--per-pass", type=int, default=50, help="events appended per relay pass (multiple of 5)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    counter = Counter()
    counter.install()
    with harness.Scratch("relaycount") as scratch:
        scratch.schema_name = scratch.schema()
        amqp_uri = scratch.vhost()
        declare_topology(amqp_uri)
        results: dict[str, list[dict]] = {"consumer": [], "relay": []}
        for r in range(args.repeat):
            for mode in ("consumer", "relay"):
                results[mode].append(run(mode, scratch, amqp_uri, args.events, args.per_pass, counter,
                                         f"{scratch.tag}{r}{mode[0]}"))
        print(f"{args.events} events per run in passes of {args.per_pass}, {args.repeat} runs per mode "
              "(medians; relay pass + consumer, audit side only, sealing not included)")
        print(f"{'mode':<10} {'tx/event':>9} {'stmts/event':>12} {'CPU ms/event':>13}")
        for mode, runs in results.items():
            per = [{k: v / t['events'] for k, v in t.items() if k != 'events'} for t in runs]
            tx = statistics.median(p["transactions"] for p in per)
            st = statistics.median(p["statements"] for p in per)
            cpu = statistics.median(p["cpu_s"] for p in per) * 1000
            print(f"{mode:<10} {tx:>9.3f} {st:>12.3f} {cpu:>13.3f}   runs cpu ms/event: "
                  + ", ".join(f"{p['cpu_s'] * 1000:.3f}" for p in per))


if __name__ == "__main__":
    main()
