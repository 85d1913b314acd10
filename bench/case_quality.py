"""How the decision engine does on decision cases written blind (never published, never tuned on before
their first score): decision match, key-citation match, and the unsafe direction (a permit where the
case expects deny or hold).

Usage: ``.venv/bin/python bench/case_quality.py [--errors]``

Sets (``tests/unit/hipaa/blind_cases.json``, field ``id`` prefix):

* ``BL-``: 125 cases written on 2026-12-04 by a privacy lawyer who had read only the case-file
  contract (``../shared/cases/README.md``) and the published examples, never the engine. Scored once
  against the engine before issue 13 (0.808 decision match, 0.608 with the key citation, 13 permits
  where deny/hold was expected, 3 errors) and once after issue 13's fail-closed, Part 2 and state
  work (0.912, 0.672, 3 unsafe permits, 0 errors). Then, looking at its errors: BL-046 (an
  expiration event whose occurrence is unknown, relied on) was a fail-closed gap and was fixed, and
  BL-083 (a life insurer's own condition taken for the practice's) a false deny, fixed. Two unsafe
  permits remain by choice: BL-050 (a serious threat recorded as imminent with the good-faith belief
  not recorded: the engine takes the recorded threat as the clinician's belief, HHS deferring to
  professional judgment) and BL-091 (a patient's own request with ``identity_verified`` absent,
  which the published EX-12 permits; the published case wins). From then on the set is *tuned on*:
  its figure is no longer evidence about unseen cases.

Disagreements that remain are interpretation (a court order whose coverage is not on file: the
engine holds, the writer denies; California Civil Code 56.104 on a health plan's payment request:
the engine holds for the written request, the writer did not apply it) and are listed by ``--errors``.
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

from confide.hipaa.engine import decide
from confide.hipaa.rules._ruling import citations_in

DATA = Path(__file__).resolve().parents[1] / "tests" / "unit" / "hipaa" / "blind_cases.json"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--errors", action="store_true", help="list the cases decided otherwise")
    args = ap.parse_args(argv)
    cases = json.loads(DATA.read_text(encoding="utf-8"))
    n = ok = ok_cite = errors = unsafe = 0
    by, by_ok = collections.Counter(), collections.Counter()
    wrong = []
    for case in cases:
        n += 1
        by[case["expected"]] += 1
        try:
            out = decide(case["request"]).to_dict()
        except ValueError as exc:  # CaseFileError: the engine refused the case file
            errors += 1
            out = {"decision": f"refused ({exc})", "citations": [], "rule": ""}
        if out["decision"] == case["expected"]:
            ok += 1
            by_ok[case["expected"]] += 1
            cites = citations_in(case["rule"])
            ok_cite += bool(cites and cites[0] in out["citations"])
        else:
            wrong.append((case, out))
        unsafe += str(out["decision"]).startswith("permit") and case["expected"] in ("deny", "hold")
    print(f"blind cases: {n}; decision match {ok}/{n} = {ok / n:.3f}; with the key citation "
          f"{ok_cite}/{n} = {ok_cite / n:.3f}; refused {errors}; permits where deny/hold expected {unsafe}")
    print("per expected decision: " + ", ".join(f"{k} {by_ok[k]}/{v}" for k, v in sorted(by.items())))
    if args.errors:
        for case, out in wrong:
            print(f"{case['id']}: expected {case['expected']}, got {out['decision']} -- {case['description']}")
            print(f"    expected rule: {case['rule']}\n    engine rule:   {out['rule']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
