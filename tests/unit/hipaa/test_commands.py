"""``confide decide`` (click command) on a file, on stdin, and on bad input."""
from __future__ import annotations

import json

from click.testing import CliRunner

from confide.hipaa.commands import decide

CASE = {"request": {
    "requester": {"role": "external_clinician", "org": "Riverside Psychiatry", "is_health_care_provider": True},
    "purpose": "treatment", "note_kind": "progress", "action": "disclose", "patient": "P-001",
    "decision_time": "2026-05-01T15:00:00Z", "authorization": None, "exception_claimed": None}}
KEYS = ["decision", "rule", "citations", "reasons", "fields_released", "minimum_necessary_applies",
        "accounting_required"]


def test_decide_file(tmp_path):
    path = tmp_path / "case.json"
    path.write_text(json.dumps(CASE))
    result = CliRunner().invoke(decide, [str(path)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert list(out) == KEYS
    assert out["decision"] == "permit"


def test_decide_stdin_array():
    psych = json.loads(json.dumps(CASE))
    psych["request"]["note_kind"] = "psychotherapy"
    result = CliRunner().invoke(decide, ["-"], input=json.dumps([CASE, psych]))
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert [o["decision"] for o in out] == ["permit", "deny"]


def test_decide_bad_field_exits_2_naming_it():
    bad = json.loads(json.dumps(CASE))
    bad["request"]["requester"]["role"] = 5
    result = CliRunner().invoke(decide, ["-"], input=json.dumps([CASE, bad]))
    assert result.exit_code == 2
    assert "[1].request.requester.role" in result.output


def test_decide_missing_request_exits_2():
    result = CliRunner().invoke(decide, ["-"], input=json.dumps({"case": {}}))
    assert result.exit_code == 2
    assert "request" in result.output


def test_decide_not_json_exits_2():
    result = CliRunner().invoke(decide, ["-"], input="{not json")
    assert result.exit_code == 2
    assert "not valid JSON" in result.output
