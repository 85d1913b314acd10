"""Summary of the treatment plan (45 CFR 164.501: excluded from psychotherapy notes).

45 CFR 164.501 excludes "any summary of ... the treatment plan" from the definition of
psychotherapy notes.  The rules below recognise: a plan, goals or recommendations label with its
clause ("Plan: continue weekly sessions, titrate as tolerated", "Tx plan - ..."); an imperative
or planning verb opening a clause ("Recommend neuropsych eval", "Refer to IOP", "RTC 2 wks",
"will coordinate with PCP"); "consider" with a treatment object; referrals; follow-up intervals
and the next appointment; changes of session frequency; safety, crisis, discharge and aftercare
plans and planned discharge; and what the patient agreed or is to do ("pt to track sleep").

Judgement calls: conditional plans ("if SI recurs, will call") are still plans; wishes, jokes and
fantasies are not, nor someone else's plans.  A drug named right after an imperative ("Taper
venlafaxine ...") is a medication finding, not a plan; "repeat" before a score ("repeat PHQ-9
was 8") is a test result; "Consider whether ..." and "will ... talk/feel/avoid" are process.

Context (whose, real or imagined, when; the note section) is read by medSpaCy's ConText and
sectionizer (:mod:`confide.hipaa.lint.context`); :data:`CONTEXT_VETO` names the contexts that
make a candidate of this category session content.
"""

from __future__ import annotations

from ._regex import CLAUSE, CLAUSE_SEMI, CLAUSE_START, DASH
from .lexicons import DRUG, DRUG_NAME, FREQUENCY, PLAN_VERB, PLAN_VERB_TERMS
from .rule import Rule, longest_tokens, section_rule, tokens

CATEGORY = "summary_treatment_plan"
#: Contexts (ConText, :mod:`confide.hipaa.lint.context`) in which a plan is not the client's
#: treatment plan: someone else's, or imagined (a wish, a joke, a fantasy).  A conditional plan
#: ("if SI recurs, will call the crisis line") is still a plan, so HYPOTHETICAL is not here.
CONTEXT_VETO = frozenset({"FAMILY", "OTHER_PERSON", "IMAGINED"})


def _rule(name: str, pattern: str, gate, filter=None) -> Rule:
    return Rule(f"treatment_plan.{name}", CATEGORY, pattern, gate, filter, window=330)


# Words at least one of which every match of the first family below contains.
_ANY = tokens("""plan poc care steps recommendation recommendations
        interventions goal goals u follow rtc return refer referral referred coordinate consult
        schedule obtain request reassess administer readminister re monitor consider increase
        step begin add recommend recommended recommends safety agreed tx treatment will start arrange complete""")


def _basic(name: str, pattern: str) -> Rule:
    return _rule(name, pattern, _ANY, None)


# What a planned scheduling, request or beginning is about when it is treatment.
_CLINICAL_OBJECT = (r"(?:appointments?|appts?|sessions?|f/u|follow[- ]?ups?|testing|tests?|evals?|evaluations?|assessments?|"
                    r"labs?|records|roi|releases?|consults?|consultation|intake|screening|phq-?9|gad-?7|scales?|"
                    r"sleep\s+study|neuropsych\w*|psych\w*|med(?:ication)?s?|referral|iop|php|group|therapy|treatment|"
                    r"tx|exposure|trauma\s+narrative|emdr|cbt|dbt|erp|homework|safety\s+plan|hierarchy|monitoring|"
                    r"log|diary|tracking|worksheets?|titration|taper|trial|visit|check-?in|ua|uds|drug\s+screen)\b")
_CONSIDER_OBJ = (r"(?:med(?:ication)?s?|consult(?:ation)?|referral|refer(?:ring)?|iop|php|partial|inpatient|group|"
                 r"session|therapy|eval(?:uation)?|testing|increas\w*|decreas\w*|add\w*|higher|level\s+of\s+care|"
                 r"loc|dbt|cbt|emdr|erp|modality|psychiatr\w*|trial|switch\w*|taper\w*|"
                 r"step(?:ping)?\s+down|discharge|frequency|" + DRUG_NAME + r")")

RULES: tuple[Rule, ...] = (
    # the body of a plan, goals or homework section: "Plan: f/u in 1 week", "Homework: thought record daily"
    section_rule("treatment_plan", CATEGORY),
    _basic("treatment_plan_updated", rf"\b(?:tx|treatment)\s+plan\s+(?:updated|reviewed|revised|signed){CLAUSE}{{0,200}}"),
    _basic("continue_treatment_plan", r"\bcontinue\s+(?:current\s+|same\s+)?(?:tx|treatment)\s+plan\b"),
    _basic("follow_up_interval",
           r"\b(?:f/u|follow[- ]up|rtc|return\s+to\s+clinic)\s+(?:in\s+)?(?:\d+|one|two|three|four|six)\s*(?:-\s*\d+\s*)?(?:wks?|weeks?|days?|mos?|months?)\b"),
    # "will refer ...", "plan to schedule a med eval": the clinician's (or the treatment's) plan; what
    # is scheduled, obtained, requested or begun must be clinical ("she plans to schedule a trip" is not)
    _basic("will_refer_schedule_or_monitor",
           rf"\b(?:will|plan\s+to|plan\s+is\s+to|recommend(?:ed)?|(?:pt|client|patient|we|writer|clinician|therapist)\s+to)\s+"
           rf"(?:refer|coordinate|consult|reassess|re-?administer|monitor|consider\s+(?:referral|a\s+referral|adding|increasing|a\s+higher|iop|php)|"
           rf"increase\s+(?:session|frequency)|step\s+down|add\s+(?:a\s+)?(?:session|group)|"
           rf"(?:schedule|obtain|request|begin|start|arrange|complete)(?=\s+(?:[\w/-]+\s+){{0,3}}?{_CLINICAL_OBJECT}))\b{CLAUSE}{{0,150}}"),
    _basic("referral_clause", rf"\b(?:refer(?:ral)?|referred)\s+(?:to|for)\s+{CLAUSE}{{1,150}}"),
    _basic("safety_plan",
           r"\bsafety\s+plan(?:ning)?\b(?:\s+(?:was\s+)?(?:reviewed|updated|completed|revised|discussed|created|developed)(?:\s+and\s+(?:reviewed|updated|completed|revised|signed))?)?"),
    _basic("agreed_to_change",
           rf"\b(?:we\s+|pt\s+|she\s+|he\s+)?agreed\s+to\s+(?:move|reduce|increase|switch|step\s+down|taper|meet|schedule|continue|start|begin|add|refer|try\s+(?:a|an)\s+(?:medication|med|referral))\b{CLAUSE}{{0,100}}"),
    _basic("recommend_higher_level_of_care",
           r"\brecommend(?:ed|s)?\s+(?:a\s+)?(?:higher\s+level\s+of\s+care|iop|php|inpatient|residential)\b"),
    # an imperative / planning verb opening a clause: "Recommend neuropsych eval", "Refer to IOP"
    _rule("imperative_opening_clause",
          rf"{CLAUSE_START}(?:plan\s*[:\-]?\s*)?{PLAN_VERB}\b(?!\s*\d+:\d)(?<!repeat(?=\s+[\w-]+\s+(?:was|is|=|:|score|showed|shows|came|dropped|rose|fell|indicated|revealed|total|of|\d)))(?!\s+(?:the\s+|his\s+|her\s+)?" + DRUG + rf")(?!\s+(?:to\s+)?(?:talk|say|feel|think|cry|avoid|ruminate|worry))"
          # a verb of the plan used as a noun with a verb of its own ("taper completed 3/2", "follow-up was
          # missed") reports what happened, not what is planned
          rf"(?!\s+(?:completed|done|finished|ended|went|was|were|is|are|has|had|occurred|happened|took)\b)(?:{CLAUSE}){{1,150}}",
          longest_tokens(PLAN_VERB_TERMS) | {"plan"}),
    # "consider" needs a treatment object within a few words ("Consider whether ..." is process)
    _rule("consider_treatment_option", rf"\bconsider(?:ing)?\s+(?:\w+\s+){{0,3}}?{_CONSIDER_OBJ}\b{CLAUSE}{{0,120}}",
          tokens("consider considering")),
    # "next session in two weeks", "next appt scheduled for 5/3"
    _rule("next_appointment",
          rf"\bnext\s+(?:session|appt|appointment|visit|f/u|follow[- ]up)\s+(?:is\s+|will\s+be\s+)?(?:in|on|scheduled|set|booked|planned)\b{CLAUSE}{{0,80}}",
          tokens("next")),
    # "increase sessions to twice weekly", "space sessions out to every 3 weeks"
    _rule("change_session_frequency",
          rf"\b(?:increase|decrease|reduce|space|step\s+down|move|change)\s+(?:(?:the|her|his)\s+)?(?:sessions?|visits?|appts?|frequency|therapy)\s+(?:out\s+)?(?:to\s+)?{FREQUENCY}",
          tokens("increase decrease reduce space step move change")),
    # discharge / crisis / relapse-prevention plans
    _rule("discharge_or_crisis_plan",
          rf"\b(?:discharge|aftercare|crisis|relapse[- ]prevention|transition)\s+plan(?:ning|ned)?\b{CLAUSE}{{0,100}}",
          tokens("discharge aftercare crisis relapse prevention transition")),
    _rule("discharge_expected", rf"\bdischarge\s+(?:anticipated|expected|planned|likely|once|when|after)\b{CLAUSE}{{0,100}}",
          tokens("discharge")),
    # "pt to track sleep", "pt will call if ..."
    _rule("patient_to_do",
          # "consider" needs what is considered ("Referral to IOP discussed; pt will consider." adds nothing to the plan)
          rf"\bpt\s+(?:to|will)\s+(?:consider(?=\s+\w)|schedule|call|contact|complete|attend|follow\s+up|bring|track|log)\b{CLAUSE}{{0,100}}",
          tokens("pt")),
    # a goal or homework for the coming period, as a label: "Goal for next month: attend two AA meetings per week"
    _rule("goal_for_next_period",
          rf"{CLAUSE_START}(?:(?:treatment|tx|short[- ]term|long[- ]term)\s+)?(?:goals?|homework|hw|assignment|task|objective)\s+(?:for|before|until|by)\s+(?:the\s+)?"
          rf"(?:next|coming|following)\s+(?:\w+\s+)?(?:session|visit|appt|appointment|week|weeks|month|months|quarter|time)\s*:\s*{CLAUSE_SEMI}{{1,200}}",
          tokens("goal goals homework hw assignment task objective")),
    # "Plan remains weekly CBT with exposure work", "The plan is to ..." (not "her plan is to repaint the kitchen")
    _rule("plan_is_clause",
          rf"(?:{CLAUSE_START}|\b(?:the|our|treatment|tx|current)\s+)(?:treatment\s+|tx\s+)?plan\s+(?:remains|is|will\s+be|includes|continues|going\s+forward\s+is|for\s+now\s+is)\s+{CLAUSE}{{1,150}}",
          tokens("plan")),
    # a dash-led plan: "Tx plan - continue CBT"
    _rule("plan_dash_clause", rf"{CLAUSE_START}(?:tx\s+|treatment\s+)?plan\s*{DASH}\s*{CLAUSE_SEMI}{{1,300}}",
          tokens("plan")),
    # planned discharge: "Projected discharge date 6/30"
    _rule("planned_discharge",
          rf"\b(?:anticipated|expected|planned|projected|tentative|target)\s+(?:discharge|termination|step[- ]down)(?:\s+date)?\b{CLAUSE}{{0,100}}",
          tokens("discharge termination step")),
)
