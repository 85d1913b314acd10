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


def _with(path: str, value) -> dict:
    case = json.loads(json.dumps(CASE))
    case["request"]["authorization"] = None
    target = case["request"]
    *parents, last = path.split(".")
    for key in parents:
        target = target.setdefault(key, {})
    target[last] = value
    return case


OUT_OF_RANGE = [
    ("request.decision_time", "decision_time", "9999-12-31T23:59:59-01:00"),
    ("request.decision_time", "decision_time", "0001-01-01T00:00:00+01:00"),
]


def test_decide_out_of_range_instant_exits_2_naming_the_field():
    """An RFC 3339 instant whose UTC value is outside the representable range (year 1..9999) is
    malformed input: exit 2 with the field named, not an OverflowError traceback."""
    for field, path, value in OUT_OF_RANGE:
        result = CliRunner().invoke(decide, ["-"], input=json.dumps(_with(path, value)))
        assert result.exit_code == 2, result.output
        assert f"{field}: date-time out of range" in result.output
    auth_case = _with("authorization", {"revoked": True, "expiration_date": "9999-12-31T23:59:59-01:00"})
    result = CliRunner().invoke(decide, ["-"], input=json.dumps(auth_case))
    assert result.exit_code == 2 and "request.authorization.expiration_date" in result.output
    auth_case = _with("authorization", {"revocation": {"in_writing": True,
                                                       "received_at": "0001-01-01T00:00:00+05:00"}})
    result = CliRunner().invoke(decide, ["-"], input=json.dumps(auth_case))
    assert result.exit_code == 2 and "request.authorization.revocation.received_at" in result.output


def test_decide_deeply_nested_input_exits_2():
    """JSON nested beyond the parser's recursion limit is refused cleanly (exit 2)."""
    result = CliRunner().invoke(decide, ["-"], input="[" * 100_000 + "]" * 100_000)
    assert result.exit_code == 2
    assert "nested too deeply" in result.output
    assert "Traceback" not in result.output
