"""Modalities and frequencies of treatment furnished (45 CFR 164.501: excluded from psychotherapy notes).

45 CFR 164.501 excludes "the modalities and frequencies of treatment furnished" from the
definition of psychotherapy notes.  The rules below recognise: a psychotherapy CPT code; a named
modality or technique, with its frequency when given ("Weekly CBT", "EMDR biweekly",
"individual psychotherapy", "trauma-focused work", "IOP 3 days/week"); a treatment frequency tied
to sessions, therapy or a change of frequency ("sessions are weekly", "moving to every other
week", "session frequency reduced to monthly"); a session's number in a course ("session 4 of
12"); and the format beside a length ("50 min, individual").  The medium of delivery
("telehealth", "via Zoom", "phone session") is not a modality: blind batches f, g and h all
label it so (lint v7; batch a's one older label was updated, held-out c, d, e were not read).
A session's length ("60-minute", "50 min") is the session's times, reported by
:mod:`confide.hipaa.lint.session_times`, not here.

Judgement calls: a frequency word ("weekly") is reported only when tied to treatment (a modality,
"sessions", "therapy", "frequency ..."); "AA meetings every Tuesday" is not.  An acronym followed
by a school word is not a modality ("PE teacher", "ACT score").  A frequency or modality in a
hypothetical, question or joke ("if she had to come twice a week", "what if we met weekly"),
about someone else, or that the patient read or heard about ("a podcast about DBT"), is session
content and not reported.

Context (whose, real or imagined, when; the note section) is read by medSpaCy's ConText and
sectionizer (:mod:`confide.hipaa.lint.context`); :data:`CONTEXT_VETO` names the contexts that
make a candidate of this category session content.
"""

from __future__ import annotations

import re

from ._regex import DASH
from .filters import NOT_EVERYDAY_SESSION
from .lexicons import FREQUENCY, FREQUENCY_TERMS, MODALITY_NAME, MODALITY_TERMS, TECHNIQUE_NAME, TECHNIQUE_TERMS
from .rule import Rule, longest_tokens, section_rule, tokens

CATEGORY = "modalities_and_frequencies_of_treatment"
#: Contexts (ConText, :mod:`confide.hipaa.lint.context`) in which a modality or frequency is not
#: treatment furnished to the client: someone else's ("his father's DBT group"), imagined or
#: hypothetical ("if she had to come twice a week"), only possible ("possibly EMDR later"), in the
#: client's past life, or read or heard about ("a podcast about DBT").
CONTEXT_VETO = frozenset({"FAMILY", "OTHER_PERSON", "IMAGINED", "HYPOTHETICAL", "POSSIBLE_EXISTENCE", "BIOGRAPHICAL",
                          "INFORMATION"})


def _rule(name: str, pattern: str | tuple[str, ...], gate, filter=None) -> Rule:
    return Rule(f"modality_frequency.{name}", CATEGORY, pattern, gate, filter, window=120)


# An acronym followed by a school word is not a modality ("PE teacher", "ACT score"), nor a
# modality naming a thing one reads or buys ("the CBT workbook her roommate uses", "a DBT app").
_NOT_MOD = (r"(?!\s+(?:teachers?|class(?:es)?|coach|scores?|test|exam|prep|credits?|grades?|homework\s+for\s+school|"
            r"workbooks?|books?|apps?|podcasts?|videos?|websites?|articles?|textbooks?|certification|conference|webinars?|"
            r"memes?|trainings?|influencers?|accounts?)\b)")
_MODALITY_CS = r"(?-i:(?<!his\s)(?<!her\s)(?<!their\s)(?<!my\s)(?<!the\s)\b(?:ACT|IPT|CPT|ERP|EFT|IFS|SFBT|MBT|TFP|PE|MI|MET|CBT|DBT|EMDR)\b" + _NOT_MOD + r"(?:[-\u2011]based(?:\s+(?:interventions?|work|therapy))?)?)"
_MODALITY = rf"(?:\b{MODALITY_NAME}\b{_NOT_MOD}(?:[-\u2011]based(?:\s+(?:interventions?|work))?)?|{_MODALITY_CS})"
# A technique used in session, with a verb of delivery before or after it in the clause.
_DELIVERED = (r"(?:used|using|practiced|practicing|practised|introduced|introducing|did|done|completed|taught|teaching|"
              r"reviewed|reviewing|rehearsed|modeled|modelled|applied|conducted|provided|delivered|utilized|began|started|"
              r"continued|continuing|processed|engaged\s+in|worked\s+on|focused\s+on)")
_TECHNIQUE = rf"\b{TECHNIQUE_NAME}\b"
_MINUTES = rf"\d+\s*{DASH}?\s*(?:min(?:ute)?s?|mins?)\b"
_CPT = r"\b(?:CPT(?:\s*(?:code|#))?\s*:?\s*)?(?:9078[5-9]|9079\d|908\d\d)\b"

_FREQ_T = longest_tokens(FREQUENCY_TERMS) | {"<qfreq>"}
# A program of care between weekly therapy and inpatient care.
_PROGRAM = (r"(?:(?-i:IOP|PHP)\b|intensive\s+outpatient(?:\s+(?:program|treatment))?|partial\s+hospitali[sz]ation(?:\s+program)?|"
            r"day\s+(?:treatment|program)\b)")
# A program's days a week: "IOP 3 days/week", "PHP 5 days a week".
_DAYS_PER_WEEK = r"(?:\d|one|two|three|four|five)\s*(?:days?|x|times|evenings?|nights?)\s*(?:/|a|per)\s*(?:week|wk)\b"


def _format_only(m: re.Match, text: str) -> tuple[int, int]:
    """Report the format ("individual", "family") of a format-and-length pair, not the length."""
    return m.span("fmt")
_MIN_T = tokens("min mins minute minutes <min>")

# A modality or frequency section names a modality, a technique, a frequency, a format or a code.
_MODALITY_BODY = re.compile(
    rf"{_MODALITY}|{_TECHNIQUE}|\b{FREQUENCY}|{_CPT}|{_MINUTES}|\b(?:individual|group|family|couples|telehealth|video|phone|"
    rf"in[- ]person|psychotherapy|therapy|counsel(?:l)?ing)\b", re.IGNORECASE)

RULES: tuple[Rule, ...] = (
    # the body of a modality, service or frequency section: "Modality: individual psychotherapy, 1x/week"
    section_rule("modality_frequency", CATEGORY, lambda body: bool(_MODALITY_BODY.search(body)), tight=True),
    # "CPT 90837"
    _rule("psychotherapy_cpt_code", _CPT, {"cpt", "<cpt>"}),
    # a technique delivered in session: "practiced diaphragmatic breathing", "thought record reviewed", "grounding skills, weekly"
    _rule("technique_delivered",
          (rf"(?<!will\s)(?<!to\s)\b{_DELIVERED}\s+(?:(?:the|a|an|her|his|their|some|more|brief|basic)\s+)?(?:[\w-]+\s+)?{_TECHNIQUE}",
           rf"{_TECHNIQUE}(?:\s+\w+){{0,2}}?\s+(?:was\s+|were\s+)?(?:used|practiced|practised|introduced|completed|taught|reviewed|rehearsed|modeled|applied|conducted|provided|delivered|utilized|started|begun|initiated|continued|built|constructed)\b",
           rf"(?:\b{FREQUENCY}\s+){_TECHNIQUE}|{_TECHNIQUE}\s*,?\s+{FREQUENCY}"),
          longest_tokens(TECHNIQUE_TERMS)),
    # "trauma-focused work", "skills-based therapy weekly"
    _rule("focused_or_based_therapy",
          rf"\b(?:schema|trauma|emotion|solution|compassion|mindfulness|exposure|psychodynamic|insight|skills|attachment)[- ](?:focused|based|oriented)\s+(?:work|therapy|psychotherapy|treatment|interventions?)(?:\s+{FREQUENCY})?",
          {"focused", "based", "oriented"}),
    # "moving to every other week", "stepped down to monthly sessions"
    _rule("change_to_frequency",
          rf"\b(?:move|moving|moved|switch|switching|switched|reduce|reducing|reduced|step(?:ping|ped|s)?\s+(?:down|back)|increase|increasing|increased|go|going|went)\s+(?:back\s+)?to\s+{FREQUENCY}(?:\s+(?:sessions?|therapy|visits?))?",
          _FREQ_T),
    # "sessions are weekly", "seen 50 min biweekly"
    _rule("sessions_at_frequency",
          rf"\b(?:sessions?|therapy|psychotherapy|visits?|appointments?|appts?|seen)\s+(?:are\s+|is\s+|will\s+be\s+|remain\s+|to\s+be\s+)?(?:{_MINUTES}\s*,?\s*)?{FREQUENCY}",
          _FREQ_T, NOT_EVERYDAY_SESSION),
    # "weekly individual sessions"
    _rule("frequency_of_sessions",
          rf"\b{FREQUENCY}\s+(?:individual\s+|family\s+|group\s+|couples\s+)?(?:sessions?|therapy|psychotherapy|visits?|appointments?|appts?)\b",
          _FREQ_T, NOT_EVERYDAY_SESSION),
    # "session frequency reduced to monthly"
    _rule("session_frequency_label",
          rf"\b(?:session\s+)?frequency\s+(?:(?:reduced|increased|decreased|changed|stepped\s+down|moved)\s+)?(?:to\s+)?{FREQUENCY}",
          _FREQ_T),
    # a named modality with its frequency or length: "Weekly CBT", "EMDR biweekly", "DBT skills group, 8 members, 90 min",
    # "CBT for insomnia, weekly", "Family therapy with parents every other week"
    _rule("named_modality",
          rf"(?:\b{FREQUENCY}\s+)?{_MODALITY}(?:(?:\s+(?:for|with|w/)(?:\s+[\w'-]+){{1,3}}?)?\s*,?\s+(?:{FREQUENCY}|{_DAYS_PER_WEEK}))?",
          longest_tokens(MODALITY_TERMS) | tokens("act ipt cpt erp eft ifs sfbt mbt tfp pe mi met cbt dbt emdr")),
    # the format beside a length: "50 min, individual", "individual, 50 min" (the length is the session's times)
    _rule("format_beside_length",
          (rf"(?<=\d)\s*{DASH}?\s*(?:min(?:ute)?s?|mins?)\b\s*,?\s*(?P<fmt>individual|family|group|couples)\b",
           rf"\b(?P<fmt>individual|family|group|couples)\s*,\s*\d+\s*{DASH}?\s*(?:min(?:ute)?s?|mins?)\b"),
          _MIN_T, _format_only),
    # a program of care at its frequency, or attended: "IOP 3 days/week", "attends PHP", "enrolled in an
    # intensive outpatient program" ("referral to IOP" is a plan, not treatment furnished)
    _rule("program_attended_or_at_frequency",
          (rf"\b{_PROGRAM}\s*,?\s+(?:{FREQUENCY}|{_DAYS_PER_WEEK})",
           rf"\b(?:attends|attending|attended|enrolled\s+in|participating\s+in|participates\s+in|continues\s+(?:in|to\s+attend)|"
           rf"started|began|admitted\s+to|stepped\s+down\s+to)\s+(?:an?\s+|the\s+|her\s+|his\s+)?{_PROGRAM}(?:\s*,?\s+(?:{FREQUENCY}|{_DAYS_PER_WEEK}))?"),
          tokens("iop php intensive partial day")),
    # "session 4 of 12"
    _rule("session_number_of_course",
          r"\b(?:session|visit)\s+#?\d+\s+(?:of|/)\s+\d+\b",
          tokens("session visit"), NOT_EVERYDAY_SESSION),
    # "seen weekly", "comes in every other week"
    # "we meet weekly" (the clinician and the client; "the group she runs at church meets biweekly" is not)
    _rule("seen_at_frequency",
          (rf"\b(?:seen|coming\s+in|comes\s+in|came\s+in)\s+(?:\w+\s+)?{FREQUENCY}",
           rf"\b(?:we|i|pt\s+and\s+i|client\s+and\s+i)(?:['\u2019](?:d|ve|ll|re)\b)?\s+(?:have\s+been\s+|had\s+been\s+|been\s+|will\s+|are\s+|agreed\s+to\s+)?(?:meeting|meet|met|see\s+(?:her|him|them|each\s+other))\s+(?:\w+\s+)?{FREQUENCY}",
           rf"\b(?:attends?|attending|attended)\s+(?:(?:individual|group|family|couples|dbt|skills|her|his)\s+)*(?:sessions?|therapy|appointments?|appts?|group)\s+{FREQUENCY}"),
          _FREQ_T),
    # "sessions back to weekly"
    _rule("sessions_moved_to_frequency",
          rf"\b(?:sessions?|visits?|appts?|appointments?)\s+(?:out\s+|back\s+)?to\s+{FREQUENCY}",
          _FREQ_T, NOT_EVERYDAY_SESSION),
)
