"""Fixtures for the HIPAA engine tests: a request builder and an authorization template.

Tables in the test modules describe a case as overrides of :data:`BASE_REQUEST`; an
``authorization`` override of the form ``{"$template": "psych" | "progress", **changes}`` expands
to a complete, valid authorization with ``changes`` applied.
"""
from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest

from confide.hipaa.engine import decide

BASE_REQUEST = {
    "requester": {"role": "insurer_health_plan", "org": "Acme Health Plan", "is_covered_entity": True},
    "purpose": "payment",
    "note_kind": "progress",
    "action": "disclose",
    "patient": "P-001",
    "decision_time": "2026-05-01T15:00:00Z",
    "authorization": None,
    "exception_claimed": None,
}

AUTH_TEMPLATE = {
    "id": "AUTH-1",
    "patient": "P-001",
    "covers": ["psychotherapy_notes"],
    "description": "Psychotherapy notes of sessions 2026-01-05 to 2026-03-30 by Dr. A",
    "authorized_discloser": "Northside Counseling Group (Dr. A)",
    "recipients": ["Acme Health Plan"],
    "purposes": ["at the request of the individual"],
    "signed_by": "patient",
    "signer_role": "individual",
    "rep_authority_described": None,
    "signed_date": "2026-04-01",
    "expiration_date": "2026-12-31",
    "expiration_event": None,
    "expiration_event_occurred": None,
    "revoked": False,
    "revocation": None,
    "compound": False,
    "combined_with": [],
    "conditioned_on": None,
    "statements_present": {"right_to_revoke": True, "conditioning": True, "redisclosure": True},
    "plain_language": True,
}


def authorization(template: str = "psych", **changes) -> dict:
    auth = copy.deepcopy(AUTH_TEMPLATE)
    if template == "progress":
        auth["covers"] = ["progress_notes"]
        auth["description"] = "Progress notes 2026-01-05 to 2026-03-30"
    auth.update(changes)
    return auth


def build_request(overrides: dict) -> dict:
    req = copy.deepcopy(BASE_REQUEST)
    for key, value in copy.deepcopy(overrides).items():
        if key == "authorization" and isinstance(value, dict) and "$template" in value:
            value = authorization(value.pop("$template"), **value)
        req[key] = value
    return req


@pytest.fixture
def build():
    """``build(overrides) -> request dict``."""
    return build_request


@pytest.fixture
def run():
    """``run(overrides) -> outcome dict`` (decide on a case file built from overrides)."""
    return lambda overrides: decide({"request": build_request(overrides)}).to_dict()


@pytest.fixture
def auth():
    """``auth(template="psych", **changes) -> authorization dict``."""
    return authorization


def check(outcome: dict, expected: dict) -> None:
    """Assert the expected subset; ``cites`` is a citation that must appear in ``citations``."""
    for key, value in expected.items():
        if key == "cites":
            for cite in ([value] if isinstance(value, str) else value):
                assert any(cite in c for c in outcome["citations"]), (cite, outcome)
        elif key == "reason":
            assert any(value in r for r in outcome["reasons"]), (value, outcome["reasons"])
        else:
            assert outcome[key] == value, (key, outcome)


@pytest.fixture
def expect():
    """``expect(outcome, expected_subset)``."""
    return check


def cases_dir() -> Path:
    """``CONFIDE_CASES_DIR`` or ``<repo>/../shared/cases``."""
    env = os.environ.get("CONFIDE_CASES_DIR")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[3]
    return repo.parent / "shared" / "cases"


@pytest.fixture
def cases_path() -> Path:
    return cases_dir()
