"""The Synthea parser over the shipped bundles (read in place): real dates, valid codes, schema-valid notes."""
import gzip
import json
import re
from collections import Counter
from datetime import datetime

import pytest

from confide.hipaa.lint import lint
from confide_app import synthea
from notes.schemas import ICD10CM, ProgressNoteContentSchema

pytestmark = []


@pytest.fixture(scope="module")
def folder():
    path = synthea.synthea_dir()
    if not any(path.rglob("*.json.gz")):
        pytest.fail(f"shipped Synthea data not found under {path} (set CONFIDE_DATA_DIR)")
    return path


@pytest.fixture(scope="module")
def stats():
    return Counter()


@pytest.fixture(scope="module")
def patients(folder, stats):
    found = synthea.load_patients(folder.parent, stats=stats)
    assert found, f"no patients with notes parsed from {folder}"  # the tests below loop over these
    return found


@pytest.fixture(scope="module")
def raw(folder, patients):
    """patient id -> {encounter id: Encounter, "obs": [Observation]} straight from the gzip files."""
    out = {}
    for p in patients:
        with gzip.open(folder / p.source, "rt") as fh:
            bundle = json.load(fh)
        res = [e["resource"] for e in bundle["entry"]]
        out[p.patient_id] = {
            "encounters": {r["id"]: r for r in res if r["resourceType"] == "Encounter"},
            "observations": [r for r in res if r["resourceType"] == "Observation"],
        }
    return out


def test_reads_every_shipped_bundle_and_keeps_mh_patients(patients, stats):
    assert stats["bundles"] == 44
    assert len(patients) == stats["patients_with_notes"] >= 15
    assert sum(len(p.progress_notes) for p in patients) == stats["notes"] >= 200
    # several notes per MH patient on the whole
    assert sum(len(p.progress_notes) >= 3 for p in patients) >= len(patients) // 2
    assert stats["candidates"] == stats["notes"] + stats["skipped_period"] + stats["skipped_no_mh_diagnosis"] \
        + stats["skipped_no_author"]


def test_every_progress_note_passes_the_notes_service_schema(patients):
    for p in patients:
        for note in p.progress_notes:
            loaded = ProgressNoteContentSchema().load(note["content"])
            assert loaded["stop_time"] > loaded["start_time"]
            assert note["patient_id"] == p.patient_id
            assert note["author"]["role"] == "clinician" and note["author"]["id"]


def test_session_dates_and_times_are_the_encounter_period(patients, raw):
    for p in patients:
        for note in p.progress_notes:
            enc = raw[p.patient_id]["encounters"][note["encounter_id"]]
            start = datetime.fromisoformat(enc["period"]["start"])
            end = datetime.fromisoformat(enc["period"]["end"])
            c = note["content"]
            assert c["session_date"] == start.date().isoformat()
            assert c["start_time"] == start.time().isoformat()
            assert c["stop_time"] == end.time().isoformat()


def test_diagnosis_codes_are_valid_mental_health_icd10(patients):
    allowed = {code for code, _ in synthea.SNOMED_TO_ICD10.values()}
    seen = Counter()
    for p in patients:
        for note in p.progress_notes:
            for code in note["content"]["diagnosis_codes"]:
                assert re.match(ICD10CM, code), code
                assert code.startswith("F") and code in allowed
                seen[code] += 1
    assert {"F32.9", "F43.10", "F90.0", "F19.20"} <= set(seen)


def test_scores_are_in_range_and_taken_from_the_bundle(patients, raw):
    phq_seen = gad_seen = 0
    for p in patients:
        values = {}
        for o in raw[p.patient_id]["observations"]:
            code = o["code"]["coding"][0]["code"]
            if "valueQuantity" in o:
                values.setdefault(code, set()).add(round(o["valueQuantity"]["value"]))
        for note in p.progress_notes:
            tests = note["content"]["clinical_tests"]
            if tests["phq9"] is not None:
                phq_seen += 1
                assert 0 <= tests["phq9"] <= 27
                assert tests["phq9"] in values.get("44261-6", set()) | values.get("89204-2", set())
            if tests["gad7"] is not None:
                gad_seen += 1
                assert 0 <= tests["gad7"] <= 21
                assert tests["gad7"] in values["70274-6"]
    assert phq_seen >= 1 and gad_seen >= 5


def test_cpt_follows_encounter_kind_and_duration(patients, raw):
    cpts = Counter()
    for p in patients:
        for note in p.progress_notes:
            enc = raw[p.patient_id]["encounters"][note["encounter_id"]]
            cpt = note["content"]["cpt_code"]
            cpts[cpt] += 1
            if any(c["code"] == "79094001" for t in enc["type"] for c in t["coding"]):
                assert cpt == "90791"
    assert cpts["90791"] >= 5 and cpts["90832"] + cpts["90834"] + cpts["90837"] >= 100
    assert synthea.cpt_for("psychotherapy", 37) == "90832"
    assert synthea.cpt_for("psychotherapy", 38) == "90834"
    assert synthea.cpt_for("psychotherapy", 53) == "90837"


def test_medications_name_and_dose_from_the_display(patients):
    meds = [m for p in patients for n in p.progress_notes for m in n["content"]["medications"]]
    names = {m["name"].lower() for m in meds}
    assert {"sertraline", "fluoxetine"} <= names
    assert synthea.split_medication("Sertraline 100 MG Oral Tablet") == ("Sertraline", "100 MG Oral Tablet")
    assert synthea.split_medication("FLUoxetine 20 MG Oral Capsule") == ("FLUoxetine", "20 MG Oral Capsule")


def test_exafluence_authors_resolve_through_the_practitioner_directory(patients, folder):
    directory = synthea.load_practitioner_directory(folder / "exafluence-qicore-2025" / "new_york")
    assert directory
    exa = [n for p in patients if p.source.startswith("exafluence") for n in p.progress_notes]
    assert exa and all(n["author"]["id"].startswith("npi-9999") for n in exa)
    assert any(n["author"]["id"][4:] in directory for n in exa)


def test_every_third_note_has_a_synthetic_psychotherapy_note(patients):
    for p in patients:
        by_id = {n["note_id"]: (i, n) for i, n in enumerate(p.progress_notes)}
        assert len(p.psychotherapy_notes) == len(p.progress_notes) // 3
        for pn in p.psychotherapy_notes:
            index, progress = by_id[pn["progress_note_id"]]
            assert index % 3 == 2
            assert pn["author"] == progress["author"]
            assert pn["session_date"] == progress["content"]["session_date"]
            assert pn["text"] in synthea.PROCESS_NOTE_TEMPLATES


def test_process_templates_hold_no_excluded_content():
    for text in synthea.PROCESS_NOTE_TEMPLATES:
        assert lint(text) == []


def test_ids_are_deterministic_and_limit_counts_patients_with_notes(folder, patients):
    again = synthea.load_patients(folder, limit=3)
    assert [p.patient_id for p in again] == [p.patient_id for p in patients[:3]]
    assert [n["note_id"] for n in again[0].progress_notes] == [n["note_id"] for n in patients[0].progress_notes]


def test_empty_folder_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        synthea.load_patients(tmp_path)
