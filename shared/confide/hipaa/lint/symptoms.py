"""Summary of symptoms (45 CFR 164.501: excluded from psychotherapy notes).

45 CFR 164.501 excludes "any summary of ... symptoms" from the definition of psychotherapy
notes.  The rules below recognise: a summarised list of symptoms (``data/symptoms.txt``, with
modifiers, frequencies and ratings: "Reports insomnia, anhedonia and poor concentration", "denies
SI/HI", "nightmares 3x/week"); mental-status phrasing ("mood euthymic, affect congruent", "flat
affect, poor eye contact", "insight and judgment fair"); vegetative signs other than sleep and
appetite ("energy low", "concentration poor"); self-ratings out of ten ("anxiety 7/10");
oversleeping ("sleeping most of the day"); and weight change.  How much the client sleeps or
eats ("sleeping 4-5 hrs/night", "appetite poor", "one meal a day") is functional status
(:mod:`confide.hipaa.lint.functional_status`); a named sleep or appetite symptom ("insomnia",
"early morning awakening", "increased appetite") stays a symptom.

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


def _rule(name: str, pattern: str | tuple[str, ...], gate, filter=None) -> Rule:
    return Rule(f"symptoms.{name}", CATEGORY, pattern, gate, filter, window=120)


# ---- a summarised list of symptoms ----------------------------------------------------------
# Words that are symptoms only with a modifier ("poor concentration", "low energy").
_SYM_ADJREQ = r"(?:concentration|appetite|energy|motivation|sleep|mood|self-esteem|focus|libido|interest|attention|memory)"
_SYM_CS = r"(?-i:\b(?:SI/HI|HI/SI|SI|HI|AVH|A/VH|AH/VH|VH/AH|AH|VH|SIB|NSSI)\b)"
_SYM_TAIL = (
    rf"(?:\s*(?:(?:without|w/o|with|w/|denies)\s+(?:a\s+)?(?:(?:vague|specific|clear|active|passive|current)\s+)?(?:plan|intent|means)"
    rf"(?:\s*(?:or|and|/|,)\s*(?:plan|intent|means))*|:?\s*(?:denied|neg(?:ative)?)\b))?"
    rf"(?:\s*(?:{NUM}\s*(?:x|times)\s*(?:/|per|a)\s*(?:wk|week|day|d|night|month|mo)\b|"
    rf"\d+\s*(?:-\s*\d+\s*)?/\s*10\b|x\s*\d+\s*(?:wks?|weeks?|days?|d|mos?|months?)\b|"
    rf"~?\d+\s*(?:-\s*\d+\s*)?(?:x\s*)?(?:/|per\s+|a\s+)(?:wk|week|day|d|night|month|mo)\b|"
    rf"(?:nightly|daily|weekly|constantly|most\s+(?:nights|days|mornings|evenings)|several\s+times\s+(?:a|per)\s+(?:week|day))\b|"
    rf"(?:(?:(?:have|has)\s+)?(?:continue[sd]?|persist(?:s|ed)?|remain(?:s|ed)?)\s*,?\s*)?(?:about\s+|around\s+|approximately\s+|roughly\s+|~\s*)?"
    rf"(?:\d+(?:\s*(?:-|\u2013|to)\s*\d+)?|one|two|three|four|five|six|several|a\s+few)\s*(?:x\s*|times\s*|(?:nights?|days?|evenings?|mornings?)\s+)?(?:/|per\s+|a\s+|an\s+|each\s+)(?:wk|week|day|d|night|month|mo|hour|hr)\b|"
    rf"~?\d+\s*(?:-\s*\d+\s*)?(?:hrs?|hours)\s*(?:/|per\s+|a\s+)day\b|"
    rf"\(\s*(?:now\s+)?(?:about\s+|~\s*)?\d+\s*(?:x\s*)?(?:/|per\s+|a\s+)(?:wk|week|day|night|month)\s*\)))?"
    rf"(?:\s*,?\s*(?:no|without|w/o|denies)\s+(?:a\s+)?(?:plan|intent|means)"
    rf"(?:\s*(?:or|and|/|,)\s*(?:plan|intent|means))*)?"
    # how recent: "since last visit", "over the past week", "this week"
    rf"(?:\s+(?:since\s+(?:the\s+)?last\s+(?:visit|session|appt|appointment|week|month)|this\s+(?:past\s+)?(?:week|month)|"
    rf"(?:in|over|during)\s+the\s+(?:past|last|previous)\s+(?:week|month|few\s+(?:days|weeks)|several\s+(?:days|weeks)|"
    rf"(?:\d+|two|three|four|five|six)\s+(?:days|weeks|months))))?"
)
# How many: "two panic attacks", "several crying spells".
_SYM_COUNT = r"(?:\b(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|several|multiple|a\s+few|numerous)\s+)"
# What a symptom is about: "cravings for alcohol", "intrusive images of the crash", "worry about finances and health".
_SYM_OBJECT = (r"(?:\s+(?:of|for|about|around|regarding|over)\s+(?:(?:the|her|his|their|a|an|being|getting|losing)\s+)?"
               r"(?!(?:the|her|his|their|a|an|being|and|or|with|without|no|plan|intent|means)\b)[\w'-]+"
               r"(?:\s+(?:and|or|&)\s+(?!(?:the|her|his|their|a|an)\b){SYMPTOM_MODIFIER}*[\w'-]+)?)").replace("{SYMPTOM_MODIFIER}", SYMPTOM_MODIFIER)
# A measure may follow the symptom's object or a comma: "Cravings for alcohol daily", "binge-purge episodes, approximately 3x/week".
# (modifiers are tried once: "poor concentration", "passive SI", "ongoing nightmares", or none)
_SYM_ITEM = (rf"(?:{_SYM_COUNT}?(?:{SYMPTOM_MODIFIER}+(?:\b{SYMPTOM}\b{_SYM_OBJECT}?|{_SYM_ADJREQ}\b|{_SYM_CS})|\b{SYMPTOM}\b{_SYM_OBJECT}?|{_SYM_CS}))"
             rf"(?:,(?=\s*(?:about|around|approximately|approx|roughly|~|\d|nightly|daily|weekly|several|most|(?:have|has)\s+continued|continu|persist)))?{_SYM_TAIL}")
_SYM_SEP = r"(?:\s*,\s*(?:and\s+|&\s+|or\s+|with\s+)?|\s+(?:and|&|or|nor)\s+|\s*/\s*)"
# A clinician-documented negative ("denies SI", "no evidence of psychosis", "negative for SI") is
# a summary of symptoms: the negation is reported with the symptom it denies.
_NEGATION_LEAD = (r"(?:denies|denied|denying|no|negative\s+for|neg\s+for|no\s+(?:evidence|signs?|indication|reports?|report)\s+of|"
                  r"free\s+of|absence\s+of|not\s+endorsing|does\s+not\s+endorse|did\s+not\s+endorse)")
_NEGATION_BEFORE = re.compile(rf"\b{_NEGATION_LEAD}\s+(?:(?:any|current|recent|new|active|further|ongoing)\s+)*$", re.IGNORECASE)
_SYM_LEAD = (
    r"(?:\b(?:reports?|reported|reporting|endorses?|endorsed|endorsing|c/o|complains?\s+of|"
    r"complaining\s+of|presents?\s+with|presenting\s+with|denies|denied|denying|experiencing|"
    r"notes|noting|describes|described|describing|acknowledges|acknowledged|admits\s+to|feels|feeling|"
    r"continues\s+to\s+(?:report|endorse|experience|describe)|(?:still\s+|is\s+|has\s+been\s+)?having|still\s+has|sx\s*:|symptoms?\s*:|"
    r"symptoms\s+include|symptoms\s+of|presenting\s+problems?\s*:|with|"
    rf"{_NEGATION_LEAD})\s+"
    r"(?:(?:ongoing|continued|some|increased|persistent|significant|occasional|daily|"
    r"intermittent|frequent|mild|moderate|severe|any|current|recent|new|active|further|feeling|feelings\s+of)\s+)*)"
)
_SYM_LIST = rf"\b(?P<list>{_SYM_ITEM}(?:{_SYM_SEP}{_SYM_ITEM})*)"
_SYM_ITEM_RE = re.compile(_SYM_ITEM, re.IGNORECASE)
_SYM_LEAD_BEFORE = re.compile(_SYM_LEAD + r"$", re.IGNORECASE)
_SYM_HIGH = re.compile(
    rf"^(?:{SYMPTOM_MODIFIER}*)(?:anhedonia|hypervigilance|psychomotor|suicidal ideation|homicidal ideation|"
    rf"auditory hallucinations|visual hallucinations|pressured speech|decreased need for sleep|"
    rf"early morning awakening|exaggerated startle|insomnia|flashbacks|nightmares|"
    # positive psychotic symptoms are never a figure of speech in a note: "Hearing a voice that comments"
    rf"hearing\s+(?:a\s+)?voices?|command hallucinations|hallucinations|delusions|persecutory delusions|paranoid ideation|"
    rf"ideas of reference|thought broadcasting|thought insertion|intrusive images|"
    rf"passive|active|(?-i:SI/HI|HI/SI|SI|HI|AVH|A/VH))",
    re.IGNORECASE,
)
_SYM_MEASURE = re.compile(r"\d\s*(?:x|times)\s*(?:/|per|a)|/\s*10\b|\bx\s*\d|(?:plan|intent|denied|neg)|"
                          r"\b(?:per|a)\s+(?:week|day|night|month)\b|/\s*(?:wk|week|day|night)\b|\bmost\s+(?:days|nights)\b|"
                          r"\b(?:daily|nightly)\b", re.IGNORECASE)
_SE_ITEM = re.compile(rf"\b{SIDE_EFFECT}\b", re.IGNORECASE)


# A note's telegraphic symptom line: the symptom opens the clause ("Ongoing nightmares.", "Worry
# persists, worst at night.") and the clause ends or goes on with how it persists, not with a
# story ("Worry about her son took up the hour" is session content).
_FRAGMENT_OPEN = re.compile(r"(?:^|[.;:!?\n(\u2022*-]\s*)(?:(?:still|also|now|again|and)\s+)?(?:(?:the|her|his|their)\s+)?$", re.IGNORECASE)
_FRAGMENT_CLOSE = re.compile(
    r"\s*(?:$|[.;\n)]|,(?!\s*(?:she|he|they|i|we|her|his|their|the\s+client|pt)\b)|\s+(?:persists?|persisting|continues?|continuing|remains?|ongoing|present|unchanged|noted|reported|endorsed|"
    r"observed|evident|prominent|most\s+prominent|worst|strongest|at\s+night|in\s+the\s+(?:morning|evening)s?|most\s+(?:days|nights)|"
    r"(?:are|is|was|were|has\s+been|have\s+been|remains?|remained)\s+(?:still\s+)?(?:present|ongoing|daily|frequent|constant|persistent|unchanged|"
    r"worse|worsening|severe|intense|high|elevated|prominent|significant|moderate|mild)|"
    # how recent: "... over the past two weeks", "... this week"
    r"(?:over|in|during|for)\s+the\s+(?:past|last|previous)\b|(?:this|last)\s+(?:week|month)\b|since\s+(?:the\s+)?last\b|"
    # a severity or status right after the symptom: "Depressive symptoms moderate."
    r"(?:mild|moderate|moderately\s+severe|severe|minimal|significant|marked|prominent|unchanged|stable|worsening)(?=\s*(?:$|[.;,\n]))))", re.IGNORECASE)


# A few more words of the fragment may come before its close ("Hypervigilant in public places.",
# "Intrusive thoughts about harming the baby, ego-dystonic."), but not a verb that makes it a story.
_FRAGMENT_REST = re.compile(
    r"(?:\s+(?!(?:is|was|are|were|has|had|have|did|does|do|took|takes|made|makes|came|comes|went|goes|seems|seemed|"
    r"felt|feels|said|says|told|tells|got|gets|kept|keeps|became|becomes|ate|took|brought|dominated|filled|led|leads|"
    r"but|so|because|which|who|that|she|he|they|i|we)\b)[\w'-]+){0,8}?(?=" + _FRAGMENT_CLOSE.pattern + ")",
    re.IGNORECASE)


def _telegraphic_end(m: re.Match, text: str) -> int | None:
    """Where a telegraphic symptom line ends, or None if the match does not open one."""
    if not _FRAGMENT_OPEN.search(text, max(0, m.start() - 12), m.start()):
        return None
    rest = _FRAGMENT_REST.match(text, m.end())
    return rest.end() if rest else None


def summarised_symptoms(m: re.Match, text: str) -> tuple[int, int] | None:
    """Keep a symptom list the clinician summarises (a lead-in, two or more items, a high-signal
    symptom, a measure, or a telegraphic symptom line), and report the list itself, not its
    lead-in verb; drop side effects in a medication entry and a lone symptom named as a
    treatment's target."""
    lst = m.group("list")
    items = _SYM_ITEM_RE.findall(lst)
    n_items = len(items)
    lead = _SYM_LEAD_BEFORE.search(text, max(0, m.start() - 60), m.start())
    fragment_end = _telegraphic_end(m, text)
    if not (lead or n_items >= 2 or _SYM_HIGH.match(lst) or _SYM_MEASURE.search(lst) or fragment_end is not None):
        return None
    if items and all(_SE_ITEM.search(i) for i in items) and medication_nearby(m, text):
        return None  # side effects in a medication entry are medication monitoring
    if n_items == 1 and not lead and named_as_treatment_target(m, text):
        return None  # "CBT-I for insomnia"
    start, end = m.span("list")
    if fragment_end is not None and not lead:
        end = max(end, fragment_end)  # the whole line: "Hypervigilant in public places"
    neg = _NEGATION_BEFORE.search(text, max(0, start - 40), start)
    if neg:  # "Denies suicidal ideation", not "suicidal ideation": the finding must not read as a positive
        start = neg.start()
    return start, end


# How a client presents in session (mental-status observation words).
_PRESENTATION = (r"(?:(?:very|mildly|visibly|markedly|quite|somewhat|more|less|notably)\s+)?(?:anxious|tearful|dysphoric|depressed|irritable|agitated|restless|guarded|"
                 r"withdrawn|disheveled|dishevelled|unkempt|flat|blunted|labile|hypomanic|manic|euthymic|sad|subdued|internally\s+preoccupied|"
                 r"paranoid|pressured|tangential|slowed|psychomotor(?:ally)?\s+slowed|lethargic|sedated|fidgety|hypervigilant|numb|detached|dissociated|"
                 r"confused|disorganized|disorganised|euphoric|expansive|grandiose|hopeless|despondent|distressed|constricted|apathetic)")
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
          r"\b(?:mood|affect)\s*(?::\s*|is\s+|was\s+|(?:is\s+|was\s+)?(?:described|reported|self-described)\s+as\s+)?(?:euthymic|depressed|anxious|dysphoric|irritable|labile|congruent|incongruent|constricted|flat|blunted|full|restricted|bright|expansive|tearful|elevated|euphoric|brighter|improved|low|down|sad|stable|variable|more\s+\w+|['\"\u2018\u201c][^'\"\n\u2019\u201d]{1,20}['\"\u2019\u201d])(?:\s*(?:,|and)\s*(?:mood|affect)\s*(?::\s*|is\s+)?(?:brighter|more\s+\w+|euthymic|depressed|anxious|dysphoric|irritable|labile|congruent|incongruent|constricted|flat|blunted|full|restricted|bright|expansive|tearful|elevated|euphoric|mood-congruent))*",
          tokens("mood affect")),
    # "energy low, concentration poor" (sleep and appetite amounts are functional status)
    _rule("vegetative_signs",
          r"\b(?:energy|concentration|motivation|libido)\s*(?::\s*|\s+(?:is|remains|remained|has\s+been|was|continues\s+to\s+be|still)\s+)?(?:down|up|decreased|increased|poor|low|fair|impaired|disrupted|variable|wnl|intact|diminished)\b"
          r"(?:\s*,\s*(?:energy|concentration|motivation|libido)\s*(?::\s*)?(?:decreased|increased|poor|low|fair|good|impaired|disrupted|variable|wnl|intact|diminished)\b)*",
          tokens("energy concentration motivation libido")),
    # a compulsion repeated a number of times: "checking the stove 20-30 times before leaving the house"
    _rule("repeated_compulsion",
          r"\b(?:checking|checks|re-?checking|washing|washes|counting|cleaning|arranging|tapping|repeating|re-?reading|praying)\s+"
          r"(?:(?:the|her|his|their|each|every)\s+)?(?:[\w-]+\s+){0,2}?(?:\d+\s*(?:-|to|\u2013)?\s*\d*|several|many|multiple|dozens\s+of|hundreds\s+of)\s*(?:x|times)\b"
          r"(?:\s+(?:a|per|an)\s+(?:day|hour|night|week)|\s+(?:before|after|each\s+time|every\s+time|whenever)\s+[^.;,\n]{1,40})?",
          tokens("checking checks rechecking re washing washes counting cleaning arranging tapping repeating reading praying")),
    # a symptom the clinician observed: "Her hopelessness was palpable today", "his agitation was evident"
    _rule("observed_symptom",
          rf"\b(?:her|his|their|pt's|client's|patient's)\s+{SYMPTOM_MODIFIER}*(?:{SYMPTOM}|anxiety|depression|panic|distress|agitation|dysphoria)\s+(?:was|is|seemed|appeared|remains|remained)\s+(?:very\s+|quite\s+|clearly\s+|so\s+)?"
          r"(?:palpable|evident|apparent|prominent|striking|marked|notable|pronounced|visible|obvious|unmistakable|heightened|intense|severe|significant|elevated|high)\b"
          r"(?:\s+(?:today|in\s+session|throughout(?:\s+the\s+session)?|again))?",
          longest_tokens(SYMPTOM_TERMS) | tokens("anxiety depression panic distress agitation dysphoria")),
    # what the clinician observed of the client's presentation: "Presents as anxious and tearful", "Appears disheveled"
    _rule("presents_as",
          rf"\b(?:presents?|presented|presenting|appears?|appeared|appearing)\s+(?:as\s+)?(?:{_PRESENTATION})(?:\s*(?:,|and|but)\s*(?:{_PRESENTATION}))*",
          tokens("presents present presented presenting appears appear appeared appearing")),
    # "anxiety 7/10, SUDS 5/10"
    _rule("rating_out_of_ten",
          rf"\b(?:{_RATED})(?:\s+(?:for|about|to)\s+[\w-]+)?(?:\s+(?:remains?|remained|is|was|has\s+been|running))?(?:\s+(?:high|low|moderate|elevated|severe|mild))?\s*[,:=]?\s*(?:at|rated|is|was)?\s*(?:at\s+|around\s+|about\s+|~\s*)?\d+\s*/\s*10\b(?:\s*,\s*(?:{_RATED})\s*(?:=|:|at|rated|is)?\s*\d+\s*/\s*10\b)*",
          longest_tokens(SYMPTOM_TERMS) | tokens("anxiety depression mood suds distress anger sadness cravings craving urges urge pain stress")),
    # oversleeping: "sleeping most of the day" (hours of sleep are functional status)
    _rule("oversleeping",
          r"\b(?:sleeping|sleeps|slept)\s+(?:through\s+(?:most\s+of\s+)?the\s+day|most\s+of\s+the\s+day|all\s+day|until\s+(?:noon|the\s+afternoon))",
          tokens("sleeping sleeps slept")),
    # "lost 12 lbs"
    _rule("weight_change",
          (r"\b(?:lost|gained)\s+\d+\s*(?:lbs?|pounds|kg)\b",
           r"\bweight\s+(?:is\s+|has\s+gone\s+)?(?:down|up)\s+(?:by\s+)?\d+(?:\.\d+)?\s*(?:lbs?|pounds|kg)\b",
           r"\b\d+(?:\.\d+)?\s*(?:-\s*)?(?:lbs?|pounds?|kg)\s+weight\s+(?:loss|gain)\b"),
          tokens("lost gained weight")),
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
    # v7: a denied plan or intent, and intent denied in other words: "denies plan or intent",
    # "denies suicidal intent", "no intent to harm", "denies intent to act on it"
    _rule("plan_or_intent_denied",
          (r"\b(?:denies|denied|denying)\s+(?:any\s+)?(?:suicidal\s+|homicidal\s+|current\s+)?(?:plan|intent)(?:\s+(?:or|and|/)\s+(?:plan|intent))?(?:\s+to\s+(?:act\s+on\s+(?:it|them|the\s+\w+)|harm\s+\w+|hurt\s+\w+))?",
           r"\bno\s+(?:suicidal\s+|homicidal\s+|current\s+)?intent(?:\s+(?:or|and|/)\s+plan)?(?:\s+to\s+(?:act(?:\s+on\s+(?:it|them))?|harm(?:\s+(?:herself|himself|self|others|the\s+baby|anyone))?|hurt\s+\w+))?"),
          tokens("plan intent")),
    # v7: an amount of a substance used: "drinking 6-8 beers nightly", "smoking 2 joints a day"
    _rule("substance_amount",
          r"\b(?:drinking|drinks|drank|using|uses|used|smoking|smokes|smoked|snorting|injecting|vaping)\s+(?:about\s+|approximately\s+|roughly\s+|up\s+to\s+|~)?\d+(?:\.\d+)?(?:\s*[-\u2013]\s*\d+)?\+?\s+"
          r"(?:beers?|drinks?|shots?|glasses(?:\s+of\s+wine)?|bottles?(?:\s+of\s+wine)?|cans?|joints?|bowls?|pills?|bags?|grams?|g|cigarettes|packs?|pints?|fifths?|tallboys?)\b"
          r"(?:\s+(?:nightly|daily|a\s+day|per\s+day|a\s+night|each\s+night|a\s+week|per\s+week|on\s+weekends))?",
          tokens("drinking drinks drank using uses used smoking smokes smoked snorting injecting vaping")),
)
