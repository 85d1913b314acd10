"""What recording one disclosure request's events costs: one transaction per stream against one
multi-stream append (issue 14, step 2), isolated from the services.

Usage::

    .venv/bin/python bench/multi_append_bench.py                 # 3 rounds of 300 requests per shape
    .venv/bin/python bench/multi_append_bench.py --rounds 5 --requests 500

Per "request" it records what the disclosures service records before a release, with events of
the real ones' size: ``DisclosureRequested`` + ``DisclosureDecided`` on ``disclosureRequest-<id>``
and ``AccessDecided`` on ``accessDecision-<id>``, either

* **separately**: three ``append`` calls, three transactions (the service before step 2), or
* **multi**: one ``multi_stream_append`` (both request events in one batch, one transaction),

then ``DisclosureReleased`` by a plain ``append`` in both. The two shapes alternate in rounds
(noise from other load falls on both), in a throw-away schema of ``confide_test``. Measured per
request: the client's CPU (``time.process_time``), the CPU of the ONE PostgreSQL backend the store's
one pooled connection uses (``/proc/<pid>/stat``), wall time, and statements and commits. Medians
over rounds are printed with the ratio multi / separately.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid

import harness
from confide.envelope import NewEvent, StreamAppend
from confide.eventstore.store import PostgresEventStore

TICK = os.sysconf("SC_CLK_TCK")


def backend_cpu(pid: int) -> float:
    """Seconds of CPU (user + system) the PostgreSQL backend ``pid`` has used."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def request_events(i: int) -> tuple[list[NewEvent], list[NewEvent], list[NewEvent]]:
    """(request events, access decision, release) of about the real events' sizes."""
    requester = {"id": "Acme Health Plan", "role": "insurer_health_plan", "org": "Acme Health Plan",
                 "identity_verified": True, "is_workforce": False}
    fields = ["patient_id", "date_of_service", "session_start", "session_stop", "cpt_code_or_modality",
              "frequency", "diagnosis_codes", "symptoms_summary", "functional_status", "treatment_plan_summary",
              "progress_to_date", "rendering_clinician_and_credentials", "signature"]
    decision = {"decision_id": str(uuid.uuid4()), "decision": "permit_minimum_necessary",
                "rule": "45 CFR 164.506(c)(1); 45 CFR 164.502(b)", "citations": ["45 CFR 164.506(c)(1)"],
                "reasons": ["payment by the patient's health plan", "minimum necessary applies"] * 2,
                "fields_released": fields, "note_ids": [str(uuid.uuid4()) for _ in range(3)],
                "seal": "x" * 64, "decided_at": "2026-03-01T10:00:00.000000Z"}
    requested = {"request_id": str(i), "requester": requester, "patient_id": f"P-{i:06d}", "purpose": "payment",
                 "action": "disclose", "note_kind": "progress", "received_at": "2026-03-01T10:00:00.000000Z",
                 "date_from": "2026-01-01", "date_to": "2026-03-31", "facts": {}, "channel": {},
                 "received_from": {"subject": "Acme Health Plan", "amr": ["swk"]}}
    seal = {"seal": "s" * 88}
    return ([NewEvent("DisclosureRequested", requested, seal), NewEvent("DisclosureDecided", decision, seal)],
            [NewEvent("AccessDecided", {**decision, "requester": requester, "purpose": "payment"})],
            [NewEvent("DisclosureReleased", {"decision_id": decision["decision_id"], "note_ids":
                                             decision["note_ids"], "fields_released": fields}, seal)])


def run(store: PostgresEventStore, pid: int, shape: str, n: int) -> dict:
    work = [(f"disclosureRequest-{uuid.uuid4()}", f"accessDecision-{uuid.uuid4()}", request_events(i))
            for i in range(n)]
    cpu0, pg0, wall0 = time.process_time(), backend_cpu(pid), time.perf_counter()
    for request, access, (req_events, access_events, released) in work:
        if shape == "separately":
            store.append(request, req_events[:1], -1)
            store.append(request, req_events[1:], 0)
            store.append(access, access_events, -1)
        else:
            store.multi_stream_append([StreamAppend(request, req_events, -1), StreamAppend(access, access_events, -1)])
        store.append(request, released, 1)
    wall, cpu, pg = time.perf_counter() - wall0, time.process_time() - cpu0, backend_cpu(pid) - pg0
    return {"client_ms": cpu * 1000 / n, "postgres_ms": pg * 1000 / n, "wall_ms": wall * 1000 / n}


SHAPES = {  # statements to PostgreSQL, write transactions (commits) and round trips per request, by construction
    "separately": "4 append_events, 4 commits, 4 round trips",
    "multi": "BEGIN + 3 append_events (one pipeline) + COMMIT, then 1 append_events: 2 commits, 3 round trips",
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=300, help="requests per shape per round")
    args = ap.parse_args()
    with harness.Scratch("bench") as scratch:
        store = PostgresEventStore(scratch.app_dsn, schema=scratch.schema(), pool_size=1, min_size=1)
        try:
            with store._connection() as conn:
                pid = conn.info.backend_pid
            run(store, pid, "separately", 50)  # warm-up: prepared statements, caches
            run(store, pid, "multi", 50)
            results: dict[str, list[dict]] = {shape: [] for shape in SHAPES}
            for r in range(args.rounds):
                for shape in (SHAPES if r % 2 == 0 else reversed(list(SHAPES))):
                    results[shape].append(run(store, pid, shape, args.requests))
                    print(f"round {r + 1} {shape:10s} " + "  ".join(
                        f"{k} {v:.3f}" for k, v in results[shape][-1].items()))
            print(f"\nmedians over {args.rounds} rounds of {args.requests} requests (ms per request):")
            med = {s: {k: statistics.median(x[k] for x in rs) for k in rs[0]} for s, rs in results.items()}
            for shape, what in SHAPES.items():
                print(f"  {shape:10s} client {med[shape]['client_ms']:.3f}  postgres backend "
                      f"{med[shape]['postgres_ms']:.3f}  wall {med[shape]['wall_ms']:.3f}   ({what})")
            for k in ("client_ms", "postgres_ms", "wall_ms"):
                a, b = med["multi"][k], med["separately"][k]
                print(f"  multi / separately, {k}: {a / b:.2f} ({a - b:+.3f} ms)")
        finally:
            store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
