"""`confide demo` end to end: the four services in-process on a per-test vhost and a throw-away schema.

The demo verifies the WHOLE log, so the services and the demo share a scratch
schema (other tests' events never reach it). It runs through click's CliRunner
on three patients; the gateway listens on a free port. The directory service runs
too: the demo sets up the people it acts as there (its practice admin, clinicians,
auditor, patients and payers), with the installation's keys made first.
"""
import re

import pytest
from click.testing import CliRunner
from nameko.testing.utils import find_free_port

from audit.service import AuditService
from confide import config
from confide.keys import ensure_keys
from confide_app.demo import demo
from directory.service import DirectoryService
from disclosures.service import DisclosuresService
from gateway.service import GatewayService
from notes.service import NotesService

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(runner_factory, service_config, scratch_schema, test_db_dsn, web_db_dsn, tmp_path, monkeypatch):
    port = find_free_port()
    checkpoints = tmp_path / "checkpoints"
    cfg = {**service_config, "DB_SCHEMA": scratch_schema, "CHECKPOINT_DIR": str(checkpoints),
           "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}"}
    ensure_keys(cfg["KEY_DIR"])  # `confide keys init`: every key before any service reads the ones it trusts
    runner = runner_factory(cfg, DirectoryService, NotesService, DisclosuresService, AuditService, GatewayService)
    runner.start()
    env = {config.GATEWAY_URL_KEY: f"http://127.0.0.1:{port}", config.AMQP_URI_KEY: cfg["AMQP_URI"],
           config.DB_DSN_KEY: test_db_dsn, config.DB_SCHEMA_KEY: scratch_schema,
           config.KEY_DIR_KEY: cfg["KEY_DIR"], config.CHECKPOINT_DIR_KEY: str(checkpoints)}
    # The demo's accounts (step 7): links from the web front door's test database.
    env.update({"CONFIDE_WEB_DB_DSN": web_db_dsn, "CONFIDE_WEB_SECRET_KEY": "demo-test-only"})
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return cfg


def _row(output: str, label: str) -> str:
    line = next((ln for ln in output.splitlines() if ln.startswith("│") and label in ln), None)
    assert line is not None, f"no '{label}' row in:\n{output}"
    return line


def test_demo_imports_requests_and_verifies(stack):
    result = CliRunner().invoke(demo, ["--limit-patients", "3", "--timeout", "60"], catch_exceptions=False,
                                terminal_width=200)
    out = result.output
    assert result.exit_code == 0, out
    assert "patients imported" in _row(out, "patients imported") and re.search(r"│\s*3\s*│", _row(out, "patients imported"))
    progress = int(re.search(r"(\d+)", _row(out, "progress notes (signed)").split("│")[2]).group(1))
    psycho = int(re.search(r"(\d+)", _row(out, "psychotherapy notes (signed)").split("│")[2]).group(1))
    assert progress >= 6 and psycho >= 1
    assert "author: permit" in out and "other clinician: deny" in out
    permitted, denied = map(int, re.search(r"(\d+) / (\d+)", _row(out, "requests permitted / denied")).groups())
    assert permitted + denied == 12 and denied >= 1 and "undecided" not in _row(out, "requests permitted / denied")
    assert "164.508(a)(2)" in _row(out, "psychotherapy request") and "deny" in _row(out, "psychotherapy request")
    assert "OK" in _row(out, "audit verify")
    assert "match" in _row(out, "audit replay") and "DIFFERS" not in out
    # the demo prints no note text
    from confide_app.synthea import PROCESS_NOTE_TEMPLATES

    assert not any(t[:40] in out for t in PROCESS_NOTE_TEMPLATES)


def test_demo_without_a_stack_says_how_to_start_it(monkeypatch):
    monkeypatch.setenv(config.GATEWAY_URL_KEY, f"http://127.0.0.1:{find_free_port()}")
    result = CliRunner().invoke(demo, [])
    assert result.exit_code == 1
    assert "make run" in result.output and "not running" in result.output
