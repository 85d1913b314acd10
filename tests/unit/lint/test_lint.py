"""Behaviour tests for the 45 CFR 164.501 content lint (confide.hipaa.lint) and its CLI."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from confide.hipaa import lint as lint_mod
from confide.hipaa.lint import CATEGORIES, Finding, learned, lint
from confide.hipaa.lint_commands import lint as lint_cli

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
LABELS = HERE / "labelled_sentences.jsonl"


def _bench():
    spec = importlib.util.spec_from_file_location("lint_quality", ROOT / "bench" / "lint_quality.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _cats(text: str) -> set[str]:
    return {f.category for f in lint(text)}


def _check_invariants(text: str, findings: list[Finding]) -> None:
    assert findings == sorted(findings, key=lambda f: (f.start, f.end, f.category))
    last_end: dict[str, int] = {}
    for f in findings:
        assert f.category in CATEGORIES
        assert 0 <= f.start < f.end <= len(text)
        assert text[f.start:f.end] == f.text
        assert f.text == f.text.strip()
        assert f.start >= last_end.get(f.category, -1), "overlap within a category"
        last_end[f.category] = f.end


# --- must be found -------------------------------------------------------------------------

POSITIVES = [
    ("Dx: F33.1 today.", "summary_diagnosis", "Dx: F33.1"),
    ("Diagnosis unchanged (F41.1).", "summary_diagnosis", "Diagnosis unchanged (F41.1)"),
    ("Pt meets criteria for major depressive disorder, recurrent, moderate.", "summary_diagnosis",
     "meets criteria for major depressive disorder, recurrent, moderate"),
    ("Hx of PTSD after the fire.", "summary_diagnosis", "Hx of PTSD"),
    ("GAD with panic.", "summary_diagnosis", "GAD"),
    ("Meets criteria for social anxiety.", "summary_diagnosis", "Meets criteria for social anxiety"),
    ("Session 2:00-2:53 p.m. today.", "session_start_stop_times", "2:00-2:53 p.m."),
    ("Increased sertraline to 100 mg.", "medication_prescription_and_monitoring",
     "Increased sertraline to 100 mg"),
    ("Started bupropion XL 150mg daily.", "medication_prescription_and_monitoring",
     "Started bupropion XL 150mg daily"),
    ("Lithium level 0.8 last week.", "clinical_test_results", "Lithium level 0.8"),  # a drug level is a test result
    ("Clonazepam 0.5 mg BID PRN.", "medication_prescription_and_monitoring", "Clonazepam 0.5 mg BID PRN"),
    ("PHQ-9 = 14 today.", "clinical_test_results", "PHQ-9 = 14"),
    ("GAD-7 score of 11.", "clinical_test_results", "GAD-7 score of 11"),
    ("Session 2:00\u20132:53 pm.", "session_start_stop_times", "2:00\u20132:53 pm"),
    ("start 14:00, end 14:50", "session_start_stop_times", "start 14:00, end 14:50"),
    ("Weekly CBT for panic.", "modalities_and_frequencies_of_treatment", "Weekly CBT"),
    ("Billed CPT 90837.", "modalities_and_frequencies_of_treatment", "CPT 90837"),
    ("EMDR biweekly.", "modalities_and_frequencies_of_treatment", "EMDR biweekly"),
    ("60-minute individual psychotherapy.", "modalities_and_frequencies_of_treatment", "individual psychotherapy"),
    ("60-minute individual psychotherapy.", "session_start_stop_times", "60-minute"),  # a session's length
    ("She is unable to work.", "summary_functional_status", "unable to work"),
    ("Missed 3 days of work.", "summary_functional_status", "Missed 3 days of work"),
    ("ADLs intact.", "summary_functional_status", "ADLs intact"),
    ("Plan: continue weekly sessions, titrate as tolerated.", "summary_treatment_plan",
     "Plan: continue weekly sessions, titrate as tolerated"),
    ("Reports insomnia, anhedonia and poor concentration.", "summary_symptoms",
     "insomnia, anhedonia and poor concentration"),
    ("Prognosis fair.", "summary_prognosis", "Prognosis fair"),
    ("Guarded prognosis.", "summary_prognosis", "Guarded prognosis"),
    ("Has made moderate progress toward goals.", "summary_progress_to_date",
     "moderate progress toward goals"),
    ("Symptoms improved since intake.", "summary_progress_to_date", "Symptoms improved since intake"),
    # v4 phrase families
    ("Current meds: none at this time.", "medication_prescription_and_monitoring",
     "Current meds: none at this time"),
    ("Reports taking them as directed.", "medication_prescription_and_monitoring", "taking them as directed"),
    ("He reports pretty good med adherence.", "medication_prescription_and_monitoring", "good med adherence"),
    ("BASC-3 parent report: hyperactivity T-score 71.", "clinical_test_results", "hyperactivity T-score 71"),
    # a summary section's header gives its whole body (header included) its category (medSpaCy's sectionizer)
    ("MSE: constricted affect, fair eye contact.", "summary_symptoms", "MSE: constricted affect, fair eye contact"),
    ("Projected discharge date 6/30.", "summary_treatment_plan", "Projected discharge date 6/30"),
    ("Missed three classes this week due to panic.", "summary_functional_status",
     "Missed three classes this week due to panic"),
    ("Panic has largely subsided.", "summary_progress_to_date", "Panic has largely subsided"),
    ("Mood symptoms improved over the past six weeks.", "summary_progress_to_date",
     "Mood symptoms improved over the past six weeks"),
    ("Attended 5 of 8 group sessions.", "summary_progress_to_date", "Attended 5 of 8 group sessions"),
    ("Urges now 2x/wk vs daily.", "summary_progress_to_date", "Urges now 2x/wk vs daily"),
    ("Anxiety symptoms decreased 25% since March.", "summary_progress_to_date",
     "Anxiety symptoms decreased 25% since March"),
    # v6 conventions (blind batches f and g): a session's length is session times, sleep and
    # appetite amounts are functional status, a drug level is a test result, and a clinician's
    # negative is a symptom summary reported with its negation
    ("Duration: 45 min.", "session_start_stop_times", "Duration: 45 min"),
    ("Today's session lasted 60 minutes.", "session_start_stop_times", "session lasted 60 minutes"),
    ("We met for 50 minutes.", "session_start_stop_times", "We met for 50 minutes"),
    ("Session began 15 minutes late.", "session_start_stop_times", "Session began 15 minutes late"),
    ("Client left early at 3:35.", "session_start_stop_times", "left early at 3:35"),
    ("Sleeping 4-5 hrs/night.", "summary_functional_status", "Sleeping 4-5 hrs/night"),
    ("Appetite poor.", "summary_functional_status", "Appetite poor"),
    ("Appetite decreased, eating one meal a day.", "summary_functional_status",
     "Appetite decreased, eating one meal a day"),
    ("Valproate level subtherapeutic at 38.", "clinical_test_results", "Valproate level subtherapeutic at 38"),
    ("Lithium 0.9 mEq/L.", "clinical_test_results", "Lithium 0.9 mEq/L"),
    ("Li level pending.", "medication_prescription_and_monitoring", "Li level pending"),  # ordered, not resulted
    ("Denies suicidal ideation.", "summary_symptoms", "Denies suicidal ideation"),
    ("No evidence of psychosis.", "summary_symptoms", "No evidence of psychosis"),
    ("No current SI, HI, or AVH.", "summary_symptoms", "No current SI, HI, or AVH"),
    # v6 phrase families
    ("Reports two panic attacks since last visit.", "summary_symptoms", "two panic attacks since last visit"),
    ("Cravings for alcohol daily, strongest after work.", "summary_symptoms", "Cravings for alcohol daily"),
    ("Panic attacks 2-3 times per week.", "summary_symptoms", "Panic attacks 2-3 times per week"),
    ("Hypervigilant in public places.", "summary_symptoms", "Hypervigilant in public places"),
    ("Still checking the stove 20-30 times before leaving the house.", "summary_symptoms",
     "checking the stove 20-30 times before leaving the house"),
    ("Her hopelessness was palpable today.", "summary_symptoms", "Her hopelessness was palpable today"),
    ("Sobriety maintained x 90 days.", "summary_progress_to_date", "Sobriety maintained x 90 days"),
    ("Compared with intake, her depressive symptoms have roughly halved.", "summary_progress_to_date",
     "Compared with intake, her depressive symptoms have roughly halved"),
    ("Since we started DBT she has fewer blow-ups.", "summary_progress_to_date", "fewer blow-ups"),
    ("PHQ-9 down from 19 to 11 over 8 weeks.", "clinical_test_results", "PHQ-9 down from 19 to 11"),
    ("Attends IOP 3 days/week.", "modalities_and_frequencies_of_treatment", "Attends IOP 3 days/week"),
    ("Goal for next month: attend two AA meetings per week.", "summary_treatment_plan",
     "Goal for next month: attend two AA meetings per week"),
    ("Pt is independent in self-care.", "summary_functional_status", "independent in self-care"),
    ("Showering only once a week.", "summary_functional_status", "Showering only once a week"),
    ("Spends most of the day in bed.", "summary_functional_status", "Spends most of the day in bed"),
    ("Presents as anxious and tearful.", "summary_symptoms", "Presents as anxious and tearful"),
    ('Mood described as "flat".', "summary_symptoms", 'Mood described as "flat"'),
    ("Increased irritability and conflict at home over the past two weeks.", "summary_symptoms",
     "Increased irritability and conflict at home"),
    ("Improvement in mood noted.", "summary_progress_to_date", "Improvement in mood noted"),
    ("Treatment response has been partial.", "summary_progress_to_date", "Treatment response has been partial"),
    ("Has not self-harmed in over three months.", "summary_progress_to_date", "Has not self-harmed in over three months"),
    ("Fewer arguments with her partner over the last month.", "summary_progress_to_date",
     "Fewer arguments with her partner over the last month"),
    ("Depression has lifted considerably since the summer.", "summary_progress_to_date",
     "Depression has lifted considerably since the summer"),
    ("No med changes this visit.", "medication_prescription_and_monitoring", "No med changes"),
    ("Plan remains weekly CBT with exposure work.", "summary_treatment_plan", "Plan remains weekly CBT with exposure work"),
    ("Mood low, affect constricted.", "summary_symptoms", "Mood low, affect constricted"),
    ("Weight down 6 lbs since last month.", "summary_symptoms", "Weight down 6 lbs"),
    ("No reported side effects.", "medication_prescription_and_monitoring", "No reported side effects"),
    ("Exposure hierarchy started.", "modalities_and_frequencies_of_treatment", "Exposure hierarchy started"),
    ("Able to return to part-time work.", "summary_functional_status", "Able to return to part-time work"),
]


@pytest.mark.parametrize("text,category,evidence", POSITIVES)
def test_found_with_exact_span(text, category, evidence):
    findings = lint(text)
    _check_invariants(text, findings)
    hits = [f for f in findings if f.category == category]
    assert [f.text for f in hits] == [evidence]
    start = text.index(evidence)
    assert (hits[0].start, hits[0].end) == (start, start + len(evidence))


# --- must NOT be found ---------------------------------------------------------------------

NEGATIVES = [
    "I noticed my own irritation when she talked about her father.",
    "The transference feels maternal.",
    "She dreamt of a locked door.",
    "Hypothesis: the anger protects her from grief.",
    "She was 12 when her parents divorced.",
    "At 3 am she called her sister.",
    "In the dream her mother handed her a bottle of Xanax.",
    "In the dream he was writing a prescription for 40 mg of something.",
    "Her daughter takes Adderall for school.",
    "His wife says he's 'so OCD' about the dishes.",
    "Her son's ADHD evaluation is next month.",
    "He works the 7-3 shift.",
    "The meeting with his boss is from 9:00 to 9:30 on Monday.",
    "He paid $90 for the ticket.",
    "Her father's AA meetings every Tuesday were the only calm time.",
    # v4 context: someone else's diagnosis or prognosis, a diagnosis word as a modifier, a
    # modality read about, a medication mused about, functioning named as a goal
    "Her aunt was diagnosed with schizophrenia in her twenties.",
    "FHx: father with alcohol use disorder.",
    "Dad has PTSD from Iraq.",
    "She bought an OCD workbook and hid it from her husband.",
    "He listened to a podcast about DBT and thinks it sounds 'culty.'",
    "Her surgeon says the prognosis is excellent after the biopsy.",
    "If she ever restarts Zoloft she wants it to be her decision.",
    "One of her goals is to get back to work by spring.",
    "He got a 30 on his ACT.",
    # v6: lengths of other things, a symptom word opening a story, a relative's level, everyday progress
    "He spent 20 minutes describing the argument with his boss.",
    "She talked for 20 minutes about her sister.",
    "He talks about work in 15-minute bursts before circling back to his mother.",
    "Worry about her son took up most of the hour.",
    "Her mother's lithium level was high last month.",
    "They have made real progress on the kitchen renovation, she told me, laughing.",
    "The last ten minutes felt heavier than the first forty.",
    "Nightmares were a big part of her childhood.",
    "The project at work made real progress this week.",
    "Crying, she described the funeral.",
    "If he were diagnosed with ADHD, he says, it would explain a lot.",
    "Her plan is to repaint the kitchen this weekend.",
    "Her daughter's session ran 20 minutes over.",
    "She arrived 15 minutes late and was flustered.",
    "He no longer speaks to his brother.",
    "The kids have been sleeping 10 hours a night.",
]


@pytest.mark.parametrize("text", NEGATIVES)
def test_process_notes_and_narrative_are_clean(text):
    assert lint(text) == []


def test_drug_in_dream_clause_does_not_hide_a_real_prescription():
    text = "Increased sertraline to 100 mg; she dreamt of a door."
    assert [f.text for f in lint(text)] == ["Increased sertraline to 100 mg"]


def test_side_effects_in_a_medication_entry_are_not_a_symptom_summary():
    cats = _cats("Started Zoloft 50 mg; c/o headaches and nausea since.")
    assert cats == {"medication_prescription_and_monitoring"}
    assert "summary_symptoms" in _cats("Reports headaches and nausea most days.")


def test_a_change_right_after_a_score_stays_with_the_score():
    assert _cats("PHQ-9 = 9 today, down from 15.") == {"clinical_test_results"}


def test_a_length_goes_to_session_times_and_its_format_to_modality():
    found = {(f.category, f.text) for f in lint("90834 psychotherapy, 45 min.")}
    assert found == {("modalities_and_frequencies_of_treatment", "90834"), ("session_start_stop_times", "45 min")}
    found = {(f.category, f.text) for f in lint("50 min, individual.")}
    assert found == {("session_start_stop_times", "50 min"), ("modalities_and_frequencies_of_treatment", "individual")}


def test_sleep_amounts_are_functioning_and_named_sleep_symptoms_are_symptoms():
    found = {(f.category, f.text) for f in lint("Sleep remains poor, 3-4 hours a night, with frequent waking.")}
    assert found == {("summary_functional_status", "Sleep remains poor, 3-4 hours a night"),
                     ("summary_symptoms", "frequent waking")}
    assert _cats("Pt endorses increased appetite and hypersomnia.") == {"summary_symptoms"}


def test_a_plan_verb_used_as_a_noun_is_not_a_plan():
    assert _cats("Prescriber discontinued lorazepam; taper completed 3/2.") == {"medication_prescription_and_monitoring"}
    assert [f.text for f in lint("Referral to IOP discussed; pt will consider.")] == ["Referral to IOP discussed"]


def test_a_technique_used_for_a_purpose_is_not_the_clients_past():
    assert _cats("Motivational interviewing used to explore ambivalence about drinking.") == {
        "modalities_and_frequencies_of_treatment"}
    assert lint("She used to take Adderall in college.") == []


def test_session_range_must_be_session_length():
    assert _cats("Session 9:00-17:00.") == set()          # 8 hours: not a session
    assert _cats("Seen 12:50-1:40.") == {"session_start_stop_times"}  # wraps the 12-hour clock


def test_empty_and_whitespace():
    assert lint("") == []
    assert lint("   \n\t") == []


def test_type_error_on_non_str():
    with pytest.raises(TypeError):
        lint(b"PHQ-9 = 14")  # type: ignore[arg-type]


# --- data shape ------------------------------------------------------------------------------

def test_finding_is_frozen_and_to_dict_has_four_keys():
    f = lint("PHQ-9 = 14.")[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.start = 3  # type: ignore[misc]
    assert f.to_dict() == {"category": "clinical_test_results", "start": 0, "end": 10, "text": "PHQ-9 = 14"}
    assert f.suggestion == "move to the progress note: clinical test results"


def test_unicode_offsets_are_code_points():
    text = "S\u00e9ance \U0001F642 \u2014 na\u00efve caf\u00e9 talk; PHQ\u20119 = 12, GAD\u20117 score of 9. Dx F41.1"
    findings = lint(text)
    _check_invariants(text, findings)
    got = {(f.category, f.text) for f in findings}
    # adjacent results joined only by ", " are one finding
    assert ("clinical_test_results", "PHQ\u20119 = 12, GAD\u20117 score of 9") in got
    assert ("summary_diagnosis", "Dx F41.1") in got
    start = text.index("PHQ")
    assert [f.start for f in findings if f.category == "clinical_test_results"] == [start]


def test_findings_sorted_and_non_overlapping_in_a_long_note():
    rows = [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines()]
    note = "\n".join(r["text"] for r in rows)
    findings = lint(note)
    _check_invariants(note, findings)
    assert lint(note) == findings  # deterministic


def test_gating_loses_nothing():
    """The trigger tables are an optimisation only: gated == full scan."""
    rows = [json.loads(line)["text"] for line in LABELS.read_text(encoding="utf-8").splitlines()]
    rng = random.Random(7)
    notes = rows + [" ".join(rng.sample(rows, 40)) for _ in range(5)] + ["\n".join(rows)]
    for text in notes:
        assert lint_mod._spans(text) == lint_mod._spans(text, gated=False)


def test_findings_name_the_rules_that_produced_them():
    by_name = {r.name: r for r in lint_mod.RULES}
    rows = [json.loads(line)["text"] for line in LABELS.read_text(encoding="utf-8").splitlines()]
    for text in rows:
        for f in lint(text):
            assert f.rules and f.rules == tuple(sorted(set(f.rules)))
            # the learned tagger (confide.hipaa.lint.learned) names itself, not a rule
            assert all(by_name[n].category == f.category for n in f.rules if n != learned.RULE_NAME)
    f = lint("Increased sertraline to 100 mg.")[0]
    assert "medication.prescribing_verb_with_drug" in f.rules and "medication.dose_with_unit" in f.rules
    assert "rules" not in f.to_dict()


def test_rules_are_named_declared_per_category_and_cite_the_cfr():
    import importlib

    names = [r.name for r in lint_mod.RULES]
    assert len(names) == len(set(names))
    assert {r.category for r in lint_mod.RULES} == set(CATEGORIES)
    for module in {n.split(".")[0] for n in names}:
        mod = importlib.import_module(f"confide.hipaa.lint.{module}")
        assert "45 CFR 164.501" in mod.__doc__
        assert {r.category for r in mod.RULES} == {mod.CATEGORY}
        assert all(r.name.startswith(module + ".") for r in mod.RULES)


def test_every_word_list_is_package_data_and_used():
    from importlib.resources import files

    from confide.hipaa.lint import lexicons

    shipped = {p.name for p in files("confide.hipaa.lint").joinpath("data").iterdir() if p.name.endswith(".txt")}
    source = Path(lexicons.__file__).read_text(encoding="utf-8")
    assert shipped and all(f'load("{name}")' in source for name in shipped)
    assert all(lexicons.load(name) for name in shipped)


# Speed is measured by bench/lint_speed.py (house rule: speed goals live in benchmarks, not in
# timed tests, which flake on a shared machine); the gating test above keeps the optimisation exact.


# --- labelled set and quality -------------------------------------------------------------

def test_labelled_set_is_well_formed():
    rows = [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 120
    assert sum(1 for r in rows if not r["findings"]) >= 0.25 * len(rows)
    held = sum(1 for r in rows if r["split"] == "heldout")
    # Held-out batches only ever grow (batch d, written before lint v3, and batch e, written
    # before lint v4, are all held out); batches g, f and h, written blind and scored before lint
    # v5, v6 and v7, were then tuned on, and batch k was written as the learned tagger's training
    # data (bench/lint_quality.py BATCHES).  Keep both sides big enough to mean something.
    assert 0.28 <= held / len(rows) <= 0.75
    for b in {r.get("batch", "a") for r in rows} - {"a", "b", "f", "g", "h", "k"}:  # c, d, e, i: not tuned on
        assert all(r["split"] == "heldout" for r in rows if r.get("batch") == b)
    for r in rows:
        assert r["split"] in {"tuned", "heldout"}
        for lab in r["findings"]:
            assert lab["category"] in CATEGORIES
            assert lab["text"] in r["text"]


def test_the_never_trained_batch_stays_out_of_training_and_of_the_labelled_set():
    bench = _bench()
    never = bench.load(bench.NEVER_TRAINED)
    assert len(never) >= 150 and {r["batch"] for r in never} == {"j"}
    assert sum(1 for r in never if not r["labels"]) >= 0.4 * len(never)
    labelled = bench.load(LABELS)
    assert "j" not in {r["batch"] for r in labelled}
    # two writers may coincide on a short stock line ("Denies SI/HI."), not on more
    assert len({r["text"] for r in labelled} & {r["text"] for r in never}) <= 0.01 * len(never)
    # the tagger's recorded training data is the labelled set alone, and batch j is not among its batches
    meta = json.loads((Path(learned.__file__).parent / "data" / learned.META_FILE).read_text("utf-8"))
    assert "j" not in meta["batches"]
    assert meta["labelled_set_sha256"] == learned.labelled_set_sha256(LABELS.read_bytes())


def test_overall_precision_and_recall_on_labelled_set():
    bench = _bench()
    stats = bench.score(bench.load(LABELS))["overall"]
    assert stats["precision"] >= 0.85, stats
    assert stats["recall"] >= 0.85, stats


# --- CLI -------------------------------------------------------------------------------------

def test_cli_file(tmp_path):
    p = tmp_path / "note.txt"
    p.write_text("Caf\u00e9 talk. PHQ-9 = 14 today.", encoding="utf-8")
    res = CliRunner().invoke(lint_cli, [str(p)])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out == [{"category": "clinical_test_results", "start": 11, "end": 21, "text": "PHQ-9 = 14"}]


def test_cli_stdin_and_no_findings():
    res = CliRunner().invoke(lint_cli, ["-"], input="She dreamt of a locked door.")
    assert res.exit_code == 0
    assert json.loads(res.stdout) == []
    res = CliRunner().invoke(lint_cli, ["-"], input="Started Lexapro 10 mg.")
    assert res.exit_code == 0
    assert [f["category"] for f in json.loads(res.stdout)] == ["medication_prescription_and_monitoring"]


def test_cli_missing_file_exits_2(tmp_path):
    res = CliRunner().invoke(lint_cli, [str(tmp_path / "nope.txt")])
    assert res.exit_code == 2
    assert "cannot read" in res.stderr
    assert res.stdout == ""


def test_cli_undecodable_file_exits_2_without_echoing_text(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_bytes(b"PHQ-9 = 14 \xff\xfe")
    res = CliRunner().invoke(lint_cli, [str(p)])
    assert res.exit_code == 2
    assert "PHQ" not in res.stderr
