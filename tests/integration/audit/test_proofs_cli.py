"""`confide audit prove` / `check` on a real store: inclusion, consistency, and a rewritten history."""
import json

import psycopg
import pytest
from click.testing import CliRunner

from confide import config, merkle, proofs
from confide.envelope import NewEvent
from confide.eventstore.chain import ChainSealer, load_chain_key
from confide.eventstore.store import PostgresEventStore
from confide.keys import ensure_keys, load_public_key, load_signing_key
from confide_app.audit_cli import audit


@pytest.fixture
def sealed(test_db_dsn, projector_db_dsn, auditor_dsn, scratch_schema, tmp_path):
    keys = tmp_path / "keys"
    ensure_keys(keys)
    store = PostgresEventStore(test_db_dsn, schema=scratch_schema, pool_size=2)
    # The chain is written by the audit service's own login, the only one that may.
    sealing = PostgresEventStore(projector_db_dsn, schema=scratch_schema, pool_size=2)
    sealer = ChainSealer(sealing, load_chain_key(keys), load_signing_key(keys), tmp_path / "cp")
    # `prove` reads as the auditor's read-only role; the services' role is not even reachable here.
    env = {config.AUDITOR_DSN_KEY: auditor_dsn, config.DB_DSN_KEY: "postgresql://nobody@127.0.0.1:1/none"}
    run = lambda *args: CliRunner(env=env).invoke(audit, list(args))  # noqa: E731
    yield store, sealer, keys, run
    sealing.close()
    store.close()


def append(store, n, tag):
    ids = []
    for i in range(n):
        ev = NewEvent("AccessDecided", {"i": i, "tag": tag})
        store.append(f"accessDecision-{tag}{i}", [ev], -1)
        ids.append(str(ev.event_id))
    return ids


def test_inclusion_and_consistency_proofs_check_offline(sealed, tmp_path):
    store, sealer, keys, run = sealed
    ids = append(store, 7, "a")
    sealer.seal()
    result = run("prove", "inclusion", ids[3], "--schema", store.schema, "--key-dir", str(keys),
                 "-o", str(tmp_path / "inc.json"))
    assert result.exit_code == 0, result.output
    check = run("check", str(tmp_path / "inc.json"), "--public-key", str(keys / "audit-signing.pub"))
    assert check.exit_code == 0 and "VALID" in check.output

    append(store, 5, "b")
    sealer.seal()
    result = run("prove", "consistency", "--old-head", str(tmp_path / "inc.json"), "--schema", store.schema,
                 "--key-dir", str(keys), "-o", str(tmp_path / "cons.json"))
    assert result.exit_code == 0, result.output
    bundle = json.loads((tmp_path / "cons.json").read_text())
    assert (bundle["old_tree_head"]["tree_size"], bundle["new_tree_head"]["tree_size"]) == (7, 12)
    check = run("check", str(tmp_path / "cons.json"), "--public-key", str(keys / "audit-signing.pub"))
    assert check.exit_code == 0 and "VALID" in check.output


def test_rewritten_history_fails_the_consistency_check(sealed, tmp_path):
    store, sealer, keys, run = sealed
    append(store, 6, "c")
    sealer.seal()
    run("prove", "inclusion", str(store.read_all(1, 1)[0].event_id), "--schema", store.schema,
        "--key-dir", str(keys), "-o", str(tmp_path / "old.json"))
    old_head = json.loads((tmp_path / "old.json").read_text())["tree_head"]

    # Someone with full database access rewrites event 2 (and its hash) and appends more.
    with psycopg.connect(config.with_dbname(config.admin_dsn(), "confide_test"), autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute(f'UPDATE "{store.schema}".events SET hash = sha256(\'rewritten\') WHERE global_position = 2')
    append(store, 3, "d")

    # The practice's tool refuses to prove consistency from the old head…
    result = run("prove", "consistency", "--old-head", str(tmp_path / "old.json"), "--schema", store.schema,
                 "--key-dir", str(keys))
    assert result.exit_code != 0 and "no consistency proof" in result.output
    # …and a proof forged over the rewritten log, signed with the real key, fails the offline check.
    leaves = [bytes(r[0]) for r in psycopg.connect(config.with_dbname(config.admin_dsn(), "confide_test")).execute(
        f'SELECT hash FROM "{store.schema}".events ORDER BY global_position').fetchall()]
    forged_new = proofs.make_consistency_bundle(leaves, 6, private_key=load_signing_key(keys))
    forged = {**forged_new, "old_tree_head": old_head}
    verdict = proofs.check_bundle(forged, load_public_key(keys))
    assert not verdict.ok
    assert merkle.root(leaves[:6]).hex() != old_head["root_hash"]
