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

How it works: the rules of each category (curated lexicons in ``data/*.txt`` compiled into
regular expressions) find *candidates*; their context is then read with medSpaCy's ConText and
sectionizer (:mod:`.context`; rules in ``data/context_rules.json`` and
``data/section_rules.json``, each with the reason it exists), and each category module's
``CONTEXT_VETO`` names the contexts that make its candidates session content.  A learned span
tagger (:mod:`.learned`: per category a logistic regression over the words of a sentence, their
neighbours, the word lists and the rules' raw matches, trained on the labelled set by
``bench/train_lint_model.py``) then adds what the word lists do not know, as a last resort: its
spans go through the same quoted-speech and context checks, are dropped where a rule's word-sense
filter or a context veto judged the same words session content, and are kept only in sentences
where no rule or section found their category (``Finding.rules`` names it
``learned.span_tagger``).  The lint is deterministic and never logs, prints or stores the text it
is given; its spaCy pipeline (no downloaded model) and the tagger (``data/learned_model.npz``,
numpy only) are loaded once per process, when the lint is imported.

Layout: :mod:`.engine` (gating, quoted speech, context, merging, :func:`lint`), :mod:`.learned`
(the span tagger, its training and its artefact), :mod:`.context`
(ConText and the sectionizer), :mod:`.rule` (what a rule is), :mod:`.filters` (word-sense
filters), :mod:`.lexicons` (the word lists), and one module of named rules per category:
:mod:`.medication`, :mod:`.session_times`, :mod:`.modality_frequency`, :mod:`.clinical_tests`,
:mod:`.diagnosis`, :mod:`.functional_status`, :mod:`.treatment_plan`, :mod:`.symptoms`,
:mod:`.prognosis`, :mod:`.progress`.  Each finding names the rules that produced it
(``Finding.rules``); ``bench/lint_quality.py`` scores each rule.

Judgement calls (documented, tested in ``tests/unit/lint``; each category module repeats its own):

Everywhere
  * Quoted speech is session content: a finding wholly inside quotes is dropped unless it carries
    a dose or a score, or (medications) names a specific drug ("'upped the Lexapro'"); session
    times are kept.
  * Context (ConText): a candidate that is a relative's or another person's ("her daughter is on
    Ritalin", "her boss has bipolar disorder") is not reported; a relative's scope ends when the
    clause turns back to the client ("Since her father died, she has been taking clonazepam")
    and a relative taking part ("family therapy with parents", "parent report") keeps it the
    client's.  Imagined content (a dream, a joke, a wish, "what if", "if she ever") is not
    reported; a hypothetical or a question drops frequencies, functioning and progress but not
    a conditional plan or prescription ("if SI recurs, will call"; "if sleep does not improve,
    increase trazodone").  The client's past life ("as a teen", "years ago", "used to"), what
    the client read or heard about, the client's own fear or self-label, a goal or hope, what a
    prognosis expects, and a medical prognosis are handled per category (``CONTEXT_VETO``).
    A negation is still a summary when the clinician writes it ("denies SI/HI", "no evidence of
    psychosis"; reported with its negation, so that a finding never reads as a positive), not in
    the client's reported words ("she says she has no anxiety, just stress").  A counterfactual
    musing ("if he were diagnosed with ADHD") is imagined.
  * Sections (sectionizer): a header at the start of a line or sentence ("Plan:", "P:",
    "Homework:", "Dx:", "Meds:", "MSE:", "Labs:", "Prgn:", "Progress:", "Functioning:",
    "Modality:", "Start/stop:") makes its body a finding of its category, header included; a
    family-history or dream header ("FHx:", "Dream:") gives its body that context.
  * Everyday senses are not clinical: a jam session, a session with her lawyer, weekly visits to
    her father, progress on the deck, a plan to repaint the kitchen, a diagnosis of the problem
    with her car, a CBT workbook.

Medication prescription and monitoring
  * A drug *named* without prescribing or monitoring context (a dose, a level, a verb such as
    "started", "increased", "d/c'd", "titrate", "taper", adherence or side effects) is narrative
    (a dream, a story, a relative's pills) and is not reported.
  * A dose or drug in a sentence about a dream or a story ("in the dream he wrote a prescription
    for 40 mg") is not reported, nor a musing about medication ("if she ever goes back on
    lithium").
  * Covered phrasing: doses with and without units and sig abbreviations (qd/bid/tid/qhs/qam/prn),
    change and adherence verbs without a dose ("off her Effexor", "skipping her Zoloft"),
    adherence by pronoun ("taking it as prescribed"), side effects attributed to a drug ("his
    Seroquel makes him groggy"), a drug with its sig but no dose ("Vistaril as needed").

Session start and stop times
  * A clock time is reported only as part of a start/stop pair or a range whose length is a
    plausible session (5 to 240 minutes); "at 3 am she called her sister" is session content.
  * A session's length is its times ("Duration: 45 min", "53-minute session", "we met for 50
    minutes", "session began 15 minutes late"), not a modality; other things' lengths ("he spent
    20 minutes describing the argument") are session content.
  * A clock range with no session word in its sentence is reported only as a bare time stamp
    (the range opens the sentence, or follows "Time:"/a date); "she reads from 9:00 to 10:30" is
    not, nor "the jam session ran from 8:00 to 9:30".  A start or end verb with a time ("we ended
    at 4:12") is the session's unless the sentence names another event.

Modalities and frequencies of treatment
  * A frequency word ("weekly") is reported only when tied to treatment (a modality, "sessions",
    "therapy", "frequency ..."); "AA meetings every Tuesday" is not.
  * A frequency or modality in a hypothetical ("if she had to come twice a week", "what if we met
    weekly"), and a modality the patient read or heard about, are not reported.
  * A technique used inside a session (``data/techniques.txt``: thought records, grounding skills,
    behavioral activation) is a modality only when delivered ("practiced grounding skills") or
    given a frequency; named in a plan or a progress statement it belongs to that statement.

Clinical test results
  * Every common spelling and full name of the screening scales, with result verbs ("dropped
    to", "came in at", "x/30"), sub-scores and T-scores; a score change ("PHQ-9 12, down from 18",
    "GAD-7 decreased from 15 to 9") is kept with the test result, not reported as progress.
  * A drug's serum level with its value or result is a test result ("Lithium level 0.8 mEq/L");
    a level ordered or pending ("Li level pending") is medication monitoring.

Diagnosis
  * Diagnosis abbreviations used colloquially ("he's so OCD about the dishes") or about someone
    else ("her son's ADHD evaluation") are not reported.
  * A scale's name is not a diagnosis ("GAD 7", "Generalized Anxiety Disorder-7"); a diagnosis
    word used as a modifier ("PTSD symptoms", "OCD workbook"), family history and a relative as
    the subject of a diagnosis are not the patient's diagnosis.

Functional status
  * Functioning tied to an age or a past era ("lost her job at 22") is biography; functioning
    named as a goal is not current status.
  * Covered domains: leave/disability, driving, leaving home, help with care tasks, work and
    school status (missed shifts/classes), housing, hygiene, "functioning improved", and how much
    the client sleeps or eats ("sleeping 4-5 hrs/night", "appetite poor", "one meal a day").

Treatment plan
  * A drug named right after an imperative ("Taper venlafaxine ...") is a medication finding, not
    a plan.  Imperative planning verbs opening a clause ("Recommend ...", "Refer to ...", "RTC 2
    wks"), dash-led plans, planned discharge.

Symptoms
  * Symptom words are reported when the clinician summarises them (a lead-in such as "reports",
    "endorses", "c/o", "denies", "Sx:"; a list of two or more; a measure such as "3x/week" or
    "7/10"; a mental-status pattern such as "mood euthymic" or "flat affect, poor eye contact"),
    not a lone word in a reflection.
  * Side effects in a medication entry are medication monitoring, not symptoms; a lone symptom
    named as a treatment target is not a summary; a symptom named inside a progress statement
    ("nightmares have resolved") is reported as progress.  A telegraphic symptom line is a
    summary ("Hypervigilant in public places."), a symptom word opening a story is not ("Worry
    about her son took up the hour").  A named sleep or appetite symptom ("insomnia", "increased
    appetite") is a symptom; an amount of sleep or food is functional status.

Prognosis
  * Prognosis synonyms (outlook, expected course, Px, risk of relapse) are covered; a prognosis
    for a medical illness or given by another doctor is not reported.

Progress to date
  * Gains, "no X in N days", goals met, regression, remission, firsts since intake, progress
    over N sessions, by a percent, "now X vs Y", "largely subsided", "less frequent", "completed
    N of M sessions"; conditional progress ("if gains maintained") is not reported, and "in early
    remission" right after a diagnosis is its specifier.

Known limits: it is a suggestion aid, not a guarantee that a note holds no excluded content.
On a writer it never saw (``bench/lint_crossval.py``: leave one blind batch out, train the tagger
on the rest) the tagger raises recall by five or six points and costs three to five of
precision; recall stays well under 0.90 on such text (batch i 0.65, batch k 0.75; see the README).  ``bench/lint_quality.py``'s figures are
in-sample for the tagger, which is trained on every batch.  Speed is measured by
``bench/lint_speed.py``.  ConText's scope is a sentence: a
pronoun is not resolved across sentences ("She talked about her ex. He started Zoloft 100 mg."
is reported).
"""

from __future__ import annotations

from .engine import RULES as RULES
from .engine import Finding, lint
from .engine import _spans as _spans
from .rule import CATEGORIES
from .rule import Rule as Rule

__all__ = ["CATEGORIES", "Finding", "lint"]
