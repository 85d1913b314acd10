"""Synthea FHIR R4 patient Bundles → Confide progress-note and psychotherapy-note payloads.

Pure (standard library only): reads the shipped bundles IN PLACE from
``<data dir>/synthea`` (default ``confide.config.data_dir() / "synthea"``; never
copies them) and returns plain dicts shaped for the notes service's
``write_progress_note`` / ``write_psychotherapy_note`` RPCs.

Which encounters are behavioral-health sessions
-----------------------------------------------
An Encounter is a *candidate* when at least one of these holds (the reasons are
counted in :attr:`PatientImport.selection`):

- ``type``: its type is a mental-health encounter type (:data:`MH_ENCOUNTER_TYPES`:
  psychiatric interview 79094001, drug rehabilitation/detoxification 56876005,
  the PTSD-typed visits 47505003);
- ``reason``: its ``reasonCode`` is a mental-health condition (:data:`SNOMED_TO_ICD10`);
- ``diagnosis``: a mental-health Condition was recorded at it (``Condition.encounter``);
- ``psychotherapy``: a Procedure of that encounter is psychotherapy
  (SNOMED 228557008 "Cognitive and behavioral therapy");
- ``mh_note``: an Observation of that encounter is a LOINC "Mental health
  Outpatient/Telehealth Note" (75443-2 / 84215-3);
- ``screening``: an Observation of that encounter is a PHQ-9 (44261-6, teen
  89204-2) or GAD-7 (70274-6) total score.

A candidate becomes a note only if (a) at least one mental-health diagnosis is
on file for it — its MH ``reasonCode``s plus the MH Conditions active at the
encounter (onset ≤ encounter end, no abatement before its start), mapped to
ICD-10-CM with :data:`SNOMED_TO_ICD10` or taken from the Condition's own ICD-10-CM
coding — and (b) its ``period`` starts and ends on the same calendar day with
stop after start (multi-day inpatient stays are not one session). Candidates
that fail are counted under ``skipped_no_mh_diagnosis`` / ``skipped_period``.

What each progress note holds (only facts coded in the bundle)
--------------------------------------------------------------
- session date, start and stop time: ``Encounter.period`` as written (its own offset);
- CPT (:func:`cpt_for`): psychiatric interview → 90791; psychotherapy (a CBT
  Procedure or a mental-health note observation) → 90832 / 90834 / 90837 by the
  CPT time rule (< 38, 38–52, ≥ 53 minutes); a screening-only visit → 96127 (brief
  behavioral assessment with scoring); anything else → 90832;
- modality from the encounter type and class (telephone, inpatient, in person);
- frequency from the intervals between this patient's sessions up to this one;
- medications: psychotropic and addiction-treatment MedicationRequests
  (:data:`PSYCHOTROPIC_WORDS`) authored by the encounter's end that are still
  ``active`` or were ordered at this encounter; name and dose split from the
  RxNorm display ("Sertraline 100 MG Oral Tablet" → "Sertraline", "100 MG Oral Tablet");
- PHQ-9 / GAD-7: the latest total at or before the encounter's end within
  :data:`SCORE_LOOKBACK_DAYS`;
- symptoms / functional status / interventions / treatment plan / progress /
  risk: one-line summaries of the coded facts above (score bands, coded social
  findings, the encounter's procedures, active mental-health care plans, score
  changes, coded risk factors). No clinical narrative is invented; the risk level
  is a documented rule (:func:`risk_for`), marked as derived by the import.

Every third progress note (index 2, 5, 8, … per patient) also gets a synthetic
psychotherapy note by the same author: one of :data:`PROCESS_NOTE_TEMPLATES`,
short process-note text written for this demo (no data from the bundle).

Author: the encounter's first ``participant.individual``. smart-on-fhir bundles
reference a Practitioner in the bundle (``urn:uuid:``); Exafluence bundles use a
conditional reference ``Practitioner?identifier=<npi system>|<npi>`` resolved
through ``practitionerInformation*.json.gz`` in the same folder. The author id
is ``npi-<NPI>`` when an NPI is known, else ``practitioner-<resource id>``.

Note ids are deterministic (uuid5 of patient and encounter), so importing twice
names the same notes.

Errors: :func:`load_patients` raises FileNotFoundError when the folder holds no
bundle; a bundle that is not a FHIR Bundle raises ValueError naming the file.
"""
from __future__ import annotations

import csv
import gzip
import json
import re
import statistics
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Iterable, Optional

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
ICD10CM_SYSTEMS = ("http://hl7.org/fhir/sid/icd-10-cm", "http://hl7.org/fhir/sid/icd-10")
NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
NOTE_NS = uuid.UUID("0b8f3c1e-5a7d-4e0b-9a43-2f6c7d9e1a55")

#: SNOMED CT codes Synthea uses for mental-health conditions → ICD-10-CM (unspecified
#: or uncomplicated variant where SNOMED does not say more). ``(icd10, label)``.
SNOMED_TO_ICD10: dict[str, tuple[str, str]] = {
    "370143000": ("F32.9", "major depressive disorder, single episode, unspecified"),
    "36923009": ("F32.9", "major depression, single episode"),
    "66344007": ("F33.9", "recurrent major depression"),
    "268621008": ("F33.9", "recurrent major depressive episodes"),
    "80583007": ("F41.0", "panic disorder (severe anxiety)"),
    "197480006": ("F41.9", "anxiety disorder, unspecified"),
    "48694002": ("F41.1", "generalized anxiety disorder"),
    "5602001": ("F11.10", "opioid abuse, uncomplicated"),
    "6525002": ("F19.20", "other psychoactive substance dependence, uncomplicated"),
    "361055000": ("F19.10", "other psychoactive substance abuse, uncomplicated"),
    "7200002": ("F10.20", "alcohol dependence, uncomplicated"),
    "10939881000119105": ("F10.10", "alcohol abuse, uncomplicated (unhealthy drinking behavior)"),
    "192127007": ("F90.0", "ADHD, predominantly inattentive type (child ADD)"),
    "47505003": ("F43.10", "post-traumatic stress disorder, unspecified"),
}
#: Encounter types that are mental-health visits by themselves.
MH_ENCOUNTER_TYPES = {"79094001": "psychiatric interview", "56876005": "drug rehabilitation and detoxification",
                      "47505003": "post-traumatic stress disorder visit"}
PSYCHIATRIC_INTERVIEW = "79094001"
DETOX = "56876005"
PSYCHOTHERAPY_PROCEDURES = {"228557008"}
MH_NOTE_OBSERVATIONS = {"75443-2": "outpatient", "84215-3": "telehealth"}
PHQ9_CODES = ("44261-6", "89204-2")
GAD7_CODES = ("70274-6",)
SCORE_LOOKBACK_DAYS = 365
TELEPHONE_TYPES = {"185317003"}
#: Coded social findings (SNOMED) summarised as functional status.
SOCIAL_FINDINGS = {
    "160903007": "full-time employment", "160904001": "part-time employment", "73438004": "unemployed",
    "741062008": "not in labor force", "422650009": "social isolation", "423315002": "limited social contact",
    "73595000": "stress", "105531004": "housing unsatisfactory", "266934004": "transport problem",
    "713458007": "lack of access to transportation", "706893006": "victim of intimate partner abuse",
    "424393004": "reports of violence in the environment", "266948004": "has a criminal record",
}
#: Coded facts that raise the derived risk level to "moderate".
RISK_FACTOR_CODES = {"1149222004": "overdose", "55680006": "drug overdose", "706893006": "intimate partner abuse"}
#: Substrings (case-insensitive) of RxNorm displays kept as mental-health medications.
PSYCHOTROPIC_WORDS = (
    "sertraline", "fluoxetine", "citalopram", "escitalopram", "paroxetine", "bupropion", "venlafaxine",
    "duloxetine", "trazodone", "mirtazapine", "amitriptyline", "nortriptyline", "methylphenidate",
    "amphetamine", "atomoxetine", "guanfacine", "naltrexone", "buprenorphine", "methadone", "naloxone",
    "disulfiram", "acamprosate", "lorazepam", "alprazolam", "clonazepam", "diazepam", "buspirone",
    "hydroxyzine", "quetiapine", "aripiprazole", "risperidone", "olanzapine", "lithium", "lamotrigine",
    "prazosin", "nicotine",
)
#: Care-plan categories (SNOMED) treated as mental-health plans.
MH_CAREPLAN_WORDS = ("mental health", "psychiatr", "depressive", "therapy (regime", "substance", "anxiety")

#: Synthetic process-note texts (written for this demo; about the therapeutic process only).
PROCESS_NOTE_TEMPLATES = (
    "Process: client arrived guarded and tested the frame early by asking whether any of this helps. "
    "I felt the pull to reassure and named the hesitation instead. The alliance felt steadier by the end. "
    "For supervision: the testing may repeat an old expectation that helpers lose interest.",
    "Transference: client spoke to me as if I were keeping score. Countertransference: protective, then "
    "briefly impatient; I wonder whether that impatience mirrors what others around the client feel. "
    "For myself: slow down and let the silences run longer.",
    "The middle of the hour felt stuck; we circled the same story twice. When I reflected the circling the "
    "client laughed and said I had noticed. A small rupture and repair worth tracking. An image came up "
    "near the end, a door left half open; I did not pursue it and will listen for it again.",
    "Working hypothesis: humour arrives whenever shame comes close. Today I let a joke land, then went back "
    "gently to the moment before it, and the client stayed there a little longer than before. My own "
    "reaction: relief, and a wish to be liked that I should keep an eye on.",
    "Client brought a memory of a teacher who believed in them and then moved away, and watched my face "
    "while telling it. I think the story was also about us and the breaks between meetings. Not "
    "interpreted yet; holding it until the connection is sturdier.",
    "Much of the session was spent deciding what could be said in this room. I noticed I was working "
    "harder than the client and stepped back. Toward the end the client offered something unprompted, "
    "which felt like a test passed on both sides.",
)


@dataclass
class PatientImport:
    """One patient's import.

    ``progress_notes``: write_progress_note payloads {note_id, patient_id, author{id, role, credentials},
    content{...ProgressNoteContentSchema...}} plus ``encounter_id`` (not sent);
    ``psychotherapy_notes``: write_psychotherapy_note payloads {note_id, patient_id, author, session_date,
    text} plus ``progress_note_id``; ``selection``: Counter of selection reasons and skips.
    ``author`` is who wrote the note {id, role, credentials, name} (the demo writes it as that
    clinician; the notes service takes the author from the caller). ``name`` and ``birth_date``
    (YYYY-MM-DD) are the Patient's, for the directory.
    """

    patient_id: str
    source: str
    progress_notes: list[dict] = field(default_factory=list)
    psychotherapy_notes: list[dict] = field(default_factory=list)
    selection: Counter = field(default_factory=Counter)
    name: str = ""
    birth_date: Optional[str] = None

    @property
    def authors(self) -> list[str]:
        return sorted({n["author"]["id"] for n in self.progress_notes})


# -- small FHIR helpers --------------------------------------------------------------------------

def _codings(concept) -> list[dict]:
    return [c for c in (concept or {}).get("coding", []) if isinstance(c, dict)]


def _codes(concepts: Iterable, system: Optional[str] = None) -> list[str]:
    return [c["code"] for concept in concepts for c in _codings(concept)
            if "code" in c and (system is None or c.get("system") == system)]


def _display(concept) -> str:
    for c in _codings(concept):
        if c.get("display"):
            return c["display"]
    return (concept or {}).get("text") or ""


def _ts(value: Optional[str]) -> Optional[datetime]:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _ref(resource: dict, key: str) -> Optional[str]:
    value = resource.get(key)
    return value.get("reference") if isinstance(value, dict) else None


def _strip_suffix(display: str) -> str:
    return re.sub(r"\s*\((disorder|finding|procedure|regime/therapy|situation|record artifact)\)$", "", display)


# -- practitioners -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Author:
    id: str
    name: str

    def payload(self) -> dict:
        return {"id": self.id, "role": "clinician", "credentials": "", "name": self.name}


def _practitioner_author(resource: dict) -> Author:
    npi = next((i.get("value") for i in resource.get("identifier", []) if i.get("system") == NPI_SYSTEM), None)
    name = ""
    for n in resource.get("name", []):
        name = " ".join(n.get("prefix", []) + n.get("given", []) + [n.get("family", "")]).strip()
        break
    return Author(f"npi-{npi}" if npi else f"practitioner-{resource.get('id')}", name)


def load_practitioner_directory(folder: Path) -> dict[str, Author]:
    """NPI → Author from ``practitionerInformation*.json.gz`` in ``folder`` (empty when absent)."""
    directory: dict[str, Author] = {}
    for path in sorted(folder.glob("practitionerInformation*.json.gz")):
        for entry in _read_bundle(path).get("entry", []):
            res = entry.get("resource") or {}
            if res.get("resourceType") == "Practitioner":
                author = _practitioner_author(res)
                if author.id.startswith("npi-"):
                    directory[author.id[4:]] = author
    return directory


def _resolve_author(individual: dict, by_url: dict, directory: dict[str, Author]) -> Optional[Author]:
    ref = individual.get("reference") or ""
    display = individual.get("display") or ""
    if ref.startswith("Practitioner?identifier="):
        system, _, value = ref.split("=", 1)[1].partition("|")
        if system == NPI_SYSTEM and value:
            return directory.get(value) or Author(f"npi-{value}", display)
        return None
    res = by_url.get(ref)
    if res is None and ref.startswith("Practitioner/"):
        res = by_url.get("urn:uuid:" + ref.split("/", 1)[1])
    if res is not None and res.get("resourceType") == "Practitioner":
        return _practitioner_author(res)
    if ref:
        return Author("practitioner-" + ref.rsplit(":", 1)[-1].rsplit("/", 1)[-1], display)
    return None


# -- reading -------------------------------------------------------------------------------------

def _read_bundle(path: Path) -> dict:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        bundle = json.load(fh)
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise ValueError(f"{path}: not a FHIR Bundle")
    return bundle


def synthea_dir(data_dir: Optional[Path | str] = None) -> Path:
    """``<data_dir>/synthea`` if it exists, else ``data_dir`` itself (default ``config.data_dir()``)."""
    if data_dir is None:
        from confide import config

        data_dir = config.data_dir()
    base = Path(data_dir)
    return base / "synthea" if (base / "synthea").is_dir() else base


def bundle_paths(folder: Path) -> list[Path]:
    """Patient bundles in ``folder``: in ``manifest.csv`` order when there is one, else sorted by path."""
    found = [p for p in sorted(folder.rglob("*.json*"))
             if p.name.endswith((".json", ".json.gz")) and not p.name.startswith(("practitionerInformation",
                                                                                    "hospitalInformation"))
             and p.parent != folder.parent and "upstream" not in p.name]
    manifest = folder / "manifest.csv"
    if manifest.exists():
        with manifest.open(newline="", encoding="utf-8") as fh:
            order = {row["file"]: i for i, row in enumerate(csv.DictReader(fh))}
        found.sort(key=lambda p: (order.get(p.relative_to(folder).as_posix(), len(order)), str(p)))
    return found


def load_patients(data_dir: Optional[Path | str] = None, limit: Optional[int] = None,
                  stats: Optional[Counter] = None) -> list[PatientImport]:
    """Parse the patient bundles (see module docstring); patients with no note are left out.

    ``limit``: stop after this many patients WITH notes. ``stats``: a Counter that receives the
    selection counts of every bundle read (plus ``bundles`` and ``patients_with_notes``).
    Raises FileNotFoundError when no bundle is found.
    """
    folder = synthea_dir(data_dir)
    paths = bundle_paths(folder)
    if not paths:
        raise FileNotFoundError(f"no Synthea bundles under {folder}")
    directories: dict[Path, dict[str, Author]] = {}
    out = []
    for path in paths:
        if path.parent not in directories:
            directories[path.parent] = load_practitioner_directory(path.parent)
        patient = parse_bundle(_read_bundle(path), directories[path.parent], source=path.relative_to(folder).as_posix())
        if stats is not None and patient is not None:
            stats["bundles"] += 1
            stats.update(patient.selection)
            stats["patients_with_notes"] += bool(patient.progress_notes)
            stats["psychotherapy_notes"] += len(patient.psychotherapy_notes)
        if patient is not None and patient.progress_notes:
            out.append(patient)
            if limit is not None and len(out) >= limit:
                break
    return out


# -- the conversion ------------------------------------------------------------------------------

def _icd10(condition_code: dict) -> Optional[str]:
    """ICD-10-CM of a Condition.code: its own ICD-10 coding, else the SNOMED table; None if not MH."""
    for c in _codings(condition_code):
        if c.get("system") in ICD10CM_SYSTEMS and c.get("code", "")[:1] == "F":
            return c["code"]
    for c in _codings(condition_code):
        if c.get("system") == SNOMED and c.get("code") in SNOMED_TO_ICD10:
            return SNOMED_TO_ICD10[c["code"]][0]
    return None


def _active(cond: dict, start: datetime, end: datetime) -> bool:
    onset = _ts(cond.get("onsetDateTime")) or _ts(cond.get("recordedDate"))
    abated = _ts(cond.get("abatementDateTime"))
    return onset is not None and onset <= end and (abated is None or abated >= start)


def _score(obs: dict) -> Optional[int]:
    value = (obs.get("valueQuantity") or {}).get("value")
    return int(round(value)) if isinstance(value, (int, float)) else None


def _band_phq9(v: int) -> str:
    return ("minimal" if v < 5 else "mild" if v < 10 else "moderate" if v < 15
            else "moderately severe" if v < 20 else "severe")


def _band_gad7(v: int) -> str:
    return "minimal" if v < 5 else "mild" if v < 10 else "moderate" if v < 15 else "severe"


def split_medication(display: str) -> tuple[str, str]:
    """("Sertraline", "100 MG Oral Tablet") from "Sertraline 100 MG Oral Tablet"; ``(display, "")`` without a dose."""
    m = re.search(r"\s\d", display)
    if not m:
        return display.strip(), ""
    return display[:m.start()].strip(), display[m.start():].strip()


def _prescription(mr: dict) -> str:
    parts = []
    authored = _ts(mr.get("authoredOn"))
    if authored:
        parts.append(f"ordered {authored.date().isoformat()}")
    for d in mr.get("dosageInstruction", [])[:1]:
        rep = (d.get("timing") or {}).get("repeat") or {}
        if rep.get("frequency") and rep.get("period"):
            parts.append(f"{rep['frequency']} per {rep['period']:g} {rep.get('periodUnit', '')}".strip())
        if d.get("asNeededBoolean"):
            parts.append("as needed")
    return "; ".join(parts)


def cpt_for(kind: str, minutes: int) -> str:
    """CPT for a session ``kind`` (interview | psychotherapy | screening | other) of ``minutes``."""
    if kind == "interview":
        return "90791"
    if kind == "screening":
        return "96127"
    if kind == "psychotherapy":
        return "90837" if minutes >= 53 else "90834" if minutes >= 38 else "90832"
    return "90832"


def frequency_for(dates: list[date]) -> str:
    """Frequency from this patient's session dates up to now (sorted)."""
    if len(dates) < 2:
        return "initial session"
    # Several sessions on one day (an intake and a screening, say) are one visit day for frequency.
    days = sorted(set(dates))
    if len(days) < 2:
        return f"{len(dates)} sessions on one day"
    gaps = [(b - a).days for a, b in zip(days, days[1:])]
    median = statistics.median(gaps)
    label = ("more than weekly" if median < 6 else "weekly" if median <= 9 else "every 2 weeks" if median <= 17
             else "monthly" if median <= 40 else f"about every {round(median / 30)} months")
    return f"{label} (median {median:g} days between {len(days)} visit days)"


def risk_for(phq9: Optional[int], factors: list[str]) -> dict:
    """Derived risk: "moderate" with a coded risk factor or PHQ-9 ≥ 20, else "low" (never a clinician's call)."""
    level = "moderate" if factors or (phq9 is not None and phq9 >= 20) else "low"
    listed = list(factors) + ([f"PHQ-9 total {phq9}"] if phq9 is not None and phq9 >= 20 else [])
    text = ("coded risk factors: " + "; ".join(listed)) if listed else "no coded risk factor on file"
    return {"level": level, "factors": text + " (level derived by the Synthea import from coded facts)",
            "plan": ""}


def _index(resources: list[dict]) -> dict[str, list[dict]]:
    by_encounter: dict[str, list[dict]] = {}
    for r in resources:
        ref = _ref(r, "encounter") or _ref(r, "context")
        if ref:
            by_encounter.setdefault(ref, []).append(r)
    return by_encounter


def parse_bundle(bundle: dict, directory: Optional[dict[str, Author]] = None, source: str = "") -> Optional[PatientImport]:
    """One patient Bundle → PatientImport (None when the bundle holds no Patient)."""
    directory = directory or {}
    entries = [e for e in bundle.get("entry", []) if isinstance(e.get("resource"), dict)]
    by_url = {e.get("fullUrl"): e["resource"] for e in entries if e.get("fullUrl")}
    resources = [e["resource"] for e in entries]
    patient = next((r for r in resources if r.get("resourceType") == "Patient"), None)
    if patient is None:
        return None
    kinds: dict[str, list[dict]] = {}
    for r in resources:
        kinds.setdefault(r.get("resourceType"), []).append(r)
    by_encounter = _index(resources)
    encounters = sorted(kinds.get("Encounter", []), key=lambda e: (e.get("period") or {}).get("start") or "")
    conditions = kinds.get("Condition", [])
    observations = kinds.get("Observation", [])
    medication_requests = kinds.get("MedicationRequest", [])
    careplans = kinds.get("CarePlan", [])
    names = [" ".join(n.get("given", []) + [n.get("family", "")]).strip() for n in patient.get("name", [])]
    result = PatientImport(patient_id=patient["id"], source=source, name=next((n for n in names if n), ""),
                           birth_date=patient.get("birthDate"))

    def scores(codes, before: datetime) -> list[tuple[datetime, int]]:
        found = []
        for o in observations:
            if set(_codes([o.get("code")], LOINC)) & set(codes):
                at, v = _ts(o.get("effectiveDateTime")), _score(o)
                if at is not None and v is not None and at <= before:
                    found.append((at, v))
        return sorted(found)

    session_dates: list[date] = []
    for enc in encounters:
        enc_url = "urn:uuid:" + enc.get("id", "")
        related = by_encounter.get(enc_url, []) + by_encounter.get("Encounter/" + enc.get("id", ""), [])
        type_codes = _codes(enc.get("type", []), SNOMED)
        reason_codes = _codes(enc.get("reasonCode", []), SNOMED)
        procs = [r for r in related if r.get("resourceType") == "Procedure"]
        obs = [r for r in related if r.get("resourceType") == "Observation"]
        proc_codes = {c for p in procs for c in _codes([p.get("code")], SNOMED)}
        obs_codes = {c for o in obs for c in _codes([o.get("code")], LOINC)}
        reasons = []
        if set(type_codes) & set(MH_ENCOUNTER_TYPES):
            reasons.append("type")
        if set(reason_codes) & set(SNOMED_TO_ICD10):
            reasons.append("reason")
        if any(r.get("resourceType") == "Condition" and _icd10(r.get("code")) for r in related):
            reasons.append("diagnosis")
        if proc_codes & PSYCHOTHERAPY_PROCEDURES:
            reasons.append("psychotherapy")
        if obs_codes & set(MH_NOTE_OBSERVATIONS):
            reasons.append("mh_note")
        if obs_codes & set(PHQ9_CODES + GAD7_CODES):
            reasons.append("screening")
        if not reasons:
            continue
        result.selection["candidates"] += 1
        for r in reasons:
            result.selection[f"by_{r}"] += 1
        period = enc.get("period") or {}
        start, end = _ts(period.get("start")), _ts(period.get("end"))
        if start is None or end is None or end.date() != start.date() or end.time() <= start.time():
            result.selection["skipped_period"] += 1
            continue
        dx: list[str] = []
        mh_conditions = []
        for concept in enc.get("reasonCode", []):
            code = _icd10(concept)
            if code and code not in dx:
                dx.append(code)
        for cond in conditions:
            code = _icd10(cond.get("code"))
            if code and _active(cond, start, end):
                mh_conditions.append(cond)
                if code not in dx:
                    dx.append(code)
        if not dx:
            result.selection["skipped_no_mh_diagnosis"] += 1
            continue
        author = None
        for part in enc.get("participant", []):
            if isinstance(part.get("individual"), dict):
                author = _resolve_author(part["individual"], by_url, directory)
                if author:
                    break
        if author is None:
            result.selection["skipped_no_author"] += 1
            continue

        minutes = int((end - start).total_seconds() // 60)
        if PSYCHIATRIC_INTERVIEW in type_codes:
            kind = "interview"
        elif "psychotherapy" in reasons or "mh_note" in reasons:
            kind = "psychotherapy"
        elif reasons == ["screening"]:
            kind = "screening"
        else:
            kind = "other"
        session_dates.append(start.date())
        content = _content(enc, kind, minutes, start, end, dx, mh_conditions, procs, conditions,
                           medication_requests, careplans, scores, session_dates, obs_codes, enc_url)
        note_id = str(uuid.uuid5(NOTE_NS, f"{result.patient_id}/{enc.get('id')}/progress"))
        result.progress_notes.append({"note_id": note_id, "patient_id": result.patient_id,
                                      "author": author.payload(), "content": content, "encounter_id": enc.get("id")})
        result.selection["notes"] += 1
        index = len(result.progress_notes) - 1
        if index % 3 == 2:
            text = PROCESS_NOTE_TEMPLATES[(index // 3) % len(PROCESS_NOTE_TEMPLATES)]
            result.psychotherapy_notes.append({
                "note_id": str(uuid.uuid5(NOTE_NS, f"{result.patient_id}/{enc.get('id')}/psychotherapy")),
                "patient_id": result.patient_id, "author": author.payload(),
                "session_date": content["session_date"], "text": text, "progress_note_id": note_id})
    return result


def _content(enc, kind, minutes, start, end, dx, mh_conditions, procs, conditions, medication_requests,
             careplans, scores, session_dates, obs_codes, enc_url) -> dict:
    type_codes = _codes(enc.get("type", []), SNOMED)
    enc_class = (enc.get("class") or {}).get("code")
    if set(type_codes) & TELEPHONE_TYPES or "84215-3" in obs_codes:
        setting = "telehealth (telephone)"
    elif enc_class == "IMP":
        setting = "inpatient"
    elif enc_class == "EMER":
        setting = "emergency department"
    else:
        setting = "in person"
    what = {"interview": "psychiatric diagnostic evaluation",
            "psychotherapy": "individual psychotherapy"
            + (" (cognitive behavioral therapy)" if any("228557008" in _codes([p.get("code")]) for p in procs) else ""),
            "screening": "brief behavioral assessment (standardized scales)",
            "other": f"behavioral health visit ({_strip_suffix(_display((enc.get('type') or [{}])[0])).lower()})"}[kind]
    if DETOX in type_codes:
        what = "drug rehabilitation and detoxification"
    modality = f"{what}, {setting}"

    window = end - timedelta(days=SCORE_LOOKBACK_DAYS)
    phq = [s for s in scores(PHQ9_CODES, end) if s[0] >= window]
    gad = [s for s in scores(GAD7_CODES, end) if s[0] >= window]
    phq9 = phq[-1][1] if phq else None
    gad7 = gad[-1][1] if gad else None

    symptoms = []
    if phq9 is not None:
        symptoms.append(f"PHQ-9 total {phq9} ({_band_phq9(phq9)} depressive symptoms) on {phq[-1][0].date()}")
    if gad7 is not None:
        symptoms.append(f"GAD-7 total {gad7} ({_band_gad7(gad7)} anxiety symptoms) on {gad[-1][0].date()}")
    labels = []
    for cond in mh_conditions:
        onset = _ts(cond.get("onsetDateTime")) or _ts(cond.get("recordedDate"))
        label = f"{_strip_suffix(_display(cond.get('code')))} (coded since {onset.date()})"
        if label not in labels:
            labels.append(label)
    symptoms.append("Active coded conditions: " + ("; ".join(labels) if labels else
                                                      "; ".join(_strip_suffix(_display(c)) for c in enc.get("reasonCode", []))))

    social = sorted({SOCIAL_FINDINGS[c] for cond in conditions for c in _codes([cond.get("code")], SNOMED)
                     if c in SOCIAL_FINDINGS and _active(cond, start, end)})
    functional = ("Coded social findings: " + ", ".join(social)) if social else "No coded social findings on file."

    interventions = sorted({_strip_suffix(_display(p.get("code"))) for p in procs if _display(p.get("code"))})
    interventions_text = ("Procedures recorded this session: " + "; ".join(interventions)) if interventions else \
        f"{what.capitalize()} (no separate procedure coded)."

    plans = []
    for cp in careplans:
        period = cp.get("period") or {}
        cp_start, cp_end = _ts(period.get("start")), _ts(period.get("end"))
        cats = " ".join(_display(c) for c in cp.get("category", [])).lower()
        if cp_start and cp_start <= end and (cp_end is None or cp_end >= start) and any(w in cats for w in MH_CAREPLAN_WORDS):
            acts = [_strip_suffix(_display((a.get("detail") or {}).get("code"))) for a in cp.get("activity", [])]
            name = next(_strip_suffix(_display(c)) for c in cp.get("category", [])
                        if any(w in _display(c).lower() for w in MH_CAREPLAN_WORDS))
            plans.append(name + (": " + ", ".join(a for a in acts if a) if any(acts) else ""))
    meds = _medications(medication_requests, end, enc_url)
    plan_parts = plans[:]
    if meds:
        plan_parts.append("medications on file: " + ", ".join(m["name"] for m in meds))
    treatment_plan = ("Coded plan: " + "; ".join(plan_parts)) if plan_parts else "No mental-health care plan coded."

    progress = [f"Session {len(session_dates)} in this record"
                + (f" (first on {session_dates[0].isoformat()})" if len(session_dates) > 1 else "")]
    if len(phq) >= 2:
        progress.append(f"PHQ-9 {phq[0][1]} → {phq[-1][1]} since {phq[0][0].date()}")
    if len(gad) >= 2:
        progress.append(f"GAD-7 {gad[0][1]} → {gad[-1][1]} since {gad[0][0].date()}")

    factors = sorted({RISK_FACTOR_CODES[c] + f" (coded {(_ts(cond.get('onsetDateTime')) or start).date()})"
                      for cond in conditions for c in _codes([cond.get("code")], SNOMED)
                      if c in RISK_FACTOR_CODES and (_ts(cond.get("onsetDateTime")) or end) <= end})
    return {
        "session_date": start.date().isoformat(),
        "start_time": start.time().replace(microsecond=0).isoformat(),
        "stop_time": end.time().replace(microsecond=0).isoformat(),
        "modality": modality[:200],
        "cpt_code": cpt_for(kind, minutes),
        "frequency": frequency_for(session_dates)[:200],
        "diagnosis_codes": dx,
        "symptoms": ". ".join(symptoms) + ".",
        "functional_status": functional,
        "interventions": interventions_text,
        "treatment_plan": treatment_plan,
        "prognosis": "",
        "progress_to_date": "; ".join(progress) + ".",
        "medications": meds,
        "clinical_tests": {"phq9": phq9, "gad7": gad7},
        "risk_assessment": risk_for(phq9, factors),
        # Every demo session is in the past: each note is a late entry and says why.
        "late_entry_reason": "Documented after the session: synthetic history loaded by the demo.",
    }


def _medications(medication_requests: list[dict], end: datetime, enc_url: str) -> list[dict]:
    chosen: dict[str, dict] = {}
    for mr in sorted(medication_requests, key=lambda m: m.get("authoredOn") or ""):
        display = _display(mr.get("medicationCodeableConcept"))
        authored = _ts(mr.get("authoredOn"))
        if not display or authored is None or authored > end:
            continue
        if not any(w in display.lower() for w in PSYCHOTROPIC_WORDS):
            continue
        if mr.get("status") != "active" and _ref(mr, "encounter") != enc_url:
            continue
        name, dose = split_medication(display)
        chosen[name.lower()] = {"name": name[:200], "dose": dose, "prescription": _prescription(mr), "monitoring": ""}
    return list(chosen.values())
