"""Sense filters of the 45 CFR 164.501 lint: when a match uses a clinical word in another sense.

Some matches are not excluded content whatever their context because the words mean something
else: a diagnosis abbreviation used colloquially ("he's so OCD about the dishes"), a scale's name
("GAD 7"), a diagnosis word as a modifier ("PTSD symptoms", "an OCD workbook"), a remission
specifier right after a diagnosis, side effects in a medication entry, a symptom named as a
treatment's target.  The predicates below recognise those senses; each takes a regex match and
the whole text and returns True when the match is *not* excluded content.  :func:`reject_if`
turns predicates into a rule filter.

Context (whose, real or imagined, when, which note section) is not judged here: it is read by
medSpaCy's ConText and sectionizer (:mod:`confide.hipaa.lint.context`), and each category
module's ``CONTEXT_VETO`` says which context makes its candidates session content.
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


# ---- everyday senses of "session", "visit", "appointment" -------------------------------------
# A jam session, a study session, a session with her lawyer, weekly visits to her father, a dental
# appointment: not a counseling session.  A relative after "sessions with" takes part in the
# client's session ("sessions with her mother present"), after "visits to/with" it is a visit.
_EVERYDAY_SESSION = re.compile(
    r"\b(?:jam|jamming|recording|studio|study|studying|practice|training|workout|gym|photo|gaming|game|"
    r"brainstorming|strategy|planning|tutoring|writing|drinking|tanning|sparring|negotiation|bargaining|court|"
    r"legislative|voting|question|listening|information|info|sales|spa|massage|nail|hair|dental|dentist|vet|"
    r"doctor's|doctor|dermatology|prenatal|ob|physical\s+therapy|pt|chemo|dialysis|infusion|custody|supervised|"
    r"conjugal|home|site|campus|college|school|church|prison|jail|hospital)\s+(?:sessions?|visits?|appointments?|appts?)\b"
    r"|\b(?:sessions?|visits?|appointments?|appts?|meetings?)\s+(?:with|at|to)\s+(?:(?:her|his|their|the|a|an|my)\s+)?"
    r"(?:lawyer|attorney|trainer|personal\s+trainer|tutor|coach|band|teacher|boss|manager|accountant|realtor|mediator|"
    r"priest|pastor|rabbi|imam|dentist|hairdresser|barber|stylist|vet|mechanic|banker|landlord|parole\s+officer|"
    r"probation\s+officer|caseworker|case\s+worker|judge|nursing\s+home|gym|dmv|bank|court|salon|spa|church|"
    r"oncologist|surgeon|cardiologist|dermatologist|pediatrician|obgyn|ob/gyn|physical\s+therapist)\b"
    r"|\bvisits?\s+(?:to|with)\s+(?:(?:her|his|their|the|a|my)\s+)?(?:\w+\s+)?"
    r"(?:father|mother|dad|mom|parents?|grandmother|grandfather|grandma|grandpa|sister|brother|son|daughter|"
    r"kids|children|friends?|family|relatives|aunt|uncle|cousin)\b",
    re.IGNORECASE)


def everyday_session_at(text: str, s: int, e: int) -> bool:
    """Whether ``text[s:e]`` overlaps an everyday "session", "visit" or "appointment"."""
    lo, hi = max(0, s - 60), min(len(text), e + 80)
    return any(m.start() < e and s < m.end() for m in _EVERYDAY_SESSION.finditer(text, lo, hi))


def everyday_session(m: re.Match, text: str) -> bool:
    """The match's "session", "visit" or "appointment" is an everyday one ("a jam session",
    "weekly visits to his father", "her session with the personal trainer")."""
    return everyday_session_at(text, m.start(), m.end())


# ---- everyday sense of "progress" --------------------------------------------------------------
# "progress on the deck", "progress of the renovation": a concrete thing, not the client's course.
_PROGRESS_OBJECT = re.compile(r"\s+(?:on|with|of|in)\s+(?:the|a|an|her|his|their|my|this|that|our)\s+(?:[\w-]+\s+)?([\w-]+)", re.IGNORECASE)
_CLINICAL_OBJECT = re.compile(
    r"(?:treatment|tx|therapy|goals?|objectives?|symptoms?|recovery|sobriety|exposure|hierarchy|skills?|homework|plan|"
    r"anxiety|depression|mood|panic|ptsd|trauma|grief|assertiveness|boundaries|avoidance|urges|drinking|use|substance|"
    r"self-care|sleep|work|functioning|coping|communication|relationships?|eating|weight|compulsions|rituals|worry|"
    r"anger|irritability|self-esteem|confidence|independence|program|sessions?|course)$", re.IGNORECASE)


_PROGRESS_PLACE = re.compile(r"\s+at\s+(?:(?:the|her|his|their|my)\s+)?(?:work|school|college|the\s+office|office|job|gym|home|church|practice|the\s+\w+)\b",
                             re.IGNORECASE)


_PROGRESS_WORD = re.compile(r"\bprogress\b", re.IGNORECASE)
# A thing or a venture as the subject of "made progress" ("the project at work made real progress"):
# the progress is its, not the client's.
_THING_SUBJECT = re.compile(
    r"\b(?:the|a|an|her|his|their|our|my|its)\s+(?:[\w-]+\s+)?(?:project|team|renovation|remodel|construction|repairs?|case|lawsuit|"
    r"negotiations?|house|build|campaign|company|business|deal|search|investigation|garden|book|novel|thesis|dissertation|paper|"
    r"application|plans|planning|move|startup|band|crew|class|club|committee|government|police|court|builders?|contractors?)"
    r"(?:\s+(?:at|on|in|for)\s+(?:the\s+)?[\w-]+)?\s+(?:has\s+|have\s+|had\s+|is\s+|are\s+|was\s+|were\s+)?(?:finally\s+|really\s+|also\s+)?$",
    re.IGNORECASE)


def everyday_progress(m: re.Match, text: str) -> bool:
    """Progress on or with a concrete thing ("progress on the deck he's building", "made real
    progress on the kitchen renovation"), at a place ("no progress at work") or made by a thing
    ("the project at work made real progress"), not the client's treatment course.  The object
    is read right after the word "progress", wherever the match ends."""
    w = _PROGRESS_WORD.search(text, m.start(), m.end())
    at = w.end() if w else m.end()
    o = _PROGRESS_OBJECT.match(text, at)
    if (o and not _CLINICAL_OBJECT.match(o.group(1))) or _PROGRESS_PLACE.match(text, at):
        return True
    return bool(_THING_SUBJECT.search(clause_before(text, m.start())))


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


#: A diagnosis word naming a scale, used colloquially or as a modifier.
DIAGNOSIS_SENSE = reject_if(names_a_scale, colloquial, diagnosis_as_modifier)
#: Remission right after a diagnosis is its specifier.
NOT_A_SPECIFIER = reject_if(diagnostic_specifier)
#: Progress on a concrete thing.
NOT_EVERYDAY_PROGRESS = reject_if(everyday_progress)
#: A session, visit or appointment in its everyday sense.
NOT_EVERYDAY_SESSION = reject_if(everyday_session)
