"""Summary of symptoms (45 CFR 164.501: excluded from psychotherapy notes).

45 CFR 164.501 excludes "any summary of ... symptoms" from the definition of psychotherapy
notes.  The rules below recognise: a summarised list of symptoms (``data/symptoms.txt``, with
modifiers, frequencies and ratings: "Reports insomnia, anhedonia and poor concentration", "denies
SI/HI", "nightmares 3x/week"); mental-status phrasing ("mood euthymic, affect congruent", "flat
affect, poor eye contact", "insight and judgment fair"); vegetative signs ("sleep 4 hrs/night",
"appetite decreased"); self-ratings out of ten ("anxiety 7/10"); sleeping patterns; and weight
change.

Judgement calls: symptom words are reported when the clinician summarises them (a lead-in such
as "reports", "endorses", "c/o", "denies", "Sx:"; a list of two or more; a measure such as
"3x/week" or "7/10"; a high-signal symptom such as "anhedonia" or "SI"), not a lone word in a
reflection.  Side effects named in a medication entry ("Started Zoloft 50 mg; c/o headaches and
nausea since") are medication monitoring, not a symptom summary; a lone symptom named as a
treatment's target ("CBT-I for insomnia") is not a summary either.  A symptom named inside a
progress statement ("nightmares have resolved") is reported as progress (see
:mod:`confide.hipaa.lint.progress`).

Context (whose, real or imagined, when; the note section) is read by medSpaCy's ConText and
sectionizer (:mod:`confide.hipaa.lint.context`); :data:`CONTEXT_VETO` names the contexts that
make a candidate of this category session content.
"""

from __future__ import annotations

import re

from ._regex import NUM
from .filters import medication_nearby, named_as_treatment_target
from .lexicons import SIDE_EFFECT, SYMPTOM, SYMPTOM_MODIFIER, SYMPTOM_TERMS
from .rule import Rule, longest_tokens, section_rule, tokens

CATEGORY = "summary_symptoms"
#: Contexts (ConText, :mod:`confide.hipaa.lint.context`) in which symptom words do not summarise
#: the client's symptoms: someone else's ("her son has nightmares most nights"), imagined, the
#: client's childhood ("night terrors as a kid"), read about, expected by a prognosis, or denied
#: in the client's own reported words ("she says she has no anxiety, just stress").  The
#: clinician's negation ("denies SI/HI") is still a summary.
CONTEXT_VETO = frozenset({"FAMILY", "OTHER_PERSON", "IMAGINED", "BIOGRAPHICAL", "INFORMATION", "PROGNOSTIC",
                          "REPORTED_SPEECH+NEGATED_EXISTENCE"})


def _rule(name: str, pattern: str, gate, filter=None) -> Rule:
    return Rule(f"symptoms.{name}", CATEGORY, pattern, gate, filter, window=120)


# ---- a summarised list of symptoms ----------------------------------------------------------
# Words that are symptoms only with a modifier ("poor concentration", "low energy").
_SYM_ADJREQ = r"(?:concentration|appetite|energy|motivation|sleep|mood|self-esteem|focus|libido|interest|attention|memory)"
_SYM_CS = r"(?-i:\b(?:SI/HI|HI/SI|SI|HI|AVH|A/VH|AH/VH|VH/AH|AH|VH|SIB|NSSI)\b)"
_SYM_TAIL = (
    rf"(?:\s*(?:(?:without|w/o|with|w/|denies)\s+(?:a\s+)?(?:plan|intent|means)"
    rf"(?:\s*(?:or|and|/|,)\s*(?:plan|intent|means))*|:?\s*(?:denied|neg(?:ative)?)\b))?"
    rf"(?:\s*(?:{NUM}\s*(?:x|times)\s*(?:/|per|a)\s*(?:wk|week|day|d|night|month|mo)\b|"
    rf"\d+\s*(?:-\s*\d+\s*)?/\s*10\b|x\s*\d+\s*(?:wks?|weeks?|days?|d|mos?|months?)\b|"
    rf"~?\d+\s*(?:-\s*\d+\s*)?(?:x\s*)?(?:/|per\s+|a\s+)(?:wk|week|day|d|night|month|mo)\b|"
    rf"(?:nightly|daily|most\s+(?:nights|days)|several\s+times\s+(?:a|per)\s+(?:week|day))\b|"
    rf"(?:(?:continue|continues|persist|persists|remain|remains)\s*,?\s*)?(?:about\s+|around\s+|approximately\s+|roughly\s+|~\s*)?"
    rf"(?:\d+|one|two|three|four|five|six|several|a\s+few)\s*(?:x\s*|times\s*)?(?:/|per\s+|a\s+)(?:wk|week|day|d|night|month|mo)\b|"
    rf"~?\d+\s*(?:-\s*\d+\s*)?(?:hrs?|hours)\s*(?:/|per\s+|a\s+)day\b|"
    rf"\(\s*(?:now\s+)?(?:about\s+|~\s*)?\d+\s*(?:x\s*)?(?:/|per\s+|a\s+)(?:wk|week|day|night|month)\s*\)))?"
    rf"(?:\s*,?\s*(?:no|without|w/o|denies)\s+(?:a\s+)?(?:plan|intent|means)"
    rf"(?:\s*(?:or|and|/|,)\s*(?:plan|intent|means))*)?"
)
_SYM_ITEM = rf"(?:{SYMPTOM_MODIFIER}*\b{SYMPTOM}\b|{SYMPTOM_MODIFIER}+{_SYM_ADJREQ}\b|{_SYM_CS}){_SYM_TAIL}"
_SYM_SEP = r"(?:\s*,\s*(?:and\s+|&\s+|with\s+)?|\s+(?:and|&|or)\s+|\s*/\s*)"
_SYM_LEAD = (
    r"(?:\b(?:reports?|reported|reporting|endorses?|endorsed|endorsing|c/o|complains?\s+of|"
    r"complaining\s+of|presents?\s+with|presenting\s+with|denies|denied|denying|experiencing|"
    r"notes|noting|continues\s+to\s+(?:report|endorse|experience)|(?:still\s+|is\s+|has\s+been\s+)?having|still\s+has|sx\s*:|symptoms?\s*:|"
    r"symptoms\s+include|symptoms\s+of|presenting\s+problems?\s*:|with|no)\s+"
    r"(?:(?:ongoing|continued|some|increased|persistent|significant|occasional|daily|"
    r"intermittent|frequent|mild|moderate|severe)\s+)*)"
)
_SYM_LIST = rf"(?P<list>{_SYM_ITEM}(?:{_SYM_SEP}{_SYM_ITEM})*)"
_SYM_ITEM_RE = re.compile(_SYM_ITEM, re.IGNORECASE)
_SYM_LEAD_BEFORE = re.compile(_SYM_LEAD + r"$", re.IGNORECASE)
_SYM_HIGH = re.compile(
    rf"^(?:{SYMPTOM_MODIFIER}*)(?:anhedonia|hypervigilance|psychomotor|suicidal ideation|homicidal ideation|"
    rf"auditory hallucinations|visual hallucinations|pressured speech|decreased need for sleep|"
    rf"early morning awakening|exaggerated startle|insomnia|flashbacks|nightmares|"
    rf"passive|active|(?-i:SI/HI|HI/SI|SI|HI|AVH|A/VH))",
    re.IGNORECASE,
)
_SYM_MEASURE = re.compile(r"\d\s*(?:x|times)\s*(?:/|per|a)|/\s*10\b|\bx\s*\d|(?:plan|intent|denied|neg)|"
                          r"\b(?:per|a)\s+(?:week|day|night|month)\b|/\s*(?:wk|week|day|night)\b|\bmost\s+(?:days|nights)\b|"
                          r"\b(?:daily|nightly)\b", re.IGNORECASE)
_SE_ITEM = re.compile(rf"\b{SIDE_EFFECT}\b", re.IGNORECASE)


def summarised_symptoms(m: re.Match, text: str) -> tuple[int, int] | None:
    """Keep a symptom list the clinician summarises (a lead-in, two or more items, a high-signal
    symptom or a measure), and report the list itself, not its lead-in verb; drop side effects
    in a medication entry and a lone symptom named as a treatment's target."""
    lst = m.group("list")
    items = _SYM_ITEM_RE.findall(lst)
    n_items = len(items)
    lead = _SYM_LEAD_BEFORE.search(text, max(0, m.start() - 60), m.start())
    if not (lead or n_items >= 2 or _SYM_HIGH.match(lst) or _SYM_MEASURE.search(lst)):
        return None
    if items and all(_SE_ITEM.search(i) for i in items) and medication_nearby(m, text):
        return None  # side effects in a medication entry are medication monitoring
    if n_items == 1 and not lead and named_as_treatment_target(m, text):
        return None  # "CBT-I for insomnia"
    return m.span("list")


# What a self-rating out of ten can be of: a symptom, craving, urge, pain, stress.
_RATED = rf"{SYMPTOM}|anxiety|depression|mood|suds|distress|anger|sadness|cravings?|urges?|pain|stress"

# ---- mental status ------------------------------------------------------------------------------
_AFF_ADJ = (r"(?:flat|blunted|constricted|restricted|labile|congruent|incongruent|mood[- ]congruent|bright|brighter|"
            r"tearful|anxious|depressed|dysphoric|irritable|euthymic|expansive|euphoric|full(?:\s+range)?|reactive|guarded)")
_MOOD_ITEM = r"(?:anxious|depressed|dysphoric|irritable|euthymic|low|elevated|expansive|euphoric)\s+mood"
_EYE_ITEM = r"(?:poor|fair|limited|fleeting|minimal|avoidant|intermittent|appropriate|decreased)\s+eye\s+contact"
_TP_ITEM = (r"thought\s+process(?:es)?\s*(?::\s*|is\s+|was\s+)?(?:linear|logical|goal[- ]directed|tangential|circumstantial|"
            r"disorganized|organized|concrete|coherent)")
_MSE_ITEM = rf"(?:{_AFF_ADJ}\s+affect|{_MOOD_ITEM}|{_EYE_ITEM}|{_TP_ITEM})"

RULES: tuple[Rule, ...] = (
    # the body of a symptom or mental-status section: "MSE: affect blunted, no AH/VH"
    section_rule("symptoms", CATEGORY),
    _rule("reported_list", _SYM_LIST,
          longest_tokens(SYMPTOM_TERMS) | tokens("""concentration appetite energy motivation sleep mood esteem
              focus libido interest attention memory si hi avh vh sib nssi"""),
          summarised_symptoms),
    # "mood euthymic, affect congruent", "mood 'ok'"
    _rule("mood_and_affect",
          r"\b(?:mood|affect)\s*(?::\s*|is\s+|was\s+)?(?:euthymic|depressed|anxious|dysphoric|irritable|labile|congruent|incongruent|constricted|flat|blunted|full|restricted|bright|expansive|tearful|elevated|euphoric|brighter|improved|more\s+\w+|['\"\u2018\u201c][^'\"\n\u2019\u201d]{1,20}['\"\u2019\u201d])(?:\s*(?:,|and)\s*(?:mood|affect)\s*(?::\s*|is\s+)?(?:brighter|more\s+\w+|euthymic|depressed|anxious|dysphoric|irritable|labile|congruent|incongruent|constricted|flat|blunted|full|restricted|bright|expansive|tearful|elevated|euphoric|mood-congruent))*",
          tokens("mood affect")),
    # "sleep 4-5 hrs/night, appetite decreased"
    _rule("vegetative_signs",
          r"\b(?:sleep|appetite|energy|concentration|motivation|libido)\s*(?::\s*|\s+(?:is|remains|remained|has\s+been|was|continues\s+to\s+be|still)\s+)?(?:down|up|\d+\s*(?:-\s*\d+\s*)?(?:hrs?|hours)(?:\s*/\s*night|\s+per\s+night|\s+a\s+night)?|decreased|increased|poor|low|fair|impaired|disrupted|variable|wnl|intact|diminished)\b"
          r"(?:\s*,\s*(?:sleep|appetite|energy|concentration|motivation|libido)\s*(?::\s*)?(?:\d+\s*(?:-\s*\d+\s*)?(?:hrs?|hours)(?:\s*/\s*night)?|decreased|increased|poor|low|fair|good|impaired|disrupted|variable|wnl|intact|diminished)\b)*",
          tokens("sleep appetite energy concentration motivation libido")),
    # "anxiety 7/10, SUDS 5/10"
    _rule("rating_out_of_ten",
          rf"\b(?:{_RATED})(?:\s+(?:for|about|to)\s+[\w-]+)?\s*(?:=|:|at|rated|is|was)?\s*(?:at\s+)?\d+\s*/\s*10\b(?:\s*,\s*(?:{_RATED})\s*(?:=|:|at|rated|is)?\s*\d+\s*/\s*10\b)*",
          longest_tokens(SYMPTOM_TERMS) | tokens("anxiety depression mood suds distress anger sadness cravings craving urges urge pain stress")),
    # "sleeping most of the day", "sleeping only 4 hours"
    _rule("sleeping_pattern",
          r"\bsleeping\s+(?:most\s+of\s+the\s+day|all\s+day|\d+\s*(?:-\s*\d+\s*)?(?:hrs?|hours)(?:\s*/\s*night|\s+a\s+night)?|poorly|only\s+\d+\s*(?:-\s*\d+\s*)?(?:hrs?|hours))",
          tokens("sleeping")),
    # "lost 12 lbs"
    _rule("weight_change", r"\b(?:lost|gained)\s+\d+\s*(?:lbs?|pounds|kg)\b", tokens("lost gained")),
    # "denies SI/HI", "no AVH"
    _rule("denies_si_hi_avh", r"\b(?:denies|denied|no)\s+(?-i:SI|HI|SI/HI|HI/SI|AVH|AH/VH|VH/AH|AH|VH)\b(?:\s*(?:or|and|/|,)\s*(?-i:SI|HI|AVH|AH|VH))*",
          tokens("si hi avh ah vh")),
    # mental-status phrasing with the adjective first: "flat affect, poor eye contact"
    _rule("mental_status_adjective_first",
          rf"\b(?:{_MSE_ITEM}\s*,\s*(?:and\s+)?)*(?:{_AFF_ADJ}\s+affect|{_EYE_ITEM}|{_TP_ITEM})(?:\s*(?:,|and)\s*(?:and\s+)?{_MSE_ITEM})*",
          tokens("affect contact thought")),
    # "insight and judgment fair"
    _rule("insight_and_judgment",
          r"\b(?:insight|judg(?:e)?ment)(?:\s*(?:and|/|&)\s*judg(?:e)?ment)?\s*(?::\s*|\s+)(?:fair|poor|limited|intact|impaired|partial|good)\b",
          tokens("insight judgment judgement")),
)
