"""The short form of ``make chaos`` (issue 12, item 7): under load, kill -9 a service, then PostgreSQL,
then has RabbitMQ close every connection, then kill -9 RabbitMQ, on an installation of the test's own (its own PostgreSQL cluster and RabbitMQ node, on
other ports, so it may kill them), and every count must be 0.

It runs ``bench/chaos.py --short`` (the same code as ``make chaos``) and reads its JSON: nothing
acknowledged was lost, no release without a prior decision, no duplicate decision or release, every
request final within 60 s of the last fault, every service back without a human, and no service
exited during the database or broker fault (they reconnect by themselves; the supervisor is the
second line).
"""
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_chaos_short_form_counts_are_all_zero(tmp_path):
    out = tmp_path / "chaos.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO / p) for p in ("shared", "app", "services/notes", "services/disclosures", "services/audit",
                                 "services/gateway", "services/directory", "services/web", "bench")]
        + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
    done = subprocess.run([sys.executable, str(REPO / "bench" / "chaos.py"), "--short", "--json", str(out)],
                          env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    report = done.stdout + done.stderr[-6000:]
    assert out.exists(), report
    result = json.loads(out.read_text())
    assert result["counts"] and all(v == 0 for v in result["counts"].values()), report
    assert done.returncode == 0, report
    acknowledged = result["acknowledged"]
    assert acknowledged["disclosure requests"] > 0 and acknowledged["reads"] > 0, report  # load did run
    assert acknowledged["notes written"] > 0 and result["content releases"] > 0, report
    faults = {f["fault"]: f for f in result["faults"]}
    assert set(faults) == {"kill -9 disclosures", "kill -9 PostgreSQL", "RabbitMQ closes every connection",
                           "kill -9 RabbitMQ"}, report
    for fault in faults.values():
        assert fault["recovery"] is not None and not fault["not_back"] and not fault["exited"], report
    assert faults["kill -9 PostgreSQL"]["outage"] > 0 and faults["kill -9 RabbitMQ"]["outage"] > 0
