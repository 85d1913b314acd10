"""Review cases (``review_cases.json``): scenarios written in the published case-file form, with
the outcome decided from the Privacy Rule text before the engine was run on them.

Each case checks the decision, ``accounting_required`` and ``minimum_necessary_applies``, and
that every citation in the case's ``rule`` is among the engine's citations (a citation given to
the paragraph, e.g. ``164.512(a)``, is met by a more specific one, ``164.512(a)(1)``).  Cases whose
``reasoning`` begins "Review:" are ones where the engine's first answer differed from the
reviewer's and the engine was judged right; the reasoning says why.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from confide.hipaa.engine import decide
from confide.hipaa.rules._ruling import citations_in

CASES = json.loads((Path(__file__).with_name("review_cases.json")).read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_review_case(case):
    outcome = decide(case).to_dict()
    assert outcome["decision"] == case["expected"], (case["description"], outcome)
    assert outcome["accounting_required"] == case["accounting_required"], outcome
    assert outcome["minimum_necessary_applies"] == case["minimum_necessary_applies"], outcome
    if case["fields_released"] is None:
        assert outcome["fields_released"] is None
    else:
        assert outcome["fields_released"], outcome
    for cite in citations_in(case["rule"]):
        assert any(c.startswith(cite) for c in outcome["citations"]), (cite, outcome["citations"])
