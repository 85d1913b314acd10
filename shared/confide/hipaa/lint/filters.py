"""Context filters of the 45 CFR 164.501 lint: when a match is session content after all.

45 CFR 164.501 excludes from psychotherapy notes what summarises the patient's own treatment and
condition.  The same words also occur in what a psychotherapy note legitimately holds: a dream, a
story, a joke, a wish, a relative's illness, something the patient read.  The predicates below
recognise those contexts; each takes a regex match and the whole text and returns True when the
match is *not* the patient's own excluded content.  :func:`reject_if` turns predicates into a
rule filter, and the named filters at the end are the combinations the rule modules use.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .lexicons import DIAGNOSIS_NAME, DRUG
from .rule import Filter

Predicate = Callable[[re.Match, str], bool]

# ---- where a match sits ---------------------------------------------------------------------
_SENT_END = re.compile(r"[.!?;\n](?!\d)")
_CLAUSE_END = re.compile(r"[.;!?\n](?!\d)")


def sentence(text: str, s: int, e: int) -> str:
    """The sentence around ``text[s:e]`` (at most 300 characters either side)."""
    lo = max(0, s - 300)
    starts = [m.end() for m in _SENT_END.finditer(text, lo, s)]
    m = _SENT_END.search(text, e, e + 300)
    return text[starts[-1] if starts else lo:m.start() if m else min(len(text), e + 300)]


def clause_before(text: str, s: int) -> str:
    """The part of the clause before offset ``s`` (at most 120 characters)."""
    lo = max(0, s - 120)
    ends = [m.end() for m in _CLAUSE_END.finditer(text, lo, s)]
    return text[ends[-1] if ends else lo:s]


def line_window(text: str, s: int, e: int, width: int = 150) -> str:
    """Up to ``width`` characters either side of a span, within its line (a note entry; a drug
    often sits one clause away from the side effect it caused, past a "Dr." or a ';')."""
    lo, hi = max(0, s - width), min(len(text), e + width)
    nl = text.rfind("\n", lo, s)
    nr = text.find("\n", e, hi)
    return text[nl + 1 if nl >= 0 else lo:nr if nr >= 0 else hi]


# ---- narrative, hypotheticals and musings -----------------------------------------------------
_NARRATIVE = re.compile(r"\b(?:dream(?:s|t|ed|ing)?|nightmare\s+about|fantas(?:y|ies|ized)|in\s+the\s+(?:story|movie|book))\b", re.IGNORECASE)
_HYPO_STRONG = r"what\s+if|wonder\w*|imagin\w*|pretend\w*|suppos\w*|jokes?|jok(?:ed|ing)|fantas\w*|wish(?:es|ed)?|asked\s+(?:if|whether)"
_HYPO = re.compile(rf"\b(?:{_HYPO_STRONG}|if|whether|would|could|might)\b", re.IGNORECASE)
_HYPO_S = re.compile(rf"\b(?:{_HYPO_STRONG})\b", re.IGNORECASE)
# Musings about medication ("if she ever goes back on lithium", "what if", a joke) are content.
_MED_HYPO = re.compile(r"\b(?:if|whether)\s+(?:\w+\s+){0,3}?ever\b|\bwhat\s+if\b|\bjok(?:e|es|ed|ing)\b|"
                       r"\bimagin\w*|\bpretend\w*|\bfantas\w*", re.IGNORECASE)


def in_dream_or_story(m: re.Match, text: str) -> bool:
    """The sentence is about a dream, a fantasy or a story ("in the dream he wrote a
    prescription for 40 mg")."""
    return bool(_NARRATIVE.search(sentence(text, m.start(), m.end())))


def musing_about_medication(m: re.Match, text: str) -> bool:
    """The clause muses about medication ("if she ever goes back on lithium", "what if", a joke,
    imagining, pretending)."""
    return bool(_MED_HYPO.search(clause_before(text, m.start())))


def hypothetical(m: re.Match, text: str) -> bool:
    """The clause is a hypothetical or a question ("if she had to come twice a week", "what if
    we met weekly", "would", "could", "might")."""
    return bool(_HYPO.search(clause_before(text, m.start())))


def wish_or_joke(m: re.Match, text: str) -> bool:
    """The clause is a wish, a joke, a fantasy or a wondering ("wishes she could stop therapy").
    A plain "if" does not count: conditional plans ("if SI recurs, will call") are still plans."""
    return bool(_HYPO_S.search(clause_before(text, m.start())))


# ---- someone else -----------------------------------------------------------------------------
_RELATION = (r"(?:son|daughter|mother|mom|father|dad|brother|sister|wife|husband|partner|boyfriend|"
             r"girlfriend|friend|ex|child|kid|kids|grandmother|grandma|grandfather|grandpa|aunt|uncle|"
             r"cousin|boss|roommate|coworker|neighbor|stepdad|stepmom|parents?)")
_THIRD_SUBJ = re.compile(rf"\b(?:her|his|their|my|pt's|patient's)\s+(?:\w+\s+)?{_RELATION}\b(?!'s)(?![\w ]{{0,20}}\b(?:died|passed))", re.IGNORECASE)
_POSSESSIVE_RELATIVE = re.compile(
    r"\b(?:son|daughter|mother|mom|father|dad|brother|sister|wife|husband|partner|boyfriend|"
    r"girlfriend|friend|ex|child|kid|grandmother|grandfather|aunt|uncle|cousin|boss|roommate)"
    r"(?:'s|\u2019s)\s+$",
    re.IGNORECASE,
)
_FAM_HX = re.compile(r"\b(?:family\s+(?:history|hx)|fam(?:ily)?\s*hx|fhx|fh\s*[:\-]|runs\s+in\s+(?:the|her|his|their)\s+family)",
                     re.IGNORECASE)
_REL_SUBJ = re.compile(
    rf"^\s*(?:(?:her|his|their|my|the|a|pt's|patient's|client's)\s+)?(?:\w+\s+)?{_RELATION}\s+"
    r"(?:was|is|has|had|carries|got|gets|were|also|with|been|(?:was|has\s+been|had\s+been)\s+(?:recently\s+)?diagnosed)\b",
    re.IGNORECASE)


def about_someone_else(m: re.Match, text: str) -> bool:
    """The clause, within its first eight words, is about a relative or another person ("her
    daughter is on Ritalin"), unless that person died."""
    before = clause_before(text, m.start())
    return len(before.split()) <= 8 and bool(_THIRD_SUBJ.search(before))


def after_relatives_possessive(m: re.Match, text: str) -> bool:
    """The match follows a relative's possessive ("her son's ADHD evaluation")."""
    s = m.start()
    return bool(_POSSESSIVE_RELATIVE.search(text, max(0, s - 30), s))


def family_history(m: re.Match, text: str) -> bool:
    """Family history ("FHx: mother bipolar") or a relative as the subject of the clause ("Mother
    was diagnosed with bipolar disorder"): about someone else, not the patient's diagnosis."""
    before = clause_before(text, m.start())
    return bool(_FAM_HX.search(before) or _REL_SUBJ.match(before))


# ---- words used in another sense --------------------------------------------------------------
_COLLOQUIAL = re.compile(
    r"(?:\b(?:so|very|super|totally|such\s+an?|a\s+(?:little|bit)|kinda|kind\s+of|sort\s+of|"
    r"little|bit)\s+['\"\u2018\u201c]?|['\"\u2018\u201c])$",
    re.IGNORECASE,
)
_SCALE_AFTER = re.compile(r"s?\s*(?:[-\u2010\u2011\u2013]\s*)?(?:\d|scale|questionnaire|inventory|checklist|screen(?:er|ing)?\b|identification)", re.IGNORECASE)
# A diagnosis word used as a modifier names something else ("PTSD symptoms", "OCD group").
_DX_ATTRIB_AFTER = re.compile(
    r"[ \t]+(?:symptoms?|sx|nightmares?|flashbacks?|triggers?|reminders?|meds?|medications?|groups?|"
    r"clinic|program|specialists?|support|workbook|awareness|coach(?:ing)?|evaluation|eval|testing|"
    r"screen(?:ing)?|research|memoir|podcast|community|brain|rituals?|behaviou?rs?|episodes?)\b",
    re.IGNORECASE)
_DX_RIGHT_BEFORE = re.compile(rf"(?:,\s*|{DIAGNOSIS_NAME}\s*|\b(?:disorder|d/o|(?-i:[A-Z]{{2,5}}))\s*,?\s*(?:\w+\s*,\s*)*)$", re.IGNORECASE)


def colloquial(m: re.Match, text: str) -> bool:
    """A diagnosis word used colloquially ("he's so OCD about the dishes", "a bit 'ADHD'")."""
    s = m.start()
    return bool(_COLLOQUIAL.search(text, max(0, s - 20), s))


def names_a_scale(m: re.Match, text: str) -> bool:
    """The match is the start of a scale's name ("GAD 7", "Generalized Anxiety Disorder-7",
    "PTSD checklist")."""
    return bool(_SCALE_AFTER.match(text, m.end()))


def diagnosis_as_modifier(m: re.Match, text: str) -> bool:
    """A diagnosis word used as a modifier ("PTSD symptoms", "OCD workbook", "ADHD evaluation")."""
    return bool(_DX_ATTRIB_AFTER.match(text, m.end()))


def diagnostic_specifier(m: re.Match, text: str) -> bool:
    """The match right after a diagnosis is its specifier ("alcohol use disorder, in early
    remission"): diagnosis, not progress."""
    before = clause_before(text, m.start())
    return bool(before.strip() and _DX_RIGHT_BEFORE.search(before))


# ---- other people's treatment, other illnesses, other times -----------------------------------
# A modality the patient read or heard about is session content, not treatment furnished.
_MOD_INFO = re.compile(
    r"\b(?:read|reads|reading|heard|hears|saw|watched|googled|looked\s+up|researched|asked\s+(?:me\s+)?about|"
    r"curious\s+about|skeptical\s+(?:of|about)|afraid\s+of|scared\s+of|online|podcast|article|tiktok|"
    r"instagram|youtube|book\s+about)\b", re.IGNORECASE)
# A prognosis given by another doctor for a medical illness, or a relative's, is session content.
_PX_MEDICAL = re.compile(
    r"\b(?:oncologist|surgeon|cardiologist|neurologist|pulmonologist|nephrologist|hepatologist|ob/?gyn|"
    r"pediatrician|vet|veterinarian|cancer|tumou?r|chemo\w*|radiation|biopsy|surgery|transplant|stroke|"
    r"heart|kidney|liver|lung|covid|injury|fracture)\b", re.IGNORECASE)
# Functioning named as a goal ("goals revised to focus on ... return to work") is not current status.
_FUNC_GOAL = re.compile(
    r"\b(?:goals?|objectives?|focus(?:ed|ing)?\s+on|work(?:ing)?\s+(?:toward|towards)|hop(?:es|ing)?\s+to|"
    r"wants?\s+to|wanting\s+to|aims?\s+to|would\s+like\s+to|plans?\s+to|planning\s+to|dreams?\s+of)\b"
    r"(?![^.;\n]*\b(?:but|although|though|yet|however)\b)", re.IGNORECASE)
_PAST_AFTER = re.compile(
    r"\s+(?:at\s+(?:age\s+)?\d{1,2}\b|when\s+(?:she|he|they|i)\s+was|as\s+a\s+(?:kid|child|teen|teenager)|in\s+(?:19|20)\d\d|"
    r"(?:\w+\s+)?years\s+ago|in\s+(?:high\s+school|college|grad\s+school|the\s+army|the\s+\d0s))",
    re.IGNORECASE)


def read_or_heard_about(m: re.Match, text: str) -> bool:
    """A modality the patient read, heard or asked about ("listened to a podcast about DBT")."""
    return bool(_MOD_INFO.search(clause_before(text, m.start())))


def medical_illness(m: re.Match, text: str) -> bool:
    """The clause is about a medical illness or another doctor ("her surgeon says the prognosis
    is excellent after the biopsy")."""
    return bool(_PX_MEDICAL.search(clause_before(text, m.start())))


def named_as_goal(m: re.Match, text: str) -> bool:
    """Functioning named as a goal or a hope ("one of her goals is to get back to work"), unless
    the clause goes on with "but", "although"..."""
    return bool(_FUNC_GOAL.search(clause_before(text, m.start())[-60:]))


def past_era(m: re.Match, text: str) -> bool:
    """Functioning tied to an age or a past era ("lost her job at 22", "in college"): biography."""
    return bool(_PAST_AFTER.match(text, m.end()))


# ---- symptoms that are something else ---------------------------------------------------------
_MED_CTX = re.compile(rf"{DRUG}|\b(?:meds?|medications?|dose|side[- ]effects?|prescribed)\b", re.IGNORECASE)
_TARGET_BEFORE = re.compile(r"\b(?:for|targeting|target|treat(?:s|ing|ed)?)\s+$", re.IGNORECASE)


def medication_nearby(m: re.Match, text: str) -> bool:
    """A drug, "meds", "dose", "side effects" or "prescribed" in the same note entry (line),
    within 150 characters: side effects there are medication monitoring, not symptoms."""
    return bool(_MED_CTX.search(line_window(text, m.start(), m.end())))


def named_as_treatment_target(m: re.Match, text: str) -> bool:
    """The match is what a treatment targets ("CBT-I for insomnia", "targeting rumination")."""
    s = m.start()
    return bool(_TARGET_BEFORE.search(text, max(0, s - 20), s))


# ---- combining predicates into rule filters ---------------------------------------------------

def reject_if(*predicates: Predicate) -> Filter:
    """A rule filter that drops a match when any predicate holds, else reports the whole match."""
    def flt(m: re.Match, text: str) -> tuple[int, int] | None:
        for p in predicates:
            if p(m, text):
                return None
        return m.span()
    flt.__name__ = "reject_if(" + ", ".join(p.__name__ for p in predicates) + ")"
    flt.__doc__ = "Drop a match that is: " + "; ".join(p.__name__.replace("_", " ") for p in predicates) + "."
    return flt


#: Medication in a dream, a story or a musing is session content.
NOT_NARRATIVE = reject_if(in_dream_or_story, musing_about_medication)
#: ... and so is someone else's medication.
NOT_NARRATIVE_OR_SOMEONE_ELSES = reject_if(about_someone_else, in_dream_or_story, musing_about_medication)
#: A treatment frequency, functioning or progress in a hypothetical, or about someone else.
NOT_HYPOTHETICAL_OR_SOMEONE_ELSES = reject_if(hypothetical, about_someone_else)
#: A modality read or heard about, hypothetical, or someone else's.
NOT_READ_ABOUT_HYPOTHETICAL_OR_SOMEONE_ELSES = reject_if(read_or_heard_about, hypothetical, about_someone_else)
#: Functioning named as a goal.
NOT_A_GOAL = reject_if(named_as_goal)
#: Functioning that is biography, a goal, hypothetical, or someone else's.
CURRENT_OWN_FUNCTIONING = reject_if(past_era, named_as_goal, hypothetical, about_someone_else)
#: Plans: wishes and jokes are not plans, nor someone else's plans; conditionals are.
NOT_WISH_OR_SOMEONE_ELSES = reject_if(wish_or_joke, about_someone_else)
#: Remission right after a diagnosis is its specifier; otherwise as for plans.
NOT_SPECIFIER_WISH_OR_SOMEONE_ELSES = reject_if(diagnostic_specifier, wish_or_joke, about_someone_else)
#: A prognosis for a medical illness, given by another doctor, or a relative's.
NOT_MEDICAL_OR_SOMEONE_ELSES = reject_if(medical_illness, after_relatives_possessive, wish_or_joke, about_someone_else)
#: A diagnosis word naming a scale, used colloquially or as a modifier, or someone else's.
PATIENTS_OWN_DIAGNOSIS = reject_if(names_a_scale, colloquial, after_relatives_possessive,
                                   diagnosis_as_modifier, family_history)
