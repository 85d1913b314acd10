"""Replicated services under load (issue 15, part 3): two replicas of notes, disclosures, audit,
gateway and web behind HAProxy, one replica of each killed with SIGKILL in turn (the audit one being
the holder of the sealer-relay lease), and the throughput of 1 against 2 replicas per service.

It runs ``bench/cluster_replicas.py`` (the same code ``make test-cluster`` prints its table from) and
reads its JSON: nothing acknowledged lost, no duplicate decision or release, no request left half-done,
no service unanswered while one of its replicas was down, every killed replica restarted, no other
instance disturbed, the lease taken over within ``TAKEOVER_LIMIT`` seconds and sealing going on,
``confide audit verify`` and ``replay`` OK, nothing dead-lettered. Not part of ``make test``: it runs
under ``make test-cluster`` (minutes of load on the machine's PostgreSQL and RabbitMQ, in a schema,
vhost and web database of its own, removed at the end).
"""
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

from cluster_replicas import REPLICATED, TAKEOVER_LIMIT  # noqa: E402


def test_replicas_killed_under_load_lose_nothing_and_the_lease_moves(tmp_path):
    out = tmp_path / "replicas.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO / p) for p in ("shared", "app", "services/notes", "services/disclosures", "services/audit",
                                 "services/gateway", "services/directory", "services/web", "bench")]
        + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
    done = subprocess.run([sys.executable, str(REPO / "bench" / "cluster_replicas.py"), "--seconds", "20",
                           "--json", str(out)], env=env, cwd=REPO, capture_output=True, text=True, timeout=1500)
    report = done.stdout + done.stderr[-6000:]
    print(done.stdout)  # the table: faults, recovery and takeover times, throughput 1 vs 2
    assert out.exists(), report
    result = json.loads(out.read_text())
    faults = result["faults"]
    assert faults["counts"] and all(v == 0 for v in faults["counts"].values()), report
    assert done.returncode == 0, report
    acknowledged = faults["acknowledged"]
    assert acknowledged["disclosure requests"] > 0 and acknowledged["reads"] > 0, report  # load did run
    assert acknowledged["notes written"] > 0, report
    killed = {f["killed"].rsplit("-", 1)[0]: f for f in faults["faults"]}
    assert set(killed) == set(REPLICATED), report
    for fault in killed.values():
        assert fault["unanswered"] is not None and fault["replica_back"] is not None, report
        assert not fault["others_restarted"], report
    audit = killed["audit"]
    assert audit["takeover"] is not None and audit["takeover"] <= TAKEOVER_LIMIT, report
    assert audit["sealing_resumed"] is not None, report
    throughput = {t["replicas"]: t for t in result["throughput"]}
    assert set(throughput) == {1, 2} and all(t["operations"] > 0 for t in throughput.values()), report
