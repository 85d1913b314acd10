"""Summary of functional status (45 CFR 164.501: excluded from psychotherapy notes).

45 CFR 164.501 excludes "any summary of ... functional status" from the definition of
psychotherapy notes.  The rules below recognise what the patient can and cannot do now, by
domain: work and school (unable to work, missed days or shifts or classes, failing courses,
grades and GPA, return to work, full- or part-time, hours, warnings, being fired or unemployed);
leave and disability (medical leave, FMLA, SSDI); driving; leaving the home (housebound, not
leaving the house); care tasks (ADLs, needing help with meals or bills, managing household tasks
and childcare); housing (evicted, homeless, staying with friends); hygiene and self-care; sleep
and eating as amounts or a status ("sleeping 4-5 hrs/night", "poor sleep (~4 hrs/night)", "Sleep
improved to ~7 hours", "appetite poor", "eating one meal a day"); and explicit summaries
("functional impairment ...", "Functioning: ...", "functioning improved").

Judgement calls: how much the client sleeps or eats is functional status, while a named sleep
or appetite symptom ("insomnia", "early morning awakening", "increased appetite", "poor appetite"
in a list of symptoms) is a symptom (:mod:`confide.hipaa.lint.symptoms`); functioning tied to an age or a past era ("lost her job at 22", "in college")
is biography; functioning named as a goal or hope ("one of her goals is to get back to work") is
not current status; a functional statement in a hypothetical or about someone else is not the
patient's functional status.

Context (whose, real or imagined, when; the note section) is read by medSpaCy's ConText and
sectionizer (:mod:`confide.hipaa.lint.context`); :data:`CONTEXT_VETO` names the contexts that
make a candidate of this category session content.
"""

from __future__ import annotations

from ._regex import CLAUSE
from .rule import Rule, section_rule, tokens

CATEGORY = "summary_functional_status"
#: Contexts (ConText, :mod:`confide.hipaa.lint.context`) in which a statement is not the client's
#: current functioning: someone else's, imagined or hypothetical ("if she went back to work"),
#: biography ("lost her job at 22", "used to work full time"), a goal or hope ("wants to get back
#: to work"), or what a prognosis expects ("outlook good for return to work by fall").
CONTEXT_VETO = frozenset({"FAMILY", "OTHER_PERSON", "IMAGINED", "HYPOTHETICAL", "BIOGRAPHICAL", "GOAL", "PROGNOSTIC"})


def _rule(name: str, pattern, gate, filter=None) -> Rule:
    return Rule(f"functional_status.{name}", CATEGORY, pattern, gate, filter, window=160)


# Words at least one of which every match of the first family below contains.
_ANY = tokens("""unable able missed missing misses adls adl iadls iadl
        attending going failing return returned returning rtw working back managing leave fmla
        disability functional functioning leaving housebound homebound bedbound self warning
        performance sick stopped quit grades gpa attendance can cannot""")


# Hours of sleep: "4-5 hrs", "~7 hours", "about 3 hours a night".
_ABOUT = r"(?:only\s+|about\s+|around\s+|approximately\s+|approx\.?\s+|roughly\s+|maybe\s+|barely\s+|just\s+|~\s*|an?\s+average\s+of\s+|on\s+average\s+)?"
_HOURS = (r"(?:\d+(?:\.\d+)?|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fourteen)\s*"
          r"(?:(?:-|to|\u2013)\s*(?:\d+(?:\.\d+)?|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fourteen)\s*)?(?:hrs?|hours|h)\b")
_PER_NIGHT = r"(?:\s*(?:/|per|a|each)\s*(?:night|nite|day|24\s*hrs?)|\s+nightly|\s+at\s+night)?"


def _basic(name: str, pattern: str) -> Rule:
    return _rule(name, pattern, _ANY)


RULES: tuple[Rule, ...] = (
    # the body of a functioning section: "Functioning: able to care for kids ..."
    section_rule("functional_status", CATEGORY),
    _basic("called_in_sick",
           r"\b(?:calling|called|calls|call)\s+(?:out|in)\s+sick\b(?:\s+(?:about\s+|roughly\s+)?(?:\d+\s*x|once|twice|three\s+times|\d+\s+times)(?:\s+(?:a|per)\s+(?:week|month))?)?"),
    _basic("stopped_going_to", rf"\b(?:stopped|quit)\s+(?:going\s+to|attending|leaving)\s+{CLAUSE}{{1,50}}"),
    _basic("performance_changed",
           r"\b(?:grades|gpa|work\s+performance|job\s+performance|school\s+performance|attendance)\s+(?:have\s+|has\s+)?(?:dropped|declined|slipped|fallen|falling|suffering|poor|improved|improving)\b(?:\s+from\s+\w+\s+to\s+\w+)?"),
    _basic("cannot_work_drive_or_leave",
           r"\b(?:can't|cannot|can\s+not)\s+(?:work|drive|leave\s+the\s+house|get\s+out\s+of\s+bed|concentrate\s+at\s+work)\b"),
    _basic("unable_to_get_to_work_or_school",
           r"\b(?:unable|not\s+(?:been\s+)?able|(?:hasn't|has\s+not|haven't|have\s+not)\s+been\s+able|able)\s+to\s+(?:go\s+(?:back\s+)?to\s+|return\s+to\s+|get\s+to\s+)(?:(?:part|full)[- ]time\s+)?(?:work|school|class(?:es)?|(?:her|his|the)\s+job)\b"),
    _basic("able_or_unable_to_do_task",
           r"\b(?:unable|not able|able)\s+to\s+(?:work|drive|attend\s+\w+|leave\s+(?:the\s+)?(?:house|home|bed)|get\s+out\s+of\s+bed|care\s+for\s+(?:\w+\s+)?(?:kids|children|child|self|herself|himself|themselves|family)|perform\s+\w+|complete\s+\w+|function\b[^.;\n]{0,30}|shower|cook|shop|manage\s+\w+|hold\s+(?:a|down\s+a)\s+job)"),
    _basic("missed_days_of_work_or_school",
           r"\b(?:missed|missing|has\s+missed|misses)\s+(?:\d+|one|two|three|four|five|several|multiple|many)\s+(?:days?|shifts?|weeks?)\s+(?:of\s+)?(?:work|school|class(?:es)?)"),
    _basic("adls",
           r"\b(?:independent\s+(?:in|with)\s+)?(?:ADLs?|IADLs?)(?:\s*/\s*IADLs?)?(?:\s+(?:intact|independent|impaired|wnl|grossly intact))?"),
    # "independent in self-care", "needs assistance with personal care"
    _rule("independent_in_self_care",
          r"\b(?:(?:fully\s+|largely\s+|mostly\s+)?independent|dependent|needs\s+(?:assistance|help|prompting))\s+(?:in|with|for)\s+(?:(?:basic|all|most|her|his|their)\s+)?"
          r"(?:self-care|self\s+care|personal\s+care|hygiene|daily\s+activities|activities\s+of\s+daily\s+living|care\s+tasks|household\s+tasks)\b",
          tokens("independent dependent needs")),
    # keeping a job, housing or school going: "struggles to maintain employment", "unable to hold down a job"
    _rule("keeping_a_role",
          r"\b(?:struggl(?:es|ing|ed)\s+to|unable\s+to|not\s+able\s+to|can't|cannot|able\s+to|trouble|difficulty)\s+(?:maintain(?:ing)?|hold(?:ing)?(?:\s+down)?|keep(?:ing)?|sustain(?:ing)?|find(?:ing)?)\s+"
          r"(?:(?:a|her|his|their|steady|stable|full-time|part-time|regular)\s+)*(?:employment|job|work|housing|apartment|relationships?|friendships?|routine|school\s+attendance|attendance|grades)\b",
          tokens("maintain maintaining hold holding keep keeping sustain sustaining find finding")),
    _basic("not_attending_school_or_work",
           r"\b(?:not|isn't|is not|stopped)\s+(?:attending|going\s+to)\s+(?:classes|class|school|work|church|groups?)(?:\s*,\s*failing\s+\w+\s+(?:courses|classes))?"),
    _basic("failing_courses", r"\bfailing\s+(?:\d+|two|three|several)\s+(?:courses|classes)"),
    _basic("return_to_work",
           r"\b(?:return(?:ed|ing)?\s+to\s+work|rtw)(?:\s+(?:on\s+)?(?:modified|light|full|part-time|reduced)\s+duty)?(?:\s*,?\s*\d+\s*hrs?/(?:day|wk|week))?"),
    _basic("working_full_or_part_time",
           r"\b(?:working|back\s+(?:at|to)\s+work)\s+(?:full|part)[- ]time(?:\s+again)?(?:\s+and\s+managing\s+[\w ]{0,30}?(?:independently|on\s+(?:her|his)\s+own))?"),
    _basic("managing_household_tasks", r"\bmanaging\s+household\s+tasks(?:\s+independently)?"),
    _basic("medical_or_disability_leave",
           r"\bon\s+(?:medical|disability|short-term\s+disability|fmla)\s+leave\b|\b(?-i:FMLA)\b|\bshort-term\s+disability\b"),
    _basic("functional_impairment_clause", rf"\bfunctional\s+(?:impairment|status|decline|limitations?){CLAUSE}{{0,120}}"),
    _basic("not_yet_back_at_work", r"\bnot\s+yet\s+back\s+(?:at|to)\s+(?:work|job|school|class)\b"),
    _basic("housebound", r"\b(?:not\s+leaving\s+the\s+(?:house|home|apartment)|housebound|homebound|bedbound)\b"),
    _basic("self_care_status", r"\bself-care\s+(?:intact|poor|impaired|neglected)\b"),
    _basic("job_warning_or_improvement_plan",
           r"\b(?:written\s+warning|job\s+performance\s+(?:declining|poor|impaired)|performance\s+improvement\s+plan)\b"),
    _basic("on_disability_since", r"\b(?:on\s+)?(?:disability|sick\s+leave)\s+since\b"),
    # leave / disability: "out on medical leave since March", "started short-term disability"
    _rule("on_leave_or_disability",
          rf"\b(?:(?:out|off)\s+on|on|taking|took|started|extended|remains\s+on)\s+(?:(?:medical|disability|sick|maternity|paternity|stress|short[- ]term\s+disability|long[- ]term\s+disability|unpaid|a)\s+)*(?:leave(?:\s+of\s+absence)?|disability|std|ltd)\b(?:\s+(?:from|through|until|since|at|for)\s+{CLAUSE}{{1,30}}?(?=[,.;\n]|$))?",
          tokens("leave disability std ltd")),
    _rule("disability_benefits", r"\b(?:applied\s+for|approved\s+for|receiving|on|denied)\s+(?-i:SSDI|SSI|SSDI/SSI)\b",
          tokens("ssdi ssi")),
    # driving: "hasn't driven since the accident"
    _rule("driving",
          r"\b(?:(?:has\s+not|hasn't|have\s+not|haven't|not|stopped|quit|avoids|avoiding|afraid\s+of|resumed|started|back\s+to|unable\s+to|can't|cannot|able\s+to|now)\s+(?:been\s+)?(?:driving|drive|driven)\b|driving\s+again\b)(?:\s+again)?(?:\s+since\s+[\w ]{1,30}?(?=[,.;\n]|$))?",
          tokens("driving drive driven")),
    # hygiene by its frequency: "showering only once a week"
    _rule("bathing_frequency",
          r"\b(?:showering|showers|showered|bathing|bathes|bathed|washing\s+(?:her|his|their)\s+hair)\s+(?:only\s+|about\s+|maybe\s+)?(?:once|twice|\d+\s*x|one\s+time|two\s+times|every\s+(?:few|\w+)\s+days)(?:\s*(?:a|per|/)\s*(?:week|wk|month|day))?",
          tokens("showering showers showered bathing bathes bathed washing")),
    # bed as a day's place: "spending most days in bed"
    _rule("days_in_bed",
          r"\b(?:spending|spends|spent|staying|stays|stayed|lying|lies|lay)\s+(?:most|all|much|half)\s+(?:of\s+)?(?:the\s+|her\s+|his\s+)?(?:days?|time|weekends?|mornings?)\s+in\s+bed\b",
          tokens("spending spends spent staying stays stayed lying lies lay")),
    # leaving the home: "has not left the house in two weeks"
    _rule("not_leaving_home",
          r"\b(?:has\s+not|hasn't|have\s+not|rarely|barely|not|unable\s+to)\s+(?:left|leaving|leave|been\s+out\s+of)\s+(?:the|her|his|their)\s+(?:house|home|apartment|room|bed)\b(?:\s+(?:in|for|since)\s+(?:\w+\s+){1,2}?(?:days?|weeks?|months?|\w+))?",
          tokens("house home apartment room bed")),
    # needs help with / relies on others for care tasks: "needs reminders to eat"
    _rule("needs_help_with_care_tasks",
          r"\b(?:needs?|needing|requires?|relies|relying|depends|dependent)\s+(?:on\s+)?(?:help|assistance|reminders|prompting|support|supervision|\w+)?\s*(?:from\s+(?:her|his|their|a)?\s*\w+\s+)?(?:with|to|for|on\s+\w+\s+for)\s+(?:\w+\s+){0,2}?(?:childcare|meals|cooking|shopping|groceries|bills|finances|money|transportation|rides|bathing|showering?|shower|dressing|hygiene|eat|eating|meds|medications|laundry|cleaning|housework|chores|errands|appointments|self-care|toileting)\b(?:\s+(?:and|&|,)\s+(?:\w+\s+)?\w+)*",
          tokens("needs need needing requires require relies relying depends dependent")),
    _rule("relies_on_someone_for", rf"\brel(?:ies|ying|ied)\s+on\s+(?:her|his|their|a)?\s*\w+\s+for\s+{CLAUSE}{{1,60}}",
          tokens("relies relying relied")),
    # can / cannot manage a domain: "can't keep up with the bills", "managing childcare alone"
    _rule("managing_a_domain",
          r"\b(?:can't|cannot|can\s+not|unable\s+to|struggl\w+\s+to|able\s+to|managing|manages|not\s+managing|keeping\s+up\s+with|falling\s+behind\s+(?:on|with))\s+(?:manage\s+|handle\s+|do\s+|keep\s+up\s+with\s+|care\s+for\s+)?(?:the\s+|her\s+|his\s+)?(?:childcare|kids|children|bills|finances|housework|chores|laundry|cooking|groceries|errands|self-care|hygiene|schoolwork|coursework|homework|job|work|rent)\b(?:\s+(?:alone|independently|on\s+(?:her|his)\s+own))?",
          tokens("""childcare kids children bills finances housework chores laundry cooking groceries errands self
    hygiene schoolwork coursework homework job work rent""")),
    # work / school status
    _rule("back_at_work_or_school",
          r"\b(?:(?:has\s+not|hasn't|have\s+not|haven't|not\s+yet|not)\s+)?(?:back\s+(?:at|to)|returned\s+to|returning\s+to)\s+(?:work|school|class(?:es)?|(?:her|his|their)\s+job|the\s+office|campus)\b(?:\s+(?:full|part)[- ]time)?",
          tokens("back returned returning")),
    _rule("working_hours_or_duty",
          r"\b(?:working|works|worked)\s+(?:\d+\s*(?:-\s*\d+\s*)?(?:hrs?|hours)\s*(?:/|per|a)\s*(?:wk|week|day)|(?:full|part)[- ]time|reduced\s+hours|light\s+duty|modified\s+duty)\b(?:\s*,?\s*(?:reduced|down|up)\s+from\s+[\w ]{1,20}?(?=[,.;\n]|$))?",
          tokens("working works worked")),
    _rule("reduced_work_hours", r"\b(?:reduced|cut|cutting)\s+(?:back\s+)?(?:her|his|their)?\s*(?:work\s+)?hours\b",
          tokens("hours")),
    _rule("missing_work_or_school",
          r"\b(?:missing|missed|misses|skipping|skipped)\s+(?:(?:a\s+lot\s+of|most|several|many|some)\s+)?(?:shifts?|work|school|class(?:es)?|lectures?|days\s+of\s+(?:work|school))\b",
          tokens("missing missed misses skipping skipped")),
    _rule("dropped_or_failed_classes",
          r"\b(?:dropped|withdrew\s+from|failed|failing|retaking|incomplete\s+in)\s+(?:\d+|one|two|three|a|all|most|several)\s+(?:of\s+(?:her|his)\s+)?(?:class(?:es)?|courses?)\b(?:\s+this\s+(?:semester|term|quarter|year))?(?:\s*[;,]\s*GPA\s+\d(?:\.\d+)?)?",
          tokens("class classes course courses")),
    _rule("gpa_value", r"\bGPA\s+(?:is\s+|of\s+|dropped\s+to\s+|now\s+)?\d(?:\.\d+)?\b", tokens("gpa")),
    _rule("fired_or_suspended",
          r"\b(?:fired|laid\s+off|let\s+go|terminated|suspended|expelled|put\s+on\s+(?:a\s+)?(?:pip|probation))\b(?:\s+(?:from|at)\s+(?:(?:her|his|the)\s+)?(?:job|work|school|position))?",
          tokens("fired laid let terminated suspended expelled put")),
    _rule("unemployed", r"\b(?:unemployed|underemployed|out\s+of\s+work|job\s+searching|looking\s+for\s+work)\b",
          tokens("unemployed underemployed work searching looking")),
    # housing
    _rule("lost_housing_or_job",
          r"\b(?:lost|losing)\s+(?:her\s+|his\s+|their\s+|the\s+)?(?:housing|apartment|home|lease|job)\b(?:\s+(?:in|last|this)\s+\w+)?(?:\s*,\s*(?:staying|living|sleeping)\s+(?:with|in|at)\s+(?:a\s+)?\w+)?",
          tokens("lost losing")),
    _rule("homeless_or_unstably_housed",
          r"\b(?:homeless|unhoused|evicted|facing\s+eviction|couch[- ]surfing|living\s+in\s+(?:her|his|their|a)\s+car|in\s+a\s+shelter|staying\s+(?:with|at)\s+(?:a\s+friend|friends|family|her\s+\w+|his\s+\w+)(?:'s)?)\b",
          tokens("homeless unhoused evicted eviction couch car shelter staying")),
    # hygiene / self-care: "hygiene: poor", "poor grooming"
    _rule("hygiene_or_grooming",
          (r"\b(?:hygiene|grooming|self-care)\s*(?::\s*|\s+(?:is\s+|was\s+|remains\s+)?)(?:poor|fair|good|adequate|neglected|declined|declining|improved|intact|impaired|limited|unkempt|disheveled)\b",
           r"\b(?:poor|fair|good|adequate|neglected)\s+(?:hygiene|grooming|self-care)\b"),
          tokens("hygiene grooming self")),
    _rule("not_showering_or_eating",
          r"\b(?:not|hasn't\s+been|has\s+not\s+been|rarely)\s+(?:showering|bathing|eating\s+regular\s+meals|getting\s+dressed)\b",
          tokens("showering bathing eating getting")),
    # "Missed three classes this week due to panic"
    _rule("missed_shifts_or_classes",
          r"\b(?:missed|missing|misses)\s+(?:\w+\s+)?(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|several|multiple|many|a\s+few)\s+"
          r"(?:shifts|classes|lectures|(?:days?|weeks?)\s+(?:of|at|from)\s+(?:work|school|class))\b(?:\s+(?:this|last)\s+(?:week|month|semester|term))?"
          r"(?:\s+(?:because\s+of|due\s+to|d/t)\s+(?:the\s+|her\s+|his\s+)?\w+)?",
          tokens("missed missing misses")),
    # "functioning improved", "occupational functioning impaired: ..."
    _rule("functioning_changed",
          rf"\b(?:(?:overall|occupational|social|academic|daily)\s+)?functioning\s+(?:has\s+|is\s+|remains\s+)?(?:improved|improving|declined|declining|worsened|stable|unchanged|impaired|intact|poor|limited)\b(?:\s*:{CLAUSE}{{1,120}})?",
          tokens("functioning")),
    # ---- sleep and eating, as an amount or a status
    # "Sleeping 4-5 hrs/night", "sleeping about 3 hours a night", "slept only 4 hours", "getting 5 hours of sleep"
    _rule("hours_of_sleep",
          (rf"\b(?:sleeping|sleeps|slept|sleep\s*(?::|=|is|was|has\s+been|remains|averages|averaging|improved\s+to|increased\s+to|decreased\s+to|down\s+to|up\s+to|now)?|"
           rf"(?:getting|gets|got|averaging|averages)|(?:poor|fair|good|restless|broken|fragmented|interrupted|disrupted|improved|better|worse|adequate|decreased)\s+sleep\s*\(?)"
           rf"\s*{_ABOUT}{_HOURS}(?:\s+of\s+sleep)?{_PER_NIGHT}\)?",
           rf"\bsleep\s*(?::\s*|\s+(?:is\s+|was\s+|has\s+been\s+|remains\s+|remained\s+)?)(?:poor|fair|good|restless|broken|fragmented|interrupted|disrupted|variable|adequate)\s*,\s*{_ABOUT}{_HOURS}{_PER_NIGHT}"),
          tokens("sleeping sleeps slept sleep getting gets got averaging averages")),
    # "Sleep poor", "Sleep: fair", "sleeping poorly": the status of sleep, noun first (a note's vegetative line)
    _rule("sleep_status",
          r"\b(?:sleep\s*(?::\s*|\s+(?:is\s+|was\s+|has\s+been\s+|remains\s+|remained\s+|continues\s+to\s+be\s+)?)(?:poor|fair|good|restless|broken|fragmented|interrupted|disrupted|variable|adequate|impaired|wnl|intact)|"
          r"sleeping\s+(?:poorly|well|badly|through\s+the\s+night))\b",
          tokens("sleep sleeping")),
    # "Sleep and appetite within normal limits", "sleep/appetite stable"
    _rule("sleep_and_appetite_status",
          r"\b(?:sleep|appetite)\s*(?:and|&|/)\s*(?:sleep|appetite)\s*(?::\s*|\s+(?:are\s+|were\s+|remain\s+|have\s+been\s+)?)(?:wnl|within\s+normal\s+limits|intact|adequate|normal|good|fair|poor|unchanged|stable|disrupted|decreased|impaired)\b",
          tokens("sleep appetite")),
    # "appetite poor", "Appetite decreased", "appetite: fair" (a named symptom such as "increased appetite" is a symptom)
    _rule("appetite_status",
          r"\bappetite\s*(?::\s*|\s+(?:is\s+|was\s+|has\s+been\s+|remains\s+|remained\s+|continues\s+to\s+be\s+|still\s+)?)(?:poor|fair|good|decreased|increased|reduced|diminished|down|up|low|variable|adequate|normal|wnl|intact|improved|improving|returning|returned|limited|minimal)\b",
          tokens("appetite")),
    # "eating one meal a day", "down to one meal a day", "skipping meals"
    _rule("meals_a_day",
          (r"\b(?:(?:eating|eats|ate|having|has|managing|down\s+to|up\s+to|only)\s+)?(?:only\s+|about\s+|~\s*)?(?:one|two|three|\d|a\s+single|half\s+a)\s+(?:small\s+|full\s+|proper\s+|regular\s+|real\s+)?meals?\s*(?:/|a|per|each)\s*day\b",
           r"\b(?:eating|eats|ate)\s+(?:only\s+|just\s+|about\s+)?(?:once|twice|one\s+time|two\s+times)\s+(?:a|per)\s+day\b",
           r"\b(?:skipping|skips|skipped)\s+(?:most\s+|many\s+|several\s+)?meals\b|\bnot\s+eating\s+(?:regularly|much|enough)\b"),
          tokens("meal meals eating eats ate")),
    # the Global Assessment of Functioning: "GAF 55"
    _rule("gaf_score", r"\b(?-i:GAF)\s*(?:score\s*)?(?:of|=|:|is|was|today|currently)?\s*\d{1,3}\b", tokens("gaf")),
    # "has not showered in several days"
    _rule("not_bathing_or_eating_for_a_time",
          r"\b(?:has\s+not|hasn't|have\s+not|haven't|had\s+not|hadn't|not|rarely|barely)\s+(?:showered|bathed|washed|eaten\s+(?:a\s+)?(?:regular\s+|full\s+|proper\s+)?meals?|gotten\s+dressed|gotten\s+out\s+of\s+bed|left\s+(?:her|his|their)\s+bed)\b(?:\s+(?:in|for)\s+(?:\w+\s+){0,2}?(?:days?|weeks?))?",
          tokens("showered bathed washed eaten gotten left")),
    # "struggling with basic self-care"
    _rule("struggling_with_self_care",
          r"\b(?:struggling|struggles|struggled|difficulty|trouble|needs\s+help|needing\s+help)\s+(?:with\s+)?(?:basic\s+|daily\s+)?(?:self-care|hygiene|adls|iadls|daily\s+tasks|household\s+tasks|chores|personal\s+care)\b",
          tokens("self care hygiene adls iadls tasks chores personal")),
    # "attendance around 50%"
    _rule("attendance_rate",
          r"\b(?:school\s+|class\s+|work\s+)?attendance\s+(?:is\s+|was\s+|at\s+|of\s+|down\s+to\s+)?(?:around\s+|about\s+|~|roughly\s+|only\s+)?\d+\s*%",
          tokens("attendance")),
    # "able to go to the grocery store alone"
    _rule("able_to_go_out",
          r"\b(?:able|unable)\s+to\s+(?:go|get|drive|walk|travel)\s+(?:out\b|to\s+(?:the\s+)?(?:\w+\s+){0,2}?(?:store|grocery(?:\s+store)?|market|mall|church|gym|bank|pharmacy|park|post\s+office))"
          r"(?:\s+(?:alone|by\s+(?:her|him|them)self|independently|on\s+(?:her|his|their)\s+own))?",
          tokens("able unable")),
    # v7: school functioning: "refusing school three mornings a week", "missed eleven days this
    # semester", "attending classes 4/5 days", "on a half-day schedule", "no office referrals since ..."
    _rule("school_functioning",
          (r"\brefus(?:ing|es|ed)\s+(?:to\s+(?:go\s+to|attend)\s+)?school\b(?:\s+(?:\w+\s+)?(?:mornings?|days?)\s+(?:a|per)\s+week)?",
           r"\bmissed\s+(?:\d+|\w+)\s+(?:school\s+)?(?:days|classes)\b(?:\s+(?:of\s+school\s+)?(?:this|last)\s+(?:semester|term|year|month|quarter|marking\s+period))?",
           r"\battend(?:ing|s|ed)?\s+(?:school|classes|class)\s+(?:\d\s*/\s*\d|\d+\s+of\s+\d+|\w+)\s+days\b(?:\s+(?:a|per)\s+week)?",
           r"\bon\s+an?\s+(?:half|partial|shortened|reduced|modified)[- ]day\s+schedule\b",
           r"\b(?:no|\d+|one|two|three|several|multiple)\s+(?:office\s+referrals|detentions|suspensions)\b(?:\s+since\s+[^.;,\n]{1,30})?",
           r"\bgrades\s+(?:have\s+)?(?:dropped|slipped|fallen|declined|improved|are\s+(?:failing|passing))\b(?:\s+to\s+[^.;,\n]{1,20})?"),
          tokens("refusing refuses refused missed attending attends attended attend schedule referrals detentions suspensions grades")),
    # v7: self-care and household tasks (ADLs, IADLs): "doing own laundry", "back to making her own breakfast"
    _rule("daily_living_tasks",
          (r"\b(?:doing|does|did|making|makes|cooking|managing|manages|handling|handles)\s+(?:(?:her|his|their)\s+)?own\s+(?:laundry|cooking|shopping|meals?|breakfast|lunch|dinner|finances|bills|medications|bathing|grooming|dressing)\b",
           r"\b(?:needs?|requires?|requiring|needing)\s+(?:help|assistance|cueing|prompting|supervision)\s+(?:with|for)\s+(?:(?:her|his|their)\s+)?(?:ADLs|IADLs|bathing|dressing|toileting|grooming|hygiene|showering|meals|medications|finances|transfers)\b",
           r"\b(?:independent|indep)\s+(?:with|in|for)\s+(?:(?:all|most|basic)\s+)?(?:ADLs|IADLs|self-care|bathing|dressing|grooming|hygiene)\b",
           r"\breturned\s+to\s+(?:full[- ]time|part[- ]time|work|school|her\s+job|his\s+job)(?:\s+(?:hours|work|classes))?(?:\s+at\s+the\s+\w+)?"),
          tokens("doing does did making makes cooking managing manages handling handles own needs need requires requiring needing independent indep returned")),
    # v7: sleep amounts in other shapes: "12+ hrs/night", "hasn't been able to sleep more than 3 hours a night"
    _rule("sleep_hours_per_night",
          (r"(?<![\w:])\d+(?:\s*[-\u2013]\s*\d+)?\+?\s*(?:hrs?|hours)\s*(?:/|a|per|each)\s*night\b",
           r"\b(?:able\s+to\s+)?(?:sleep|sleeping|slept)\s+(?:more\s+than|less\s+than|over|under|only|about|roughly)\s+\d+(?:\s*[-\u2013]\s*\d+)?\s+(?:hrs?|hours)(?:\s+(?:a|per|each)\s+night)?"),
          tokens("hrs hr hours sleep sleeping slept")),
)
