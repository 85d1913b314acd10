"""Summary of progress to date (45 CFR 164.501: excluded from psychotherapy notes).

45 CFR 164.501 excludes "any summary of ... progress to date" from the definition of
psychotherapy notes.  The rules below recognise: progress language ("moderate progress toward
goals", "progressing slowly", "Progress: ..."); change since a reference point ("Symptoms
improved since intake", "lowest since starting"); change over a span ("improved over the past six
weeks", "down 25% since March", "went from 21 to 9", "now 2x/wk vs daily"); resolution and
remission ("Panic has largely subsided", "in full remission"); gains and their maintenance;
abstinence and behaviour-free periods ("sober for 60 days", "no self-harm in 3 months"); goals
met; comparisons with an earlier time ("better than last month", "doing much better", "Compared
with intake, her depressive symptoms have roughly halved", "now able to ..., which was unthinkable
at intake", "Since we started DBT she has fewer blow-ups"); an observed change or treatment
response ("Improvement in mood noted", "Treatment response has been partial", "No longer meets
criteria for MDD"); regression, setbacks and relapse; and completed sessions ("Attended 5 of 8
group sessions").

Judgement calls: progress in a hypothetical ("if gains maintained") or about someone else is not
reported, nor progress on a thing or made by one ("progress on the kitchen renovation", "the project
at work made real progress"); "in early remission" right after a diagnosis is that diagnosis's specifier, not
progress.  Two resolutions between categories are declared here (:data:`RESOLUTIONS`): a score
change right after a test score ("PHQ-9 12, down from 18") stays with the test result and is not
also progress; a symptom named inside a progress statement ("nightmares have resolved") is
reported as progress, not as a symptom.

Context (whose, real or imagined, when; the note section) is read by medSpaCy's ConText and
sectionizer (:mod:`confide.hipaa.lint.context`); :data:`CONTEXT_VETO` names the contexts that
make a candidate of this category session content.
"""

from __future__ import annotations

import re

from ._regex import CLAUSE
from .filters import NOT_A_SPECIFIER, NOT_EVERYDAY_PROGRESS
from .lexicons import PROGRESS_ADJECTIVE, PROGRESS_CHANGE, PROGRESS_SUBJECT, SYMPTOM
from .rule import Rule, section_rule, tokens

CATEGORY = "summary_progress_to_date"
#: Contexts (ConText, :mod:`confide.hipaa.lint.context`) in which a change is not the client's
#: progress to date: someone else's, imagined or hypothetical ("if gains are maintained"), a
#: goal or hope, or what a prognosis expects ("likely to reach remission").
CONTEXT_VETO = frozenset({"FAMILY", "OTHER_PERSON", "IMAGINED", "HYPOTHETICAL", "GOAL", "PROGNOSTIC"})


def _rule(name: str, pattern: str | tuple[str, ...], gate: str, filter=None) -> Rule:
    return Rule(f"progress.{name}", CATEGORY, pattern, tokens(gate), filter, window=160)


def _change_only(m: re.Match, text: str) -> tuple[int, int]:
    """Report the change ("fewer blow-ups"), not the treatment step it is set against."""
    return m.span("change")


def _plain(name: str, pattern: str, gate: str) -> Rule:
    return _rule(name, pattern, gate, None)


_PG_ADJ = PROGRESS_ADJECTIVE
_PG_NOUN = PROGRESS_SUBJECT
_PG_CHANGE = PROGRESS_CHANGE
# The reference point of "since ...": intake, the start of treatment, a month, an event.
_PG_SINCE = (r"(?:intake|admission|baseline|the\s+start\s+of\s+(?:treatment|tx|therapy)|starting\s+(?:treatment|tx|therapy|[\w-]+)|beginning\s+(?:treatment|tx|therapy)|last\s+(?:session|visit|review|month|week|quarter|assessment|appt)|the\s+last\s+(?:session|visit|review|month|few\s+weeks)|(?:january|february|march|april|may|june|july|august|september|october|november|december)(?:\s+\d{4})?|\d+\s+(?:weeks|months)\s+ago|treatment\s+began|we\s+began|"
             r"starting\b|(?:tx|therapy|treatment)\s+(?:began|started)|we\s+started|discharge|(?:the\s+)?(?:summer|spring|fall|winter|holidays|new\s+year)|"
             r"the\s+(?:hospitalization|admission|move|divorce|accident|last\s+\w+)|(?:her|his|their)\s+(?:hospitalization|admission|discharge))")
# What can be counted or rated over time: a symptom, urges, episodes, arguments.
_SYMPTOM_OR_EVENTS = rf"(?:{SYMPTOM}|symptoms?|sx|anxiety|depression|urges|episodes|attacks|arguments|fights|conflicts?)"
# How much a change was: "lifted considerably since the summer".
_DEGREE = r"(?:\s+(?:considerably|significantly|somewhat|a\s+lot|markedly|greatly|slightly|steadily|gradually|noticeably|substantially|dramatically|a\s+bit))"
_CHANGE_T = ("halved doubled improved improving improvement worsened worsening worse better remitted resolved resolving "
             "stabilized stable plateaued declined declining decreased reduced unchanged progressed regressed change")

RULES: tuple[Rule, ...] = (
    # the body of a progress section: "Progress: partially met goal 1"
    section_rule("progress", CATEGORY),
    # ---- progress language
    _rule("qualified_progress",
          rf"\b{_PG_ADJ}\s+progress\b(?:\s+(?:toward|towards|on|in|with)\s+(?:\w+\s+){{0,2}}?(?:goals?|objectives?))?(?:\s*;\s*(?:fewer|less|more|decreased|reduced)\s+[\w ]{{1,30}})?",
          "progress", NOT_EVERYDAY_PROGRESS),
    # "made progress", "has made real progress on assertiveness" ("progress on the deck" is everyday)
    _rule("making_progress",
          r"\b(?:made|making|makes|shows?|showing|showed|demonstrates?|demonstrating|demonstrated)\s+(?:(?:some|real|good|great|steady|slow|little|no|much|more|significant|clear|notable|definite|modest)\s+)?progress\b"
          r"(?:\s+(?:toward|towards|on|in|with)\s+(?:(?:her|his|their|the)\s+)?(?:\w+\s+){0,2}?(?:goals?|objectives?|[a-z]+(?:ness|ment|ion|ity|ance|ence|ing)|boundaries|skills))?",
          "progress", NOT_EVERYDAY_PROGRESS),
    # "progress slow but steady", "progress has been minimal"
    _plain("progress_then_quality",
           r"\bprogress\s+(?:is\s+|has\s+been\s+|remains\s+|was\s+)?(?:slow|steady|good|fair|poor|minimal|limited|modest|significant|excellent|gradual|inconsistent|uneven|encouraging|adequate|marked)\b(?:\s+but\s+(?:steady|real|present|consistent|\w+))?",
           "progress"),
    # a bare status after a diagnosis or a label: "A: MDD, recurrent, moderate; improving."
    _plain("bare_course_status",
           r"(?:(?<=[;:])|(?<=^))\s*(?:(?:slowly|steadily|gradually|overall)\s+)?(?:improving|worsening|stable|unchanged|stabilizing|stabilising|declining|deteriorating|plateaued)\s*(?=[.;\n]|$)",
           "improving worsening stable unchanged stabilizing stabilising declining deteriorating plateaued"),
    # "has met her goal of attending 3 AA meetings weekly"
    _plain("met_own_goal",
           r"\b(?:met|achieved|reached|attained)\s+(?:(?:her|his|their|the|a|one\s+of\s+(?:her|his|their)|both\s+(?:of\s+)?(?:her|his|their)?)\s+)(?:\w+\s+)?goals?\b(?:\s+of\s+[^.;\n]{1,60})?",
           "goal goals"),
    # "No change in depressive symptoms over past month"
    _plain("change_over_recent_period",
           r"\b(?:no|little|minimal|some|significant|marked)\s+change\s+in\s+(?:\w+\s+){1,3}?(?:over|in|during)\s+(?:the\s+)?(?:past|last|previous)\s+(?:\w+\s+)?(?:weeks?|months?|sessions?|quarter|year)\b",
           "change"),
    # "Decline in functioning compared with last quarter"
    _plain("change_compared_with_earlier",
           r"\b(?:decline|improvement|change|worsening|increase|decrease|reduction|drop|rise)\s+in\s+(?:\w+\s+){1,3}?compared\s+(?:with|to)\s+(?:the\s+)?(?:last|previous|prior|preceding)\s+\w+",
           "compared"),
    # "She is steadily improving in her ability to use grounding skills" (not "improving her cooking")
    _rule("is_improving",
          r"\b(?:is|are|has\s+been|have\s+been|continues\s+to\s+be|keeps|been|pt)\s+(?:(?:steadily|slowly|gradually|consistently|noticeably|clearly|really|definitely)\s+)?improving\b(?!\s+(?:the|her|his|their|a|an|my|our|its|this|that)\s)(?:\s+(?:in|with|at)\s+[^.;,\n]{1,60})?",
          "improving"),
    _plain("progress_toward_goals",
           rf"\bprogress\s+(?:toward|towards|on)\s+(?:\w+\s+){{0,2}}?(?:goals?|objectives?)(?:\s*(?::|is|=)\s*(?:{_PG_ADJ}|minimal|partial|none|met|unmet|ongoing|achieved|\w+))?",
           "progress"),
    # ---- change since a reference point
    _plain("changed_since",
           rf"\b(?:(?:{_PG_NOUN})\s+(?:has\s+|have\s+|is\s+|are\s+)?)?{_PG_CHANGE}(?:\s+(?:in|of)\s+(?:\w+\s+){{0,2}}?(?:{_PG_NOUN}))?{_DEGREE}?\s+since\s+{_PG_SINCE}",
           "since"),
    _plain("improvement_in_since",
           rf"\b(?:{_PG_ADJ}\s+)?(?:improvement|reduction|decrease|worsening|decline|change)\s+(?:in|of)\s+(?:\w+\s+){{0,2}}?(?:{_PG_NOUN})\s+since\s+{_PG_SINCE}",
           "since"),
    _plain("subject_resolved_or_improved",
           rf"\b(?:{_PG_NOUN})\s+(?:has\s+|have\s+)?(?:remitted|resolved|plateaued|stabilized|improved|worsened|lifted|eased|abated|subsided|lessened|"
           rf"(?:decreased|increased|reduced|lessened|diminished|declined|dropped)\s+in\s+(?:frequency|intensity|severity|duration|number))\b",
           "remitted resolved plateaued stabilized improved worsened lifted eased abated subsided lessened frequency intensity severity duration number"),
    _plain("plateaued", r"\b(?:has|have)\s+plateaued\b", "plateaued"),
    _plain("down_or_up_from",
           r"\b(?:down|up)\s+from\s+(?:\d+|daily|weekly|nightly|several|\w+\s+times)(?:\s*(?:x\s*)?/\s*(?:wk|week|day))?(?:\s+(?:at|since)\s+(?:intake|baseline|last\s+\w+))?",
           "from"),
    _plain("reduced_from_to",
           r"\b(?:reduced|decreased|cut|cut\s+back|cut\s+down|increased)\s+(?:\w+\s+){0,2}?from\s+\S+(?:\s+\S+)?\s+to\s+[\w/]+(?:\s+since\s+(?:starting|beginning|intake)\s*(?:treatment|tx|therapy)?)?",
           "from"),
    # ---- abstinence, goals, comparisons
    _plain("sober_for_duration",
           r"\b(?:(?:sober|abstinent|clean)|(?:sobriety|abstinence|recovery)\s+(?:maintained|sustained|continues|ongoing)|"
           r"(?:maintained|maintaining|maintains|sustained)\s+(?:sobriety|abstinence))\s+(?:for\s+|x\s*)?(?:\d+|one|two|three|six|several)\s*(?:\+\s*)?(?:days?|d|wks?|weeks?|mos?|months?|yrs?|years?)\b",
           "sober abstinent clean sobriety abstinence"),
    _plain("duration_sober", r"\b\d+\s*(?:days?|months?|mos?|years?|yrs?)\s+(?:sober|abstinent|clean)\b", "sober abstinent clean"),
    _plain("goals_met", r"\b(?:goals?\s+(?:met|achieved|partially\s+met|not\s+met))\b", "goal goals"),
    _plain("compared_with_earlier_period",
           r"\b(?:more|less|better|worse|fewer)\s+(?:[\w-]+\s+){0,3}?than\s+(?:last|at|in|during|on)\s+(?:the\s+)?(?:\w+\s+)?(?:month|week|session|visit|intake|baseline|review|year|admission)\b",
           "than"),
    _plain("doing_better_or_worse",
           r"\bdoing\s+(?:much\s+|a\s+lot\s+|somewhat\s+|significantly\s+|far\s+|a\s+bit\s+)?(?:better|worse)\b(?:\s+than\s+[^.;\n]{1,40})?",
           "doing"),
    _plain("met_number_of_goals",
           r"\b(?:met|achieved|reached|completed)\s+(?:\d+|one|two|three|all|most|some|none|half)\s+(?:of\s+(?:\d+|her|his|the|their|its)\s+)?(?:tx\s+|treatment\s+|therapy\s+)?goals?\b",
           "goal goals"),
    _plain("subject_down_to_rate",
           rf"\b{_PG_NOUN}\s+(?:are\s+|is\s+|have\s+|has\s+)?(?:now\s+)?(?:down|up|reduced|decreased|increased)\s+to\s+(?:\d+|once|twice|one|two|three|four|a\s+few)\s*"
           rf"(?:(?:x|times|drinks?|cigarettes?|episodes?|attacks?|days?|nights?)\s*)?(?:(?:a|per|/|on|each)\s*(?:week|wk|day|month|night|weekends?)\b)",
           "down up reduced decreased increased"),
    _plain("quit_substance_or_behaviour",
           r"\b(?:quit|stopped)\s+(?:drinking|smoking|using|vaping|cutting|gambling|purging)\b(?:\s+(?:\d+|one|two|three|several|a\s+few)\s+(?:days?|weeks?|months?|years?)\s+ago)?",
           "quit stopped"),
    _plain("point_change", r"\b\d+[- ]point\s+(?:drop|decrease|reduction|improvement|increase|rise)\b", "point"),
    _plain("comparative_than_before",
           r"\b(?:more\s+\w+|less\s+\w+|\w+er)\s+than\s+(?:at\s+|in\s+|on\s+|during\s+)?(?:the\s+)?"
           r"(?:(?:last|previous|prior|first)\s+(?:session|visit|week|month|review|appt|appointment|time|few\s+weeks|quarter|year|assessment)|intake|baseline|admission|start(?:\s+of\s+(?:treatment|tx|therapy))?)\b",
           "than"),
    _plain("than_when_treatment_started",
           r"\bthan\s+when\s+(?:we|she|he|they|treatment|therapy)\s+(?:started|began|first\s+met|began\s+treatment|started\s+treatment)\b",
           "than"),
    _plain("improving_since", r"\bimproving\s+since\s+[\w ]{1,30}?(?=[.;,\n]|$)", "since"),
    # ---- gains: "slow but steady gains since intake"
    _rule("gains",
          rf"(?:\b(?:{_PG_ADJ}|slow|small|big|real|clear|notable|encouraging)\s+(?:(?:but|and|yet)\s+(?:{_PG_ADJ}|slow|small|big|real|clear)\s+)?gains?\b|(?<!weight\s)\bgains\b(?=\s+(?:since|in|with|toward|towards|on|made|maintained|sustained|have|holding)\b))"
          rf"(?:\s+(?:since|in|with|toward|towards|on|made|maintained|sustained|have\s+held|holding)\b(?:\s+{_PG_SINCE}|[\w ]{{0,25}}?(?=[,.;\n]|$))?)?",
          "gains gain"),
    # "Gains from the summer have largely held"
    _rule("gains_have_held",
          r"(?<!weight\s)\bgains\b[^.;\n]{0,30}?\b(?:have|has)\s+(?:largely\s+|mostly\s+|partly\s+|so\s+far\s+)?(?:held|been\s+maintained|been\s+sustained|persisted|lasted)\b",
          "gains"),
    _rule("maintaining_gains",
          r"\b(?:maintain(?:ing|ed|s)?|sustain(?:ing|ed|s)?|consolidat(?:ing|ed))\s+(?:(?:her|his|their|treatment)\s+)?gains\b",
          "gains"),
    # ---- behaviour-free periods: "no self-harm in 60 days", "60 days without cutting"
    _rule("no_behaviour_in_period",
          r"\bno\s+(?:\w+\s+){0,2}?(?:self[- ]harm|cutting|sib|nssi|drinking|alcohol|use|substance\s+use|panic\s+attacks?|attacks?|episodes?|purging|bingeing|binges|relapses?|hospitalizations?|ed\s+visits?|er\s+visits?|suicide\s+attempts?|attempts?|si)\s+(?:in|for|x|over)\s+(?:the\s+(?:past|last)\s+)?(?:\d+|one|two|three|four|five|six|several|a\s+few)\s*(?:days?|d|wks?|weeks?|mos?|months?|yrs?|years?)\b",
          """harm cutting sib nssi drinking alcohol use substance panic attack attacks episode episodes
    purging bingeing binges relapse relapses hospitalization hospitalizations visit visits attempt
    attempts si"""),
    # "has not used since January", "hasn't self-harmed in over three months": abstinence from a reference
    # point or over a period
    _rule("not_since_reference",
          rf"\b(?:has\s+not|hasn't|have\s+not|haven't|not)\s+(?:used|drunk|had\s+a\s+drink|smoked|vaped|cut|self-harmed|purged|binged|gambled|relapsed|"
          rf"had\s+a\s+(?:panic\s+attack|drink|cigarette|binge)|been\s+hospitali[sz]ed)\s+(?:\w+\s+)?"
          rf"(?:since\s+{_PG_SINCE}|(?:in|for)\s+(?:over\s+|more\s+than\s+|nearly\s+|almost\s+|the\s+(?:past|last)\s+)?(?:\d+|one|two|three|four|five|six|several|a\s+few)\s+(?:days?|weeks?|months?|years?)\b)",
          "since in for"),
    # "Improvement in mood noted", "significant reduction in panic": a change in a course, observed
    _plain("change_in_subject_noted",
           rf"\b(?:(?:{_PG_ADJ}|notable|noticeable|clear|marked|steady|gradual|further|continued|sustained)\s+)?(?:improvement|reduction|decrease|worsening|decline|increase)\s+in\s+(?:\w+\s+){{0,2}}?(?:{_PG_NOUN})\b"
           rf"(?:\s+(?:noted|observed|reported|seen|evident|continues|maintained|documented))",
           "noted observed reported seen evident continues maintained documented"),
    # "Treatment response has been partial"
    _plain("treatment_response",
           r"\b(?:(?:treatment|tx|clinical)\s+)?response\s+(?:to\s+(?:\w+\s+){1,2}?)?(?:has\s+been|is|was|remains|so\s+far\s+(?:is|has\s+been))\s+(?:\w+\s+)?(?:partial|minimal|good|excellent|poor|limited|robust|adequate|inadequate|full|modest|strong|weak|slow|encouraging)\b",
           "response"),
    # "No longer meets criteria for MDD", "no longer avoids driving"
    _plain("no_longer",
           rf"\bno\s+longer\s+(?:meets?\s+criteria\s+for|meeting\s+criteria\s+for|endorses|endorsing|experiencing|experiences|having|has|reports?|needs|requires|using|uses|"
           rf"drinking|drinks|cutting|purging|bingeing|avoids|avoiding|isolating|hearing|fits)\b{CLAUSE}{{0,60}}",
           "longer"),
    # "Less avoidance this month", "Fewer arguments with her partner over the last month"
    _plain("less_or_fewer_over_period",
           rf"\b(?:less|fewer|far\s+fewer|much\s+less)\s+{_SYMPTOM_OR_EVENTS}(?:\s+(?:with|at|about|around)\s+(?:\w+\s+){{1,2}}?)?\s*"
           rf"(?:this|over\s+the\s+(?:past|last)|in\s+the\s+(?:past|last))\s+(?:\w+\s+)?(?:week|month|weeks|months|quarter|sessions?)\b",
           "less fewer"),
    _rule("period_without_behaviour",
          r"\b(?:\d+|one|two|three|six|several)\s*(?:days?|wks?|weeks?|mos?|months?)\s+(?:without|free\s+of|free\s+from)\s+(?:\w+\s+){0,2}?(?:self[- ]harm|cutting|drinking|use|using|panic\s+attacks?|purging|bingeing|episodes?)",
          "without free"),
    _rule("period_behaviour_free",
          r"\b(?:\d+|one|two|three|six|several)\s*(?:days?|wks?|weeks?|mos?|months?)\s+(?:self[- ]harm|sh|cutting|drug|alcohol|panic|purge|binge)[- ]free\b",
          "free"),
    # ---- goals met / partially met / not yet met (any order)
    _rule("goals_status",
          r"\b(?:goals?|objectives?)\s+(?:\d+\s+(?:and\s+\d+\s+)?)?(?:(?:is|are|was|were|have\s+been|has\s+been)\s+)?(?:fully\s+|partially\s+|largely\s+|mostly\s+|not\s+yet\s+|not\s+)?(?:met|achieved|unmet|attained|in\s+progress|progressing)\b",
          "goal goals objective objectives"),
    # ---- change with an intensifier: "panic much improved vs last month"
    _rule("intensified_change",
          rf"\b(?:{_PG_NOUN})\s+(?:is\s+|are\s+|has\s+|have\s+)?(?:much|somewhat|significantly|markedly|slightly|greatly|a\s+bit|a\s+little|far|considerably|modestly|noticeably)\s+(?:improved|better|worse|worsened|reduced|decreased|less\s+\w+|more\s+\w+)\b(?:\s+(?:vs\.?|versus|compared\s+(?:to|with)|than|since)\s+(?:\w+\s+){{0,2}}?(?:month|week|session|visit|intake|baseline|admission|summer|spring|fall|winter|year))?",
          "much somewhat significantly markedly slightly greatly bit little far considerably modestly noticeably"),
    _rule("changed_versus_earlier",
          r"\b(?:improved|better|worse|worsened|worsening|improving)\s+(?:vs\.?|versus|compared\s+(?:to|with))\s+(?:(?:last|prior|previous|the\s+last|the\s+prior)\s+\w+|intake|baseline|admission)",
          "vs versus compared"),
    # ---- regression / setback / relapse as events with a measure
    _rule("regression_or_setback",
          r"\b(?:some|significant|minor|brief|partial|major|a)?\s*(?:regression|setback|backslide|backsliding|decompensation)\b(?:\s+(?:after|since|following|with|in)\s+(?:the\s+)?\w+(?:\s+\w+)?)?",
          "regression setback backslide backsliding decompensation"),
    _rule("relapsed",
          r"\brelapsed\b(?:\s+(?:on|with|into)\s+\w+)?(?:\s+(?:x\s*\d+|once|twice|\d+\s+times))?(?:\s+(?:this|last|in\s+the\s+past)\s+\w+)?",
          "relapsed"),
    # ---- remission as a course, not a diagnostic specifier
    _rule("remission",
          rf"\b(?:in|into|achieved|reached|entered|maintaining)\s+(?:(?:full|partial|early|sustained)\s+)?remission\b(?:\s+since\s+{_PG_SINCE})?",
          "remission", NOT_A_SPECIFIER),
    # ---- superlatives / firsts anchored to the start of treatment: "lowest since starting"
    _rule("first_or_best_since", rf"\b(?:\w+est|best|worst|first)\b(?:[\w -]{{0,40}}?)\s+since\s+{_PG_SINCE}", "since"),
    # ---- "went from 21 to 9 (over 12 sessions)"
    _rule("went_from_to",
          r"\bwent\s+from\s+\d+(?:\.\d+)?\s+to\s+\d+(?:\.\d+)?(?:\s+(?:over|in|across)\s+(?:\d+|the\s+last\s+\w+)\s+\w+)?",
          "went"),
    # ---- "progressing slowly; fewer panic attacks"
    _rule("progressing",
          rf"\b(?:(?:pt|patient|client|she|he|they)\s+)?(?:is\s+|are\s+|has\s+been\s+|continues\s+to\s+be\s+)?progressing\s+"
          rf"(?:slowly|well|steadily|gradually|nicely|as\s+expected|(?:toward|towards)\s+(?:\w+\s+){{0,2}}?goals?)\b"
          rf"(?:\s*[;,]\s*(?:fewer|less|more|decreased|reduced)\s+{CLAUSE}{{1,60}})?",
          "progressing"),
    _rule("fewer_since", rf"\bfewer\s+(?:\w+\s+){{1,4}}?(?:(?:reported|noted|endorsed)\s+)?since\s+{_PG_SINCE}", "fewer"),
    # "Urges now 2x/wk vs daily"
    _rule("now_versus_before",
          rf"(?:\b{_SYMPTOM_OR_EVENTS}\s+(?:are\s+|is\s+)?)?\bnow\s+(?:\d+\s*(?:-\s*\d+\s*)?(?:x|times)\s*(?:/|per|a)\s*(?:wk|week|day|night|month|mo)|once\s+(?:a|per)\s+\w+|twice\s+(?:a|per)\s+\w+|\d+\s*/\s*10)"
          rf"\s*(?:vs\.?|versus|compared\s+(?:to|with)|(?:down|up)\s+from|from)\s+\w+(?:\s+(?:at\s+)?(?:intake|baseline))?",
          "now"),
    # "Panic has largely subsided"
    _rule("largely_resolved",
          rf"\b(?:{_PG_NOUN})\s+(?:has\s+|have\s+)?(?:partially|largely|fully|mostly|completely|nearly|somewhat|significantly|markedly|substantially|greatly)\s+"
          rf"(?:remitted|resolved|improved|reduced|decreased|subsided|abated|stabilized)\b",
          "partially largely fully mostly completely nearly somewhat significantly markedly substantially greatly"),
    # "nightmares less frequent"
    _rule("less_frequent_or_intense",
          rf"\b{_SYMPTOM_OR_EVENTS}\s+(?:are\s+|is\s+|have\s+been\s+|now\s+)?(?:much\s+|far\s+|a\s+lot\s+|somewhat\s+)?(?:less|more)\s+(?:frequent|intense|severe|distressing|disruptive|manageable|tolerable)\b",
          "frequent intense severe distressing disruptive manageable tolerable"),
    # "which she couldn't do at intake"
    _rule("could_not_at_start",
          r"\b(?:which|something|what)\s+(?:she|he|they|pt)\s+(?:couldn't|could\s*not|could\s+not|was\s+unable\s+to|wasn't\s+able\s+to|had\s+not\s+been\s+able\s+to)\s+(?:do\s+|manage\s+)?"
          r"(?:at|before|prior\s+to)\s+(?:intake|baseline|admission|the\s+start\s+of\s+(?:treatment|tx|therapy)|(?:we|she|he|they)\s+(?:started|began))",
          "which something what"),
    # "now able to ride the elevator alone, which was unthinkable at intake": a present ability set
    # against the start of treatment
    _rule("now_able_versus_start",
          r"\bnow\s+(?:able\s+to|managing\s+to|manages\s+to|can)\s+[^.;\n]{1,60}?\b(?:which|something|what|that)\s+(?:was|were|had\s+been|seemed)\s+"
          r"(?:\w+\s+)?(?:unthinkable|impossible|out\s+of\s+the\s+question|too\s+much|not\s+possible|unimaginable|beyond\s+(?:her|him|them))\s+"
          r"(?:at|before|prior\s+to|in)\s+(?:intake|baseline|admission|the\s+start(?:\s+of\s+(?:treatment|tx|therapy))?|(?:the\s+)?spring|(?:the\s+)?fall|"
          r"(?:january|february|march|april|may|june|july|august|september|october|november|december))",
          "now"),
    # "Compared with intake, her depressive symptoms have roughly halved", "Relative to baseline, panic is down"
    _rule("compared_with_start_then_change",
          rf"\b(?:compared\s+(?:with|to)|relative\s+to|since)\s+(?:intake|baseline|admission|the\s+start\s+of\s+(?:treatment|tx|therapy)|last\s+(?:month|quarter|review))\s*,\s*"
          rf"(?:[\w'-]+\s+){{0,4}}?(?:has\s+|have\s+|is\s+|are\s+)?(?:\w+\s+)?(?:{_PG_CHANGE}|down|up|fewer|less|more|lower|higher)\b{CLAUSE}{{0,40}}",
          "compared relative since"),
    # "Since we shifted to DBT she has fewer blow-ups": a change set against a step of treatment
    _rule("since_treatment_step_then_change",
          r"\bsince\s+(?:we\s+|she\s+|he\s+|they\s+|pt\s+)?(?:started|began|shifted|switched|moved|changed|added|introduced|starting|beginning|switching|shifting)\s+"
          r"(?:to\s+|on\s+)?(?:the\s+|her\s+|his\s+)?[\w-]+(?:\s+[\w-]+)?\s*,?\s+(?:she|he|they|pt|client)\s+(?:has\s+(?:had\s+)?|have\s+(?:had\s+)?|is\s+|reports\s+|is\s+having\s+)"
          r"(?P<change>(?:fewer|less|more|no|far\s+fewer|much\s+less)\s+[\w-]+(?:\s+[\w-]+)?|(?:been\s+)?(?:calmer|better|steadier|sleeping\s+better|more\s+\w+|less\s+\w+))",
          "since", _change_only),
    # "Attended 5 of 8 group sessions"
    _rule("completed_sessions_of_course",
          r"\b(?:completed|finished|attended)\s+(?:\d+|\w+)\s+(?:of|out\s+of|/)\s+(?:\d+|\w+)\s+(?:planned\s+|scheduled\s+)?(?:[\w-]+\s+)?(?:sessions|modules)\b",
          "completed finished attended"),
    # "Mood symptoms improved over the past six weeks"
    _rule("changed_over_recent_period",
          rf"\b(?:{_PG_NOUN})\s+(?:has\s+|have\s+|is\s+|are\s+)?(?:\w+\s+)?{_PG_CHANGE}\s+(?:\w+\s+)?(?:over|across|during|in)\s+(?:the\s+)?(?:past|last|previous|first)\s+"
          r"(?:\d+|few|several|two|three|four|five|six|couple\s+of)\s+(?:sessions|weeks|months|visits)\b",
          "past last previous first"),
    # "40% reduction in panic"
    _rule("percent_change",
          rf"\b\d+\s*%\s+(?:reduction|decrease|drop|decline|increase|improvement)\b(?:\s+(?:in|of)\s+{CLAUSE}{{1,60}})?",
          "reduction decrease drop decline increase improvement"),
    # "Anxiety symptoms decreased 25% since March"
    _rule("changed_by_percent",
          rf"\b(?:{_PG_NOUN})\s+(?:has\s+|have\s+|is\s+|are\s+)?(?:\w+\s+)?{_PG_CHANGE}\s+(?:by\s+)?(?:about\s+|roughly\s+|~)?\d+\s*%(?:\s+since\s+{_PG_SINCE})?",
          _CHANGE_T),
    # v7: a count or frequency down or up to a new level: "tantrums down to once or twice a week",
    # "Washing down from roughly 40 to 15 times a day" (a score's change stays a test result)
    _rule("down_or_up_to_level",
          r"\b(?!(?:she|he|they|i|we|it|you|who|that)\b)[A-Za-z][\w'-]*\s+(?:(?:are|is|has|have)\s+(?:been\s+)?|(?:have|has)\s+gone\s+)?(?:down|up|gone)\s+(?:from\s+(?:roughly\s+|about\s+|around\s+|~)?(?:\d+|daily|nightly|once|twice|\w+ly)\s+)?to\s+(?:roughly\s+|about\s+|around\s+|~)?"
          r"(?:\d+|once|twice|one|two|three|four|five|zero|none|daily|weekly)\b(?:\s+(?:or\s+(?:twice|\w+)|times|episodes?|a\s+week|a\s+day|a\s+night|per\s+\w+|days?|nights?))*(?:\s+(?:a|per)\s+(?:day|week|night|month))?",
          "down up gone"),
    # v7: a behaviour's frequency gone from one level to another: "panic attacks have gone from daily to about one a week"
    _rule("gone_from_to",
          r"\b(?:[\w'-]+\s+){1,3}?(?:have|has)\s+gone\s+from\s+[\w -]{1,20}?\s+to\s+(?:about\s+|roughly\s+)?[\w -]{1,20}?(?=[.;,\n]|$)",
          "gone"),
    # v7: "Compared with intake, she now names feelings"
    _rule("compared_with_start_now",
          r"\bcompared\s+(?:with|to)\s+(?:intake|baseline|admission|the\s+start\s+of\s+treatment|when\s+(?:she|he|they)\s+(?:started|began|began\s+treatment))\s*,?\s+(?:she|he|they|pt|client)\s+(?:now\s+)?[\w'-]+(?:\s+[\w'-]+){0,2}",
          "compared"),
    # v7: a numbered goal met: "Goal 2 (assertive communication with supervisor) met"
    _rule("numbered_goal_met",
          r"\b(?:goal|objective)\s*#?\s*\d+(?:\s*\([^)\n]{1,80}\))?\s*(?::\s*)?(?:(?:was|has\s+been|is)\s+)?(?:fully\s+|partially\s+|not\s+yet\s+)?(?:met|achieved|attained|reached)\b",
          "goal objective"),
    # v7: a length of abstinence: "sober 43 days", "90 days clean", "abstinent for 6 weeks"
    _rule("length_of_sobriety",
          (r"\b(?:sober|clean|abstinent|alcohol[- ]free|drug[- ]free|substance[- ]free|dry)\s+(?:for\s+)?(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|several)\s+(?:days?|weeks?|months?|years?)\b",
           r"\b(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten)\s+(?:days?|weeks?|months?|years?)\s+(?:sober|clean|abstinent)\b"),
          "sober clean abstinent free dry"),
    # v7: less of a symptom than before: "he's been less irritable", "less withdrawn at meals"
    _rule("less_of_a_symptom",
          r"\b(?:(?:has|have|he's|she's|they've|he\s+has|she\s+has)\s+been|is|are|seems?|appears?|was|now)\s+(?:much\s+|a\s+lot\s+|somewhat\s+|noticeably\s+|visibly\s+)?(?:less|more)\s+"
          r"(?:irritable|anxious|depressed|withdrawn|tearful|angry|avoidant|isolated|agitated|reactive|guarded|dysregulated|paranoid|engaged|hopeful|talkative|social|active|consistent|organized|organised|assertive|confident|open)\b",
          "less more"),
    # v7: able to do something for the first time since an event: "able to ride the elevator ... for the first time since the assault"
    _rule("first_time_since_event",
          r"\b(?:able\s+to|managed\s+to)\s+[^.;\n]{1,60}?\s+for\s+the\s+first\s+time\s+since\s+(?:the\s+|her\s+|his\s+|their\s+)?[\w-]+",
          "first"),
    # v7: a course word after its subject at the start of an entry: "Mood improving", "Insight and judgment improving"
    _plain("subject_then_course",
           r"(?:(?<=[.;:\n])|^)\s*(?:\w+\s+(?:and|&)\s+)?(?:mood|insight|judgment|judgement|sleep|anxiety|affect|functioning|engagement|participation|attendance|hygiene|appetite|energy|behavior|behaviour)\s+(?:(?:is|are|has\s+been|have\s+been|continues?\s+to\s+be)\s+)?(?:slowly\s+|steadily\s+|gradually\s+)?(?:improving|improved|better|worsening|worse|declining|stabilizing|stabilising)\b(?:\s+per\s+\w+)?",
           "improving improved better worsening worse declining stabilizing stabilising"),
    # v7: a pattern softened since a reference: "The pursue-withdraw pattern has softened since October"
    _rule("changed_since_reference",
          rf"\b(?:[\w'-]+\s+){{1,3}}?(?:has|have)\s+(?:{_PG_CHANGE})\s+since\s+{_PG_SINCE}",
          "since"),
)


# ---- resolutions between categories ---------------------------------------------------------------
_SCORE_CHANGE = re.compile(r"[^.;\n]{0,40}")
_SCORE_DELTA = re.compile(r"(?:down|up)\s+from\b|(?:dropped|fell|rose|decreased|increased)\s+(?:from|by)\b", re.IGNORECASE)


def score_change_stays_with_score(text: str, found: dict[str, list]) -> None:
    """A change right after a test score ("PHQ-9 = 14 today, down from 19 at intake") or inside it
    ("GAD-7 decreased from 15 to 9") is part of the test result: drop the progress span that
    starts with it or lies within the test's span."""
    tests = found["clinical_test_results"]
    if not (tests and found[CATEGORY]):
        return
    found[CATEGORY] = [
        span for span in found[CATEGORY]
        if not (_SCORE_DELTA.match(text, span[0]) and any(
            (ts <= span[0] and span[1] <= te)  # inside: "GAD-7 decreased from 15 to 9"
            or (te <= span[0] and _SCORE_CHANGE.fullmatch(text, te, span[0]))  # right after
            for ts, te, _ in tests))]


def symptoms_inside_progress_are_progress(text: str, found: dict[str, list]) -> None:
    """A symptom named inside a progress statement ("Nightmares have resolved") is progress."""
    progress = found[CATEGORY]
    if progress:
        found["summary_symptoms"] = [span for span in found["summary_symptoms"]
                                     if not any(ps <= span[0] and span[1] <= pe for ps, pe, _ in progress)]


#: Applied in order after all rules ran, on ``category -> [(start, end, rule name)]``.
RESOLUTIONS = (score_change_stays_with_score, symptoms_inside_progress_are_progress)
