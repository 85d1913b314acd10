"""Word lists of the 45 CFR 164.501 lint, loaded from the package's ``data/*.txt`` files.

Each file holds one term per line (``#`` starts a comment line); terms are matched
case-insensitively, a space in a term matches any run of whitespace or a dash, and a hyphen any dash.  The
lists are data so that a clinician can review or extend them without reading regular
expressions; the rules that use them live in the category modules.
"""

from __future__ import annotations

from importlib.resources import files

from ._regex import alt


def load(name: str) -> tuple[str, ...]:
    """The terms of ``data/<name>``, in file order, without comments and blank lines."""
    text = files(__package__).joinpath("data", name).read_text(encoding="utf-8")
    return tuple(s for s in (line.strip() for line in text.splitlines()) if s and not s.startswith("#"))


# ---- medication -------------------------------------------------------------------------------
DRUG_TERMS = load("drugs.txt")
#: A drug name (no word boundaries; see :data:`DRUG`).
DRUG_NAME = alt(DRUG_TERMS)
#: A drug name as a whole word.
DRUG = r"\b" + DRUG_NAME + r"\b"
DRUG_CLASS_TERMS = load("drug_classes.txt")
DRUG_CLASS = alt(DRUG_CLASS_TERMS)
PRESCRIBING_VERB = alt(load("prescribing_verbs.txt"))
MEDICATION_COURSE_VERB = alt(load("medication_course_verbs.txt"))
SIDE_EFFECT_TERMS = load("side_effects.txt")
SIDE_EFFECT = alt(SIDE_EFFECT_TERMS)

# ---- modality and frequency -------------------------------------------------------------------
MODALITY_TERMS = load("modalities.txt")
MODALITY_NAME = alt(MODALITY_TERMS)
TECHNIQUE_TERMS = load("techniques.txt")
TECHNIQUE_NAME = alt(TECHNIQUE_TERMS)
FREQUENCY_TERMS = load("treatment_frequencies.txt")
FREQUENCY = alt(FREQUENCY_TERMS) + r"\b"

# ---- clinical tests ---------------------------------------------------------------------------
# every hyphenated name also as spaced and run-together ("PHQ 9", "PHQ9", "BDI II")
SCALE_TERMS = tuple(sorted({v for w in load("clinical_scales.txt")
                            for v in (w, w.replace("-", " "), w.replace("-", ""))}))
SCALE = rf"\b{alt(SCALE_TERMS)}(?![\w-])"
LAB_TERMS = load("lab_tests.txt")
LAB = rf"\b{alt(LAB_TERMS)}\b"

# ---- diagnosis --------------------------------------------------------------------------------
DIAGNOSIS_TERMS = load("diagnoses.txt")
DIAGNOSIS_NAME = alt(DIAGNOSIS_TERMS)

# ---- symptoms ---------------------------------------------------------------------------------
SYMPTOM_TERMS = load("symptoms.txt")
#: A symptom word or phrase that can stand on its own ("insomnia", "racing thoughts").
SYMPTOM = alt(SYMPTOM_TERMS)
#: Zero or more of these precede a symptom ("poor", "nightly", "passive"), each followed by space.
SYMPTOM_MODIFIER = r"(?:\b" + alt(load("symptom_modifiers.txt")) + r"\s+)"

# ---- treatment plan ---------------------------------------------------------------------------
PLAN_VERB_TERMS = load("plan_verbs.txt")
PLAN_VERB = alt(PLAN_VERB_TERMS)

# ---- progress ---------------------------------------------------------------------------------
PROGRESS_ADJECTIVE = alt(load("progress_adjectives.txt"))
PROGRESS_SUBJECT = alt(load("progress_subjects.txt"))
PROGRESS_CHANGE = alt(load("progress_changes.txt"))
