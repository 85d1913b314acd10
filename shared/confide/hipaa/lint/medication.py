"""Medication prescription and monitoring (45 CFR 164.501: excluded from psychotherapy notes).

45 CFR 164.501 excludes "medication prescription and monitoring" from the definition of
psychotherapy notes.  The rules below recognise: a drug with a dose or a sig, a level ordered; a
prescribing, change or adherence verb with a drug ("started", "increased", "d/c'd", "off her
Effexor", "skipping her Zoloft"); a change of a class of drugs ("stopped her meds"); dose
changes, holds and switches; prescriptions and refills; adherence ("taking it as prescribed",
"good med adherence"); side effects attributed to a drug; a bare dose with a unit; and a
medication-list header ("Meds: none").  A drug level's value or result ("Lithium level 0.8 mEq/L")
is a clinical test result (:mod:`confide.hipaa.lint.clinical_tests`).

Judgement calls: a drug *named* without prescribing or monitoring context is narrative (a dream,
a story, a relative's pills) and is not reported; a dose or drug in a sentence about a dream or a
story, or in a musing ("if she ever goes back on lithium"), is not reported, nor someone else's
("her daughter is on Ritalin") or the client's past ("used to take Adderall in college"): the
context is read by ConText (:data:`CONTEXT_VETO`).  Inside quoted speech a finding
is kept when it carries a dose or names a specific drug ("'upped the Lexapro'").
"""

from __future__ import annotations

import re

from ._regex import NUM
from .filters import medication_nearby
from .lexicons import (
    DRUG,
    DRUG_CLASS,
    DRUG_TERMS,
    MEDICATION_COURSE_VERB,
    PRESCRIBING_VERB,
    SIDE_EFFECT,
    SIDE_EFFECT_TERMS,
)
from .rule import Rule, longest_tokens, section_rule, tokens

CATEGORY = "medication_prescription_and_monitoring"
#: Contexts (read by ConText, :mod:`confide.hipaa.lint.context`) in which a drug, a dose or a
#: change is not the client's medication: someone else's, imagined (a dream, a joke, a musing),
#: the client's past life ("used to take Adderall in college"), something read or heard about,
#: or the client's fear ("afraid she'll end up on antidepressants").  A conditional ("if sleep
#: does not improve, increase to 100 mg") is still prescribing.
CONTEXT_VETO = frozenset({"FAMILY", "OTHER_PERSON", "IMAGINED", "BIOGRAPHICAL", "INFORMATION", "CLIENT_BELIEF"})

_DIGIT = re.compile(r"\d")
_DRUG_RX = re.compile(DRUG, re.IGNORECASE)


def dose_or_named_drug(text: str, start: int, end: int) -> bool:
    """Quote policy: the patient's words are still reported if they carry a number or a drug."""
    return bool(_DIGIT.search(text, start, end) or _DRUG_RX.search(text, start, end))


def _rule(name: str, pattern, gate, filter=None) -> Rule:
    return Rule(f"medication.{name}", CATEGORY, pattern, gate, filter, window=120,
                keep_quoted=dose_or_named_drug)


def _drug_in_entry(m: re.Match, text: str) -> tuple[int, int] | None:
    """Keep an adherence or side-effect statement only in a note entry that names a drug, "meds"
    or a dose (:func:`confide.hipaa.lint.filters.medication_nearby`)."""
    return m.span() if medication_nearby(m, text) else None


# ---- fragments ------------------------------------------------------------------------------
_FORM = r"(?:\s*\b(?:XL|XR|ER|SR|CR|ODT|IR|LA|DR|CD|IM|LAI|SL|patch|depot|Sustenna|Maintena|Consta)\b)"
_UNIT = r"(?:mg|mcg|\u00b5g|g|mL|ml|units?|IU)\b(?:\s*/\s*(?:day|d)\b)?"
_MEDFREQ = (
    r"(?:q\.?d\.?|qam|qpm|qhs|q\s?hs|hs|bid|b\.i\.d\.|tid|t\.i\.d\.|qid|prn|q\s?\d+\s?h|daily|"
    r"nightly|at bedtime|qday|twice daily|once daily|three times daily|in the morning|"
    r"every (?:other )?(?:day|morning|night|evening)|x\s?\d+\s?(?:d|days|wks?|weeks?)\b|"
    r"(?:every|q)\s?(?:\d+|one|two|three|four)\s?(?:wks?|weeks?|days?)\b|as\s+needed|as\s+prescribed|"
    r"qod|q\.?\s?week|po|p\.o\.|sl|im|q\s?am|q\s?pm|q\s?a\.m\.|q\s?p\.m\.|b\.?i\.?d|t\.?i\.?d|q\.?i\.?d|"
    r"q\.?h\.?s|p\.?r\.?n|once|twice|at\s+night|with\s+(?:breakfast|dinner|food))"
)
# A sig without a dose: how often or when a drug is taken.
_SIG = (r"q\.?d\.?|qam|qpm|qhs|q\s?hs|bid|b\.i\.d\.?|tid|t\.i\.d\.?|qid|prn|p\.r\.n\.?|as\s+needed|at\s+bedtime|"
        r"nightly|every\s+(?:morning|night|evening)|once\s+daily|twice\s+daily|daily\s+(?:in\s+the\s+morning|at\s+night)")
_DOSE = rf"(?:(?:to|by|at|from|of)\s+)?{NUM}\s*{_UNIT}(?:\s*,?\s*{_MEDFREQ}\b)*"
_DRUGTAIL = rf"{_FORM}?(?:\s*{_DOSE})?(?:\s*(?:then|and|to)\s+{NUM}\s*{_UNIT})*(?:\s+{_MEDFREQ}\b)*"
# What a number after a drug name is when it is not a dose ("Prozac for 3 years").
_NOTDOSE = (r"(?:years?|yrs?|yo|y/o|days?|weeks?|wks?|months?|mos?|times|x\b|pills|tabs|tablets|meq|mmol|ng/ml|mcg/ml|\u00b5g/ml|ug/ml|"
            r"minutes|mins?|hrs?|hours|am\b|pm\b|a\.m|p\.m|%|lbs?|pounds|miles|o'clock|th\b|st\b|nd\b|rd\b)")
_MEDSTAT = (r"(?:continued|cont(?:inue)?|started|restarted|stopped|held|unchanged|increased|decreased|"
            r"d/c'd|tolerating(?:\s+well)?|tolerated(?:\s+well)?|well\s+tolerated|no\s+(?:SE|S/E|side\s+effects?|AEs?)|"
            r"without\s+(?:SE|side\s+effects?)|adherent|compliant)(?:\s+by\s+(?:PCP|psych(?:iatry)?|NP|MD|Dr\.?\s*\w+))?")

# ---- gates ----------------------------------------------------------------------------------
_DRUG_T = longest_tokens(DRUG_TERMS)
_CLASS_T = tokens("""meds med medication medications antidepressant antidepressants ssri snri
    antipsychotic stabilizer stimulant benzo benzodiazepine aid psych""")

# What a medication list holds: "none", "no changes", "see MAR", "per psychiatry", or a drug.
_MED_LIST_BODY = re.compile(
    rf"\s*(?:none\b|nil\b|n/a\b|no\s+(?:changes?|meds|medications|psych(?:iatric)?\s+meds)\b|unchanged\b|(?:see|per)\s+\w+|"
    rf"{DRUG}|{DRUG_CLASS}\b)", re.IGNORECASE)

RULES: tuple[Rule, ...] = (
    # the body of a medication section: "Meds: none", "Rx: prazosin 2 mg qhs"
    section_rule("medication", CATEGORY, lambda body: bool(_MED_LIST_BODY.match(body)), tight=True),
    # a drug named with prescribing or monitoring context: "Increased sertraline to 100 mg"
    _rule("prescribing_verb_with_drug",
          rf"\b{PRESCRIBING_VERB}\s*(?:(?:the|his|her|their|an?|low[- ]dose)\s+)*{DRUG}{_DRUGTAIL}",
          _DRUG_T),
    # "Clonazepam 0.5 mg BID PRN"
    _rule("drug_with_dose",
          rf"{DRUG}{_FORM}?\s*(?:\(\s*\w+\s*\)\s*)?{_DOSE}(?:\s*(?:then|and|to)\s+{NUM}\s*{_UNIT})*",
          _DRUG_T),
    # "sertraline titration: 25 mg then 50 mg", "Lexapro refill"
    _rule("drug_with_dose_change_noun",
          rf"{DRUG}\s+(?:titration|taper|increase|decrease|dose(?:\s+(?:increase|decrease|change|reduction))?|dosage|refill|trial)\b(?:\s*:\s*(?:{NUM}\s*{_UNIT}(?:\s*{_MEDFREQ})*(?:\s*(?:then|and|to)\s+)?)+)?",
          _DRUG_T),
    # passive dose change: "Zoloft was bumped to 150"
    _rule("drug_passive_change",
          rf"{DRUG}\s+(?:was\s+|is\s+|has\s+been\s+|had\s+been\s+|got\s+|being\s+)?(?:increased|decreased|bumped(?:\s+up)?|upped|raised|lowered|reduced|titrated|tapered|changed|switched|held|stopped|discontinued|d/c'd|started|restarted|added|prescribed)\b(?:\s+(?:to|by|from)\s+{NUM}(?:\s*{_UNIT})?)?",
          _DRUG_T),
    # taking a drug on a schedule: "taking her Xanax as needed, maybe twice a week"
    _rule("taking_drug_on_schedule",
          rf"\b(?:taking|takes|took|using|uses)\s+(?:(?:the|his|her|their)\s+)?{DRUG}(?:\s+{_MEDFREQ})+(?:\s*,?\s*(?:maybe\s+|about\s+|roughly\s+)?(?:once|twice|\d+\s*x|three\s+times)\s+(?:a|per)\s+(?:day|week|night))?",
          _DRUG_T),
    # "adherent to her meds", "compliance with lithium"
    _rule("adherence_to_drug",
          rf"\b(?:adherent|compliant|non-?adherent|non-?compliant|adherence|compliance)\s+(?:to|with)\s+(?:(?:his|her|the|all)\s+)?(?:{DRUG_CLASS}|{DRUG})\b",
          tokens("adherent compliant adherence compliance nonadherent noncompliant")),
    # "no side effects", "side effects from the Zoloft increase"
    _rule("side_effects",
          rf"\b(?:no\s+(?:reported\s+|new\s+|significant\s+|notable\s+|apparent\s+)?|denies\s+(?:any\s+)?)?side[- ]effects?(?:\s+(?:from|of|on|with)\s+(?:the\s+|his\s+|her\s+)?(?:{DRUG}(?:\s+(?:increase|decrease|change|dose))?|{DRUG_CLASS}))?(?:\s+(?:reported|noted|endorsed|denied))?",
          tokens("side")),
    # "missed two doses", "skipping her meds"
    _rule("missed_doses",
          rf"\b(?:missed|missing|skipped|skipping)\s+(?:\w+\s+)?(?:doses?|{DRUG_CLASS})\b",
          tokens("missed missing skipped skipping")),
    # a change of a generic class: "stopped her meds", "started an SSRI"
    _rule("change_of_drug_class",
          rf"\b(?:started|starting|stopped|stopped taking|d/c'd|discontinued|restarted|resumed|increased|decreased|switched)\s+(?:(?:his|her|the|an?|their)\s+)?{DRUG_CLASS}\b",
          _CLASS_T),
    # a drug level ordered but not yet resulted is monitoring: "Li level pending", "VPA level ordered"
    # (a level's value or result is a clinical test result: see clinical_tests.drug_level_result)
    _rule("drug_level_ordered",
          (rf"(?:{DRUG}|(?-i:\bLi\b|\bVPA\b))\s+(?:serum\s+)?(?:levels?|lvl)\s*(?:is\s+|was\s+)?(?:pending|ordered|drawn|due|requested|"
           rf"(?:to\s+be|will\s+be)\s+(?:re)?(?:drawn|checked|repeated|ordered|obtained))\b",
           rf"\b(?:check|recheck|re-check|order|draw|obtain|repeat|checking|ordered|drew|obtained)\s+(?:a\s+|an\s+|her\s+|his\s+|the\s+)?(?:serum\s+)?(?:{DRUG}|(?-i:\bLi\b|\bVPA\b))\s+(?:levels?|lvl)\b"),
          tokens("level levels lvl")),
    # a bare dose with a unit is strong evidence on its own: "40 mg qhs"
    _rule("dose_with_unit",
          rf"\b{NUM}\s*(?:mg|mcg)\b(?:\s*,?\s*{_MEDFREQ}\b)*",
          {"mg", "mcg", "<mg>"}),
    # a drug with a bare number (+ /number, unit, sig, status): "Prozac 40 qam", "Suboxone 8/2 daily"
    _rule("drug_with_bare_dose",
          rf"{DRUG}{_FORM}?\s*(?:\(\s*\w+\s*\)\s*)?(?<![\d.])\d+(?:\.\d+)?(?:\s*/\s*\d+(?:\.\d+)?)?(?!\s*{_NOTDOSE})(?![\d:/])(?!\.\d)"
          rf"(?:\s*{_UNIT})?(?:\s*,?\s*{_MEDFREQ}\b)*(?:\s*,?\s*{_MEDSTAT}\b)?",
          _DRUG_T),
    # a change or adherence verb with a drug: "off her Effexor", "skipping her Zoloft"
    _rule("course_verb_with_drug",
          rf"\b{MEDICATION_COURSE_VERB}\s+(?:(?:the|his|her|their|my|an?|low[- ]dose|new|current)\s+)*{DRUG}{_DRUGTAIL}"
          rf"(?:\s*,?\s*(?:cross[- ]?taper(?:ing|ed)?|taper(?:ing|ed)?|titrat(?:ing|ed|ion))(?:\s+(?:over|x)\s+\w+\s+\w+)?)?",
          _DRUG_T),
    # "switching from sertraline to escitalopram 10 mg"
    _rule("switch_between_drugs",
          rf"\b(?:switch(?:ing|ed)?|chang(?:ing|ed)|mov(?:ing|ed))\s+(?:(?:her|him|them|pt|the\s+patient)\s+)?(?:from\s+)?{DRUG}\s+to\s+{DRUG}{_DRUGTAIL}",
          _DRUG_T),
    # a drug with its sig but no dose: "Vistaril as needed for sleep", "trazodone qhs"
    _rule("drug_with_sig",
          rf"{DRUG}{_FORM}?\s+(?:{_SIG})\b",
          _DRUG_T),
    # "Abilify held x1 wk for akathisia"
    _rule("drug_held_for_a_time",
          rf"{DRUG}\s+(?:was\s+|is\s+|being\s+)?(?:held|paused|stopped|started|continued)\s+(?:x\s*\d+\s*\w+|for\s+\w+)(?:\s+(?:for|d/t|due\s+to)\s+\w+)?",
          _DRUG_T),
    # "Vyvanse dose unchanged"
    _rule("drug_dose_status",
          rf"{DRUG}\s+(?:dose|dosage|dosing)\s+(?:unchanged|stable|same|adjusted|lowered|raised|increased|decreased|reduced|held)\b",
          _DRUG_T),
    # "dose of Wellbutrin lowered"
    _rule("dose_of_drug",
          rf"\b(?:dose|dosage)\s+of\s+(?:the\s+|his\s+|her\s+)?{DRUG}(?:\s+(?:was\s+|is\s+)?(?:lowered|raised|increased|decreased|reduced|adjusted|changed|held|unchanged))?",
          _DRUG_T),
    # prescription objects: "new Rx for buspirone", "refill of Lexapro"
    _rule("prescription_or_refill",
          rf"\b(?:new\s+)?(?:rx|script|prescription|refills?)\s+(?:for|of)\s+(?:(?:the|his|her|a)\s+)?(?:{DRUG}|{DRUG_CLASS})\b",
          _DRUG_T | _CLASS_T),
    # side effects attributed to a drug: "dry mouth and some weight gain on the olanzapine"
    _rule("side_effects_attributed_to_drug",
          rf"\b{SIDE_EFFECT}(?:\s*(?:,|and|&)\s*(?:some\s+|mild\s+|significant\s+)?(?:{SIDE_EFFECT}|(?:[\w-]+\s+){{0,2}}?[\w-]+))*\s+(?:on|from|with|since\s+starting|after\s+starting|attributed\s+to)\s+(?:(?:the|his|her|new)\s+)*(?:{DRUG}|{DRUG_CLASS})\b",
          longest_tokens(SIDE_EFFECT_TERMS)),
    # what a drug does to the client: "his Seroquel makes him groggy until noon"
    _rule("drug_makes_client_feel",
          rf"{DRUG}\s+(?:makes|made|leaves|left|keeps|kept|gives|gave|is\s+making|has\s+made|has\s+been\s+making)\s+(?:him|her|them|me)\s+(?:feel\s+)?(?:so\s+|very\s+|really\s+|a\s+bit\s+|too\s+)?[\w-]+(?:\s+(?:until|till|all|in\s+the)\s+\w+)?",
          _DRUG_T),
    # "denies SE", "no AEs"
    _rule("no_side_effects_abbreviated",
          r"\b(?:no|denies|without|w/o)\s+(?-i:SE|S/E|AEs?)\b",
          tokens("se s e ae aes")),
    # adherence without a drug name: "taking them as directed"
    _rule("taking_as_prescribed",
          r"\b(?:taking|takes|took|using)\s+(?:it|them|(?:her|his|their|all)\s+(?:meds|medications?|pills|doses))\s+"
          r"(?:as\s+(?:prescribed|directed)|consistently|regularly|reliably|inconsistently|sporadically|every\s+day|daily|most\s+days)",
          tokens("taking takes took using")),
    # the medication list unchanged: "No med changes this visit", "meds unchanged", "continue current medications"
    _rule("medications_unchanged",
          (r"\bno\s+(?:med(?:ication)?s?\s+changes?|changes?\s+(?:to|in)\s+(?:her\s+|his\s+|their\s+|the\s+)?(?:med(?:ication)?s?|regimen))\b",
           r"\b(?:psych\s+)?med(?:ication)?s?\s+(?:remain\s+|are\s+|were\s+)?(?:unchanged|the\s+same|continued|stable)\b",
           r"\bcontinue\s+(?:current|same|all|her|his)\s+(?:psych\s+)?med(?:ication)?s?\b"),
          tokens("med meds medication medications")),
    # "good med adherence", "medication compliance: 80%"
    _rule("adherence_rating",
          (r"\b(?:good|poor|fair|partial|full|excellent|inconsistent|improved|variable)\s+(?:med(?:ication)?\s+)?(?:adherence|compliance)\b",
           r"\bmed(?:ication)?s?\s+(?:adherence|compliance)\s*(?::|is|was|remains)?\s*(?:good|poor|fair|partial|full|excellent|inconsistent|improved|variable|\d+\s*%)"),
          tokens("adherence compliance")),
    # v7: adherence stated without a drug name, in a medication entry: "adherent per pt",
    # "refused 2 of last 5 doses", "has not missed one yet", "taking half doses on weekends"
    _rule("adherence_statement",
          (r"\b(?:adherent|compliant|non-?adherent|non-?compliant)\s+(?:per\s+(?:pt|patient|client|mom|mother|father|dad|parents?|staff|nursing|MAR|pharmacy|pill\s+count)|by\s+(?:pill\s+count|MAR|report))\b",
           r"\b(?:refused|missed|skipped|declined|held)\s+(?:\d+|one|two|three|four|five|several|multiple)\s+(?:of\s+(?:the\s+)?(?:last\s+|past\s+)?(?:\d+|\w+)\s+)?doses\b",
           r"\bhas\s+(?:not|n't)\s+missed\s+(?:one|a\s+dose|an?\s+(?:injection|shot)|any(?:\s+doses)?)(?:\s+yet)?",
           r"\b(?:taking|takes|took)\s+(?:half|double|extra|fewer|partial)\s+(?:doses?|tablets?|pills?)(?:\s+(?:on\s+weekends|some\s+days|most\s+days))?",
           r"\bhas\s+taken\s+(?:it|them|every\s+dose)\s+(?:every\s+day|daily|as\s+prescribed|consistently)(?:\s+per\s+[\w ]{1,20}?(?=[.;,]|$))?"),
          tokens("adherent compliant nonadherent noncompliant refused missed skipped declined held missed taking takes took taken"),
          _drug_in_entry),
    # v7: a scheduled or given injection of a long-acting drug: "Vivitrol injection due 4/2"
    _rule("injection_scheduled_or_given",
          rf"{DRUG}{_FORM}?\s+(?:injection|shot|depot|dose|LAI)\s+(?:is\s+|was\s+)?(?:due|given|received|administered|scheduled|on|overdue|late)\b(?:\s+(?:on\s+)?\d{{1,2}}/\d{{1,2}})?",
          _DRUG_T),
    # v7: a side effect denied, resolved or attributed in an entry that names a drug: "no dizziness
    # reported so far", "mild GI upset first week, now resolved", "tremor and thirst she attributes to the lithium"
    _rule("side_effect_status_near_drug",
          (rf"\b(?:no|denies|denied|without)\s+(?:(?:morning|daytime|significant|new|further|reported)\s+)?{SIDE_EFFECT}\b(?:\s+(?:reported|noted|endorsed))?(?:\s+so\s+far)?",
           rf"\b(?:(?:mild|some|minimal|transient|initial)\s+)?{SIDE_EFFECT}\b(?:\s+[\w-]+){{0,3}}?\s*,?\s+(?:now\s+)?(?:resolved|resolving|subsided|improving|gone)\b",
           rf"\b(?:(?:fine|mild|some)\s+)?{SIDE_EFFECT}\b(?:\s*(?:,|and)\s+(?:{SIDE_EFFECT}\b|\w+))*\s+(?:she|he|they|pt|client)\s+attributes?\s+to\s+(?:the\s+|her\s+|his\s+)?(?:{DRUG}|{DRUG_CLASS}|med\w*)",
           rf"\b(?:(?:decreased|increased|mild|some)\s+)?{SIDE_EFFECT}\b(?:\s+[\w-]+){{0,3}}?\s+since\s+(?:the\s+)?(?:increase|dose\s+(?:change|increase)|switch|start(?:ing)?|titration)\b"),
          longest_tokens(SIDE_EFFECT_TERMS), _drug_in_entry),
)
