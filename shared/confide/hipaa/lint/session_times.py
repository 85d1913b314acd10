"""Counseling session start and stop times (45 CFR 164.501: excluded from psychotherapy notes).

45 CFR 164.501 excludes "counseling session start and stop times" from the definition of
psychotherapy notes.  The rules below recognise a clock-time range ("2:00-2:53 p.m."), a start
time paired with a stop time ("start 14:00, end 14:50", "time in 9:05 ... time out 9:55"), a
single labelled session start or end time ("session ended at 3:50 pm", "left early at 3:35"),
and the session's length, which is what its start and stop times measure ("Duration: 45 min",
"53-minute session", "session lasted 60 minutes", "we met for 50 minutes", "session began 15
minutes late"; a length written as a bare item of a session line: "90834 psychotherapy, 45 min").

Judgement calls: a clock time is reported only as part of a start/stop pair or a range whose
length is a plausible session (5 to 240 minutes); "at 3 am she called her sister" is session
content.  A range needs minutes or am/pm ("7-3 shift", "4-5 hrs" are not clock times); a range
written without a colon needs a session word before it.  A clock range with no session word in
its sentence is reported only as a bare time stamp (the range opens the sentence, or follows
"Time:" or a date); "she reads from 9:00 to 10:30" is not, nor another event's times ("the
meeting with his boss is from 9:00 to 9:30").  A range on the 12-hour clock without am/pm may
wrap ("12:50-1:40").  Times inside quoted speech are still reported.  A length is the session's
only when tied to it (a session word, "we met for", a length label such as "Duration:" or
"Face-to-face time:"): "he spent 20 minutes describing the argument" and "talks in 15-minute
bursts" are session content; the modality in "60-minute individual psychotherapy" stays a
modality finding, its length is reported here.

Context (whose, real or imagined, when; the note section) is read by medSpaCy's ConText and
sectionizer (:mod:`confide.hipaa.lint.context`); :data:`CONTEXT_VETO` names the contexts that
make a candidate of this category session content.
"""

from __future__ import annotations

import re

from ._regex import CLAUSE_START, DASH
from .filters import everyday_session, everyday_session_at, reject_if, sentence
from .rule import Rule, section_rule, tokens

CATEGORY = "session_start_stop_times"
#: Contexts (ConText, :mod:`confide.hipaa.lint.context`) in which clock times are not this
#: session's: someone else's ("her son's appointment is 3:00-3:45") or imagined.
CONTEXT_VETO = frozenset({"FAMILY", "OTHER_PERSON", "IMAGINED"})

_TIME = r"(?P<{n}h>\d{{1,2}})(?::(?P<{n}m>[0-5]\d))?(?:\s*(?P<{n}ap>[ap])(?:\.?m\b\.?|\.|\b))?"
_T1, _T2 = _TIME.format(n="a"), _TIME.format(n="b")
_TO = rf"\s*(?:{DASH}|to|until|till|through)\s*"

# Another event's clock times (a meeting, a flight, a shift) are session content, not session times.
_OTHER_EVENT = re.compile(
    r"\b(?:meeting|class|shift|flight|train|bus|dinner|lunch|breakfast|party|game|practice|"
    r"interview|call|date|wedding|funeral|court|hearing|exam|test|school|work|job|movie|show)\b",
    re.IGNORECASE,
)
_SESSION_WORD_RX = re.compile(
    r"\b(?:session|sess|seen|saw|met|meet|hour|therapy|psychotherapy|visit|appt|appointment|tx|telehealth|"
    r"time\s+(?:in|out)|start(?:ed|ing)?|began|begin(?:ning)?|end(?:ed|ing)?|finish(?:ed)?|stop(?:ped)?|min)\b",
    re.IGNORECASE)


class _SessionWord:
    """A word that ties clock times to the session, unless used in an everyday sense ("a jam
    session", "a session with her lawyer": see :func:`~confide.hipaa.lint.filters.everyday_session_at`)."""

    def search(self, fragment: str):
        return next((m for m in _SESSION_WORD_RX.finditer(fragment)
                     if not everyday_session_at(fragment, m.start(), m.end())), None)


_SESSION_WORD = _SessionWord()
# What may precede a bare time range that is the session's own time stamp.
_RANGE_LABEL = re.compile(r"\s*(?:(?:date|time|times|dos|t)\s*[:=]?\s*|\d{1,2}/\d{1,2}(?:/\d{2,4})?\s*,?\s*)?", re.IGNORECASE)


def _minutes(h: str, m: str | None, ap: str | None) -> int:
    hh = int(h) % 12 if ap else int(h)
    if ap and ap.lower() == "p":
        hh += 12
    return hh * 60 + int(m or 0)


def _session_length(gd: dict) -> int:
    a = _minutes(gd["ah"], gd["am"], gd["aap"] or gd["bap"])
    b = _minutes(gd["bh"], gd["bm"], gd["bap"] or gd["aap"])
    d = b - a
    if d <= 0 and not (gd["aap"] or gd["bap"]):
        d += 12 * 60  # "12:50-1:40", 12-hour clock without am/pm
    return d


def plausible_session_times(m: re.Match, text: str) -> tuple[int, int] | None:
    """Keep clock times that are this session's: see the module docstring."""
    gd = m.groupdict()
    if gd.get("am") is None and gd.get("aap") is None:
        return None  # "7-3 shift", "4-5 hrs": not clock times
    before = text[max(0, m.start() - 60):m.start()]
    before = re.split(r"[.;\n!?]", before)[-1]
    if _OTHER_EVENT.search(before) and not _SESSION_WORD.search(before):
        return None
    s, e = m.span()
    if text[e - 1] == "." and e >= 3 and text[e - 3] != ".":
        e -= 1  # "2:53 pm." ends a sentence; "2:53 p.m." keeps its dot
    if gd.get("bh") is None:  # a single labelled start or end time
        return s, e
    if gd.get("bm") is None and gd.get("bap") is None:
        return None
    if gd.get("am") is None and gd.get("bm") is None and not _SESSION_WORD.search(before):
        return None  # "3-4 pm" with no colon anywhere needs a session word
    if not _SESSION_WORD.search(sentence(text, s, e)) and not _RANGE_LABEL.fullmatch(before):
        return None  # "she reads from 9:00 to 10:30": another activity's hours, not the session's
    return (s, e) if 5 <= _session_length(gd) <= 240 else None


_START_OR_END = re.compile(r"\b(?:start|began|begin|end|finish|stop|wrap|conclud)", re.IGNORECASE)


def session_start_or_end_time(m: re.Match, text: str) -> tuple[int, int] | None:
    """A start or end verb with a clock time ("we ended at 4:12", "ending at 5:10"): kept as the
    session's unless its sentence is about another event ("her shift ended at 5:10") or names
    no session and has a subject other than the session or "we"."""
    span = plausible_session_times(m, text)
    if span is None:
        return None
    sent = sentence(text, m.start(), m.end())
    if _OTHER_EVENT.search(sent):
        return None
    return span


def quoted_times_are_kept(text: str, start: int, end: int) -> bool:
    """Quote policy: session times are reported even inside quotes."""
    return True


def _rule(name: str, pattern: str, filter=plausible_session_times) -> Rule:
    return Rule(f"session_times.{name}", CATEGORY, pattern, {"<clock>"}, filter,
                window=120, keep_quoted=quoted_times_are_kept)


_DIGIT = re.compile(r"\d")

# ---- a session's length ------------------------------------------------------------------------
_NUMWORD = r"(?:five|ten|fifteen|twenty|thirty|forty|forty-five|fifty|sixty|ninety)"
#: A length in minutes or hours: "45 min", "53-minute", "45min", "1.5 hours", "an hour".
_MINUTES = rf"\d+(?:\.\d+)?\s*{DASH}?\s*(?:min(?:ute)?s?|mins?)\b"
_LENGTH = (rf"(?:{_MINUTES}|\d+(?:\.\d+)?\s*{DASH}?\s*(?:hours?|hrs?)\b|(?:an|one|two|a\s+full|half\s+an|a\s+half)(?:\s+|{DASH})hours?(?:\s+and\s+a\s+half)?\b"
           rf"|half{DASH}hour\b|{_NUMWORD}(?:\s+|{DASH})minutes?\b)")
_LENGTH_T = tokens("min mins minute minutes <min> hour hours hr hrs")
# What makes a bare length an item of a session line: a CPT code, a modality or format word, a
# session word or a clock time in the same sentence.
_SESSION_LINE = re.compile(
    r"\b(?:908\d\d|9078[5-9]|9079\d|cpt|session|sess|visit|appt|appointment|psychotherapy|therapy|counsel(?:l)?ing|individual|"
    r"group|family|couples|telehealth|video|phone|in[- ]person|face[- ]to[- ]face|f2f|intake)\b|\d:[0-5]\d",
    re.IGNORECASE)


def session_line_length(m: re.Match, text: str) -> tuple[int, int] | None:
    """Keep a bare length ("..., 45 min") only in a sentence about the session (a session word, a
    CPT code, a format or a clock time: "90834 psychotherapy, 45 min"), not "Silence, 10 minutes,
    then tears" with no session word."""
    s, e = m.span()
    sent = sentence(text, s, e)
    if not _SESSION_LINE.search(sent) or everyday_session_at(text, s, e):
        return None
    return s, e


def _length_of_session(m: re.Match, text: str) -> tuple[int, int] | None:
    """A length with its session word ("53-minute session"), or only the length when the word
    comes first ("Psychotherapy 53 min": the length is the session's time, the word is not);
    an everyday session's length is not reported."""
    if everyday_session(m, text):
        return None
    return m.span("len") if m.groupdict().get("len") else m.span()


def _group_span(group: str):
    def flt(m: re.Match, text: str) -> tuple[int, int] | None:
        return m.span(group)
    flt.__name__ = f"span_of_{group}"
    return flt


def _length(name: str, pattern: str | tuple[str, ...], filter=None) -> Rule:
    """A rule for the session's length; unlike clock times, a length inside quoted speech is the
    client's words ("'I only have twenty minutes'"), not the session's."""
    return Rule(f"session_times.{name}", CATEGORY, pattern, _LENGTH_T, filter, window=120)


RULES: tuple[Rule, ...] = (
    # the body of a session-time section: "Start/stop: 1300-1350"
    section_rule("session_times", CATEGORY, lambda body: bool(_DIGIT.search(body)), tight=True),
    _rule("clock_range", rf"(?<![\d:]){_T1}{_TO}{_T2}(?![\d:])"),
    _rule("start_and_stop_times",
          rf"\b(?:session\s+)?(?:start(?:ed|s)?|began|begins?|time\s+in|in)\b\s*(?:at|:|=)?\s*{_T1}"
          rf"[^.;\n\d]{{0,25}}?\b(?:end(?:ed|s)?|stop(?:ped|s)?|finish(?:ed)?|time\s+out|out)\b\s*(?:at|:|=)?\s*{_T2}"),
    # "we ended at 4:12", "ending at 5:10", "Ended early at 2:35", "session began at 9:15"
    _rule("start_or_end_verb_at_time",
          rf"\b(?:(?:start(?:ed|ing|s)?|began|begin(?:ning|s)?|end(?:ed|ing|s)?|finish(?:ed|ing)?|stop(?:ped|ping)?|"
          rf"wrapped\s+up|conclud(?:ed|ing))(?:\s+(?:the\s+|today's\s+)?session)?|left\s+(?:the\s+session\s+)?early|left\s+the\s+session)"
          rf"\s+(?:early\s+|late\s+|promptly\s+|on\s+time\s+|right\s+|just\s+)?at\s+{_T1}",
          session_start_or_end_time),
    _rule("labelled_start_or_end_time",
          rf"\b(?:session\s+(?:start|end|began|ended|started|stopped)(?:\s+time)?|start\s+time|end\s+time|stop\s+time|time\s+in|time\s+out)\s*(?:at|:|=)?\s*{_T1}"),
    # ---- the session's length (what its start and stop times measure)
    # "Duration: 45 min", "Face-to-face time: 38 minutes", "session length of 53 min", "Total time: 60 min"
    _length("length_label",
            rf"\b(?:(?:session|visit|appointment|appt|psychotherapy|therapy|service)\s+)?(?:length|duration)\s*(?::|=|{DASH}|was|is|of)?\s*(?:of\s+)?{_LENGTH}"
            rf"|\b(?:face[- ]to[- ]face|f2f|total|session|therapy|psychotherapy|contact|direct|service|visit)\s+time(?:\s+spent)?\s*(?::|=|{DASH}|was|is|of)?\s*{_LENGTH}"
            rf"|\btime\s+spent\s*(?::|=|{DASH}|was|with\s+(?:pt|patient|client))?\s*{_LENGTH}"
            rf"|\b(?:face[- ]to[- ]face|f2f|total)\s*(?::|=)\s*{_LENGTH}"
            rf"|(?:^|(?<=[\n;]))\s*time\s*[:=]\s*{_LENGTH}"),
    # "53-minute session", "45 min session", "a 90-minute telehealth visit" (everyday sessions excluded)
    _length("minutes_of_session",
            (rf"{_LENGTH}\s+(?:(?:individual|family|group|couples|telehealth|video|phone|in[- ]person|intake|therapy|psychotherapy|follow[- ]up)\s+)?(?:session|visit|appointment|appt|check-in|check\s+in)s?\b",
             # "Psychotherapy 53 min (90837)", "session: 50 min" (not "session 10 minutes late")
             rf"\b(?:psychotherapy|therapy|counsel(?:l)?ing|session|visit|appointment|appt|telehealth|intake)\s*(?:[:,=]\s*|{DASH}\s*)?(?P<len>{_MINUTES})"
             rf"(?!\s*(?:late|early|ago|before|after|into|in\b|later|over|prior|past|of\b|to\b|from\b|each|per|a\s+day|daily|on\b))"),
            _length_of_session),
    # the length of a named modality: "60-minute individual psychotherapy" (the modality is reported as such)
    _length("minutes_of_psychotherapy",
            rf"(?P<len>{_LENGTH})\s+(?=(?:individual|family|group|couples|supportive|psychodynamic|interactive|crisis)?\s*(?:psychotherapy|therapy|counseling|counselling)\b)",
            _group_span("len")),
    # "session lasted 60 minutes", "Sessions are 50 minutes", "the visit ran about an hour"
    _length("session_lasted",
            rf"\b(?:sessions?|visits?|appointments?|appts?|psychotherapy|therapy)\s+(?:today\s+)?(?:lasted|ran|went|runs|run|lasts|last|are|is|were|was|of|"
            rf"(?:was\s+|were\s+|is\s+)?(?:shortened|extended|cut|limited|kept|capped)\s+to)\s+(?:for\s+)?(?:about\s+|approximately\s+|approx\.?\s+|around\s+|roughly\s+|~\s*|only\s+|just\s+)?{_LENGTH}",
            reject_if(everyday_session)),
    # "We met for 53 minutes", "seen for 45 min"
    _length("met_for_length",
            rf"\b(?:(?:we|i|pt\s+and\s+i|client\s+and\s+i|she\s+and\s+i|he\s+and\s+i)\s+met|(?:pt|client|patient|she|he|they)\s+(?:was\s+|were\s+)?seen|seen)\s+for\s+(?:about\s+|approximately\s+|approx\.?\s+|around\s+|roughly\s+|~\s*|only\s+|just\s+)?{_LENGTH}"),
    # "Session began 15 minutes late", "we ended ten minutes early"
    _length("late_or_early_by",
            rf"(?:\b(?:session|sessions|appointment|appt|visit|we)\s+|{CLAUSE_START})(?:started|starts|began|begins|ended|ends|finished|stopped|wrapped\s+up|ran|went|started\s+and\s+ended)\s+(?:about\s+|approximately\s+|~\s*)?(?:{_LENGTH}|{_NUMWORD}\s+minutes?)\s+(?:late|early|over|short)\b"),
    # a bare length as an item of a session line: "90834 psychotherapy, 45 min", "Group therapy, 8 members, 90 min"
    _length("length_item_of_session_line", rf"(?:^|(?<=[,;(\n]))\s*(?:~\s*|approx\.?\s+)?{_MINUTES}(?=\s*(?:[,;)\n]|\.(?!\d)|$))",
            session_line_length),
)
