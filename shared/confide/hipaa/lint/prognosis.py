"""Summary of prognosis (45 CFR 164.501: excluded from psychotherapy notes).

45 CFR 164.501 excludes "any summary of ... prognosis" from the definition of psychotherapy
notes.  The rules below recognise the word prognosis and its synonyms (outlook, expected course,
Px) with or without a quality ("Prognosis fair", "Guarded prognosis", "long-term outlook good"),
the risk of relapse, recurrence or rehospitalisation, and expectations of recovery or benefit
("expected to return to baseline", "likely to benefit from DBT", "good candidate for EMDR",
"should do well").

Judgement calls: a prognosis for a medical illness or given by another doctor ("her surgeon says
the prognosis is excellent after the biopsy"), or a relative's, is session content; so is a
prognosis in a wish or a joke, or about someone else.

Context (whose, real or imagined, when; the note section) is read by medSpaCy's ConText and
sectionizer (:mod:`confide.hipaa.lint.context`); :data:`CONTEXT_VETO` names the contexts that
make a candidate of this category session content.
"""

from __future__ import annotations

from ._regex import CLAUSE, DASH
from .rule import Rule, section_rule, tokens

CATEGORY = "summary_prognosis"
#: Contexts (ConText, :mod:`confide.hipaa.lint.context`) in which a prognosis is not the client's
#: mental-health prognosis: someone else's, for a medical illness or given by another specialist
#: ("her mother's oncologist says the prognosis is poor"), imagined or joked about, or the
#: client's own fear ("fears he'll never get better").
CONTEXT_VETO = frozenset({"FAMILY", "OTHER_PERSON", "IMAGINED", "MEDICAL", "CLIENT_BELIEF"})


def _rule(name: str, pattern: str, gate) -> Rule:
    return Rule(f"prognosis.{name}", CATEGORY, pattern, gate, None, window=120)


# Words at least one of which every match of the first family below contains.
_ANY = tokens("prognosis expected risk likelihood chance likely unlikely candidate well")

_PROG_Q = r"(?:fair|good|poor|guarded|excellent|favorable|favourable|unfavorable|limited|uncertain|stable|hopeful|grim)"
_PROG_NOUN = r"(?:prognosis|px|outlook|(?:expected|anticipated|likely)\s+course|course|long[- ]term\s+outlook)"

RULES: tuple[Rule, ...] = (
    # the body of a prognosis section: "Prgn: favorable"
    section_rule("prognosis", CATEGORY),
    _rule("prognosis_is_quality",
          rf"\bprognosis\s*(?:,\s*(?:I|we)\s+(?:think|believe|suspect|feel|would\s+say)\s*,\s*)?(?:is|remains|:|{DASH}|=|considered|appears|seems)?\s*(?:to\s+be\s+)?{_PROG_Q}(?:\s*(?:to|{DASH}|/)\s*{_PROG_Q})?\b",
          _ANY),
    _rule("quality_prognosis", rf"\b{_PROG_Q}(?:\s*(?:to|{DASH}|/)\s*{_PROG_Q})?\s+prognosis\b", _ANY),
    _rule("prognosis_word", r"\bprognosis\b", _ANY),
    _rule("expected_to_recover",
          rf"\bexpected\s+to\s+(?:return\s+to\s+baseline|recover|improve|remit|respond|benefit|achieve\s+remission){CLAUSE}{{0,60}}",
          _ANY),
    _rule("risk_of_relapse_is_level",
          r"\b(?:risk|likelihood|chance)\s+of\s+(?:relapse|recurrence|decompensation|rehospitalization)\s+(?:is\s+|remains\s+)?(?:high|low|moderate|elevated|significant)\b",
          _ANY),
    _rule("likely_to_benefit", r"\b(?:likely|unlikely)\s+to\s+(?:benefit|improve|remit|relapse|recover|respond|achieve|reach|attain|regain)\b[^.;\n]{0,60}", _ANY),
    # "Expect gradual improvement over the next 3-6 months"
    _rule("expect_improvement",
          r"\b(?:expect|anticipate)(?:s|ed)?\s+(?:(?:gradual|slow|steady|continued|further|full|partial|some|significant|modest|good|rapid)\s+)?(?:improvement|recovery|remission|response|progress|gains|stabilization|stabilisation|return\s+to\s+baseline)\b[^.;\n]{0,60}",
          tokens("expect expects expected anticipate anticipates anticipated")),
    _rule("good_candidate_for", r"\bgood\s+candidate\s+for\s+[^.;\n]{1,60}", _ANY),
    _rule("expected_to_do_well", r"\b(?:will|would|should|is\s+likely\s+to|is\s+expected\s+to)\s+do\s+well\b[^.;\n]{0,60}", _ANY),
    # synonyms: "long-term outlook good", "Px: guarded"
    _rule("outlook_or_course_is_quality",
          rf"\b(?:(?:long|short)[- ]term\s+|overall\s+)?{_PROG_NOUN}\s*(?:is|remains|:|{DASH}|=|considered|appears|seems|looks)?\s*(?:to\s+be\s+)?(?:\w+\s+)?{_PROG_Q}(?:\s*(?:to|{DASH}|/)\s*{_PROG_Q})?\b",
          tokens("prognosis px outlook course")),
    _rule("quality_outlook_or_course", rf"\b{_PROG_Q}\s+(?:long[- ]term\s+)?(?:outlook|course|px)\b",
          tokens("outlook course px")),
    _rule("expected_course_clause", rf"\b(?:expected|anticipated)\s+course\s*:?{CLAUSE}{{1,80}}", tokens("course")),
    # "high risk of relapse"
    _rule("level_risk_of_relapse",
          r"\b(?:high|low|moderate|elevated|significant|increased|considerable)\s+risk\s+(?:of|for)\s+(?:relapse|recurrence|decompensation|rehospitalization|readmission|re-?hospitalization|dropout|return\s+to\s+use)\b",
          tokens("risk")),
    # "likely to need ongoing support", "expected to return to work"
    _rule("likely_to_need_or_remain",
          r"\b(?:likely|unlikely|expected)\s+to\s+(?:need|require|remain|continue\s+to\s+need|maintain|sustain|relapse|stabilize|return\s+to\s+(?:work|baseline|school))\b[^.;\n]{0,60}",
          tokens("likely unlikely expected")),
)
