"""Summary of diagnosis (45 CFR 164.501: excluded from psychotherapy notes).

45 CFR 164.501 excludes "any summary of ... diagnosis" from the definition of psychotherapy
notes.  The rules below recognise: a named diagnosis or its abbreviation, with specifiers and an
ICD-10 code ("MDD, recurrent, moderate (F33.1)", "Hx of PTSD", "r/o bipolar II"); an ICD-10 code,
with or without a "Dx:" label; "diagnosis unchanged / deferred"; and, as a fallback, the clause
after "meets criteria for", "diagnosed with", "working dx", "diagnostic impression:".

Judgement calls: diagnosis abbreviations used colloquially ("he's so OCD about the dishes") or
about someone else ("her son's ADHD evaluation") are not reported; nor a diagnosis word used as
a modifier ("PTSD symptoms", "OCD workbook"), family history ("FHx: father with alcohol use
disorder"), a relative as the subject of a diagnosis ("Her aunt was diagnosed with
schizophrenia"), or a scale's name ("GAD 7", "Generalized Anxiety Disorder-7").  The fallback
clause is reported only where no named diagnosis or code overlaps it.

Context (whose, real or imagined, when; the note section) is read by medSpaCy's ConText and
sectionizer (:mod:`confide.hipaa.lint.context`); :data:`CONTEXT_VETO` names the contexts that
make a candidate of this category session content.
"""

from __future__ import annotations

from ._regex import CLAUSE
from .filters import DIAGNOSIS_SENSE
from .lexicons import DIAGNOSIS_NAME, DIAGNOSIS_TERMS
from .rule import Rule, longest_tokens, section_rule, tokens

CATEGORY = "summary_diagnosis"
#: Contexts (ConText, :mod:`confide.hipaa.lint.context`) in which a diagnosis is not the client's:
#: a relative's or another person's (family history, "her boss has bipolar disorder"), imagined
#: or joked about, read or heard about ("a documentary on schizophrenia"), the client's own fear
#: or self-label ("worries he has ADHD"), or a negation in the client's reported words ("she says
#: she isn't depressed, just bored").
CONTEXT_VETO = frozenset({"FAMILY", "OTHER_PERSON", "IMAGINED", "INFORMATION", "CLIENT_BELIEF",
                          "REPORTED_SPEECH+NEGATED_EXISTENCE"})


def _rule(name: str, pattern: str, gate, filter=None, fallback: bool = False) -> Rule:
    return Rule(f"diagnosis.{name}", CATEGORY, pattern, gate, filter, window=140, fallback=fallback)


_ICD_F = r"\bF\d[0-9A-Z](?:\.[0-9A-Z]{1,4})?\b"
_ICD_OTHER = r"\b[A-EG-TV-Z]\d[0-9A-Z]\.[0-9A-Z]{1,4}\b"
_DX_ABBR = r"(?-i:\b(?:MDD|GAD|PTSD|C-PTSD|CPTSD|OCD|OCPD|ADHD|ADD|BPD|ASD|AUD|OUD|CUD|SUD|ODD|PDD|PMDD|DMDD|BED|BDD|DID|GD|NCD|SAD|BP-?I{1,2}|BP\s?[12])\b(?!\s?[-\u2010\u2011\u2013]?\s?\d))"
_DX_SPEC = (
    r"(?:\s*,\s*|\s+)(?:recurrent|single episode|mild|moderate|severe|moderate-severe|"
    r"in (?:early|sustained|partial|full) remission|in remission|chronic|acute|unspecified|"
    r"provisional|by history|current episode \w+|most recent episode \w+|"
    r"combined (?:presentation|type)|predominantly \w+ (?:presentation|type)|"
    r"with (?:anxious distress|mixed features|psychotic features|panic attacks|"
    r"peripartum onset|seasonal pattern|melancholic features|atypical features|"
    r"depressed mood|anxiety|mixed anxiety and depressed mood|disturbance of conduct)|"
    r"w/ panic attacks|w/ anxious distress)\b"
)
_DX_CORE = rf"(?:{DIAGNOSIS_NAME}|{_DX_ABBR})(?!\w)"  # "eating disorders clinic" is not a diagnosis
_DX_CODE_TAIL = rf"(?:\s*\(?\s*(?:{_ICD_F}|{_ICD_OTHER})\s*\)?)?"

RULES: tuple[Rule, ...] = (
    # the body of a diagnosis section: "Dx: F33.1 ...", "Diagnostic impression: ..."
    section_rule("diagnosis", CATEGORY, tight=True),
    # "meets criteria for major depressive disorder, recurrent, moderate", "Hx of PTSD", "GAD"
    _rule("named_diagnosis",
          rf"(?:\b(?:meets?|met|meeting)\s+(?:full\s+)?(?:dsm-?5(?:-tr)?\s+)?criteria\s+for\s+(?:an?\s+)?)?"
          rf"(?:\b(?:r/o|rule\s+out|rule-out|provisional|hx\s+of|history\s+of)\s+)?"
          rf"\b{_DX_CORE}(?:{_DX_SPEC})*{_DX_CODE_TAIL}(?:{_DX_SPEC})*"
          rf"(?:\s*,?\s*(?:r/o|rule\s+out)\s+{_DX_CORE}(?:{_DX_SPEC})*)?",
          longest_tokens(DIAGNOSIS_TERMS) | tokens(
              "mdd gad ptsd cptsd ocd ocpd adhd add bpd asd aud oud cud sud odd pdd pmdd dmdd bed bdd did gd ncd sad bp bpi bpii bp1 bp2"),
          DIAGNOSIS_SENSE),
    # "Dx: F33.1", "(F41.1)"
    _rule("icd10_code",
          rf"(?:\b(?:dx|diagnosis|diagnoses|icd-?10(?:-cm)?)\s*(?::|remains|unchanged|is|=)?\s*\(?\s*)?(?:{_ICD_F}|{_ICD_OTHER})\)?",
          {"<icd>"}),
    # "Diagnosis unchanged", "dx deferred"
    _rule("diagnosis_unchanged_or_deferred",
          r"\b(?:dx|diagnosis)\s+(?:unchanged|remains\s+unchanged|deferred)\b",
          tokens("dx diagnosis")),
    # fallback: the clause after "meets criteria for" ("Meets criteria for social anxiety")
    _rule("meets_criteria_clause",
          rf"\b(?:meets?|met|meeting)\s+(?:full\s+)?(?:dsm[- ]?5(?:-tr)?\s+)?criteria\s+for\s+{CLAUSE}{{1,80}}",
          tokens("criteria diagnosis diagnoses diagnosed dx impression impressions carries working"),
          DIAGNOSIS_SENSE, fallback=True),
    # fallback: the clause after a diagnosis label ("diagnosed with", "working dx", "Dx:")
    _rule("diagnosis_label_clause",
          rf"\b(?:(?<!self-)(?<!self\s)diagnos(?:is|es|ed)\s+(?:of|with)(?!\s+(?:the|this|that|what|how|why|nothing)\b)|carries\s+(?:a|the)\s+(?:dx|diagnosis)\s+of|diagnostic\s+impressions?\s*:|working\s+(?:dx|diagnosis)\s*(?:is|:)?|dx\s*(?::|is|of|w/|with|remains|=|unchanged))\s*{CLAUSE}{{1,80}}",
          tokens("criteria diagnosis diagnoses diagnosed dx impression impressions carries working"),
          DIAGNOSIS_SENSE, fallback=True),
)
