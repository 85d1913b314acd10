"""Results of clinical tests (45 CFR 164.501: excluded from psychotherapy notes).

45 CFR 164.501 excludes "results of clinical tests" from the definition of psychotherapy notes.
The rules below recognise a screening or rating scale (every common spelling and full name, see
``data/clinical_scales.txt``) with a score or a result word ("PHQ-9 = 14", "GAD-7 score of 11",
"C-SSRS screen negative"), a score change verb ("dropped to", "came in at"), a score on a scale
("24/30 on the MoCA"), sub-scores and T-scores ("hyperactivity T-score 71"), and laboratory
results ("UDS positive for THC", "TSH 2.1", "labs came back normal"), including a drug's serum
level ("Lithium level 0.8 mEq/L", "Valproate level subtherapeutic at 38", "VPA level 72"); a
level ordered but not yet resulted ("Li level pending") is medication monitoring.

Judgement calls: a scale's name is a test, not a diagnosis ("GAD 7"); a score change right after
a score ("PHQ-9 12, down from 18") stays with the test result rather than being reported as
progress (see :mod:`confide.hipaa.lint.progress`).  Inside quoted speech a finding is kept when
it carries a number (a score).

Context (whose, real or imagined, when; the note section) is read by medSpaCy's ConText and
sectionizer (:mod:`confide.hipaa.lint.context`); :data:`CONTEXT_VETO` names the contexts that
make a candidate of this category session content.
"""

from __future__ import annotations

import re

from ._regex import DASH, NUM
from .lexicons import DRUG, LAB, LAB_TERMS, SCALE, SCALE_TERMS
from .rule import Rule, longest_tokens, section_rule, tokens

CATEGORY = "clinical_test_results"
#: Contexts (ConText, :mod:`confide.hipaa.lint.context`) in which a score is not the client's
#: test result: someone else's ("his son's GAD-7 came back high"), imagined, from the client's
#: past life ("an IQ test as a kid"), or read about.
CONTEXT_VETO = frozenset({"FAMILY", "OTHER_PERSON", "IMAGINED", "BIOGRAPHICAL", "INFORMATION"})

_DIGIT = re.compile(r"\d")


def carries_a_number(text: str, start: int, end: int) -> bool:
    """Quote policy: the patient's words are still reported if they carry a score."""
    return bool(_DIGIT.search(text, start, end))


def _rule(name: str, pattern: str | tuple[str, ...], gate) -> Rule:
    return Rule(f"clinical_tests.{name}", CATEGORY, pattern, gate, None, window=120,
                keep_quoted=carries_a_number)


_RESULTWORD = (
    r"(?:positive|negative|neg|pos|elevated|normal|abnormal|wnl|within normal limits|"
    r"unremarkable|low|high|borderline|clinically significant|above cutoff|below cutoff|"
    r"minimal|mild|moderate|moderately severe|severe|mod-severe|subclinical|subthreshold)"
)
_SCORE = rf"{NUM}(?:\s*/\s*\d+)?"
_LEVEL_WORD = (r"therapeutic|subtherapeutic|sub-therapeutic|supratherapeutic|supra-therapeutic|toxic|wnl|normal|"
               r"high|low|elevated|within\s+(?:normal\s+|therapeutic\s+)?range|in\s+range|undetectable|detectable")
_LEVEL_UNIT = r"(?:meq/l|mmol/l|mcg/ml|\u00b5g/ml|ug/ml|ng/ml|mg/l|mg/dl)"

_SCALE_T = longest_tokens(SCALE_TERMS)
_LAB_T = longest_tokens(LAB_TERMS)

# A labs or scores section holds a number or a result word.
_RESULT_BODY = re.compile(rf"\d|\b{_RESULTWORD}\b|\bpending\b", re.IGNORECASE)

RULES: tuple[Rule, ...] = (
    # the body of a labs, scores or testing section
    section_rule("clinical_tests", CATEGORY, lambda body: bool(_RESULT_BODY.search(body)), tight=True),
    # "PHQ-9 = 14", "GAD-7 score of 11", "AUDIT-C positive"
    _rule("scale_with_score_or_result",
          rf"{SCALE}(?:\s*(?:total|score[sd]?|score\s+of|screen(?:ing)?|result|=|:|was|is|of|today|now|at|today's|this\s+week|{DASH}))*\s*(?:{_SCORE}|{_RESULTWORD}\b(?:\s+(?:screen|for\s+\w+))?)",
          _SCALE_T),
    # "scored 22 on the BDI"
    _rule("scored_on_scale", rf"\bscored?\s+{_SCORE}\s+on\s+(?:the\s+)?{SCALE}", _SCALE_T),
    # "PCL-5 showed a 12-point drop"
    _rule("scale_showed_change",
          rf"{SCALE}\s+(?:showed|shows|indicated|indicates|reflected|reflects|revealed|suggests|suggested)\s+(?:an?\s+)?(?:\d+[- ]point\s+)?(?:drop|decrease|increase|rise|reduction|improvement|change|elevation|{_RESULTWORD})\b",
          _SCALE_T),
    # "labs: TSH, CBC normal", "QTc 440 ms"
    _rule("lab_with_value_or_result",
          rf"(?:\blabs?\s*:\s*)?{LAB}(?:\s*(?:,|and|&|/)\s*{LAB})*\s*(?:=|:|was|were|is|are|came\s+back|results?)?\s*(?:{_RESULTWORD}\b(?:\s+for\s+[\w-]+)?|{NUM}(?:\s*(?:ms|ng/ml|mg/dl|%))?)",
          _LAB_T),
    # a scale with a change verb and a score: "PHQ-9 dropped to 8", "GAD7 came in at 9", "BDI today: 22"
    _rule("scale_changed_to_score",
          rf"{SCALE}(?:\s*[;:,]?\s*(?:total|score[sd]?|today|this\s+week|now|administered|repeated|readministered|at\s+intake|re-?administered|results?))*"
          rf"\s*(?:has\s+|had\s+)?(?:dropped|fell|fallen|decreased|declined|went\s+down|came\s+down|rose|risen|increased|climbed|went\s+up|jumped|improved|worsened|came\s+in|came\s+back|went|was|were|is|of|at|=|:|down|up|{DASH})?"
          rf"\s*(?:to|at|from\s+{_SCORE}(?:\s+at\s+(?:intake|baseline|admission))?\s+to)?\s*{_SCORE}(?!\.?\d)(?:\s*\(\s*[\w -]{{1,20}}\))?",
          _SCALE_T),
    # "24/30 on the MoCA", "got 18 on the PCL-5"
    _rule("score_on_scale",
          rf"\b(?:scored\s+|score\s+of\s+|got\s+(?:an?\s+)?|obtained\s+(?:an?\s+)?)?{NUM}\s*(?:/\s*\d+|out\s+of\s+\d+)?\s+on\s+(?:the\s+|her\s+|his\s+)?{SCALE}",
          _SCALE_T),
    # "C-SSRS screen negative", "MDQ positive"
    _rule("scale_positive_or_negative",
          rf"{SCALE}\s*(?:screen(?:ing)?|result|today|was|is|:)?\s*(?:neg(?:ative)?|pos(?:itive)?|elevated|wnl)\b",
          _SCALE_T),
    # "UDS (+) for THC", "UDS positive for cocaine, neg otherwise"
    _rule("lab_positive_for",
          rf"{LAB}(?:\s+(?:today|this\s+week|on\s+admission))?\s*(?:\(\s*[+-]\s*\)|\+|\bpos(?:itive)?\b)\s*(?:for\s+[\w-]+(?:\s+and\s+[\w-]+)?)?(?:\s*,\s*neg(?:ative)?\s+(?:otherwise|for\s+[\w-]+))?",
          _LAB_T),
    # "tox screen came back clean"
    _rule("lab_came_back",
          rf"{LAB}\s+(?:came\s+back|returned|was|were|is)\s+(?:{_RESULTWORD}|neg(?:ative)?|pos(?:itive)?|clean|wnl)\b",
          _LAB_T),
    # a sub-score or rater's score after the scale: "Vanderbilt scores from teacher: inattention 8/9"
    _rule("scale_subscore",
          rf"{SCALE}(?:\s+[\w'-]+){{0,3}}?\s+(?:scores?|ratings?|subscales?|results?)\s*(?:from\s+(?:the\s+)?\w+\s*)?[:=]?\s*"
          rf"(?:[\w-]+\s+){{0,2}}?\d+(?:\.\d+)?(?:\s*/\s*\d+)?(?:\s+items?\s+(?:positive|endorsed|elevated))?",
          _SCALE_T),
    # a drug's serum level with its value or result: "Lithium level 0.8 mEq/L", "Valproate level
    # subtherapeutic at 38", "VPA level 72" (a level ordered but not resulted is medication monitoring)
    _rule("drug_level_result",
          rf"(?:\bserum\s+)?(?:{DRUG}|(?-i:\bLi\b|\bVPA\b))\s+(?:serum\s+)?(?:levels?|lvl)\s*(?:of|=|:|was|is|at|came\s+back(?:\s+at)?|returned(?:\s+at)?)?\s*"
          rf"(?:(?:{_LEVEL_WORD})(?:\s+(?:at|of)\s+{NUM}(?:\s*{_LEVEL_UNIT})?)?|{NUM}(?:\s*{_LEVEL_UNIT})?(?:\s*\(\s*(?:{_LEVEL_WORD})\s*\)|,?\s+(?:{_LEVEL_WORD}))?)",
          tokens("level levels lvl")),
    # a drug with a blood concentration ("Lithium 0.9 mEq/L", "serum lithium 1.1"): a level, not a dose
    _rule("drug_concentration",
          (rf"\bserum\s+(?:{DRUG}|(?-i:\bLi\b))\s*(?:=|:|of|was|is|at)?\s*{NUM}(?:\s*{_LEVEL_UNIT})?",
           rf"(?:{DRUG}|(?-i:\bLi\b))\s*(?:=|:|of|was|is|at)?\s*{NUM}\s*{_LEVEL_UNIT}"),
          tokens("serum meq mmol mcg ug ng mg") | {"\u00b5g"}),
    # v7: a screening item's answer: "Item 9 endorsed 'several days'", "item 9 positive"
    _rule("screening_item",
          r"\bitem\s*#?\s*\d+\s+(?:was\s+)?(?:endorsed|positive|negative|scored|answered|rated)\b(?:\s+(?:as\s+)?['\u2018\"]?[\w ]{1,25}?['\u2019\"]?(?=[.;,\n]|$))?",
          tokens("item")),
    # v7: a rater's form with sub-scale scores: "Vanderbilt teacher form: inattention 8/9, hyperactivity 6/9"
    _rule("scale_form_subscores",
          rf"{SCALE}(?:\s+(?:teacher|parent|self|child|youth|caregiver|clinician)(?:[- ]report)?)?\s+(?:form|version)\s*:\s*[\w-]+(?:\s+[\w-]+)?\s+\d+(?:\s*/\s*\d+)?(?:\s*,\s*[\w-]+(?:\s+[\w-]+)?\s+\d+(?:\s*/\s*\d+)?)*",
          _SCALE_T),
    # a T-score (standardised test result), with an optional scale and sub-scale before it
    _rule("t_score",
          rf"(?:{SCALE}\s+)?(?:[A-Za-z-]+\s+){{0,2}}?\bT[- ]?scores?\s*(?:of|=|:|was|is|at)?\s*\d+(?:\s*\([^)]{{1,20}}\))?",
          tokens("score scores tscore tscores")),
)
