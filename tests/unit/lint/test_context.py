"""Context of the 45 CFR 164.501 lint's candidates, read by medSpaCy's ConText and sectionizer
(confide.hipaa.lint.context): whose, real or imagined, when, and which note section.

Each test states a behaviour with a pair where it can: the same clinical words reported in the
client's own clinical context and not reported in the other context.
"""

from __future__ import annotations

import json
import logging
from importlib.resources import files

import pytest

from confide.hipaa.lint import CATEGORIES, lint
from confide.hipaa.lint import context as ctx
from confide.hipaa.lint.engine import CONTEXT_VETO


def _found(text: str) -> set[tuple[str, str]]:
    return {(f.category, f.text) for f in lint(text)}


def _cats(text: str) -> set[str]:
    return {f.category for f in lint(text)}


# --- negation: the clinician's summary vs the client's own words ----------------------------------

def test_negated_symptom_in_the_clients_own_words_is_not_a_summary():
    assert _cats("She says she has no anxiety at all, just stress from work.") == set()
    assert _cats('She said, "I\'m not depressed, I\'m just tired of everyone."') == set()


def test_the_clinicians_negation_is_still_a_symptom_summary():
    assert ("summary_symptoms", "anxiety") not in _found("Denies SI/HI.")  # sanity: no stray span
    assert "summary_symptoms" in _cats("Denies SI/HI.")
    assert "summary_symptoms" in _cats("Pt denies anxiety attacks and nightmares.")


def test_the_negation_must_reach_the_symptom_in_reported_speech():
    # reported speech without a negation is left to the symptom rules (a lone word is not a summary)
    text = "She says she has had panic attacks 3x/week since the move."
    assert ("summary_symptoms", "panic attacks 3x/week") in _found(text)


# --- someone else: family and other people ----------------------------------------------------------

@pytest.mark.parametrize("text", [
    "Her brother was diagnosed with schizophrenia last year.",
    "Dad has PTSD from Iraq.",
    "Her son takes Concerta for ADHD and she worries it makes him a zombie.",
    "She mentioned that her boss has bipolar disorder and doesn't take his pills.",
    "FHx: father with alcohol use disorder, mother with MDD.",
    "Family history:\nMother - bipolar I disorder\nMaternal uncle - schizophrenia\n",
])
def test_a_family_members_or_another_persons_diagnosis_is_not_the_clients(text):
    assert "summary_diagnosis" not in _cats(text)


def test_the_clients_own_diagnosis_beside_a_relative_is_reported():
    assert "summary_diagnosis" in _cats("Since her brother's death she meets criteria for MDD, recurrent.")
    assert "summary_diagnosis" in _cats("Her mother drove her to the session; dx remains PTSD (F43.10).")


@pytest.mark.parametrize("text", [
    "Her roommate started Lexapro 10 mg last week and keeps talking about it.",
    "Her husband started on Lexapro and she resents that he gets to be fixed.",
    "His teenage son's GAD-7 at the pediatrician came back high.",
    "Her partner's psychiatrist apparently doubled his Adderall.",
    "He talked about his father's DBT group as the thing that saved the old man.",
])
def test_another_persons_treatment_is_not_reported(text):
    assert lint(text) == []


def test_the_scope_of_a_relative_ends_when_the_clause_turns_back_to_the_client():
    text = "Since her father died, she has been taking clonazepam 1 mg at night."
    assert _cats(text) == {"medication_prescription_and_monitoring"}
    assert "summary_diagnosis" in _cats("Since her brother's death she meets criteria for MDD, recurrent.")
    # after a verb of saying or an object pronoun "she" may be the other person
    assert lint("Her mother says she takes Xanax every night.") == []
    assert lint("Her sister told her she should try Lexapro 10 mg like she did.") == []


def test_relatives_taking_part_in_the_clients_treatment_keep_it_the_clients():
    assert ("modalities_and_frequencies_of_treatment", "Family therapy with parents every other week") \
        in _found("Family therapy with parents every other week.")
    assert "medication_prescription_and_monitoring" in _cats("Her family doctor increased her Zoloft to 100 mg.")
    assert "clinical_test_results" in _cats("BASC-3 parent report: hyperactivity T-score 71.")


# --- imagined and hypothetical ---------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "If she ever restarts Zoloft she wants it to be her decision.",
    "I wonder what would happen if she ever tried lithium 300 mg.",
    "She joked that her cat needs Prozac more than she does.",
    "In the dream her mother handed her a bottle of Xanax.",
    "She is afraid she will end up on antidepressants like her mother.",
])
def test_hypothetical_or_imagined_medication_is_not_reported(text):
    assert "medication_prescription_and_monitoring" not in _cats(text)


def test_a_conditional_prescription_or_plan_is_still_reported():
    text = "If sleep does not improve, increase trazodone to 100 mg."
    assert ("medication_prescription_and_monitoring", "increase trazodone to 100 mg") in _found(text)
    assert "summary_treatment_plan" in _cats("If SI recurs, will call the crisis line and refer to IOP.")


def test_a_hypothetical_frequency_is_not_treatment_furnished_but_a_real_one_is():
    assert lint("If she had insurance she'd try EMDR.") == []
    assert lint("She asked whether I'd still see her weekly if she moved.") == []
    assert "modalities_and_frequencies_of_treatment" in _cats("We meet weekly for CBT.")


# --- other times, things read about, goals, prognoses -----------------------------------------------

def test_the_clients_past_life_and_things_read_about_are_not_current_treatment():
    assert lint("He used to take Adderall 20 mg in college.") == []
    assert lint("She lost her job at 22 and it still feels like yesterday.") == []
    assert lint("He brought up a documentary on schizophrenia he watched.") == []
    assert "clinical_test_results" in _cats("EPDS 15 at 6 weeks postpartum.")  # "at 6 weeks" is no age


def test_functioning_named_as_a_goal_or_expected_by_a_prognosis_is_not_current_status():
    assert "summary_functional_status" not in _cats("One of her goals is to get back to work by spring.")
    found = _cats("Outlook is good for full return to work by fall.")
    assert "summary_prognosis" in found and "summary_functional_status" not in found
    assert "summary_functional_status" in _cats("She returned to work part-time this week.")


def test_a_medical_prognosis_is_not_the_mental_health_prognosis():
    assert lint("Her mother's oncologist says the prognosis is poor.") == []
    assert lint("Her surgeon says the prognosis is excellent after the biopsy.") == []
    assert "summary_prognosis" in _cats("Prognosis guarded given ongoing SI.")


def test_a_reason_given_for_a_prognosis_is_current():
    found = lint("Prognosis guarded given ongoing SI and poor adherence to meds.")
    assert [f.text for f in found if f.category == "summary_symptoms"] == ["ongoing SI"]  # a modifier is part of the symptom


# --- section headers (medSpaCy's sectionizer) ----------------------------------------------------

@pytest.mark.parametrize("text,category,evidence", [
    ("Plan: f/u in 1 week.", "summary_treatment_plan", "Plan: f/u in 1 week"),
    ("P: Continue weekly CBT; f/u 2 wks; coordinate with prescriber re: sertraline increase.",
     "summary_treatment_plan", "P: Continue weekly CBT; f/u 2 wks; coordinate with prescriber re: sertraline increase"),
    ("Homework: thought record daily.", "summary_treatment_plan", "Homework: thought record daily"),
    ("Prgn: favorable.", "summary_prognosis", "Prgn: favorable"),
    ("MSE: constricted affect, fair eye contact.", "summary_symptoms", "MSE: constricted affect, fair eye contact"),
])
def test_a_summary_section_header_gives_its_whole_body_the_category(text, category, evidence):
    assert (category, evidence) in _found(text)


@pytest.mark.parametrize("text,category,evidence", [
    ("Dx: persistent low-grade sadness, rule out something else.", "summary_diagnosis",
     "Dx: persistent low-grade sadness, rule out something else"),
    ("Meds: none.", "medication_prescription_and_monitoring", "Meds: none"),
    ("Start/stop: 1300-1350.", "session_start_stop_times", "Start/stop: 1300-1350"),
    ("Modality: supportive work on values, 1x/week.", "modalities_and_frequencies_of_treatment",
     "Modality: supportive work on values, 1x/week"),
])
def test_a_tight_section_body_is_reported_where_no_rule_found_it(text, category, evidence):
    assert (category, evidence) in _found(text)


def test_a_tight_section_body_never_carries_session_content_with_it():
    # excerpts of these categories are released verbatim from psychotherapy notes (notes.views):
    # the body ends at its first clause, a rule's tighter span wins, and it must have the shape
    found = lint("Medication: fluoxetine 20 mg daily; she sells half her pills to her coworker.")
    assert [f.text for f in found] == ["fluoxetine 20 mg daily"]
    assert lint("Meds: she talked about selling her pills to a coworker.") == []
    assert [f.text for f in lint("Dx: F33.1 today.")] == ["Dx: F33.1"]
    assert "summary_diagnosis" in _cats("Dx: persistent sadness; she cried about her father.")
    assert all("father" not in f.text for f in lint("Dx: persistent sadness; she cried about her father."))


def test_a_header_that_ends_its_line_gives_each_following_line_the_category():
    text = "Session summary.\nPlan:\n- continue current approach\n- check in with school\n\nShe cried at the end."
    plan = [f.text for f in lint(text) if f.category == "summary_treatment_plan"]
    assert plan == ["- continue current approach", "- check in with school"]


def test_a_header_counts_only_at_the_start_of_a_line_or_sentence():
    assert "summary_treatment_plan" not in _cats("She told me her plan: quit the job and move to Denver.")
    assert "summary_treatment_plan" in _cats("She cried. Plan: continue the current approach.")


def test_a_family_history_section_gives_its_body_the_family_context():
    text = "FHx:\nMother on lithium 900 mg for bipolar I disorder\n\nDx: bipolar II disorder."
    found = _found(text)
    assert ("summary_diagnosis", "bipolar II disorder") in found
    assert not any("Mother" in t for _c, t in found)


# --- everyday senses -------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "He said the jam session ran from 8:00 to 9:30 and was the best part of his week.",
    "He's making progress on the deck he's building.",
    "She has a plan to repaint the kitchen this weekend.",
    "She plans to schedule a trip to see her sister.",
    "The group she runs at church meets biweekly and she finds it draining.",
    "He talked about his weekly visits to his father at the nursing home.",
    "She described the CBT workbook her roommate uses as corny.",
    "He described the driving test he failed at seventeen in vivid detail.",
    "She keeps a dose of humor ready whenever sadness approaches.",
    "She described her diagnosis of the problem with her car as total guesswork.",
])
def test_everyday_senses_of_clinical_words_are_not_reported(text):
    assert lint(text) == []


# --- the rule files and the pipeline ----------------------------------------------------------------

def test_every_context_and_section_rule_of_ours_says_why_and_uses_known_categories():
    data = json.loads(files("confide.hipaa.lint").joinpath("data", "context_rules.json").read_text("utf-8"))
    for entry in data["context_rules"] + data["disabled_default_rules"]:
        assert entry["why"].strip()
    assert {e["category"] for e in data["context_rules"]} <= ctx.CONTEXT_CATEGORIES
    sections = json.loads(files("confide.hipaa.lint").joinpath("data", "section_rules.json").read_text("utf-8"))
    for entry in sections["section_rules"]:
        assert entry["why"].strip() and entry["literals"]
        assert entry["category"] in CATEGORIES or entry["category"] in ctx.CONTEXT_CATEGORIES
    # the pipeline holds medSpaCy's defaults (less the disabled ones) and ours
    literals = {r.literal for r in ctx.PIPELINE.context.rules}
    assert {"no", "if", "but"} <= literals and "as needed" not in literals
    assert {"roommate", "what if"} <= literals


def test_a_rule_without_why_is_refused(monkeypatch):
    real = ctx._data

    def without_why(name):
        data = real(name)
        data["context_rules"][0] = {k: v for k, v in data["context_rules"][0].items() if k != "why"}
        return data

    monkeypatch.setattr(ctx, "_data", without_why)
    with pytest.raises(ValueError, match="has no 'why'"):
        ctx.context_rules()


def test_every_category_says_which_contexts_veto_it():
    assert set(CONTEXT_VETO) == set(CATEGORIES)
    for vetoes in CONTEXT_VETO.values():
        assert vetoes and all(v <= ctx.CONTEXT_CATEGORIES for v in vetoes)


def test_the_pipeline_is_built_once_and_shared(monkeypatch):
    built = ctx.PIPELINE

    def refuse(*_a, **_k):
        raise AssertionError("the pipeline was built again")

    monkeypatch.setattr(ctx, "_Pipeline", refuse)
    assert lint("Her brother takes Adderall 20 mg.") == []
    assert lint("Started Adderall 20 mg.") != []
    assert ctx.PIPELINE is built


def test_linting_logs_nothing(caplog):
    from loguru import logger

    seen: list[str] = []
    sink = logger.add(seen.append, level="TRACE")
    try:
        with caplog.at_level(logging.DEBUG):
            lint("FHx: mother with MDD.\nPlan: increase sertraline to 100 mg; f/u 2 wks.")
    finally:
        logger.remove(sink)
    assert seen == [] and caplog.records == []


def test_sentences_split_at_stops_semicolons_and_lines_but_not_abbreviations():
    text = "Seen by Dr. Kim at 2 p.m. today; f/u 2 wks. She cried.\nNext line"
    assert [text[a:b] for a, b in ctx.sentence_spans(text)] == [
        "Seen by Dr. Kim at 2 p.m. today;", "f/u 2 wks.", "She cried.", "Next line"]
