"""Counseling session start and stop times (45 CFR 164.501: excluded from psychotherapy notes).

45 CFR 164.501 excludes "counseling session start and stop times" from the definition of
psychotherapy notes.  The rules below recognise a clock-time range ("2:00-2:53 p.m."), a start
time paired with a stop time ("start 14:00, end 14:50", "time in 9:05 ... time out 9:55"), and a
single labelled session start or end time ("session ended at 3:50 pm").

Judgement calls: a clock time is reported only as part of a start/stop pair or a range whose
length is a plausible session (5 to 240 minutes); "at 3 am she called her sister" is session
content.  A range needs minutes or am/pm ("7-3 shift", "4-5 hrs" are not clock times); a range
written without a colon needs a session word before it.  A clock range with no session word in
its sentence is reported only as a bare time stamp (the range opens the sentence, or follows
"Time:" or a date); "she reads from 9:00 to 10:30" is not, nor another event's times ("the
meeting with his boss is from 9:00 to 9:30").  A range on the 12-hour clock without am/pm may
wrap ("12:50-1:40").  Times inside quoted speech are still reported.

Context (whose, real or imagined, when; the note section) is read by medSpaCy's ConText and
sectionizer (:mod:`confide.hipaa.lint.context`); :data:`CONTEXT_VETO` names the contexts that
make a candidate of this category session content.
"""

from __future__ import annotations

import re

from ._regex import DASH
from .filters import everyday_session_at, sentence
from .rule import Rule, section_rule

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

RULES: tuple[Rule, ...] = (
    # the body of a session-time section: "Start/stop: 1300-1350"
    section_rule("session_times", CATEGORY, lambda body: bool(_DIGIT.search(body)), tight=True),
    _rule("clock_range", rf"(?<![\d:]){_T1}{_TO}{_T2}(?![\d:])"),
    _rule("start_and_stop_times",
          rf"\b(?:session\s+)?(?:start(?:ed|s)?|began|begins?|time\s+in|in)\b\s*(?:at|:|=)?\s*{_T1}"
          rf"[^.;\n\d]{{0,25}}?\b(?:end(?:ed|s)?|stop(?:ped|s)?|finish(?:ed)?|time\s+out|out)\b\s*(?:at|:|=)?\s*{_T2}"),
    # "we ended at 4:12", "ending at 5:10", "Ended early at 2:35", "session began at 9:15"
    _rule("start_or_end_verb_at_time",
          rf"\b(?:start(?:ed|ing|s)?|began|begin(?:ning|s)?|end(?:ed|ing|s)?|finish(?:ed|ing)?|stop(?:ped|ping)?|"
          rf"wrapped\s+up|conclud(?:ed|ing))\s+(?:early\s+|late\s+|promptly\s+|on\s+time\s+|right\s+|just\s+)?at\s+{_T1}",
          session_start_or_end_time),
    _rule("labelled_start_or_end_time",
          rf"\b(?:session\s+(?:start|end|began|ended|started|stopped)(?:\s+time)?|start\s+time|end\s+time|stop\s+time|time\s+in|time\s+out)\s*(?:at|:|=)?\s*{_T1}"),
)
