"""Every published decision case (shared/cases/examples.json) as a test of the engine.

The file is read from ``CONFIDE_CASES_DIR`` (default ``<repo>/../shared/cases``), never copied.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from confide.hipaa.engine import decide
from confide.hipaa.rules._ruling import citations_in


def _cases_dir() -> Path:
    env = os.environ.get("CONFIDE_CASES_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3].parent / "shared" / "cases"


def _examples() -> list[dict]:
    path = _cases_dir() / "examples.json"
    if not path.exists():
        return []
    return json.loads(path.read_text(encoding="utf-8"))


EXAMPLES = _examples()


def test_published_examples_are_present():
    assert EXAMPLES, f"no published cases at {_cases_dir() / 'examples.json'} (set CONFIDE_CASES_DIR)"


@pytest.mark.parametrize("example", EXAMPLES, ids=[e["id"] for e in EXAMPLES])
def test_published_example(example):
    outcome = decide(example).to_dict()
    assert outcome["decision"] == example["expected"]
    assert outcome["fields_released"] == example["fields_released"]
    assert outcome["accounting_required"] == example["accounting_required"]
    assert outcome["minimum_necessary_applies"] == example["minimum_necessary_applies"]
    expected_cites = citations_in(example["rule"])
    assert expected_cites, example["rule"]
    # the key (first) citation of the published rule is cited -- and in fact all of them are
    assert expected_cites[0] in outcome["citations"], (expected_cites[0], outcome["citations"])
    for cite in expected_cites:
        assert cite in outcome["citations"], (cite, outcome["citations"])
    assert re.match(r"\d+ CFR ", outcome["rule"])


@pytest.mark.parametrize("example", EXAMPLES, ids=[e["id"] for e in EXAMPLES])
def test_published_example_bare_request_gives_same_outcome(example):
    assert decide(example["request"]) == decide(example)
