"""Content lint for psychotherapy notes (45 CFR 164.501).

45 CFR 164.501 defines *psychotherapy notes* as the notes a mental health professional keeps
about the contents of a counseling session, separate from the rest of the record, and EXCLUDES
from that definition: medication prescription and monitoring, counseling session start and stop
times, the modalities and frequencies of treatment furnished, results of clinical tests, and any
summary of diagnosis, functional status, the treatment plan, symptoms, prognosis, and progress to
date.  Text of those kinds keeps no psychotherapy-note protection wherever it is written.

:func:`lint` finds such text in a note so that the service can suggest moving it to the progress
note and the disclosure engine can treat it as progress-note content.  What a psychotherapy note
legitimately holds (``session_content``, ``process_analysis``) is never reported.

The lint is pure, deterministic and uses only the standard library: curated lexicons compiled
into regular expressions.  It never logs, prints or stores the text it is given.

Judgement calls (documented, tested in ``tests/unit/lint``):

* A drug *named* without prescribing or monitoring context (a dose, a level, a verb such as
  "started", "increased", "d/c'd", "titrate", "taper", adherence or side effects) is narrative
  (a dream, a story, a relative's pills) and is not reported.
* A clock time is reported only as part of a start/stop pair or a range whose length is a
  plausible session (5 to 240 minutes); "at 3 am she called her sister" is session content.
* A frequency word ("weekly") is reported only when tied to treatment (a modality, "sessions",
  "therapy", "frequency ..."); "AA meetings every Tuesday" is not.
* Symptom words are reported when the clinician summarises them (a lead-in such as "reports",
  "endorses", "c/o", "denies", "Sx:"; a list of two or more; a measure such as "3x/week" or
  "7/10"; a mental-status pattern such as "mood euthymic"), not a lone word in a reflection.
* Diagnosis abbreviations used colloquially ("he's so OCD about the dishes") or about someone
  else ("her son's ADHD evaluation") are not reported.
* A dose or drug in a sentence about a dream or a story ("in the dream he wrote a prescription
  for 40 mg") is not reported.
* Quoted speech is session content: a finding wholly inside quotes is dropped unless it carries
  a dose or a score, or (medications) names a specific drug ("'upped the Lexapro'").
* A frequency or modality in a hypothetical, question or joke ("if she had to come twice a
  week", "what if we met weekly"), and a medication, frequency or functional statement whose
  clause is about someone else ("her daughter is on Ritalin"), are not reported.  Conditional
  plans ("if SI recurs, will call") are still plans.
* A clock range with no session word in its sentence is reported only as a bare time stamp
  (the range opens the sentence, or follows "Time:"/a date); "she reads from 9:00 to 10:30" is not.
* A scale's name is not a diagnosis ("GAD 7", "Generalized Anxiety Disorder-7"); a drug named
  right after an imperative ("Taper venlafaxine ...") is a medication finding, not a plan; a
  symptom named inside a progress statement ("nightmares have resolved") is reported as progress;
  functioning tied to an age or a past era ("lost her job at 22") is biography.

Speed: each rule runs only in small windows around its trigger tokens (a drug name, a scale
name, "since", a clock time...), so cost grows with the clinical content of a note rather than
its length; tests prove the gating returns exactly what a full scan returns on the labelled set.

Since v3 the rules cover phrasing families rather than example sentences: doses without units
and sig abbreviations (qd/bid/tid/qhs/qam/prn), change and adherence verbs without a dose ("off
her Effexor", "skipping her Zoloft"), side effects attributed to a drug, every common spelling and
full name of the screening scales with result verbs ("dropped to", "came in at", "x/30"),
imperative planning verbs opening a clause ("Recommend ...", "Refer to ...", "RTC 2 wks"),
functional domains (leave/disability, driving, leaving home, help with care tasks, work and school
status, housing, hygiene), progress language (gains, "no X in N days", goals met, regression,
remission, firsts since intake) and prognosis synonyms (outlook, expected course, Px, risk of).

v4 adds context filters and families found by a blind held-out batch (e): a diagnosis word used
as a modifier ("PTSD symptoms", "OCD workbook"), family history and a relative as the subject of a
diagnosis, a modality the patient read or heard about, a prognosis for a medical illness or given
by another doctor, a musing about medication ("if she ever goes back on lithium"), functioning
named as a goal, side effects read as medication monitoring rather than symptoms, a lone symptom
named as a treatment target, conditional progress ("if gains maintained"), and a score change
("PHQ-9 12, down from 18") kept with the test result.  New families: medication-list headers
("Meds: none"), adherence by pronoun ("taking it as prescribed"), sub-scores and T-scores, MSE
phrasing with the adjective first ("flat affect, poor eye contact"), dash-led plans, planned
discharge, missed shifts/classes, "functioning improved", progress over N sessions, by a percent,
"now X vs Y", "largely subsided", "less frequent", and "completed N of M sessions".

Known limits: it is a suggestion aid, not a guarantee that a note holds no excluded content.
Recall on phrasing outside these families is lower (see ``bench/lint_quality.py``, held-out
batch d); speed is measured by ``bench/lint_speed.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable

__all__ = ["CATEGORIES", "Finding", "lint"]

#: The excluded-content categories of 45 CFR 164.501, as named in the disclosure case files.
CATEGORIES: tuple[str, ...] = (
    "medication_prescription_and_monitoring",
    "session_start_stop_times",
    "modalities_and_frequencies_of_treatment",
    "clinical_test_results",
    "summary_diagnosis",
    "summary_functional_status",
    "summary_treatment_plan",
    "summary_symptoms",
    "summary_prognosis",
    "summary_progress_to_date",
)

_FIELD = {
    "medication_prescription_and_monitoring": "medications",
    "session_start_stop_times": "session start/stop times",
    "modalities_and_frequencies_of_treatment": "modality and frequency of treatment",
    "clinical_test_results": "clinical test results",
    "summary_diagnosis": "diagnosis",
    "summary_functional_status": "functional status",
    "summary_treatment_plan": "treatment plan",
    "summary_symptoms": "symptoms",
    "summary_prognosis": "prognosis",
    "summary_progress_to_date": "progress to date",
}


@dataclass(frozen=True)
class Finding:
    """One span of a note that 45 CFR 164.501 excludes from the psychotherapy-note definition.

    ``category`` is one of :data:`CATEGORIES`; ``start``/``end`` are character (code point)
    offsets into the linted text, end exclusive, so ``text[start:end] == finding.text``;
    ``suggestion`` is a human-readable hint ("move to the progress note: <field>").
    """

    category: str
    start: int
    end: int
    text: str
    suggestion: str

    def to_dict(self) -> dict:
        """Return ``{"category", "start", "end", "text"}`` (exactly those four keys)."""
        return {"category": self.category, "start": self.start, "end": self.end, "text": self.text}


# --------------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------------

def _alt(words: Iterable[str]) -> str:
    """Regex alternation of literal phrases, compiled as a trie so that matching costs about one
    character test per position however long the lexicon.  A space in a phrase matches any run
    of whitespace, a hyphen any dash.  Longer phrases win over their prefixes (greedy)."""
    trie: dict = {}
    for w in set(words):
        node = trie
        for ch in w.lower():
            node = node.setdefault(ch, {})
        node[""] = {}
    return "(?:" + _trie_rx(trie) + ")"


def _unit(ch: str) -> str:
    if ch == " ":
        return r"\s+"
    if ch == "-":
        return _DASH
    return re.escape(ch)


def _trie_rx(node: dict) -> str:
    end = "" in node
    branches = [_unit(ch) + _trie_rx(child) for ch, child in sorted(node.items()) if ch]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return f"(?:{body})?" if end else body


_DASH = "[-\u2010\u2011\u2012\u2013\u2014\u2212]"
_NUM = r"\d+(?:\.\d+)?"
# A clause body: anything up to a sentence end ('.' not inside a number), ';' or a newline.
_CLAUSE = r"(?:[^.;\n]|\.(?=\d))"
_CLAUSE_SEMI = r"(?:[^.\n]|\.(?=\d))"

# ---- medications -----------------------------------------------------------------------------
_DRUGS = """
sertraline zoloft fluoxetine prozac sarafem paroxetine paxil pexeva citalopram celexa escitalopram
lexapro fluvoxamine luvox vilazodone viibryd vortioxetine trintellix venlafaxine effexor
desvenlafaxine pristiq duloxetine cymbalta levomilnacipran fetzima milnacipran savella bupropion
wellbutrin aplenzin zyban mirtazapine remeron trazodone desyrel oleptro nefazodone esketamine
spravato ketamine zuranolone zurzuvae brexanolone zulresso auvelity amitriptyline elavil
nortriptyline pamelor imipramine tofranil clomipramine anafranil desipramine norpramin doxepin
silenor protriptyline phenelzine nardil tranylcypromine parnate selegiline emsam isocarboxazid
marplan aripiprazole abilify brexpiprazole rexulti cariprazine vraylar quetiapine seroquel
olanzapine zyprexa risperidone risperdal paliperidone invega ziprasidone geodon lurasidone latuda
lumateperone caplyta asenapine saphris iloperidone fanapt clozapine clozaril haloperidol haldol
chlorpromazine thorazine fluphenazine prolixin perphenazine lybalvi pimavanserin nuplazid cobenfy
lithium lithobid eskalith valproate divalproex depakote depakene lamotrigine lamictal
carbamazepine tegretol equetro oxcarbazepine trileptal topiramate topamax gabapentin neurontin
pregabalin lyrica alprazolam xanax clonazepam klonopin lorazepam ativan diazepam valium
chlordiazepoxide librium temazepam restoril oxazepam zolpidem ambien eszopiclone lunesta zaleplon
sonata suvorexant belsomra lemborexant dayvigo daridorexant quviviq ramelteon rozerem melatonin
hydroxyzine vistaril atarax diphenhydramine benadryl buspirone buspar propranolol inderal
prazosin minipress clonidine catapres kapvay guanfacine intuniv tenex methylphenidate ritalin
concerta focalin dexmethylphenidate daytrana amphetamine adderall lisdexamfetamine vyvanse
dextroamphetamine dexedrine zenzedi atomoxetine strattera viloxazine qelbree modafinil provigil
armodafinil nuvigil naltrexone vivitrol revia buprenorphine suboxone subutex sublocade methadone
acamprosate campral disulfiram antabuse naloxone narcan varenicline chantix levothyroxine
synthroid metformin lisinopril atorvastatin prednisone ibuprofen acetaminophen tylenol oxycodone
oxycontin percocet hydrocodone vicodin tramadol sumatriptan ondansetron zofran omeprazole
amlodipine metoprolol semaglutide ozempic wegovy tirzepatide mounjaro insulin albuterol
azstarys jornay mydayis adzenys cotempla evekeo relexxii aptensio quillichew methylin
dyanavel xelstrym aristada uzedy perseris rykindo erzofri invega sustenna trinza hafyera maintena
asimtufii consta benztropine cogentin austedo deutetrabenazine ingrezza valbenazine amantadine
memantine namenda donepezil aricept solriamfetol sunosi pitolisant wakix xyrem xywav sodium
oxybate lofexidine lucemyra zubsolv brixadi probuphine nalmefene baclofen ondansetron
lemborexant doxylamine unisom quetiapine fluvoxamine loxapine thiothixene trifluoperazine
molindone pimozide orap tetrabenazine gabapentin horizant lyrica nicorette bupropion-naltrexone
contrave phentermine qsymia topiramate zonisamide levetiracetam keppra lurasidone vraylar
esketamine""".split() + ["valproic acid", "mixed amphetamine salts", "nicotine patch", "lithium carbonate",
                       "nicotine gum", "nicotine lozenge", "abilify maintena", "invega sustenna",
                       "invega trinza", "risperdal consta", "zyprexa relprevv"]

_DRUG = r"\b" + _alt(_DRUGS) + r"\b"
_DRUG_CLASS = _alt([
    "meds", "med", "medication", "medications", "antidepressant", "antidepressants", "ssri",
    "snri", "antipsychotic", "mood stabilizer", "stimulant", "benzo", "benzodiazepine",
    "sleep aid", "sleep med", "psych meds",
])
_FORM = r"(?:\s*\b(?:XL|XR|ER|SR|CR|ODT|IR|LA|DR|CD|IM|LAI|SL|patch|depot|Sustenna|Maintena|Consta)\b)"
_UNIT = r"(?:mg|mcg|\u00b5g|g|mL|ml|units?|IU)\b(?:\s*/\s*(?:day|d)\b)?"
_MEDFREQ = (
    r"(?:q\.?d\.?|qam|qpm|qhs|q\s?hs|hs|bid|b\.i\.d\.|tid|t\.i\.d\.|qid|prn|q\s?\d+\s?h|daily|"
    r"nightly|at bedtime|qday|twice daily|once daily|three times daily|in the morning|"
    r"every (?:other )?(?:day|morning|night|evening)|x\s?\d+\s?(?:d|days|wks?|weeks?)\b|"
    r"(?:every|q)\s?(?:\d+|one|two|three|four)\s?(?:wks?|weeks?|days?)\b|as\s+needed|as\s+prescribed|"
    r"qod|q\.?\s?week|po|p\.o\.|sl|im|q\s?am|q\s?pm|q\s?a\.m\.|q\s?p\.m\.|b\.?i\.?d|t\.?i\.?d|q\.?i\.?d|"
    r"q\.?h\.?s|p\.?r\.?n|once|twice|at\s+night|with\s+(?:breakfast|dinner|food))"
)
_DOSE = rf"(?:(?:to|by|at|from|of)\s+)?{_NUM}\s*{_UNIT}(?:\s*,?\s*{_MEDFREQ}\b)*"
_DRUGTAIL = rf"{_FORM}?(?:\s*{_DOSE})?(?:\s*(?:then|and|to)\s+{_NUM}\s*{_UNIT})*(?:\s+{_MEDFREQ}\b)*"
_MEDVERB = _alt([
    "start", "started", "starting", "begin", "began", "initiate", "initiated", "increase",
    "increased", "increasing", "decrease", "decreased", "decreasing", "reduce", "reduced",
    "lower", "lowered", "raise", "raised", "upped", "bumped up", "bumped", "titrate", "titrated",
    "titrating", "taper", "tapered", "tapering", "taper off", "wean", "weaned", "weaning",
    "weaned off", "d/c", "d/c'd", "d/c\u2019d", "dc'd", "discontinue", "discontinued",
    "discontinuing", "stop", "stopped", "stopped taking", "stopping", "held", "hold", "holding",
    "restart", "restarted", "resume", "resumed", "switch to", "switched to", "switched from",
    "switch from", "changed to", "change to", "cross-taper", "cross-tapered", "rx", "rx'd",
    "rx:", "prescribe", "prescribed", "prescribing", "refill", "refilled", "cont.", "cont",
    "continue", "continues", "continued", "continuing", "add", "added", "adding",
    "augment with", "augmented with", "trial of", "adherent to", "compliant with",
    "nonadherent to", "non-adherent to", "noncompliant with", "non-compliant with",
    "missed doses of", "now on", "currently on", "remains on", "still on", "back on",
    "started on", "maintained on", "taking an extra", "took an extra", "takes an extra",
    "taking extra", "took extra", "ran out of", "out of",
])
_MED_PATTERNS = [
    # verb + drug (+ form, dose, frequency)
    rf"\b{_MEDVERB}\s*(?:(?:the|his|her|their|an?|low[- ]dose)\s+)*{_DRUG}{_DRUGTAIL}",
    # drug + dose (+ frequency)
    rf"{_DRUG}{_FORM}?\s*(?:\(\s*\w+\s*\)\s*)?{_DOSE}(?:\s*(?:then|and|to)\s+{_NUM}\s*{_UNIT})*",
    # drug level (monitoring)
    rf"(?:\bserum\s+)?{_DRUG}\s+(?:serum\s+)?(?:levels?|lvl)\s*(?:of|=|:|was|is|at)?\s*{_NUM}",
    # drug titration / taper / dose change noun
    rf"{_DRUG}\s+(?:titration|taper|increase|decrease|dose(?:\s+(?:increase|decrease|change|reduction))?|dosage|refill|trial)\b(?:\s*:\s*(?:{_NUM}\s*{_UNIT}(?:\s*{_MEDFREQ})*(?:\s*(?:then|and|to)\s+)?)+)?",
    # adherence / side effects
    rf"\b(?:adherent|compliant|non-?adherent|non-?compliant|adherence|compliance)\s+(?:to|with)\s+(?:(?:his|her|the|all)\s+)?(?:{_DRUG_CLASS}|{_DRUG})\b",
    rf"\b(?:no\s+|denies\s+(?:any\s+)?)?side[- ]effects?(?:\s+(?:from|of|on|with)\s+(?:the\s+|his\s+|her\s+)?(?:{_DRUG}(?:\s+(?:increase|decrease|change|dose))?|{_DRUG_CLASS}))?(?:\s+(?:reported|noted|endorsed|denied))?",
    rf"\b(?:missed|missing|skipped|skipping)\s+(?:\w+\s+)?(?:doses?|{_DRUG_CLASS})\b",
    # verb + generic class ("stopped her meds", "started an SSRI")
    rf"\b(?:started|starting|stopped|stopped taking|d/c'd|discontinued|restarted|resumed|increased|decreased|switched)\s+(?:(?:his|her|the|an?|their)\s+)?{_DRUG_CLASS}\b",
    # passive dose change: "Zoloft was bumped to 150"
    rf"{_DRUG}\s+(?:was\s+|is\s+|has\s+been\s+|had\s+been\s+|got\s+|being\s+)?(?:increased|decreased|bumped(?:\s+up)?|upped|raised|lowered|reduced|titrated|tapered|changed|switched|held|stopped|discontinued|d/c'd|started|restarted|added|prescribed)\b(?:\s+(?:to|by|from)\s+{_NUM}(?:\s*{_UNIT})?)?",
    # taking a drug on a schedule
    rf"\b(?:taking|takes|took|using|uses)\s+(?:(?:the|his|her|their)\s+)?{_DRUG}(?:\s+{_MEDFREQ})+(?:\s*,?\s*(?:maybe\s+|about\s+|roughly\s+)?(?:once|twice|\d+\s*x|three\s+times)\s+(?:a|per)\s+(?:day|week|night))?",
    # lab level by abbreviation or pending/ordered
    rf"(?:{_DRUG}|(?-i:\bLi\b|\bVPA\b))\s+(?:serum\s+)?(?:levels?|lvl)\s*(?:of|=|:|was|is|at)?\s*(?:{_NUM}|pending|ordered|drawn|therapeutic|subtherapeutic|supratherapeutic|wnl|normal|high|low)\b",
    # bare dose with unit: strong evidence on its own
    rf"\b{_NUM}\s*(?:mg|mcg)\b(?:\s*,?\s*{_MEDFREQ}\b)*",
]

# ---- session start/stop times ------------------------------------------------------------------
_TIME = r"(?P<{n}h>\d{{1,2}})(?::(?P<{n}m>[0-5]\d))?(?:\s*(?P<{n}ap>[ap])\.?(?:m\b\.?)?)?"
_T1, _T2 = _TIME.format(n="a"), _TIME.format(n="b")
_TO = rf"\s*(?:{_DASH}|to|until|till|through)\s*"
_SESSION_PATTERNS = [
    rf"(?<![\d:]){_T1}{_TO}{_T2}(?![\d:])",
    rf"\b(?:session\s+)?(?:start(?:ed|s)?|began|begins?|time\s+in|in)\b\s*(?:at|:|=)?\s*{_T1}"
    rf"[^.;\n\d]{{0,25}}?\b(?:end(?:ed|s)?|stop(?:ped|s)?|finish(?:ed)?|time\s+out|out)\b\s*(?:at|:|=)?\s*{_T2}",
    rf"\b(?:session\s+(?:start|end|began|ended|started|stopped)(?:\s+time)?|start\s+time|end\s+time|stop\s+time|time\s+in|time\s+out)\s*(?:at|:|=)?\s*{_T1}",
]

# ---- modalities and frequencies --------------------------------------------------------------
_MODALITY_CI_WORDS = [
    "cognitive behavioral therapy", "cognitive behavioural therapy", "cognitive therapy",
    "dialectical behavior therapy", "dialectical behavioral therapy", "trauma-focused cbt",
    "tf-cbt", "cbt-i", "cbt-e", "cbt", "dbt skills group", "dbt skills", "dbt", "emdr",
    "acceptance and commitment therapy", "interpersonal psychotherapy", "interpersonal therapy",
    "cognitive processing therapy", "prolonged exposure therapy", "prolonged exposure",
    "exposure and response prevention", "exposure therapy", "psychodynamic psychotherapy",
    "psychodynamic therapy", "psychoanalytic psychotherapy", "psychoanalysis",
    "mindfulness-based cognitive therapy", "mbct", "motivational interviewing",
    "motivational enhancement therapy", "schema therapy", "family therapy",
    "family psychotherapy", "group therapy", "group psychotherapy", "couples therapy",
    "couples counseling", "marital therapy", "marriage counseling", "individual psychotherapy",
    "individual therapy", "supportive psychotherapy", "supportive therapy", "play therapy",
    "child-parent psychotherapy", "pcit", "parent-child interaction therapy",
    "emotionally focused therapy", "internal family systems", "solution-focused therapy",
    "solution-focused brief therapy", "narrative therapy", "behavioral activation",
    "mentalization-based treatment", "transference-focused psychotherapy",
    "telehealth session", "telehealth visit", "video session", "video visit",
    "telephone session", "session via video", "session via telehealth", "session via phone",
    "psychotherapy session", "therapy session", "family session", "couples session",
    "group session", "skills group", "process group",
    # named techniques delivered in session, and delivery modes
    "behavior activation", "behavioural activation", "cognitive restructuring", "thought record",
    "thought records", "thought log", "imaginal exposure", "in vivo exposure",
    "interoceptive exposure", "written exposure therapy", "trauma narrative", "psychoeducation",
    "chain analysis", "progressive muscle relaxation", "relaxation training",
    "diaphragmatic breathing", "grounding techniques", "grounding skills",
    "distress tolerance skills", "emotion regulation skills", "interpersonal effectiveness skills",
    "socratic questioning", "cognitive defusion", "problem-solving therapy", "sleep restriction",
    "stimulus control", "habit reversal training", "safety behavior fading",
    "emdr reprocessing", "bilateral stimulation", "telehealth", "telemedicine", "telepsychiatry",
    "phone session", "telephone visit", "phone visit", "in-person session", "office visit",
]
_MODALITY_CI = _alt(_MODALITY_CI_WORDS)
# An acronym followed by a school word is not a modality ("PE teacher", "ACT score").
_NOT_MOD = r"(?!\s+(?:teachers?|class(?:es)?|coach|scores?|test|exam|prep|credits?|grades?|homework\s+for\s+school))"
_MODALITY_CS = r"(?-i:(?<!his\s)(?<!her\s)(?<!their\s)(?<!my\s)(?<!the\s)\b(?:ACT|IPT|CPT|ERP|EFT|IFS|SFBT|MBT|TFP|PE|MI|MET|CBT|DBT|EMDR)\b" + _NOT_MOD + r"(?:[-\u2011]based(?:\s+(?:interventions?|work|therapy))?)?)"
_MODALITY = rf"(?:\b{_MODALITY_CI}\b(?:[-\u2011]based(?:\s+(?:interventions?|work))?)?|{_MODALITY_CS})"
_FREQ_WORDS = [
    "weekly", "biweekly", "bi-weekly", "twice weekly", "twice a week", "twice per week",
    "once a week", "once weekly", "once per week", "monthly", "twice monthly", "twice a month",
    "every other week", "every week", "every two weeks", "every 2 weeks", "every three weeks",
    "every 3 weeks", "every four weeks", "every 4 weeks", "fortnightly", "semimonthly", "qwk",
    "q week", "q1wk", "q2wk", "q2wks", "q3wk", "q4wk", "q 2 wks", "q2 weeks", "q 2 weeks",
    "1x/week", "2x/week", "1x/wk", "2x/wk", "1x/month", "1x/mo", "3x/week", "3x/wk",
    "twice weekly", "three times a week", "three times weekly", "every month", "once a month",
    "q month", "qmonth", "q2-3 weeks", "every 2-3 weeks", "every six weeks", "every 6 weeks",
] + [f"{e} {d}" for e in ("every", "every other") for d in
     "monday tuesday wednesday thursday friday saturday sunday".split()] + [
    "mondays", "tuesdays", "wednesdays", "thursdays", "fridays", "saturdays", "sundays",
]
_FREQ = _alt(_FREQ_WORDS) + r"\b"
_MINUTES = rf"\d+\s*{_DASH}?\s*(?:min(?:ute)?s?|mins?)\b"
_CPT = r"\b(?:CPT(?:\s*(?:code|#))?\s*:?\s*)?(?:9078[5-9]|9079\d|908\d\d)\b"
_MOD_PATTERNS = [
    _CPT,
    rf"\b(?:schema|trauma|emotion|solution|compassion|mindfulness|exposure|psychodynamic|insight|skills|attachment)[- ](?:focused|based|oriented)\s+(?:work|therapy|psychotherapy|treatment|interventions?)(?:\s+{_FREQ})?",
    rf"\b(?:move|moving|moved|switch|switching|switched|reduce|reducing|reduced|step(?:ping|ped)?\s+down|increase|increasing|increased|go|going|went)\s+(?:back\s+)?to\s+{_FREQ}(?:\s+(?:sessions?|therapy|visits?))?",
    rf"(?:\b{_FREQ}\s+|{_MINUTES}\s+)?{_MODALITY}(?:\s+{_FREQ})?(?:\s*,\s*(?:\d+\s+members\s*,\s*)?{_MINUTES})?",
    rf"\b(?:sessions?|therapy|psychotherapy|visits?|appointments?|appts?|seen|meets?|meeting)\s+(?:are\s+|is\s+|will\s+be\s+|remain\s+|to\s+be\s+)?(?:{_MINUTES}\s*,?\s*)?{_FREQ}",
    rf"\b{_FREQ}\s+(?:individual\s+|family\s+|group\s+|couples\s+)?(?:sessions?|therapy|psychotherapy|visits?|appointments?|appts?)\b",
    rf"\b(?:session\s+)?frequency\s+(?:(?:reduced|increased|decreased|changed|stepped\s+down|moved)\s+)?(?:to\s+)?{_FREQ}",
    rf"\b(?:session|visit|psychotherapy|therapy)\s+(?:length|duration)\s*:?\s*(?:of\s+)?{_MINUTES}",
    rf"\b(?:sessions?|visits?)\s+(?:are|is|were|was|lasting|lasted|of)\s+{_MINUTES}",
    rf"\b{_MINUTES}\s+(?:individual|family|group|couples)?\s*(?:session|psychotherapy|therapy|visit)\b",
]

# ---- clinical test results ---------------------------------------------------------------------
_SCALE_WORDS = [
    "phq-9", "phq9", "phq", "phq-2", "phq-a", "gad-7", "gad7", "gad-2", "pcl-5", "pcl5", "pcl-c",
    "pcl", "bdi-ii", "bdi-2", "bdi", "bai", "audit-c", "audit", "dast-10", "dast",
    "c-ssrs", "cssrs", "columbia", "moca", "mmse", "slums", "y-bocs", "ybocs", "cy-bocs",
    "caps-5", "epds", "edinburgh", "asrs", "vanderbilt", "mdq", "ham-d", "hamd", "ham-a",
    "hama", "madrs", "ymrs", "qids", "qids-sr", "oq-45", "core-10", "k10", "k6", "des",
    "des-ii", "ace score", "aces", "whodas", "wais-iv", "wisc-v", "fsiq", "mmpi-2",
    "mmpi-2-rf", "mmpi-3", "pai", "cdi", "scared", "cgi-s", "cgi-i", "pss", "isi", "ess",
    "psqi", "cage", "ciwa", "cows", "rcads", "sdq", "cans", "bprs", "panss", "asq",
    "pcl-5 total", "phq-9 total",
    # child and personality measures
    "cbcl", "trf", "ysr", "basc", "basc-3", "conners", "conners-3", "snap-iv", "ados", "ados-2", "vineland",
    "wiat", "cdi-2", "masc", "rcmas", "tscc", "mcmi", "mcmi-iv", "ders", "aaq-ii", "who-5", "phq-8", "ghq-12",
    "mfq", "smfq", "pedsql",
]
_SCALE_NAMES = [
    "beck depression inventory", "beck depression inventory-ii", "beck depression inventory ii",
    "beck anxiety inventory", "beck hopelessness scale", "beck scale for suicide ideation",
    "patient health questionnaire", "patient health questionnaire-9",
    "patient health questionnaire 9", "generalized anxiety disorder-7",
    "generalized anxiety disorder 7", "gad-7 scale", "ptsd checklist", "ptsd checklist-5",
    "ptsd checklist for dsm-5", "edinburgh postnatal depression scale", "edinburgh scale",
    "montreal cognitive assessment", "mini-mental state exam", "mini-mental state examination",
    "mini mental", "mini-mental", "columbia suicide severity rating scale",
    "columbia suicide severity", "columbia scale", "yale-brown obsessive compulsive scale",
    "yale-brown", "hamilton depression rating scale", "hamilton depression scale",
    "hamilton anxiety rating scale", "hamilton anxiety scale", "hamilton",
    "montgomery-asberg depression rating scale", "montgomery-asberg", "young mania rating scale",
    "alcohol use disorders identification test", "drug abuse screening test",
    "adult adhd self-report scale", "mood disorder questionnaire", "insomnia severity index",
    "epworth sleepiness scale", "epworth", "pittsburgh sleep quality index",
    "outcome questionnaire", "outcome questionnaire-45", "clinical global impression",
    "clinical global impressions", "quick inventory of depressive symptomatology",
    "kessler", "kessler-10", "adverse childhood experiences", "ace questionnaire",
    "dissociative experiences scale", "brief psychiatric rating scale",
    "positive and negative syndrome scale", "eating disorder examination questionnaire",
    "ede-q", "edeq", "scoff", "mdq", "spin", "lsas", "liebowitz", "sps", "pdss", "cpss",
    "ucla ptsd", "ucla ptsd reaction index", "cats", "cesd", "ces-d", "gds", "cssrs screen",
    "oci-r", "ocir", "dass-21", "dass", "orci", "ors", "srs", "phq-15", "phq 15", "caps",
    "wms", "rbans", "trails b", "trails a", "trail making", "clock draw", "slums exam",
]
_SCALE_WORDS = _SCALE_WORDS + _SCALE_NAMES
# every hyphenated name also as spaced and run-together ("PHQ 9", "PHQ9", "BDI II")
_SCALE_WORDS = sorted({v for w in _SCALE_WORDS for v in (w, w.replace("-", " "), w.replace("-", ""))})
_SCALES = _alt(_SCALE_WORDS)
_SCALE = rf"\b{_SCALES}(?![\w-])"
_RESULTWORD = (
    r"(?:positive|negative|neg|pos|elevated|normal|abnormal|wnl|within normal limits|"
    r"unremarkable|low|high|borderline|clinically significant|above cutoff|below cutoff|"
    r"minimal|mild|moderate|moderately severe|severe|mod-severe|subclinical|subthreshold)"
)
_SCORE = rf"{_NUM}(?:\s*/\s*\d+)?"
_LAB_WORDS = [
    "tsh", "t4", "free t4", "cbc", "cmp", "bmp", "a1c", "hba1c", "lipid panel", "lfts", "lft",
    "ekg", "ecg", "qtc", "uds", "urine drug screen", "urine tox", "tox screen", "drug screen",
    "bal", "bac", "b12", "vitamin d", "folate", "ferritin", "prolactin", "cbc w/ diff",
    "breathalyzer", "peth", "etg", "cdt", "eeg", "mri", "ct", "sleep study", "neuropsych testing",
    "neuropsychological testing", "psych testing", "psychological testing", "labs", "bloodwork",
    "blood work",
]
_LABS = _alt(_LAB_WORDS)
_LAB = rf"\b{_LABS}\b"
_TEST_PATTERNS = [
    rf"{_SCALE}(?:\s*(?:total|score[sd]?|score\s+of|screen(?:ing)?|result|=|:|was|is|of|today|now|at|today's|this\s+week|{_DASH}))*\s*(?:{_SCORE}|{_RESULTWORD}\b(?:\s+(?:screen|for\s+\w+))?)",
    rf"\bscored?\s+{_SCORE}\s+on\s+(?:the\s+)?{_SCALE}",
    rf"{_SCALE}\s+(?:showed|shows|indicated|indicates|reflected|reflects|revealed|suggests|suggested)\s+(?:an?\s+)?(?:\d+[- ]point\s+)?(?:drop|decrease|increase|rise|reduction|improvement|change|elevation|{_RESULTWORD})\b",
    rf"(?:\blabs?\s*:\s*)?{_LAB}(?:\s*(?:,|and|&|/)\s*{_LAB})*\s*(?:=|:|was|were|is|are|came\s+back|results?)?\s*(?:{_RESULTWORD}\b(?:\s+for\s+[\w-]+)?|{_NUM}(?:\s*(?:ms|ng/ml|mg/dl|%))?)",
]

# ---- diagnosis ---------------------------------------------------------------------------------
_ICD_F = r"\bF\d[0-9A-Z](?:\.[0-9A-Z]{1,4})?\b"
_ICD_OTHER = r"\b[A-EG-TV-Z]\d[0-9A-Z]\.[0-9A-Z]{1,4}\b"
_DX_WORDS = [
    "major depressive disorder", "persistent depressive disorder", "dysthymia",
    "dysthymic disorder", "generalized anxiety disorder", "panic disorder", "agoraphobia",
    "social anxiety disorder", "social phobia", "specific phobia", "separation anxiety disorder",
    "posttraumatic stress disorder", "post-traumatic stress disorder", "post traumatic stress disorder",
    "acute stress disorder", "adjustment disorder", "obsessive-compulsive disorder",
    "obsessive compulsive disorder", "bipolar disorder", "bipolar i disorder",
    "bipolar ii disorder", "bipolar i", "bipolar ii", "bipolar 1", "bipolar 2",
    "cyclothymic disorder", "cyclothymia", "schizophrenia", "schizoaffective disorder",
    "schizophreniform disorder", "delusional disorder", "brief psychotic disorder",
    "attention-deficit/hyperactivity disorder", "attention deficit hyperactivity disorder",
    "autism spectrum disorder", "borderline personality disorder",
    "antisocial personality disorder", "narcissistic personality disorder",
    "histrionic personality disorder", "avoidant personality disorder",
    "dependent personality disorder", "obsessive-compulsive personality disorder",
    "paranoid personality disorder", "schizotypal personality disorder",
    "schizoid personality disorder", "personality disorder", "anorexia nervosa",
    "bulimia nervosa", "binge eating disorder", "binge-eating disorder", "eating disorder",
    "avoidant/restrictive food intake disorder", "alcohol use disorder", "opioid use disorder",
    "cannabis use disorder", "stimulant use disorder", "substance use disorder",
    "tobacco use disorder", "gambling disorder", "insomnia disorder", "somatic symptom disorder",
    "illness anxiety disorder", "conversion disorder", "functional neurological symptom disorder",
    "dissociative identity disorder", "depersonalization/derealization disorder",
    "dissociative disorder", "premenstrual dysphoric disorder", "postpartum depression",
    "peripartum onset", "oppositional defiant disorder", "conduct disorder",
    "disruptive mood dysregulation disorder", "intermittent explosive disorder",
    "gender dysphoria", "tourette's disorder", "tourette syndrome", "tic disorder",
    "intellectual disability", "major neurocognitive disorder", "mild neurocognitive disorder",
    "neurocognitive disorder", "dementia", "hoarding disorder", "trichotillomania",
    "excoriation disorder", "body dysmorphic disorder", "reactive attachment disorder",
    "prolonged grief disorder", "depressive disorder", "anxiety disorder",
    "alcohol dependence", "opioid dependence", "etoh use d/o", "etoh use disorder",
    "alcohol use d/o", "opioid use d/o", "cannabis use d/o", "substance use d/o",
    "bipolar ii d/o", "bipolar i d/o", "bipolar d/o", "panic d/o", "adjustment d/o",
    "major depressive d/o", "mdd", "ptsd", "cptsd", "c-ptsd", "bipolar spectrum disorder",
    "bipolar spectrum", "bipolar depression", "psychotic disorder", "mood disorder",
    "unspecified depressive disorder", "other specified depressive disorder",
    "unspecified anxiety disorder", "other specified trauma- and stressor-related disorder",
    "complex ptsd", "complex trauma", "adjustment d/o w/ anxiety",
]
_DX_NAMES = _alt(_DX_WORDS)
_DX_ABBR = r"(?-i:\b(?:MDD|GAD|PTSD|C-PTSD|CPTSD|OCD|OCPD|ADHD|ADD|BPD|ASD|AUD|OUD|CUD|SUD|ODD|PDD|PMDD|DMDD|BED|BDD|DID|GD|NCD|SAD|BP-?I{1,2}|BP\s?[12])\b(?!\s?[-\u2010\u2011\u2013]?\s?\d))"
_DX_SPEC = (
    r"(?:\s*,\s*|\s+)(?:recurrent|single episode|mild|moderate|severe|moderate-severe|"
    r"in (?:early|sustained|partial|full) remission|in remission|chronic|acute|unspecified|"
    r"provisional|by history|current episode \w+|most recent episode \w+|"
    r"combined (?:presentation|type)|predominantly \w+ (?:presentation|type)|"
    r"with (?:anxious distress|mixed features|psychotic features|panic attacks|"
    r"peripartum onset|seasonal pattern|melancholic features|atypical features|"
    r"depressed mood|anxiety|mixed anxiety and depressed mood|disturbance of conduct)|"
    r"w/ panic attacks|w/ anxious distress)\b"
)
_DX_CORE = rf"(?:{_DX_NAMES}|{_DX_ABBR})"
_DX_CODE_TAIL = rf"(?:\s*\(?\s*(?:{_ICD_F}|{_ICD_OTHER})\s*\)?)?"
_DX_PATTERNS = [
    rf"(?:\b(?:meets?|met|meeting)\s+(?:full\s+)?(?:dsm-?5(?:-tr)?\s+)?criteria\s+for\s+(?:an?\s+)?)?"
    rf"(?:\b(?:r/o|rule\s+out|rule-out|provisional|hx\s+of|history\s+of)\s+)?"
    rf"\b{_DX_CORE}(?:{_DX_SPEC})*{_DX_CODE_TAIL}(?:{_DX_SPEC})*"
    rf"(?:\s*,?\s*(?:r/o|rule\s+out)\s+{_DX_CORE}(?:{_DX_SPEC})*)?",
    rf"(?:\b(?:dx|diagnosis|diagnoses|icd-?10(?:-cm)?)\s*(?::|remains|unchanged|is|=)?\s*\(?\s*)?(?:{_ICD_F}|{_ICD_OTHER})\)?",
    r"\b(?:dx|diagnosis)\s+(?:unchanged|remains\s+unchanged|deferred)\b",
    rf"\b(?:meets?|met|meeting)\s+(?:full\s+)?(?:dsm[- ]?5(?:-tr)?\s+)?criteria\s+for\s+{_CLAUSE}{{1,80}}",
    rf"\b(?:diagnos(?:is|es|ed)\s+(?:of|with)|carries\s+(?:a|the)\s+(?:dx|diagnosis)\s+of|diagnostic\s+impressions?\s*:|working\s+(?:dx|diagnosis)\s*(?:is|:)?|dx\s*(?::|is|of|w/|with|remains|=|unchanged))\s*{_CLAUSE}{{1,80}}",
]

# ---- functional status -----------------------------------------------------------------------
_FUNC_PATTERNS = [
    r"\b(?:calling|called|calls|call)\s+(?:out|in)\s+sick\b(?:\s+(?:about\s+|roughly\s+)?(?:\d+\s*x|once|twice|three\s+times|\d+\s+times)(?:\s+(?:a|per)\s+(?:week|month))?)?",
    rf"\b(?:stopped|quit)\s+(?:going\s+to|attending|leaving)\s+{_CLAUSE}{{1,50}}",
    r"\b(?:grades|gpa|work\s+performance|job\s+performance|school\s+performance|attendance)\s+(?:have\s+|has\s+)?(?:dropped|declined|slipped|fallen|falling|suffering|poor|improved|improving)\b(?:\s+from\s+\w+\s+to\s+\w+)?",
    r"\b(?:can't|cannot|can\s+not)\s+(?:work|drive|leave\s+the\s+house|get\s+out\s+of\s+bed|concentrate\s+at\s+work)\b",
    r"\b(?:unable|not\s+(?:been\s+)?able|(?:hasn't|has\s+not|haven't|have\s+not)\s+been\s+able|able)\s+to\s+(?:go\s+(?:back\s+)?to\s+|return\s+to\s+|get\s+to\s+)(?:work|school|class(?:es)?|(?:her|his|the)\s+job)\b",
    r"\b(?:unable|not able|able)\s+to\s+(?:work|drive|attend\s+\w+|leave\s+(?:the\s+)?(?:house|home|bed)|get\s+out\s+of\s+bed|care\s+for\s+(?:\w+\s+)?(?:kids|children|child|self|herself|himself|themselves|family)|perform\s+\w+|complete\s+\w+|function\b[^.;\n]{0,30}|shower|cook|shop|manage\s+\w+|hold\s+(?:a|down\s+a)\s+job)",
    r"\b(?:missed|missing|has\s+missed|misses)\s+(?:\d+|one|two|three|four|five|several|multiple|many)\s+(?:days?|shifts?|weeks?)\s+(?:of\s+)?(?:work|school|class(?:es)?)",
    r"\b(?:independent\s+(?:in|with)\s+)?(?:ADLs?|IADLs?)(?:\s*/\s*IADLs?)?(?:\s+(?:intact|independent|impaired|wnl|grossly intact))?",
    r"\b(?:not|isn't|is not|stopped)\s+(?:attending|going\s+to)\s+(?:classes|class|school|work|church|groups?)(?:\s*,\s*failing\s+\w+\s+(?:courses|classes))?",
    r"\bfailing\s+(?:\d+|two|three|several)\s+(?:courses|classes)",
    r"\b(?:return(?:ed|ing)?\s+to\s+work|rtw)(?:\s+(?:on\s+)?(?:modified|light|full|part-time|reduced)\s+duty)?(?:\s*,?\s*\d+\s*hrs?/(?:day|wk|week))?",
    r"\b(?:working|back\s+(?:at|to)\s+work)\s+(?:full|part)[- ]time(?:\s+again)?(?:\s+and\s+managing\s+[\w ]{0,30}?(?:independently|on\s+(?:her|his)\s+own))?",
    r"\bmanaging\s+household\s+tasks(?:\s+independently)?",
    r"\bon\s+(?:medical|disability|short-term\s+disability|fmla)\s+leave\b|\b(?-i:FMLA)\b|\bshort-term\s+disability\b",
    rf"\bfunctional\s+(?:impairment|status|decline|limitations?){_CLAUSE}{{0,120}}",
    rf"\bfunctioning\s*:{_CLAUSE}{{1,120}}",
    r"\bnot\s+yet\s+back\s+(?:at|to)\s+(?:work|job|school|class)\b",
    r"\b(?:not\s+leaving\s+the\s+(?:house|home|apartment)|housebound|homebound|bedbound)\b",
    r"\bself-care\s+(?:intact|poor|impaired|neglected)\b",
    r"\b(?:written\s+warning|job\s+performance\s+(?:declining|poor|impaired)|performance\s+improvement\s+plan)\b",
    r"\b(?:on\s+)?(?:disability|sick\s+leave)\s+since\b",
]

# ---- treatment plan ----------------------------------------------------------------------------
_PLAN_PATTERNS = [
    rf"\b(?:plan|tx\s+plan|treatment\s+plan|poc|plan\s+of\s+care|next\s+steps|recommendations?|interventions\s+planned)\s*(?:updated|reviewed|revised)?\s*:{_CLAUSE_SEMI}{{1,300}}",
    rf"\b(?:tx|treatment)\s+plan\s+(?:updated|reviewed|revised|signed){_CLAUSE}{{0,200}}",
    r"\bcontinue\s+(?:current\s+|same\s+)?(?:tx|treatment)\s+plan\b",
    rf"(?:\b(?:tx|treatment)\s+goals?|\bgoal(?<!toward\sgoal)(?<!towards\sgoal)(?<!on\sgoal)s?)\s*:{_CLAUSE_SEMI}{{1,200}}",
    r"\b(?:f/u|follow[- ]up|rtc|return\s+to\s+clinic)\s+(?:in\s+)?(?:\d+|one|two|three|four|six)\s*(?:-\s*\d+\s*)?(?:wks?|weeks?|days?|mos?|months?)\b",
    rf"\b(?:will|plan\s+to|plan\s+is\s+to|recommend(?:ed)?|to)\s+(?:refer|coordinate|consult|schedule|obtain|request|reassess|re-?administer|monitor|consider\s+(?:referral|a\s+referral|adding|increasing|a\s+higher|iop|php)|increase\s+(?:session|frequency)|step\s+down|begin|add\s+(?:a\s+)?(?:session|group))\b{_CLAUSE}{{0,150}}",
    rf"\b(?:refer(?:ral)?|referred)\s+(?:to|for)\s+{_CLAUSE}{{1,150}}",
    r"\bsafety\s+plan(?:ning)?\b(?:\s+(?:was\s+)?(?:reviewed|updated|completed|revised|discussed|created|developed)(?:\s+and\s+(?:reviewed|updated|completed|revised|signed))?)?",
    rf"\b(?:we\s+|pt\s+|she\s+|he\s+)?agreed\s+to\s+(?:move|reduce|increase|switch|step\s+down|taper|meet|schedule|continue|start|begin|add|refer|try\s+(?:a|an)\s+(?:medication|med|referral))\b{_CLAUSE}{{0,100}}",
    r"\brecommend(?:ed|s)?\s+(?:a\s+)?(?:higher\s+level\s+of\s+care|iop|php|inpatient|residential)\b",
]

# ---- symptoms ----------------------------------------------------------------------------------
_SYM_ALONE_WORDS = [
    "insomnia", "hypersomnia", "anhedonia", "irritability", "racing thoughts", "hypervigilance",
    "nightmares", "flashbacks", "intrusive thoughts", "intrusive memories", "intrusions",
    "exaggerated startle", "startle response", "panic attacks", "panic episodes",
    "excessive worry", "worry", "restlessness", "fatigue", "hopelessness", "worthlessness",
    "excessive guilt", "tearfulness", "crying spells", "psychomotor retardation",
    "psychomotor agitation", "auditory hallucinations", "visual hallucinations",
    "hallucinations", "paranoia", "paranoid ideation", "delusions", "pressured speech",
    "decreased need for sleep", "grandiosity", "impulsivity", "obsessions", "compulsions",
    "dissociation", "dissociative episodes", "emotional numbing", "numbness",
    "early morning awakening", "weight loss", "weight gain", "suicidal ideation",
    "homicidal ideation", "self-harm", "self harm", "cutting", "binge eating", "bingeing",
    "purging", "avoidance", "derealization", "depersonalization", "low mood",
    "depressed mood", "anxious mood", "dysphoria", "mood swings", "anger outbursts",
    "difficulty concentrating", "trouble concentrating", "difficulty sleeping",
    "trouble sleeping", "difficulty falling asleep", "social withdrawal", "isolation",
    "feelings of guilt", "feelings of worthlessness", "ruminating", "rumination",
    "muscle tension", "palpitations", "shortness of breath", "chest tightness",
    "nausea", "headaches", "poor sleep", "sleep disturbance", "sleep disruption",
    "hyperarousal", "re-experiencing", "cravings", "urges to use", "urges to self-harm",
    "frequent waking", "night waking", "nighttime awakenings", "middle of the night waking",
    "trouble getting out of bed", "difficulty getting out of bed", "suicidal thoughts",
    "thoughts of suicide", "thoughts of death", "thoughts of self-harm", "passive death wish",
    "death wish", "homicidal thoughts", "low energy", "fatigue",
    "hearing voices", "hearing a voice", "command hallucinations", "seeing things",
    "hypervigilant", "binge episodes", "compensatory purging", "restricting", "restriction",
    "self-injury", "urges to cut", "panic symptoms", "sense of foreshortened future",
    "foreshortened future", "survivor guilt", "low self-esteem", "feelings of hopelessness",
    "psychotic symptoms", "psychotic sx", "psychosis", "manic symptoms", "hypomanic symptoms",
]
_SYM_ALONE = _alt(_SYM_ALONE_WORDS)
_SYM_ADJ = r"(?:\b" + _alt("""poor low decreased increased reduced diminished excessive frequent daily
nightly intermittent passive active chronic occasional significant mild moderate severe worsening
ongoing persistent fleeting vague some marked impaired disrupted fragmented poor-quality""".split()) + r"\s+)"
_SYM_ADJREQ = r"(?:concentration|appetite|energy|motivation|sleep|mood|self-esteem|focus|libido|interest|attention|memory)"
_SYM_CS = r"(?-i:\b(?:SI/HI|HI/SI|SI|HI|AVH|A/VH|SIB|NSSI)\b)"
_SYM_TAIL = (
    rf"(?:\s*(?:(?:without|w/o|with|w/|denies)\s+(?:a\s+)?(?:plan|intent|means)"
    rf"(?:\s*(?:or|and|/|,)\s*(?:plan|intent|means))*|:?\s*(?:denied|neg(?:ative)?)\b))?"
    rf"(?:\s*(?:{_NUM}\s*(?:x|times)\s*(?:/|per|a)\s*(?:wk|week|day|d|night|month|mo)\b|"
    rf"\d+\s*(?:-\s*\d+\s*)?/\s*10\b|x\s*\d+\s*(?:wks?|weeks?|days?|d|mos?|months?)\b|"
    rf"~?\d+\s*(?:-\s*\d+\s*)?(?:x\s*)?(?:/|per\s+|a\s+)(?:wk|week|day|d|night|month|mo)\b|"
    rf"(?:nightly|daily|most\s+(?:nights|days)|several\s+times\s+(?:a|per)\s+(?:week|day))\b))?"
    rf"(?:\s*,?\s*(?:no|without|w/o|denies)\s+(?:a\s+)?(?:plan|intent|means)"
    rf"(?:\s*(?:or|and|/|,)\s*(?:plan|intent|means))*)?"
)
_SYM_ITEM = rf"(?:{_SYM_ADJ}*\b{_SYM_ALONE}\b|{_SYM_ADJ}+{_SYM_ADJREQ}\b|{_SYM_CS}){_SYM_TAIL}"
_SYM_SEP = r"(?:\s*,\s*(?:and\s+|&\s+)?|\s+(?:and|&|or)\s+|\s*/\s*)"
_SYM_LEAD = (
    r"(?:\b(?:reports?|reported|reporting|endorses?|endorsed|endorsing|c/o|complains?\s+of|"
    r"complaining\s+of|presents?\s+with|presenting\s+with|denies|denied|denying|experiencing|"
    r"notes|noting|continues\s+to\s+(?:report|endorse|experience)|(?:still\s+|is\s+|has\s+been\s+)?having|still\s+has|sx\s*:|symptoms?\s*:|"
    r"symptoms\s+include|symptoms\s+of|presenting\s+problems?\s*:|with|no)\s+"
    r"(?:(?:ongoing|continued|some|increased|persistent|significant|occasional|daily|"
    r"intermittent|frequent|mild|moderate|severe)\s+)*)"
)
_SYM_LIST = rf"(?P<list>{_SYM_ITEM}(?:{_SYM_SEP}{_SYM_ITEM})*)"
_SYM_LEAD_BEFORE = re.compile(_SYM_LEAD + r"$", re.IGNORECASE)
_SYM_HIGH = re.compile(
    rf"^(?:{_SYM_ADJ}*)(?:anhedonia|hypervigilance|psychomotor|suicidal ideation|homicidal ideation|"
    rf"auditory hallucinations|visual hallucinations|pressured speech|decreased need for sleep|"
    rf"early morning awakening|exaggerated startle|insomnia|flashbacks|nightmares|"
    rf"passive|active|(?-i:SI/HI|HI/SI|SI|HI|AVH|A/VH))",
    re.IGNORECASE,
)
_SYM_MEASURE = re.compile(r"\d\s*(?:x|times)\s*(?:/|per|a)|/\s*10\b|\bx\s*\d|(?:plan|intent|denied|neg)", re.IGNORECASE)
_SYM_PATTERNS_OTHER = [
    # mental status / self-rating patterns
    r"\b(?:mood|affect)\s*(?::\s*|is\s+|was\s+)?(?:euthymic|depressed|anxious|dysphoric|irritable|labile|congruent|incongruent|constricted|flat|blunted|full|restricted|bright|expansive|tearful|elevated|euphoric|brighter|improved|more\s+\w+|['\"\u2018\u201c][^'\"\n\u2019\u201d]{1,20}['\"\u2019\u201d])(?:\s*(?:,|and)\s*(?:mood|affect)\s*(?::\s*|is\s+)?(?:brighter|more\s+\w+|euthymic|depressed|anxious|dysphoric|irritable|labile|congruent|incongruent|constricted|flat|blunted|full|restricted|bright|expansive|tearful|elevated|euphoric|mood-congruent))*",
    r"\b(?:sleep|appetite|energy|concentration|motivation|libido)\s*(?::\s*|\s+(?:is|remains|remained|has\s+been|was|continues\s+to\s+be|still)\s+)?(?:down|up|\d+\s*(?:-\s*\d+\s*)?(?:hrs?|hours)(?:\s*/\s*night|\s+per\s+night|\s+a\s+night)?|decreased|increased|poor|low|fair|impaired|disrupted|variable|wnl|intact|diminished)\b"
    r"(?:\s*,\s*(?:sleep|appetite|energy|concentration|motivation|libido)\s*(?::\s*)?(?:\d+\s*(?:-\s*\d+\s*)?(?:hrs?|hours)(?:\s*/\s*night)?|decreased|increased|poor|low|fair|good|impaired|disrupted|variable|wnl|intact|diminished)\b)*",
    r"\b(?:anxiety|depression|mood|suds|distress|anger|sadness)\s*(?:=|:|at|rated|is)?\s*\d+\s*/\s*10\b(?:\s*,\s*(?:anxiety|depression|mood|suds|distress|anger|sadness)\s*(?:=|:|at|rated|is)?\s*\d+\s*/\s*10\b)*",
    r"\bsleeping\s+(?:most\s+of\s+the\s+day|all\s+day|\d+\s*(?:-\s*\d+\s*)?(?:hrs?|hours)(?:\s*/\s*night|\s+a\s+night)?|poorly|only\s+\d+\s*(?:-\s*\d+\s*)?(?:hrs?|hours))",
    r"\b(?:lost|gained)\s+\d+\s*(?:lbs?|pounds|kg)\b",
    r"\b(?:denies|denied|no)\s+(?-i:SI|HI|SI/HI|HI/SI|AVH)\b(?:\s*(?:or|and|/|,)\s*(?-i:SI|HI|AVH))*",
]

# ---- prognosis -------------------------------------------------------------------------------
_PROG_Q = r"(?:fair|good|poor|guarded|excellent|favorable|favourable|unfavorable|limited|uncertain|stable|hopeful|grim)"
_PROG_PATTERNS = [
    rf"\bprognosis\s*(?:is|remains|:|{_DASH}|=|considered|appears|seems)?\s*(?:to\s+be\s+)?{_PROG_Q}(?:\s*(?:to|{_DASH}|/)\s*{_PROG_Q})?\b",
    rf"\b{_PROG_Q}(?:\s*(?:to|{_DASH}|/)\s*{_PROG_Q})?\s+prognosis\b",
    r"\bprognosis\b",
    rf"\bexpected\s+to\s+(?:return\s+to\s+baseline|recover|improve|remit|respond|benefit|achieve\s+remission){_CLAUSE}{{0,60}}",
    r"\b(?:risk|likelihood|chance)\s+of\s+(?:relapse|recurrence|decompensation|rehospitalization)\s+(?:is\s+|remains\s+)?(?:high|low|moderate|elevated|significant)\b",
    r"\b(?:likely|unlikely)\s+to\s+(?:benefit|improve|remit|relapse|recover|respond|achieve)\b[^.;\n]{0,60}",
    r"\bgood\s+candidate\s+for\s+[^.;\n]{1,60}",
    r"\b(?:will|would|should|is\s+likely\s+to|is\s+expected\s+to)\s+do\s+well\b[^.;\n]{0,60}",
]

# ---- progress to date ------------------------------------------------------------------------
_PG_ADJ = _alt("""minimal limited some moderate significant substantial good steady slow little no fair
excellent partial great modest marked considerable meaningful consistent inconsistent""".split())
_PG_NOUN = _alt(
    [f"{a} {b}" for a in "panic nightmare drinking use purging binge cutting self-harm flashback".split()
     for b in "frequency severity intensity episodes".split()]
    + """symptom symptoms sx mood sleep anxiety depression panic functioning concentration energy
appetite drinking use cravings nightmares flashbacks irritability avoidance self-harm worry she he
pt patient client things it overall""".split() + ["panic attacks"])
_PG_CHANGE = _alt("""halved doubled improved improving improvement worsened worsening worse better remitted
resolved resolving stabilized stable plateaued declined declining decreased reduced unchanged
progressed regressed""".split() + ["no change"])
_PG_SINCE = (r"(?:intake|admission|baseline|the\s+start\s+of\s+(?:treatment|tx|therapy)|starting\s+(?:treatment|tx|therapy|[\w-]+)|beginning\s+(?:treatment|tx|therapy)|last\s+(?:session|visit|review|month|week|quarter|assessment|appt)|the\s+last\s+(?:session|visit|review|month|few\s+weeks)|(?:january|february|march|april|may|june|july|august|september|october|november|december)(?:\s+\d{4})?|\d+\s+(?:weeks|months)\s+ago|treatment\s+began|we\s+began|"
    r"starting\b|(?:tx|therapy|treatment)\s+(?:began|started)|we\s+started|discharge|(?:the\s+)?(?:summer|spring|fall|winter|holidays|new\s+year)|"
    r"the\s+(?:hospitalization|admission|move|divorce|accident|last\s+\w+)|(?:her|his|their)\s+(?:hospitalization|admission|discharge))")
_PG_PATTERNS = [
    rf"\b{_PG_ADJ}\s+progress\b(?:\s+(?:toward|towards|on|in|with)\s+(?:\w+\s+){{0,2}}?(?:goals?|objectives?))?(?:\s*;\s*(?:fewer|less|more|decreased|reduced)\s+[\w ]{{1,30}})?",
    r"\b(?:made|making|shows?|showing|demonstrates?|demonstrating)\s+progress\b(?:\s+(?:toward|towards|on|in)\s+(?:\w+\s+){0,2}?(?:goals?|objectives?))?",
    rf"\bprogress\s+(?:toward|towards|on)\s+(?:\w+\s+){{0,2}}?(?:goals?|objectives?)(?:\s*(?::|is|=)\s*(?:{_PG_ADJ}|minimal|partial|none|met|unmet|ongoing|achieved|\w+))?",
    rf"\bprogress\s*:{_CLAUSE}{{1,150}}",
    rf"\b(?:(?:{_PG_NOUN})\s+(?:has\s+|have\s+|is\s+|are\s+)?)?{_PG_CHANGE}(?:\s+(?:in|of)\s+(?:\w+\s+){{0,2}}?(?:{_PG_NOUN}))?\s+since\s+{_PG_SINCE}",
    rf"\b(?:{_PG_ADJ}\s+)?(?:improvement|reduction|decrease|worsening|decline|change)\s+(?:in|of)\s+(?:\w+\s+){{0,2}}?(?:{_PG_NOUN})\s+since\s+{_PG_SINCE}",
    rf"\b(?:{_PG_NOUN})\s+(?:has\s+|have\s+)?(?:remitted|resolved|plateaued|stabilized|improved|worsened)\b",
    r"\b(?:has|have)\s+plateaued\b",
    r"\b(?:down|up)\s+from\s+(?:\d+|daily|weekly|nightly|several|\w+\s+times)(?:\s*(?:x\s*)?/\s*(?:wk|week|day))?(?:\s+(?:at|since)\s+(?:intake|baseline|last\s+\w+))?",
    r"\b(?:reduced|decreased|cut\s+back|cut\s+down|increased)\s+(?:\w+\s+){0,2}?from\s+\S+(?:\s+\S+)?\s+to\s+[\w/]+(?:\s+since\s+(?:starting|beginning|intake)\s*(?:treatment|tx|therapy)?)?",
    r"\b(?:sober|abstinent|clean)\s+(?:for\s+|x\s*)?(?:\d+|one|two|three|six|several)\s*(?:days?|d|wks?|weeks?|mos?|months?|yrs?|years?)\b",
    r"\b\d+\s*(?:days?|months?|mos?|years?|yrs?)\s+(?:sober|abstinent|clean)\b",
    r"\b(?:goals?\s+(?:met|achieved|partially\s+met|not\s+met))\b",
    r"\b(?:more|less|better|worse|fewer)\s+(?:\w+\s+)?than\s+(?:last|at|in|during|on)\s+(?:the\s+)?(?:\w+\s+)?(?:month|week|session|visit|intake|baseline|review|year|admission)\b",
    r"\bdoing\s+(?:much\s+|a\s+lot\s+|somewhat\s+|significantly\s+|far\s+|a\s+bit\s+)?(?:better|worse)\b(?:\s+than\s+[^.;\n]{1,40})?",
    r"\b(?:met|achieved|reached|completed)\s+(?:\d+|one|two|three|all|most|some|none|half)\s+(?:of\s+(?:\d+|her|his|the|their|its)\s+)?(?:tx\s+|treatment\s+|therapy\s+)?goals?\b",
    rf"\b{_PG_NOUN}\s+(?:are\s+|is\s+|have\s+|has\s+)?(?:now\s+)?(?:down|up|reduced|decreased|increased)\s+to\s+(?:\d+|once|twice|one|two|three)\s*(?:x\s*|times\s+)?(?:a|per|/)\s*(?:week|wk|day|month|night)\b",
    r"\b(?:quit|stopped)\s+(?:drinking|smoking|using|vaping|cutting|gambling|purging)\b(?:\s+(?:\d+|one|two|three|several|a\s+few)\s+(?:days?|weeks?|months?|years?)\s+ago)?",
    r"\b\d+[- ]point\s+(?:drop|decrease|reduction|improvement|increase|rise)\b",
    r"\b(?:more\s+\w+|less\s+\w+|\w+er)\s+than\s+(?:at\s+|in\s+|on\s+|during\s+)?(?:the\s+)?(?:last|previous|prior|intake|baseline|start|first)\b(?:\s+(?:session|visit|week|month|review|appt|time))?",
    r"\bthan\s+when\s+(?:we|she|he|they|treatment|therapy)\s+(?:started|began|first\s+met|began\s+treatment|started\s+treatment)\b",
    r"\bimproving\s+since\s+[\w ]{1,30}?(?=[.;,\n]|$)",
]


# --------------------------------------------------------------------------------------------
# Filters for matches that need more than a regex
# --------------------------------------------------------------------------------------------

def _minutes(h: str, m: str | None, ap: str | None) -> int:
    hh = int(h) % 12 if ap else int(h)
    if ap and ap.lower() == "p":
        hh += 12
    return hh * 60 + int(m or 0)


# Another event's clock times (a meeting, a flight, a shift) are session content, not session times.
_OTHER_EVENT = re.compile(
    r"\b(?:meeting|class|shift|flight|train|bus|dinner|lunch|breakfast|party|game|practice|"
    r"interview|call|date|wedding|funeral|court|hearing|exam|test|school|work|job|movie|show)\b",
    re.IGNORECASE,
)
_SESSION_WORD = re.compile(r"\b(?:session|sess|seen|therapy|psychotherapy|visit|appt|appointment|tx|telehealth|time\s+(?:in|out)|start(?:ed)?|began|end(?:ed)?|min)\b", re.IGNORECASE)
# What may precede a bare time range that is the session's own time stamp.
_RANGE_LABEL = re.compile(r"\s*(?:(?:date|time|times|dos|t)\s*[:=]?\s*|\d{1,2}/\d{1,2}(?:/\d{2,4})?\s*,?\s*)?", re.IGNORECASE)


def _session_filter(m: re.Match, text: str) -> tuple[int, int] | None:
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
    if not _SESSION_WORD.search(_sentence(text, s, e)) and not _RANGE_LABEL.fullmatch(before):
        return None  # "she reads from 9:00 to 10:30": another activity's hours, not the session's
    a = _minutes(gd["ah"], gd["am"], gd["aap"] or gd["bap"])
    b = _minutes(gd["bh"], gd["bm"], gd["bap"] or gd["aap"])
    d = b - a
    if d <= 0 and not (gd["aap"] or gd["bap"]):
        d += 12 * 60  # "12:50-1:40", 12-hour clock without am/pm
    return (s, e) if 5 <= d <= 240 else None


_NARRATIVE = re.compile(r"\b(?:dream(?:s|t|ed|ing)?|nightmare\s+about|fantas(?:y|ies|ized)|in\s+the\s+(?:story|movie|book))\b", re.IGNORECASE)
_SENT_END = re.compile(r"[.!?;\n](?!\d)")


def _sentence(text: str, s: int, e: int) -> str:
    lo = max(0, s - 300)
    starts = [m.end() for m in _SENT_END.finditer(text, lo, s)]
    m = _SENT_END.search(text, e, e + 300)
    return text[starts[-1] if starts else lo:m.start() if m else min(len(text), e + 300)]


def _med_filter(m: re.Match, text: str) -> tuple[int, int] | None:
    """A dose or drug inside a dream or story, or in a musing ("if she ever goes back on
    lithium", "what if", a joke), is session content, not prescribing."""
    if _NARRATIVE.search(_sentence(text, m.start(), m.end())):
        return None
    if _MED_HYPO.search(_clause_before(text, m.start())):
        return None
    return m.span()


_COLLOQUIAL = re.compile(
    r"(?:\b(?:so|very|super|totally|such\s+an?|a\s+(?:little|bit)|kinda|kind\s+of|sort\s+of|"
    r"little|bit)\s+['\"\u2018\u201c]?|['\"\u2018\u201c])$",
    re.IGNORECASE,
)


_THIRD_PARTY = re.compile(
    r"\b(?:son|daughter|mother|mom|father|dad|brother|sister|wife|husband|partner|boyfriend|"
    r"girlfriend|friend|ex|child|kid|grandmother|grandfather|aunt|uncle|cousin|boss|roommate)"
    r"(?:'s|\u2019s)\s+$",
    re.IGNORECASE,
)


_SCALE_AFTER = re.compile(r"s?\s*(?:[-\u2010\u2011\u2013]\s*)?(?:\d|scale|questionnaire|inventory|checklist|screen(?:er|ing)?\b|identification)", re.IGNORECASE)


def _dx_filter(m: re.Match, text: str) -> tuple[int, int] | None:
    s = m.start()
    if _SCALE_AFTER.match(text, m.end()):
        return None
    if _COLLOQUIAL.search(text, max(0, s - 20), s) or _THIRD_PARTY.search(text, max(0, s - 30), s):
        return None
    if _DX_ATTRIB_AFTER.match(text, m.end()) or _dx_someone_else(m, text):
        return None
    return m.span()


def _sym_filter(m: re.Match, text: str) -> tuple[int, int] | None:
    lst = m.group("list")
    n_items = len(_SYM_ITEM_RE.findall(lst))
    lead = _SYM_LEAD_BEFORE.search(text, max(0, m.start() - 60), m.start())
    if lead or n_items >= 2 or _SYM_HIGH.match(lst) or _SYM_MEASURE.search(lst):
        if _sym_not_summary(m, text, n_items, bool(lead)):
            return None
        # report the symptom list itself (tight), not the lead-in verb
        return m.span("list")
    return None


_SYM_ITEM_RE = re.compile(_SYM_ITEM, re.IGNORECASE)

# Same-category spans separated only by this much punctuation/space are one finding.
_JOIN_GAP = re.compile(r"[ \t,()/:&\-\u2013]{0,3}")
_TRIM = " \t\r\n,;:-\u2013\u2014"


# ---- gating -------------------------------------------------------------------------------
# Scanning a long note with ~90 expressions costs too much, so every rule of a category is run
# only in windows around that category's *trigger* tokens: words without which no rule of the
# category can match (checked by tests: gated and ungated results are identical).

_TOKEN = re.compile(r"[^\W_]+")


def _longest_tokens(phrases: Iterable[str]) -> set[str]:
    out = set()
    for ph in phrases:
        toks = _TOKEN.findall(ph.lower())
        if toks:
            out.add(max(toks, key=len))
    return out


def _words(s: str) -> set[str]:
    return set(s.lower().split())


_DRUG_LIST = _DRUGS
_TRIGGERS: dict[str, set[str]] = {
    "medication_prescription_and_monitoring": _longest_tokens(_DRUG_LIST) | _words("""
        adherent compliant adherence compliance nonadherent noncompliant side missed missing
        skipped skipping meds med medication medications antidepressant antidepressants ssri
        snri antipsychotic stabilizer stimulant benzo benzodiazepine aid psych li vpa mg mcg"""),
    "session_start_stop_times": set(),  # anchored by _CLOCK instead
    "modalities_and_frequencies_of_treatment": _longest_tokens(_MODALITY_CI_WORDS + _FREQ_WORDS)
    | _words("""act ipt cpt erp eft ifs sfbt mbt tfp pe mi met cbt dbt emdr focused based oriented
        min mins minute minutes session sessions visit visits therapy psychotherapy length
        duration frequency"""),
    "clinical_test_results": _longest_tokens(_SCALE_WORDS + _LAB_WORDS) | _words("scored score"),
    "summary_diagnosis": _longest_tokens(_DX_WORDS) | _words("""mdd gad ptsd cptsd ocd ocpd adhd add
        bpd asd aud oud cud sud odd pdd pmdd dmdd bed bdd did gd ncd sad bp bpi bpii bp1 bp2
        criteria diagnosis diagnoses diagnosed dx impression impressions icd"""),
    "summary_functional_status": _words("""unable able missed missing misses adls adl iadls iadl
        attending going failing return returned returning rtw working back managing leave fmla
        disability functional functioning leaving housebound homebound bedbound self warning
        performance sick stopped quit grades gpa attendance can cannot"""),
    "summary_treatment_plan": _words("""plan poc care steps recommendation recommendations
        interventions goal goals u follow rtc return refer referral referred coordinate consult
        schedule obtain request reassess administer readminister re monitor consider increase
        step begin add recommend recommended recommends safety agreed tx treatment"""),
    "summary_symptoms": _longest_tokens(_SYM_ALONE_WORDS) | _words("""concentration appetite energy
        motivation sleep mood self esteem focus libido interest attention memory si hi avh vh sib
        nssi affect anxiety depression suds distress anger sadness sleeping lost gained"""),
    "summary_prognosis": _words("prognosis expected risk likelihood chance likely unlikely candidate well"),
    "summary_progress_to_date": _words("""progress since plateaued remitted resolved stabilized improved
        worsened down up reduced decreased cut increased sober abstinent clean goals goal met
        achieved reached completed than doing quit stopped point halved doubled improving"""),
}
_CPT_TOKEN = re.compile(r"^(?:908\d\d|9078[5-9]|9079\d)$")
_ICD_TOKEN = re.compile(r"^[a-z]\d[0-9a-z]$")
_GLUED_DOSE = re.compile(r"^\d+(?:mg|mcg)$")
_GLUED_MIN = re.compile(r"^\d+(?:min|mins)$")
_QFREQ = re.compile(r"^q\d+wks?$")
_SPACE = re.compile(r"\s")
_CLOCK = re.compile(r"\d:[0-5]\d|\d\s*[ap]\.?m?\b")
# Window around each trigger: how far a rule's match can start before / end after it.
_BEFORE = 64
_AFTER = {c: 120 for c in CATEGORIES}
_AFTER.update({"summary_treatment_plan": 330, "summary_functional_status": 160,
               "summary_diagnosis": 140, "summary_progress_to_date": 160})


def _occurrences(text: str) -> dict[str, list[int]]:
    """Start offsets of each lower-cased token, plus pseudo-tokens for shapes (``<cpt>``,
    ``<icd>``, ``<mg>``, ``<min>``, ``<qfreq>``, ``<clock>``)."""
    occ: dict[str, list[int]] = {}
    for m in _TOKEN.finditer(text):
        tok = m.group().lower()
        occ.setdefault(tok, []).append(m.start())
        if tok[0].isdigit():
            if _CPT_TOKEN.match(tok):
                occ.setdefault("<cpt>", []).append(m.start())
            elif _GLUED_DOSE.match(tok):
                occ.setdefault("<mg>", []).append(m.start())
            elif _GLUED_MIN.match(tok):
                occ.setdefault("<min>", []).append(m.start())
        elif len(tok) == 3 and _ICD_TOKEN.match(tok):
            occ.setdefault("<icd>", []).append(m.start())
        elif tok[0] == "q" and _QFREQ.match(tok):
            occ.setdefault("<qfreq>", []).append(m.start())
    occ["<clock>"] = [m.start() for m in _CLOCK.finditer(text)]
    return occ


def _windows(text: str, positions: list[int], after: int) -> list[tuple[int, int]]:
    n = len(text)
    out: list[list[int]] = []
    for p in positions:  # ascending
        lo, hi = max(0, p - _BEFORE), min(n, p + after)
        if out and lo <= out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    for w in out:  # never cut a word: widen each window to the surrounding whitespace
        if w[1] < n:
            ws = _SPACE.search(text, w[1])
            w[1] = ws.start() if ws else n
        k = w[0]
        while k > 0 and not text[k - 1].isspace():
            k -= 1
        w[0] = k
    merged: list[list[int]] = []
    for lo, hi in out:
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return [(lo, hi) for lo, hi in merged]


_Filter = Callable[[re.Match, str], "tuple[int, int] | None"]
_RULES: list[tuple[str, re.Pattern, _Filter | None, frozenset, bool]] = []


def _add(category: str, patterns: list[str], flt: _Filter | None = None,
         triggers: Iterable[str] | None = None, fallback: bool = False) -> None:
    """Register rules; ``triggers`` are tokens at least one of which every match contains
    (default: the category's trigger set).  A ``fallback`` rule's span (a loose clause) is kept
    only where no ordinary rule of the category found tighter evidence overlapping it."""
    trig = frozenset(_TRIGGERS[category] if triggers is None else triggers)
    for p in patterns:
        _RULES.append((category, re.compile(p, re.IGNORECASE), flt, trig, fallback))


_DRUG_T = _longest_tokens(_DRUG_LIST)
_FREQ_T = _longest_tokens(_FREQ_WORDS) | {"<qfreq>"}
_MIN_T = _words("min mins minute minutes <min>")
_MED = "medication_prescription_and_monitoring"
_MODC = "modalities_and_frequencies_of_treatment"
_add(_MED, _MED_PATTERNS[:4] + _MED_PATTERNS[8:10], _med_filter, _DRUG_T)
_add(_MED, _MED_PATTERNS[4:5], _med_filter, _words("adherent compliant adherence compliance nonadherent noncompliant"))
_add(_MED, _MED_PATTERNS[5:6], _med_filter, {"side"})
_add(_MED, _MED_PATTERNS[6:7], _med_filter, _words("missed missing skipped skipping"))
_add(_MED, _MED_PATTERNS[7:8], _med_filter, _words("""meds med medication medications antidepressant
    antidepressants ssri snri antipsychotic stabilizer stimulant benzo benzodiazepine aid psych"""))
_add(_MED, _MED_PATTERNS[10:11], _med_filter, _DRUG_T | {"li", "vpa"})
_add(_MED, _MED_PATTERNS[11:], _med_filter, {"mg", "mcg", "<mg>"})
_add("session_start_stop_times", _SESSION_PATTERNS, _session_filter, {"<clock>"})
_add(_MODC, _MOD_PATTERNS[0:1], None, {"cpt", "<cpt>"})
_add(_MODC, _MOD_PATTERNS[1:2], None, {"focused", "based", "oriented"})
_add(_MODC, _MOD_PATTERNS[2:3] + _MOD_PATTERNS[4:7], lambda m, t: _mod_filter(m, t), _FREQ_T)
_add(_MODC, _MOD_PATTERNS[3:4], lambda m, t: _mod_filter(m, t), _longest_tokens(_MODALITY_CI_WORDS)
     | _words("act ipt cpt erp eft ifs sfbt mbt tfp pe mi met cbt dbt emdr"))
_add(_MODC, _MOD_PATTERNS[7:], None, _MIN_T)
_add("clinical_test_results", _TEST_PATTERNS[:3], None, _longest_tokens(_SCALE_WORDS))
_add("clinical_test_results", _TEST_PATTERNS[3:], None, _longest_tokens(_LAB_WORDS))
_add("summary_diagnosis", _DX_PATTERNS[:1], _dx_filter, _longest_tokens(_DX_WORDS) | _words(
    "mdd gad ptsd cptsd ocd ocpd adhd add bpd asd aud oud cud sud odd pdd pmdd dmdd bed bdd did gd ncd sad bp bpi bpii bp1 bp2"))
_add("summary_diagnosis", _DX_PATTERNS[1:2], None, {"<icd>"})
_add("summary_diagnosis", _DX_PATTERNS[2:3], None, _words("dx diagnosis"))
_add("summary_diagnosis", _DX_PATTERNS[3:], lambda m, t: _dx_filter(m, t), _words(
    "criteria diagnosis diagnoses diagnosed dx impression impressions carries working"), fallback=True)
_add("summary_functional_status", _FUNC_PATTERNS, lambda m, t: None if _func_goal(m, t) else m.span())
_add("summary_treatment_plan", _PLAN_PATTERNS)
_SX = "summary_symptoms"
_add(_SX, [_SYM_LIST], _sym_filter, _longest_tokens(_SYM_ALONE_WORDS) | _words(
    """concentration appetite energy motivation sleep mood esteem focus libido interest attention
    memory si hi avh vh sib nssi"""))
for _i, _t in enumerate(["mood affect", "sleep appetite energy concentration motivation libido",
                         "anxiety depression mood suds distress anger sadness", "sleeping",
                         "lost gained", "si hi avh"]):
    _add(_SX, _SYM_PATTERNS_OTHER[_i:_i + 1], None, _words(_t))
assert len(_SYM_PATTERNS_OTHER) == 6
_add("summary_prognosis", _PROG_PATTERNS, lambda m, t: _px_filter(m, t))
_PG_T = ["progress"] * 4 + ["since"] * 2 + ["remitted resolved plateaued stabilized improved worsened",
         "plateaued", "from", "from", "sober abstinent clean", "sober abstinent clean", "goal goals",
         "than", "doing", "goal goals", "down up reduced decreased increased", "quit stopped",
         "point", "than", "than", "since"]
assert len(_PG_T) == len(_PG_PATTERNS)
for _i, _t in enumerate(_PG_T):
    _add("summary_progress_to_date", _PG_PATTERNS[_i:_i + 1], None, _words(_t))


# ---- v3: broader mechanisms ---------------------------------------------------------------------
# Each family below is a *kind* of phrasing (a bare dose with a sig, an imperative plan verb at the
# start of a clause, a functional domain with a status word...), not a list of sentences.

_CLAUSE_START = r"(?:^|(?<=[.;:!?\n(]))\s*"
_NOTDOSE = (r"(?:years?|yrs?|yo|y/o|days?|weeks?|wks?|months?|mos?|times|x\b|pills|tabs|tablets|"
            r"minutes|mins?|hrs?|hours|am\b|pm\b|a\.m|p\.m|%|lbs?|pounds|miles|o'clock|th\b|st\b|nd\b|rd\b)")
_MEDSTAT = (r"(?:continued|cont(?:inue)?|started|restarted|stopped|held|unchanged|increased|decreased|"
            r"d/c'd|tolerating(?:\s+well)?|tolerated(?:\s+well)?|well\s+tolerated|no\s+(?:SE|S/E|side\s+effects?|AEs?)|"
            r"without\s+(?:SE|side\s+effects?)|adherent|compliant)(?:\s+by\s+(?:PCP|psych(?:iatry)?|NP|MD|Dr\.?\s*\w+))?")
_SE_LIST = [
    "side effects", "side effect", "se", "s/e", "dry mouth", "weight gain", "sedation", "akathisia",
    "tremor", "nausea", "gi upset", "dizziness", "sexual side effects", "sexual dysfunction",
    "drowsiness", "activation", "jitteriness", "restlessness", "rash", "eps", "stiffness",
    "constipation", "brain zaps", "discontinuation symptoms", "withdrawal symptoms", "headaches",
    "emotional blunting", "vivid dreams", "hair loss", "increased appetite",
]
_SE_WORDS = _alt(_SE_LIST)
_SE_T = _longest_tokens(_SE_LIST)
_MEDV3_VERB = _alt([
    "off", "off of", "came off", "coming off", "went off", "go off", "taken off", "weaned off",
    "skipping", "skipped", "skips", "missed", "missing", "forgot", "forgets", "forgetting",
    "switching from", "switching to", "switched from", "trialing", "trialed", "tried", "failed",
    "stopping", "restarting", "resuming", "holding", "tolerating", "tolerated", "is on", "was on",
    "been on", "has been on", "stable on", "stays on", "staying on", "previously on", "hx of",
    "history of", "reluctant to start", "refuses", "refused", "declined", "declines",
    "self-discontinued", "self-d/c'd", "ran out of", "run out of", "not taking", "isn't taking",
    "stopped", "started", "restarted", "taking", "takes", "on",
])
_MED_V3 = [
    # drug + bare number (+ /number, unit, sig, status): "Prozac 40 qam", "Suboxone 8/2 daily"
    rf"{_DRUG}{_FORM}?\s*(?:\(\s*\w+\s*\)\s*)?(?<![\d.])\d+(?:\.\d+)?(?:\s*/\s*\d+(?:\.\d+)?)?(?!\s*{_NOTDOSE})(?![\d:/])(?!\.\d)"
    rf"(?:\s*{_UNIT})?(?:\s*,?\s*{_MEDFREQ}\b)*(?:\s*,?\s*{_MEDSTAT}\b)?",
    # change/adherence verb + (possessive) + drug: "off her Effexor", "skipping her Zoloft"
    rf"\b{_MEDV3_VERB}\s+(?:(?:the|his|her|their|my|an?|low[- ]dose|new|current)\s+)*{_DRUG}{_DRUGTAIL}"
    rf"(?:\s*,?\s*(?:cross[- ]?taper(?:ing|ed)?|taper(?:ing|ed)?|titrat(?:ing|ed|ion))(?:\s+(?:over|x)\s+\w+\s+\w+)?)?",
    # "switching from X to Y", "X held x1 wk for akathisia"
    rf"\b(?:switch(?:ing|ed)?|chang(?:ing|ed))\s+(?:from\s+)?{_DRUG}\s+to\s+{_DRUG}{_DRUGTAIL}",
    rf"{_DRUG}\s+(?:was\s+|is\s+|being\s+)?(?:held|paused|stopped|started|continued)\s+(?:x\s*\d+\s*\w+|for\s+\w+)(?:\s+(?:for|d/t|due\s+to)\s+\w+)?",
    # drug + dose noun + status: "Vyvanse dose unchanged", "dose of Wellbutrin lowered"
    rf"{_DRUG}\s+(?:dose|dosage|dosing)\s+(?:unchanged|stable|same|adjusted|lowered|raised|increased|decreased|reduced|held)\b",
    rf"\b(?:dose|dosage)\s+of\s+(?:the\s+|his\s+|her\s+)?{_DRUG}(?:\s+(?:was\s+|is\s+)?(?:lowered|raised|increased|decreased|reduced|adjusted|changed|held|unchanged))?",
    # prescription objects: "new Rx for buspirone", "refill of Lexapro"
    rf"\b(?:new\s+)?(?:rx|script|prescription|refills?)\s+(?:for|of)\s+(?:(?:the|his|her|a)\s+)?(?:{_DRUG}|{_DRUG_CLASS})\b",
]
_MED_V3_SE = [
    # side effects attributed to a drug: "dry mouth and some weight gain on the olanzapine"
    rf"\b{_SE_WORDS}(?:\s*(?:,|and|&)\s*(?:some\s+|mild\s+|significant\s+)?{_SE_WORDS})*\s+(?:on|from|with|since\s+starting|after\s+starting|attributed\s+to)\s+(?:(?:the|his|her|new)\s+)*(?:{_DRUG}|{_DRUG_CLASS})\b",
    r"\b(?:no|denies|without|w/o)\s+(?-i:SE|S/E|AEs?)\b",
]

_TEST_V3 = [
    # scale + filler + verb + score: "PHQ-9 dropped to 8", "GAD7 came in at 9", "BDI today: 22"
    rf"{_SCALE}(?:\s*[;:,]?\s*(?:total|score[sd]?|today|this\s+week|now|administered|repeated|readministered|at\s+intake|re-?administered|results?))*"
    rf"\s*(?:has\s+|had\s+)?(?:dropped|fell|fallen|decreased|declined|went\s+down|came\s+down|rose|risen|increased|climbed|went\s+up|jumped|improved|worsened|came\s+in|came\s+back|went|was|were|is|of|at|=|:|{_DASH})?"
    rf"\s*(?:to|at|from\s+{_SCORE}\s+to)?\s*{_SCORE}(?!\.?\d)(?:\s*\(\s*[\w -]{{1,20}}\))?",
    # "24/30 on the MoCA", "got 18 on the PCL-5"
    rf"\b(?:scored\s+|score\s+of\s+|got\s+(?:an?\s+)?|obtained\s+(?:an?\s+)?)?{_NUM}\s*(?:/\s*\d+|out\s+of\s+\d+)?\s+on\s+(?:the\s+|her\s+|his\s+)?{_SCALE}",
    # scale + result word: "C-SSRS screen negative", "MDQ positive"
    rf"{_SCALE}\s*(?:screen(?:ing)?|result|today|was|is|:)?\s*(?:neg(?:ative)?|pos(?:itive)?|elevated|wnl)\b",
]
_LAB_V3 = [
    rf"{_LAB}\s*(?:\(\s*[+-]\s*\)|\+|\bpos(?:itive)?\b)\s*(?:for\s+[\w-]+)?(?:\s*,\s*neg(?:ative)?\s+(?:otherwise|for\s+[\w-]+))?",
    rf"{_LAB}\s+(?:came\s+back|returned|was|were|is)\s+(?:{_RESULTWORD}|neg(?:ative)?|pos(?:itive)?|clean|wnl)\b",
]

_PLAN_VERB_LIST = [
    "recommend", "recommends", "recommended", "refer", "referred", "schedule", "scheduled",
    "obtain", "request", "continue", "cont", "cont.", "increase", "decrease", "reduce", "space out",
    "step down", "add", "assign", "reassess", "re-assess", "re-evaluate", "reevaluate", "monitor",
    "coordinate", "titrate", "taper", "discharge", "transition to", "return in", "return to clinic", "repeat",
    "plan to", "plan is to", "plan is", "will", "to continue", "to start", "to begin", "pt to",
    "consult", "order", "repeat", "re-administer", "readminister", "administer", "provide",
    "complete", "update", "revise", "begin", "initiate", "offer", "arrange", "send", "release",
    "f/u", "follow up", "follow-up", "rtc",
]
_PLAN_VERB = _alt(_PLAN_VERB_LIST)
_CONSIDER_OBJ = (r"(?:med(?:ication)?s?|consult(?:ation)?|referral|refer(?:ring)?|iop|php|partial|inpatient|group|"
                 r"session|therapy|eval(?:uation)?|testing|increas\w*|decreas\w*|add\w*|higher|level\s+of\s+care|"
                 r"loc|dbt|cbt|emdr|erp|modality|psychiatr\w*|trial|switch\w*|taper\w*|"
                 r"step(?:ping)?\s+down|discharge|frequency|" + _DRUG[2:-2] + r")")
_PLAN_V3 = [
    # imperative / planning verb opening a clause: "Recommend neuropsych eval", "Refer to IOP"
    rf"{_CLAUSE_START}(?:plan\s*[:\-]?\s*)?{_PLAN_VERB}\b(?!\s*\d+:\d)(?<!repeat(?=\s+[\w-]+\s+(?:was|is|=|:|score|showed|shows|came|dropped|rose|fell|indicated|revealed|total|of|\d)))(?!\s+(?:the\s+|his\s+|her\s+)?" + _DRUG + rf")(?!\s+(?:to\s+)?(?:talk|say|feel|think|cry|avoid|ruminate|worry))(?:{_CLAUSE}){{1,150}}",
    # "consider" needs a treatment object within a few words ("Consider whether ..." is process)
    rf"\bconsider(?:ing)?\s+(?:\w+\s+){{0,3}}?{_CONSIDER_OBJ}\b{_CLAUSE}{{0,120}}",
    # "next session in two weeks", "next appt scheduled for 5/3"
    rf"\bnext\s+(?:session|appt|appointment|visit|f/u|follow[- ]up)\s+(?:is\s+|will\s+be\s+)?(?:in|on|scheduled|set|booked|planned)\b{_CLAUSE}{{0,80}}",
    # "increase sessions to twice weekly", "space sessions out to every 3 weeks"
    rf"\b(?:increase|decrease|reduce|space|step\s+down|move|change)\s+(?:(?:the|her|his)\s+)?(?:sessions?|visits?|appts?|frequency|therapy)\s+(?:out\s+)?(?:to\s+)?{_FREQ}",
    # discharge / safety / crisis plans and planned discharge
    rf"\b(?:discharge|aftercare|crisis|relapse[- ]prevention|transition)\s+plan(?:ning|ned)?\b{_CLAUSE}{{0,100}}",
    rf"\bdischarge\s+(?:anticipated|expected|planned|likely|once|when|after)\b{_CLAUSE}{{0,100}}",
    rf"\bpt\s+(?:to|will)\s+(?:consider|schedule|call|contact|complete|attend|follow\s+up|bring|track|log)\b{_CLAUSE}{{0,100}}",
]

_FUNC_V3 = [
    # leave / disability
    rf"\b(?:(?:out|off)\s+on|on|taking|took|started|extended|remains\s+on)\s+(?:(?:medical|disability|sick|maternity|paternity|stress|short[- ]term\s+disability|long[- ]term\s+disability|unpaid|a)\s+)*(?:leave(?:\s+of\s+absence)?|disability|std|ltd)\b(?:\s+(?:from|through|until|since|at|for)\s+{_CLAUSE}{{1,30}}?(?=[,.;\n]|$))?",
    r"\b(?:applied\s+for|approved\s+for|receiving|on|denied)\s+(?-i:SSDI|SSI|SSDI/SSI)\b",
    # driving
    r"\b(?:has\s+not|hasn't|have\s+not|haven't|not|stopped|quit|avoids|avoiding|afraid\s+of|resumed|started|back\s+to|unable\s+to|can't|cannot|able\s+to)\s+(?:been\s+)?(?:driving|drive|driven)\b(?:\s+since\s+[\w ]{1,30}?(?=[,.;\n]|$))?",
    # leaving the home
    r"\b(?:has\s+not|hasn't|have\s+not|rarely|barely|not|unable\s+to)\s+(?:left|leaving|leave|been\s+out\s+of)\s+(?:the|her|his|their)\s+(?:house|home|apartment|room|bed)\b(?:\s+(?:in|for|since)\s+(?:\w+\s+){1,2}?(?:days?|weeks?|months?|\w+))?",
    # needs help with / relies on others for care tasks
    r"\b(?:needs?|needing|requires?|relies|relying|depends|dependent)\s+(?:on\s+)?(?:help|assistance|reminders|prompting|support|supervision|\w+)?\s*(?:from\s+(?:her|his|their|a)?\s*\w+\s+)?(?:with|to|for|on\s+\w+\s+for)\s+(?:\w+\s+){0,2}?(?:childcare|meals|cooking|shopping|groceries|bills|finances|money|transportation|rides|bathing|showering?|shower|dressing|hygiene|eat|eating|meds|medications|laundry|cleaning|housework|chores|errands|appointments|self-care|toileting)\b(?:\s+(?:and|&|,)\s+(?:\w+\s+)?\w+)*",
    rf"\brel(?:ies|ying|ied)\s+on\s+(?:her|his|their|a)?\s*\w+\s+for\s+{_CLAUSE}{{1,60}}",
    # can / cannot manage a domain
    r"\b(?:can't|cannot|can\s+not|unable\s+to|struggl\w+\s+to|able\s+to|managing|manages|not\s+managing|keeping\s+up\s+with|falling\s+behind\s+(?:on|with))\s+(?:manage\s+|handle\s+|do\s+|keep\s+up\s+with\s+|care\s+for\s+)?(?:the\s+|her\s+|his\s+)?(?:childcare|kids|children|bills|finances|housework|chores|laundry|cooking|groceries|errands|self-care|hygiene|schoolwork|coursework|homework|job|work|rent)\b(?:\s+(?:alone|independently|on\s+(?:her|his)\s+own))?",
    # work / school status
    r"\b(?:back\s+(?:at|to)|returned\s+to|returning\s+to)\s+(?:work|school|class(?:es)?|(?:her|his|their)\s+job|the\s+office|campus)\b(?:\s+(?:full|part)[- ]time)?",
    r"\b(?:working|works|worked)\s+(?:\d+\s*(?:-\s*\d+\s*)?(?:hrs?|hours)\s*(?:/|per|a)\s*(?:wk|week|day)|(?:full|part)[- ]time|reduced\s+hours|light\s+duty|modified\s+duty)\b(?:\s*,?\s*(?:reduced|down|up)\s+from\s+[\w ]{1,20}?(?=[,.;\n]|$))?",
    r"\b(?:reduced|cut|cutting)\s+(?:back\s+)?(?:her|his|their)?\s*(?:work\s+)?hours\b",
    r"\b(?:missing|missed|misses|skipping|skipped)\s+(?:(?:a\s+lot\s+of|most|several|many|some)\s+)?(?:shifts?|work|school|class(?:es)?|lectures?|days\s+of\s+(?:work|school))\b",
    r"\b(?:dropped|withdrew\s+from|failed|failing|retaking|incomplete\s+in)\s+(?:\d+|one|two|three|a|all|most|several)\s+(?:of\s+(?:her|his)\s+)?(?:class(?:es)?|courses?)\b(?:\s+this\s+(?:semester|term|quarter|year))?(?:\s*[;,]\s*GPA\s+\d(?:\.\d+)?)?",
    r"\bGPA\s+(?:is\s+|of\s+|dropped\s+to\s+|now\s+)?\d(?:\.\d+)?\b",
    r"\b(?:fired|laid\s+off|let\s+go|terminated|suspended|expelled|put\s+on\s+(?:a\s+)?(?:pip|probation))\b(?:\s+(?:from|at)\s+(?:(?:her|his|the)\s+)?(?:job|work|school|position))?",
    r"\b(?:unemployed|underemployed|out\s+of\s+work|job\s+searching|looking\s+for\s+work)\b",
    # housing
    r"\b(?:lost|losing)\s+(?:her|his|their)\s+(?:housing|apartment|home|lease|job)\b(?:\s+(?:in|last|this)\s+\w+)?(?:\s*,\s*(?:staying|living|sleeping)\s+(?:with|in|at)\s+(?:a\s+)?\w+)?",
    r"\b(?:homeless|unhoused|evicted|facing\s+eviction|couch[- ]surfing|living\s+in\s+(?:her|his|their|a)\s+car|in\s+a\s+shelter|staying\s+(?:with|at)\s+(?:a\s+friend|friends|family|her\s+\w+|his\s+\w+)(?:'s)?)\b",
    # hygiene / self-care
    r"\b(?:hygiene|grooming|self-care)\s*(?::\s*|\s+(?:is\s+|was\s+|remains\s+)?)(?:poor|fair|good|adequate|neglected|declined|declining|improved|intact|impaired|limited|unkempt|disheveled)\b",
    r"\b(?:poor|fair|good|adequate|neglected)\s+(?:hygiene|grooming|self-care)\b",
    r"\b(?:not|hasn't\s+been|has\s+not\s+been|rarely)\s+(?:showering|bathing|eating\s+regular\s+meals|getting\s+dressed)\b",
]

_PROG_NOUN = r"(?:prognosis|px|outlook|(?:expected|anticipated|likely)\s+course|course|long[- ]term\s+outlook)"
_PX_V3 = [
    rf"\b(?:(?:long|short)[- ]term\s+|overall\s+)?{_PROG_NOUN}\s*(?:is|remains|:|{_DASH}|=|considered|appears|seems|looks)?\s*(?:to\s+be\s+)?(?:\w+\s+)?{_PROG_Q}(?:\s*(?:to|{_DASH}|/)\s*{_PROG_Q})?\b",
    rf"\b{_PROG_Q}\s+(?:long[- ]term\s+)?(?:outlook|course|px)\b",
    rf"\b(?:expected|anticipated)\s+course\s*:?{_CLAUSE}{{1,80}}",
    r"\b(?:high|low|moderate|elevated|significant|increased|considerable)\s+risk\s+(?:of|for)\s+(?:relapse|recurrence|decompensation|rehospitalization|readmission|re-?hospitalization|dropout|return\s+to\s+use)\b",
    r"\b(?:likely|unlikely|expected)\s+to\s+(?:need|require|remain|continue\s+to\s+need|maintain|sustain|relapse|stabilize|return\s+to\s+(?:work|baseline|school))\b[^.;\n]{0,60}",
]

_PG_V3 = [
    # gains / improvement language: "slow but steady gains since intake"
    rf"(?:\b(?:{_PG_ADJ}|slow|small|big|real|clear|notable|encouraging)\s+(?:(?:but|and|yet)\s+(?:{_PG_ADJ}|slow|small|big|real|clear)\s+)?gains?\b|(?<!weight\s)\bgains\b(?=\s+(?:since|in|with|toward|towards|on|made|maintained|sustained|have|holding)\b))"
    rf"(?:\s+(?:since|in|with|toward|towards|on|made|maintained|sustained|have\s+held|holding)\b(?:\s+{_PG_SINCE}|[\w ]{{0,25}}?(?=[,.;\n]|$))?)?",
    r"\b(?:maintain(?:ing|ed|s)?|sustain(?:ing|ed|s)?|consolidat(?:ing|ed))\s+(?:(?:her|his|their|treatment)\s+)?gains\b",
    # "no self-harm in 60 days", "60 days without cutting"
    r"\bno\s+(?:\w+\s+){0,2}?(?:self[- ]harm|cutting|sib|nssi|drinking|alcohol|use|substance\s+use|panic\s+attacks?|attacks?|episodes?|purging|bingeing|binges|relapses?|hospitalizations?|ed\s+visits?|er\s+visits?|suicide\s+attempts?|attempts?|si)\s+(?:in|for|x|over)\s+(?:the\s+(?:past|last)\s+)?(?:\d+|one|two|three|four|five|six|several|a\s+few)\s*(?:days?|d|wks?|weeks?|mos?|months?|yrs?|years?)\b",
    r"\b(?:\d+|one|two|three|six|several)\s*(?:days?|wks?|weeks?|mos?|months?)\s+(?:without|free\s+of|free\s+from)\s+(?:\w+\s+){0,2}?(?:self[- ]harm|cutting|drinking|use|using|panic\s+attacks?|purging|bingeing|episodes?)",
    r"\b(?:\d+|one|two|three|six|several)\s*(?:days?|wks?|weeks?|mos?|months?)\s+(?:self[- ]harm|sh|cutting|drug|alcohol|panic|purge|binge)[- ]free\b",
    # goals met / partially met / not yet met (any order)
    r"\b(?:goals?|objectives?)\s+(?:\d+\s+(?:and\s+\d+\s+)?)?(?:(?:is|are|was|were|have\s+been|has\s+been)\s+)?(?:fully\s+|partially\s+|largely\s+|mostly\s+|not\s+yet\s+|not\s+)?(?:met|achieved|unmet|attained|in\s+progress|progressing)\b",
    # change with an intensifier: "panic much improved vs last month"
    rf"\b(?:{_PG_NOUN})\s+(?:is\s+|are\s+|has\s+|have\s+)?(?:much|somewhat|significantly|markedly|slightly|greatly|a\s+bit|a\s+little|far|considerably|modestly|noticeably)\s+(?:improved|better|worse|worsened|reduced|decreased|less\s+\w+|more\s+\w+)\b(?:\s+(?:vs\.?|versus|compared\s+(?:to|with)|than|since)\s+(?:\w+\s+){{0,2}}?(?:month|week|session|visit|intake|baseline|admission|summer|spring|fall|winter|year))?",
    r"\b(?:improved|better|worse|worsened|worsening|improving)\s+(?:vs\.?|versus|compared\s+(?:to|with))\s+(?:(?:last|prior|previous|the\s+last|the\s+prior)\s+\w+|intake|baseline|admission)",
    # regression / setback / relapse as events with a measure
    r"\b(?:some|significant|minor|brief|partial|major|a)?\s*(?:regression|setback|backslide|backsliding|decompensation)\b(?:\s+(?:after|since|following|with|in)\s+(?:the\s+)?\w+(?:\s+\w+)?)?",
    r"\brelapsed\b(?:\s+(?:on|with|into)\s+\w+)?(?:\s+(?:x\s*\d+|once|twice|\d+\s+times))?(?:\s+(?:this|last|in\s+the\s+past)\s+\w+)?",
    # remission as a course, not a diagnostic specifier (checked by a filter)
    rf"\b(?:in|into|achieved|reached|entered|maintaining)\s+(?:(?:full|partial|early|sustained)\s+)?remission\b(?:\s+since\s+{_PG_SINCE})?",
    # superlatives / firsts anchored to the start of treatment: "lowest since starting"
    rf"\b(?:\w+est|best|worst|first\s+time)\b(?:[\w ]{{0,40}}?)\s+since\s+{_PG_SINCE}",
    # "went from 21 to 9 (over 12 sessions)"
    r"\bwent\s+from\s+\d+(?:\.\d+)?\s+to\s+\d+(?:\.\d+)?(?:\s+(?:over|in|across)\s+(?:\d+|the\s+last\s+\w+)\s+\w+)?",
]

_MOD_V3 = [
    r"\b(?:via|by|over)\s+(?:zoom|telehealth|video|phone|telephone|doxy(?:\.me)?|teams|facetime|webex|secure\s+video)\b",
    rf"\b{_MINUTES}\s*,?\s*(?:individual|family|group|couples|telehealth|video|in[- ]person|phone|tele)\b",
    rf"\b(?:telehealth|video|phone|in[- ]person|individual|family|group|couples)\s*,\s*{_MINUTES}",
    r"\b(?:session|visit)\s+#?\d+\s+(?:of|/)\s+\d+\b",
    rf"\b(?:seen|meeting|meet|met|coming|comes|attends?|attending)\s+(?:\w+\s+)?{_FREQ}",
    rf"\b(?:sessions?|visits?|appts?|appointments?)\s+(?:out\s+|back\s+)?to\s+{_FREQ}",
]

# ---- v3 context filters ----------------------------------------------------------------------
_RELATION = (r"(?:son|daughter|mother|mom|father|dad|brother|sister|wife|husband|partner|boyfriend|"
             r"girlfriend|friend|ex|child|kid|kids|grandmother|grandma|grandfather|grandpa|aunt|uncle|"
             r"cousin|boss|roommate|coworker|neighbor|stepdad|stepmom|parents?)")
_THIRD_SUBJ = re.compile(rf"\b(?:her|his|their|my|pt's|patient's)\s+(?:\w+\s+)?{_RELATION}\b(?!'s)(?![\w ]{{0,20}}\b(?:died|passed))", re.IGNORECASE)
_HYPO_STRONG = r"what\s+if|wonder\w*|imagin\w*|pretend\w*|suppos\w*|jokes?|jok(?:ed|ing)|fantas\w*|wish(?:es|ed)?|asked\s+(?:if|whether)"
_HYPO = re.compile(rf"\b(?:{_HYPO_STRONG}|if|whether|would|could|might)\b", re.IGNORECASE)
_HYPO_S = re.compile(rf"\b(?:{_HYPO_STRONG})\b", re.IGNORECASE)
_CLAUSE_END = re.compile(r"[.;!?\n](?!\d)")


def _clause_before(text: str, s: int) -> str:
    lo = max(0, s - 120)
    last = None
    for last in _CLAUSE_END.finditer(text, lo, s):
        pass
    return text[last.end() if last else lo:s]


def _third_party(m: re.Match, text: str) -> bool:
    before = _clause_before(text, m.start())
    return len(before.split()) <= 8 and bool(_THIRD_SUBJ.search(before))


def _hypothetical(m: re.Match, text: str, strong_only: bool = False) -> bool:
    return bool((_HYPO_S if strong_only else _HYPO).search(_clause_before(text, m.start())))


def _med_v3_filter(m: re.Match, text: str) -> tuple[int, int] | None:
    if _third_party(m, text):
        return None
    return _med_filter(m, text)


def _ctx_filter(m: re.Match, text: str) -> tuple[int, int] | None:
    """A treatment frequency or modality in a hypothetical ("if she had to come twice a week"),
    a question or a joke, or about someone else, is session content."""
    if _hypothetical(m, text) or _third_party(m, text):
        return None
    return m.span()


_PAST_AFTER = re.compile(
    r"\s+(?:at\s+(?:age\s+)?\d{1,2}\b|when\s+(?:she|he|they|i)\s+was|as\s+a\s+(?:kid|child|teen|teenager)|in\s+(?:19|20)\d\d|"
    r"(?:\w+\s+)?years\s+ago|in\s+(?:high\s+school|college|grad\s+school|the\s+army|the\s+\d0s))",
    re.IGNORECASE)


def _func_filter(m: re.Match, text: str) -> tuple[int, int] | None:
    """'She lost her job at 22' is biography; functional status is the current state."""
    if _PAST_AFTER.match(text, m.end()) or _func_goal(m, text):
        return None
    return _ctx_filter(m, text)


def _plan_filter(m: re.Match, text: str) -> tuple[int, int] | None:
    """Conditional plans ("if SI recurs, will call") are plans; wishes, jokes and musings are not."""
    if _hypothetical(m, text, strong_only=True) or _third_party(m, text):
        return None
    return m.span()


_DX_RIGHT_BEFORE = re.compile(rf"(?:,\s*|{_DX_NAMES}\s*|\b(?:disorder|d/o|(?-i:[A-Z]{{2,5}}))\s*,?\s*(?:\w+\s*,\s*)*)$", re.IGNORECASE)


def _remission_filter(m: re.Match, text: str) -> tuple[int, int] | None:
    """'in early remission' after a diagnosis is its specifier (diagnosis), not progress."""
    before = _clause_before(text, m.start())
    if before.strip() and _DX_RIGHT_BEFORE.search(before):
        return None
    return _plan_filter(m, text)


def _T(s: str) -> set[str]:
    return _words(s)


_MED_CLASS_T = _words("""meds med medication medications antidepressant antidepressants ssri snri
    antipsychotic stabilizer stimulant benzo benzodiazepine aid psych""")
_add(_MED, _MED_V3[:6], _med_v3_filter, _DRUG_T)
_add(_MED, _MED_V3[6:], _med_v3_filter, _DRUG_T | _MED_CLASS_T)
_add(_MED, _MED_V3_SE[:1], _med_v3_filter, _SE_T)
_add(_MED, _MED_V3_SE[1:], _med_v3_filter, _T("se s e ae aes"))
_add("clinical_test_results", _TEST_V3, None, _longest_tokens(_SCALE_WORDS))
_add("clinical_test_results", _LAB_V3, None, _longest_tokens(_LAB_WORDS))
_PL = "summary_treatment_plan"
_add(_PL, _PLAN_V3[:1], _plan_filter, _longest_tokens(_PLAN_VERB_LIST) | {"plan"})
_add(_PL, _PLAN_V3[1:2], _plan_filter, _T("consider considering"))
_add(_PL, _PLAN_V3[2:3], _plan_filter, _T("next"))
_add(_PL, _PLAN_V3[3:4], _ctx_filter, _T("increase decrease reduce space step move change"))
_add(_PL, _PLAN_V3[4:5], _plan_filter, _T("discharge aftercare crisis relapse prevention transition"))
_add(_PL, _PLAN_V3[5:6], _plan_filter, _T("discharge"))
_add(_PL, _PLAN_V3[6:7], _plan_filter, _T("pt"))
_FN = "summary_functional_status"
_FUNC_V3_T = [
    "leave disability std ltd", "ssdi ssi", "driving drive driven", "house home apartment room bed",
    "needs need needing requires require relies relying depends dependent", "relies relying relied",
    """childcare kids children bills finances housework chores laundry cooking groceries errands self
    hygiene schoolwork coursework homework job work rent""",
    "back returned returning", "working works worked", "hours", "missing missed misses skipping skipped",
    "class classes course courses", "gpa", "fired laid let terminated suspended expelled put",
    "unemployed underemployed work searching looking", "lost losing",
    "homeless unhoused evicted eviction couch car shelter staying", "hygiene grooming self",
    "hygiene grooming self", "showering bathing eating getting",
]
assert len(_FUNC_V3_T) == len(_FUNC_V3)
for _i, _t in enumerate(_FUNC_V3_T):
    _add(_FN, _FUNC_V3[_i:_i + 1], _func_filter, _T(_t))
_PX_V3_T = ["prognosis px outlook course", "outlook course px", "course", "risk", "likely unlikely expected"]
for _i, _t in enumerate(_PX_V3_T):
    _add("summary_prognosis", _PX_V3[_i:_i + 1], lambda m, t: _px_filter(m, t), _T(_t))
_PG_V3_T = [
    "gains gain", "gains",
    """harm cutting sib nssi drinking alcohol use substance panic attack attacks episode episodes
    purging bingeing binges relapse relapses hospitalization hospitalizations visit visits attempt
    attempts si""",
    "without free", "free", "goal goals objective objectives",
    "much somewhat significantly markedly slightly greatly bit little far considerably modestly noticeably",
    "vs versus compared", "regression setback backslide backsliding decompensation", "relapsed",
    "remission", "since", "went",
]
assert len(_PG_V3_T) == len(_PG_V3)
for _i, _t in enumerate(_PG_V3_T):
    _add("summary_progress_to_date", _PG_V3[_i:_i + 1],
         _remission_filter if _t == "remission" else _ctx_filter, _T(_t))
_MOD_V3_T = ["zoom telehealth video phone telephone doxy teams facetime webex secure",
             "min mins minute minutes <min>", "min mins minute minutes <min>", "session visit", None, None]
for _i, _t in enumerate(_MOD_V3_T):
    _add(_MODC, _MOD_V3[_i:_i + 1], lambda m, t: _mod_filter(m, t), _FREQ_T if _t is None else _T(_t))


# ---- v4: context filters and phrase families -----------------------------------------------------
# Written after a blind clinician-authored batch (e) exposed v3's misses by *kind*: attributive
# diagnosis words, family history, reported/read-about modalities, medical prognoses, goals read
# as current functioning, side effects read as symptoms, musings about medication; and recall gaps
# in medication-list headers, pronoun adherence, scale sub-scores and T-scores, MSE phrasing,
# dash-led plans, planned discharge, progress over a span of sessions, "now X vs Y" comparisons.

# A diagnosis word used as a modifier names something else ("PTSD symptoms", "OCD group").
_DX_ATTRIB_AFTER = re.compile(
    r"[ \t]+(?:symptoms?|sx|nightmares?|flashbacks?|triggers?|reminders?|meds?|medications?|groups?|"
    r"clinic|program|specialists?|support|workbook|awareness|coach(?:ing)?|evaluation|eval|testing|"
    r"screen(?:ing)?|research|memoir|podcast|community|brain|rituals?|behaviou?rs?|episodes?)\b",
    re.IGNORECASE)
_FAM_HX = re.compile(r"\b(?:family\s+(?:history|hx)|fam(?:ily)?\s*hx|fhx|fh\s*[:\-]|runs\s+in\s+(?:the|her|his|their)\s+family)",
                     re.IGNORECASE)
_REL_SUBJ = re.compile(
    rf"^\s*(?:(?:her|his|their|my|the|a|pt's|patient's|client's)\s+)?(?:\w+\s+)?{_RELATION}\s+"
    r"(?:was|is|has|had|carries|got|gets|were|also|with|been|(?:was|has\s+been|had\s+been)\s+(?:recently\s+)?diagnosed)\b",
    re.IGNORECASE)


def _dx_someone_else(m: re.Match, text: str) -> bool:
    """Family history ("FHx: mother bipolar") and a relative as the subject ("Mother was
    diagnosed with bipolar disorder") are about someone else, not the patient's diagnosis."""
    before = _clause_before(text, m.start())
    return bool(_FAM_HX.search(before) or _REL_SUBJ.match(before))


# A modality the patient read or heard about is session content, not treatment furnished.
_MOD_INFO = re.compile(
    r"\b(?:read|reads|reading|heard|hears|saw|watched|googled|looked\s+up|researched|asked\s+(?:me\s+)?about|"
    r"curious\s+about|skeptical\s+(?:of|about)|afraid\s+of|scared\s+of|online|podcast|article|tiktok|"
    r"instagram|youtube|book\s+about)\b", re.IGNORECASE)


def _mod_filter(m: re.Match, text: str) -> tuple[int, int] | None:
    if _MOD_INFO.search(_clause_before(text, m.start())):
        return None
    return _ctx_filter(m, text)


# Musings about medication ("if she ever goes back on lithium", "what if", a joke) are content.
_MED_HYPO = re.compile(r"\b(?:if|whether)\s+(?:\w+\s+){0,3}?ever\b|\bwhat\s+if\b|\bjok(?:e|es|ed|ing)\b|"
                       r"\bimagin\w*|\bpretend\w*|\bfantas\w*", re.IGNORECASE)

# A prognosis given by another doctor for a medical illness, or a relative's, is session content.
_PX_MEDICAL = re.compile(
    r"\b(?:oncologist|surgeon|cardiologist|neurologist|pulmonologist|nephrologist|hepatologist|ob/?gyn|"
    r"pediatrician|vet|veterinarian|cancer|tumou?r|chemo\w*|radiation|biopsy|surgery|transplant|stroke|"
    r"heart|kidney|liver|lung|covid|injury|fracture)\b", re.IGNORECASE)


def _px_filter(m: re.Match, text: str) -> tuple[int, int] | None:
    before = _clause_before(text, m.start())
    if _PX_MEDICAL.search(before) or _THIRD_PARTY.search(text, max(0, m.start() - 30), m.start()):
        return None
    return _plan_filter(m, text)


# Functioning named as a goal ("goals revised to focus on ... return to work") is not current status.
_FUNC_GOAL = re.compile(
    r"\b(?:goals?|objectives?|focus(?:ed|ing)?\s+on|work(?:ing)?\s+(?:toward|towards)|hop(?:es|ing)?\s+to|"
    r"wants?\s+to|wanting\s+to|aims?\s+to|would\s+like\s+to|plans?\s+to|planning\s+to|dreams?\s+of)\b"
    r"(?![^.;\n]*\b(?:but|although|though|yet|however)\b)", re.IGNORECASE)


def _func_goal(m: re.Match, text: str) -> bool:
    return bool(_FUNC_GOAL.search(_clause_before(text, m.start())[-60:]))


_SE_ITEM = re.compile(rf"\b{_SE_WORDS}\b", re.IGNORECASE)
_MED_CTX = re.compile(rf"{_DRUG}|\b(?:meds?|medications?|dose|side[- ]effects?|prescribed)\b", re.IGNORECASE)
_TARGET_BEFORE = re.compile(r"\b(?:for|targeting|target|treat(?:s|ing|ed)?)\s+$", re.IGNORECASE)


def _line_window(text: str, s: int, e: int, width: int = 150) -> str:
    """Up to ``width`` characters either side of a span, within its line (a note entry; a drug
    often sits one clause away from the side effect it caused, past a "Dr." or a ';')."""
    lo, hi = max(0, s - width), min(len(text), e + width)
    nl = text.rfind("\n", lo, s)
    nr = text.find("\n", e, hi)
    return text[nl + 1 if nl >= 0 else lo:nr if nr >= 0 else hi]


def _sym_not_summary(m: re.Match, text: str, n_items: int, lead: bool) -> bool:
    """Side effects reported in a sentence about a medication are medication monitoring, not a
    symptom summary; a lone symptom named as a treatment's target ("CBT-I for insomnia") is not a
    summary of symptoms either."""
    items = _SYM_ITEM_RE.findall(m.group("list"))
    if items and all(_SE_ITEM.search(i) for i in items) and _MED_CTX.search(_line_window(text, m.start(), m.end())):
        return True
    return n_items == 1 and not lead and bool(_TARGET_BEFORE.search(text, max(0, m.start() - 20), m.start()))


_MED_V4 = [
    # a medication-list header: "Meds: none currently", "Current medications: sertraline 50 mg"
    rf"(?:^|(?<=[.;\n(]))\s*(?:current\s+|psych(?:iatric)?\s+)?(?:meds|medications|rx)\s*(?:list\s*)?:\s*"
    rf"(?:none(?:\s+(?:currently|at\s+this\s+time|reported))?|nil|n/a|no\s+changes?|unchanged|(?:see|per)\s+\w+|"
    rf"{_DRUG}{_DRUGTAIL}(?:\s*,\s*{_DRUG}{_DRUGTAIL})*)",
    # adherence without a drug name
    r"\b(?:taking|takes|took|using)\s+(?:it|them|(?:her|his|their|all)\s+(?:meds|medications?|pills|doses))\s+"
    r"(?:as\s+(?:prescribed|directed)|consistently|regularly|reliably|inconsistently|sporadically|every\s+day|daily|most\s+days)",
    r"\b(?:good|poor|fair|partial|full|excellent|inconsistent|improved|variable)\s+(?:med(?:ication)?\s+)?(?:adherence|compliance)\b",
    r"\bmed(?:ication)?s?\s+(?:adherence|compliance)\s*(?::|is|was|remains)?\s*(?:good|poor|fair|partial|full|excellent|inconsistent|improved|variable|\d+\s*%)",
]
_add(_MED, _MED_V4[:1], _med_v3_filter, _words("meds medications rx"))
_add(_MED, _MED_V4[1:2], _med_v3_filter, _words("taking takes took using"))
_add(_MED, _MED_V4[2:], _med_v3_filter, _words("adherence compliance"))

_TEST_V4 = [
    # a sub-score or rater's score after the scale: "Vanderbilt scores from teacher: inattention 8/9"
    rf"{_SCALE}(?:\s+[\w'-]+){{0,3}}?\s+(?:scores?|ratings?|subscales?|results?)\s*(?:from\s+(?:the\s+)?\w+\s*)?[:=]?\s*"
    rf"(?:[\w-]+\s+){{0,2}}?\d+(?:\.\d+)?(?:\s*/\s*\d+)?(?:\s+items?\s+(?:positive|endorsed|elevated))?",
    # a T-score (standardised test result), with an optional scale and sub-scale before it
    rf"(?:{_SCALE}\s+)?(?:[A-Za-z-]+\s+){{0,2}}?\bT[- ]?scores?\s*(?:of|=|:|was|is|at)?\s*\d+(?:\s*\([^)]{{1,20}}\))?",
]
_add("clinical_test_results", _TEST_V4[:1], None, _longest_tokens(_SCALE_WORDS))
_add("clinical_test_results", _TEST_V4[1:], None, _words("score scores tscore tscores"))

_FUNC_V4 = [
    rf"\b(?:missed|missing|misses)\s+(?:\w+\s+)?(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|several|multiple|many|a\s+few)\s+"
    rf"(?:shifts|classes|lectures|(?:days?|weeks?)\s+(?:of|at|from)\s+(?:work|school|class))\b(?:\s+(?:this|last)\s+(?:week|month|semester|term))?"
    rf"(?:\s+(?:because\s+of|due\s+to|d/t)\s+(?:the\s+|her\s+|his\s+)?\w+)?",
    rf"\b(?:(?:overall|occupational|social|academic|daily)\s+)?functioning\s+(?:has\s+|is\s+|remains\s+)?(?:improved|improving|declined|declining|worsened|stable|unchanged|impaired|intact|poor|limited)\b(?:\s*:{_CLAUSE}{{1,120}})?",
    r"\b(?:able|unable)\s+to\s+(?:go|get|drive|walk|travel)\s+(?:out\b|to\s+(?:the\s+)?(?:\w+\s+){0,2}?(?:store|grocery(?:\s+store)?|market|mall|church|gym|bank|pharmacy|park|post\s+office))"
    r"(?:\s+(?:alone|by\s+(?:her|him|them)self|independently|on\s+(?:her|his|their)\s+own))?",
]
_add(_FN, _FUNC_V4[:1], _func_filter, _words("missed missing misses"))
_add(_FN, _FUNC_V4[1:2], _func_filter, _words("functioning"))
_add(_FN, _FUNC_V4[2:], _func_filter, _words("able unable"))

_PLAN_V4 = [
    rf"{_CLAUSE_START}(?:tx\s+|treatment\s+)?plan\s*{_DASH}\s*{_CLAUSE_SEMI}{{1,300}}",
    rf"\b(?:anticipated|expected|planned|projected|tentative|target)\s+(?:discharge|termination|step[- ]down)(?:\s+date)?\b{_CLAUSE}{{0,100}}",
]
_add(_PL, _PLAN_V4[:1], _plan_filter, _words("plan"))
_add(_PL, _PLAN_V4[1:], _plan_filter, _words("discharge termination step"))

_AFF_ADJ = (r"(?:flat|blunted|constricted|restricted|labile|congruent|incongruent|mood[- ]congruent|bright|brighter|"
            r"tearful|anxious|depressed|dysphoric|irritable|euthymic|expansive|euphoric|full(?:\s+range)?|reactive|guarded)")
_MOOD_ITEM = r"(?:anxious|depressed|dysphoric|irritable|euthymic|low|elevated|expansive|euphoric)\s+mood"
_EYE_ITEM = r"(?:poor|fair|limited|fleeting|minimal|avoidant|intermittent|appropriate|decreased)\s+eye\s+contact"
_TP_ITEM = (r"thought\s+process(?:es)?\s*(?::\s*|is\s+|was\s+)?(?:linear|logical|goal[- ]directed|tangential|circumstantial|"
            r"disorganized|organized|concrete|coherent)")
_MSE_ITEM = rf"(?:{_AFF_ADJ}\s+affect|{_MOOD_ITEM}|{_EYE_ITEM}|{_TP_ITEM})"
_SYM_V4 = [
    # mental status phrasing with the adjective first: "flat affect, poor eye contact"
    rf"\b(?:{_MSE_ITEM}\s*,\s*(?:and\s+)?)*(?:{_AFF_ADJ}\s+affect|{_EYE_ITEM}|{_TP_ITEM})(?:\s*(?:,|and)\s*(?:and\s+)?{_MSE_ITEM})*",
    r"\b(?:insight|judg(?:e)?ment)(?:\s*(?:and|/|&)\s*judg(?:e)?ment)?\s*(?::\s*|\s+)(?:fair|poor|limited|intact|impaired|partial|good)\b",
]
_add(_SX, _SYM_V4[:1], None, _words("affect contact thought"))
_add(_SX, _SYM_V4[1:], None, _words("insight judgment judgement"))

_PG_V4_NOUN = rf"(?:{_SYM_ALONE}|symptoms?|sx|anxiety|depression|urges|episodes|attacks|arguments|fights|conflicts?)"
_PG_V4 = [
    rf"\b(?:(?:pt|patient|client|she|he|they)\s+)?(?:is\s+|are\s+|has\s+been\s+|continues\s+to\s+be\s+)?progressing\s+"
    rf"(?:slowly|well|steadily|gradually|nicely|as\s+expected|(?:toward|towards)\s+(?:\w+\s+){{0,2}}?goals?)\b"
    rf"(?:\s*[;,]\s*(?:fewer|less|more|decreased|reduced)\s+{_CLAUSE}{{1,60}})?",
    rf"\bfewer\s+(?:\w+\s+){{1,4}}?(?:(?:reported|noted|endorsed)\s+)?since\s+{_PG_SINCE}",
    rf"(?:\b{_PG_V4_NOUN}\s+(?:are\s+|is\s+)?)?\bnow\s+(?:\d+\s*(?:-\s*\d+\s*)?(?:x|times)\s*(?:/|per|a)\s*(?:wk|week|day|night|month|mo)|once\s+(?:a|per)\s+\w+|twice\s+(?:a|per)\s+\w+|\d+\s*/\s*10)"
    rf"\s*(?:vs\.?|versus|compared\s+(?:to|with)|(?:down|up)\s+from|from)\s+\w+(?:\s+(?:at\s+)?(?:intake|baseline))?",
    rf"\b(?:{_PG_NOUN})\s+(?:has\s+|have\s+)?(?:partially|largely|fully|mostly|completely|nearly|somewhat|significantly|markedly|substantially|greatly)\s+"
    rf"(?:remitted|resolved|improved|reduced|decreased|subsided|abated|stabilized)\b",
    rf"\b{_PG_V4_NOUN}\s+(?:are\s+|is\s+|have\s+been\s+|now\s+)?(?:much\s+|far\s+|a\s+lot\s+|somewhat\s+)?(?:less|more)\s+(?:frequent|intense|severe|distressing|disruptive|manageable|tolerable)\b",
    r"\b(?:which|something|what)\s+(?:she|he|they|pt)\s+(?:couldn't|could\s*not|could\s+not|was\s+unable\s+to|wasn't\s+able\s+to|had\s+not\s+been\s+able\s+to)\s+(?:do\s+|manage\s+)?"
    r"(?:at|before|prior\s+to)\s+(?:intake|baseline|admission|the\s+start\s+of\s+(?:treatment|tx|therapy)|(?:we|she|he|they)\s+(?:started|began))",
    r"\b(?:completed|finished|attended)\s+(?:\d+|\w+)\s+(?:of|out\s+of|/)\s+(?:\d+|\w+)\s+(?:planned\s+|scheduled\s+)?(?:[\w-]+\s+)?(?:sessions|modules)\b",
    rf"\b(?:{_PG_NOUN})\s+(?:has\s+|have\s+|is\s+|are\s+)?(?:\w+\s+)?{_PG_CHANGE}\s+(?:\w+\s+)?(?:over|across|during|in)\s+(?:the\s+)?(?:past|last|previous|first)\s+"
    r"(?:\d+|few|several|two|three|four|five|six|couple\s+of)\s+(?:sessions|weeks|months|visits)\b",
    rf"\b\d+\s*%\s+(?:reduction|decrease|drop|decline|increase|improvement)\b(?:\s+(?:in|of)\s+{_CLAUSE}{{1,60}})?",
    rf"\b(?:{_PG_NOUN})\s+(?:has\s+|have\s+|is\s+|are\s+)?(?:\w+\s+)?{_PG_CHANGE}\s+(?:by\s+)?(?:about\s+|roughly\s+|~)?\d+\s*%(?:\s+since\s+{_PG_SINCE})?",
]
_PG_V4_T = ["progressing", "fewer", "now",
            "partially largely fully mostly completely nearly somewhat significantly markedly substantially greatly",
            "frequent intense severe distressing disruptive manageable tolerable", "which something what",
            "completed finished attended", "past last previous first",
            "reduction decrease drop decline increase improvement",
            "halved doubled improved improving improvement worsened worsening worse better remitted resolved resolving "
            "stabilized stable plateaued declined declining decreased reduced unchanged progressed regressed change"]
assert len(_PG_V4_T) == len(_PG_V4)
for _i, _t in enumerate(_PG_V4_T):
    _add("summary_progress_to_date", _PG_V4[_i:_i + 1], _ctx_filter, _T(_t))


# ---- quoted speech ---------------------------------------------------------------------------
_QUOTE_CH = re.compile("[\"'\u2018\u2019\u201c\u201d]")
_DIGIT = re.compile(r"\d")
_DRUG_RX = re.compile(_DRUG, re.IGNORECASE)
_NUMERIC_OK = {"medication_prescription_and_monitoring", "clinical_test_results"}


_SCORE_CHANGE = re.compile(r"[^.;\n]{0,40}")
_SCORE_DELTA = re.compile(r"(?:down|up)\s+from\b|(?:dropped|fell|rose|decreased|increased)\s+(?:from|by)\b", re.IGNORECASE)


def _quote_spans(text: str) -> list[tuple[int, int]]:
    """Spans of quoted speech.  An apostrophe inside a word ("don't", "father's") neither opens
    nor closes a quote; a quote left open for 400 characters is dropped."""
    out: list[tuple[int, int]] = []
    dq = sq = -1
    n = len(text)
    for m in _QUOTE_CH.finditer(text):
        i, q = m.start(), m.group()
        prev = text[i - 1] if i else " "
        nxt = text[i + 1] if i + 1 < n else " "
        if dq >= 0 and i - dq > 400:
            dq = -1
        if sq >= 0 and i - sq > 400:
            sq = -1
        opening = (i == 0 or prev.isspace() or prev in "([{\u2014-\"\u201c'\u2018") and nxt.isalnum()
        if q in "\"\u201c\u201d":
            if dq < 0 and q != "\u201d" and (opening or q == "\u201c"):
                dq = i
            elif dq >= 0 and q != "\u201c":
                out.append((dq, i + 1))
                dq = -1
        else:
            if sq < 0 and q != "\u2019" and opening:
                sq = i
            elif sq >= 0 and q != "\u2018" and not prev.isspace() and not nxt.isalnum():
                out.append((sq, i + 1))
                sq = -1
    return out


def _quoted(quotes: list[tuple[int, int]], s: int, e: int) -> bool:
    return any(qs <= s and e <= qe for qs, qe in quotes)


def _spans(text: str, gated: bool = True) -> dict[str, list[tuple[int, int]]]:
    """Raw spans per category.  ``gated=False`` scans the whole text with every rule (slow;
    used by tests to prove the trigger tables lose nothing)."""
    found: dict[str, list[tuple[int, int]]] = {c: [] for c in CATEGORIES}
    quotes = _quote_spans(text)
    occ = _occurrences(text) if gated else {}
    keys = occ.keys()
    loose: dict[str, list[tuple[int, int]]] = {c: [] for c in CATEGORIES}
    for category, rx, flt, trig, fallback in _RULES:
        if gated:
            hits = trig & keys
            if not hits:
                continue
            pos = sorted(p for t in hits for p in occ[t])
            windows = _windows(text, pos, _AFTER[category])
        else:
            windows = [(0, len(text))]
        for lo, hi in windows:
            for m in rx.finditer(text, lo, hi):
                span = flt(m, text) if flt else m.span()
                if span is None:
                    continue
                s, e = span
                while s < e and text[s] in _TRIM:
                    s += 1
                while e > s and text[e - 1] in _TRIM:
                    e -= 1
                if e > s and quotes and category != "session_start_stop_times" and _quoted(quotes, s, e):
                    if not (category in _NUMERIC_OK and _DIGIT.search(text, s, e)) and not (
                            category == _MED and _DRUG_RX.search(text, s, e)):
                        continue  # the patient's own words, unless they carry a dose, a score or a named drug
                if e > s:
                    (loose if fallback else found)[category].append((s, e))
    for category, spans in loose.items():
        tight = found[category]
        for s, e in spans:
            if not any(ts < e and s < te for ts, te in tight):
                tight.append((s, e))
    tests = found["clinical_test_results"]
    if tests and found["summary_progress_to_date"]:  # "PHQ-9 = 14 today, down from 19 at intake"
        found["summary_progress_to_date"] = [
            (s, e) for s, e in found["summary_progress_to_date"]
            if not any(te <= s and _SCORE_CHANGE.fullmatch(text, te, s) for _, te in tests)
            or not _SCORE_DELTA.match(text, s)]
    progress = found["summary_progress_to_date"]
    if progress:  # a symptom named inside a progress statement ("Nightmares have resolved")
        found["summary_symptoms"] = [(s, e) for s, e in found["summary_symptoms"]
                                     if not any(ps <= s and e <= pe for ps, pe in progress)]
    return found


def _merge(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for s, e in sorted(spans):
        if out and (s <= out[-1][1] or _JOIN_GAP.fullmatch(text, out[-1][1], s)):
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def lint(text: str) -> list[Finding]:
    """Find content that 45 CFR 164.501 excludes from the definition of psychotherapy notes.

    :param text: the text of one note (any Unicode string; offsets are code points).
    :returns: findings sorted by ``(start, end, category)``; within one category spans never
        overlap.  An empty list means nothing excluded was found.
    :raises TypeError: if ``text`` is not a ``str``.

    Pure and deterministic; never logs or stores ``text``.
    """
    if not isinstance(text, str):
        raise TypeError(f"lint() expects str, got {type(text).__name__}")
    findings: list[Finding] = []
    for category, spans in _spans(text).items():
        suggestion = f"move to the progress note: {_FIELD[category]}"
        for s, e in _merge(text, spans):
            findings.append(Finding(category, s, e, text[s:e], suggestion))
    findings.sort(key=lambda f: (f.start, f.end, f.category))
    return findings
