"""Pages for the clinician, trainee and supervisor (issue 11, item 1): my patients and notes, the
progress note as a structured form (draft, edit, sign and lock, addendum, late entry) and a note read
in SOAP, DAP or BIRP layout.

Every clinical read goes through the notes service's decided-and-recorded path: a patient's notes by
``notes.list_notes(patient_id, purpose="treatment")``, a note by ``notes.read_note(note_id,
purpose="treatment", presentation=...)``; the worklist ``notes.my_notes()`` is metadata only (the
caller's own notes). Who acts is always the signed-in person's assertion: no page sends an author,
signer or requester, and a form's extra fields are ignored (only the named fields below are read).

These pages never show psychotherapy-note text: a psychotherapy note appears on the chart only as a
line saying that one exists (kind, date, status), and the note page refuses to open one (it is never
asked for with a reply key, so no text could come back even sealed). The chart and note pages are
printable (a print stylesheet hides the navigation and the forms).

Layouts (the notes service's :mod:`notes.presentations` lays the record out; one read, one decision).
Each field of the record appears in exactly one section:

- **SOAP** — Subjective: symptoms, progress to date. Objective: session date, late-entry reason,
  start and stop, modality, CPT code, interventions, functional status, PHQ-9/GAD-7, risk assessment.
  Assessment: ICD-10 diagnosis codes, prognosis. Plan: treatment plan, frequency, medications.
- **DAP** — Data: session date, late-entry reason, start and stop, modality, CPT code, symptoms,
  functional status, interventions, PHQ-9/GAD-7. Assessment: diagnosis codes, risk assessment,
  progress to date, prognosis. Plan: treatment plan, frequency, medications.
- **BIRP** — Behavior: session date, late-entry reason, start and stop, symptoms, functional status,
  PHQ-9/GAD-7, risk assessment, diagnosis codes. Intervention: modality, CPT code, interventions.
  Response: progress to date, prognosis. Plan: treatment plan, frequency, medications.

A late entry (a note drafted after its session day: the service records ``LateEntryFlagged``; the
author's ``content.late_entry_reason`` is asked for, not required) is shown and printed as "Late entry —
written <date> for session <date>" with its reason when one was given.
"""
from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from pathlib import Path

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST

from web.pages.common import InvalidInput, NavItem, call, has_role, read_request_id, roles_required

WRITERS = ("clinician", "trainee", "supervisor")
TREATMENT = "treatment"
LAYOUTS = {"soap": "SOAP", "dap": "DAP", "birp": "BIRP"}
SECTION_TITLES = {"subjective": "Subjective", "objective": "Objective", "assessment": "Assessment",
                  "plan": "Plan", "data": "Data", "behavior": "Behavior", "intervention": "Intervention",
                  "response": "Response"}
FIELD_LABELS = {
    "session_date": "Session date", "late_entry_reason": "Late-entry reason", "start_time": "Start",
    "stop_time": "Stop", "modality": "Modality", "cpt_code": "CPT code", "frequency": "Frequency",
    "diagnosis_codes": "Diagnoses (ICD-10-CM)", "symptoms": "Symptoms", "functional_status": "Functional status",
    "interventions": "Interventions", "treatment_plan": "Treatment plan", "prognosis": "Prognosis",
    "progress_to_date": "Progress to date", "medications": "Medications", "clinical_tests": "Clinical tests",
    "risk_assessment": "Risk assessment",
}
#: Free-text fields of the record, in form order (name, label).
TEXT_FIELDS = (("symptoms", "Symptoms"), ("functional_status", "Functional status"),
               ("interventions", "Interventions"), ("treatment_plan", "Treatment plan"),
               ("prognosis", "Prognosis"), ("progress_to_date", "Progress to date"))
REQUIRED_SCALARS = ("session_date", "start_time", "stop_time", "modality", "cpt_code", "frequency")
STATUS_LABELS = {"draft": "Draft", "signed": "Signed", "awaiting_cosign": "Signed, awaiting co-signature"}
RISK_LEVELS = ("none", "low", "moderate", "high", "imminent")
MODALITIES = ("Individual psychotherapy", "Family psychotherapy", "Group psychotherapy",
              "Psychiatric diagnostic evaluation", "Crisis psychotherapy")
CPT_CODES = (("90832", "Psychotherapy, 30 minutes"), ("90834", "Psychotherapy, 45 minutes"),
             ("90837", "Psychotherapy, 60 minutes"), ("90791", "Psychiatric diagnostic evaluation"),
             ("90846", "Family psychotherapy without the patient"),
             ("90847", "Family psychotherapy with the patient"), ("90853", "Group psychotherapy"),
             ("90839", "Psychotherapy for crisis, first 60 minutes"))
MEDICATION_ROWS_MIN = 1
MEDICATION_ROWS_MAX = 50
ICD10_FILE = Path(__file__).resolve().parent.parent / "data" / "icd10cm_mental.tsv"
ICD10_RESULTS = 15
_FIELD_PATH = re.compile(r"(?:^|; )([A-Za-z_][\w.]*): ")


# -- ICD-10-CM (package data) ------------------------------------------------------------------------

@lru_cache(maxsize=1)
def icd10_codes() -> tuple[tuple[str, str], ...]:
    """(code, title) of the mental-health ICD-10-CM codes shipped with the app (``data/icd10cm_mental.tsv``)."""
    rows = []
    for line in ICD10_FILE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            code, title = line.split("\t", 1)
            rows.append((code.strip(), title.strip()))
    return tuple(rows)


def icd10_search(query: str, limit: int = ICD10_RESULTS) -> list[dict]:
    """Codes whose code starts with ``query`` or whose title has every word of it (case-insensitive)."""
    words = query.lower().split()
    if not words:
        return []
    out = []
    for code, title in icd10_codes():
        if code.lower().startswith(query.strip().lower()) or all(w in title.lower() for w in words):
            out.append({"code": code, "title": title})
        if len(out) >= limit:
            break
    return out


# -- the service's field errors --------------------------------------------------------------------

def field_errors(reason: str) -> dict[str, str]:
    """``{"content.cpt_code": "not a CPT code", ...}`` from a service's "field: message; field: message"."""
    found = list(_FIELD_PATH.finditer(reason))
    out: dict[str, str] = {}
    for i, match in enumerate(found):
        end = found[i + 1].start() if i + 1 < len(found) else len(reason)
        out[match.group(1)] = reason[match.end():end].strip()
    return out


def form_key(service_path: str) -> str:
    """The form field an error path belongs to: ``content.medications.0.name`` -> ``med_0_name``,
    ``content.clinical_tests.phq9`` -> ``phq9``, ``content.risk_assessment.level`` -> ``risk_level``,
    ``content.diagnosis_codes.1`` -> ``diagnosis_codes``."""
    parts = service_path.split(".")
    if parts and parts[0] == "content":
        parts = parts[1:]
    if not parts:
        return "form"
    head = parts[0]
    if head == "medications" and len(parts) >= 3:
        return f"med_{parts[1]}_{parts[2]}"
    if head == "clinical_tests" and len(parts) >= 2:
        return parts[1]
    if head == "risk_assessment":
        return f"risk_{parts[1]}" if len(parts) >= 2 else "risk_level"
    return head


# -- the form <-> the record ---------------------------------------------------------------------

def _score(value: str):
    value = value.strip()
    if not value:
        return None
    return int(value) if re.fullmatch(r"-?\d{1,4}", value) else value  # the service names a bad score


def content_from_post(post) -> dict:
    """The progress-note record from the form's named fields (nothing else is read). Empty required
    fields are left out, so the service names them as missing."""
    content: dict = {}
    for name in REQUIRED_SCALARS:
        value = post.get(name, "").strip()
        if value:
            content[name] = value
    for name, _ in TEXT_FIELDS:
        content[name] = post.get(name, "")
    content["diagnosis_codes"] = [c for c in re.split(r"[\s,;]+", post.get("diagnosis_codes", "").upper()) if c]
    meds = []
    for i in range(MEDICATION_ROWS_MAX):
        row = {k: post.get(f"med_{i}_{k}", "").strip() for k in ("name", "dose", "prescription", "monitoring")}
        if any(row.values()):
            meds.append(row)
    content["medications"] = meds
    content["clinical_tests"] = {"phq9": _score(post.get("phq9", "")), "gad7": _score(post.get("gad7", ""))}
    content["risk_assessment"] = {"level": post.get("risk_level", "").strip(),
                                  "factors": post.get("risk_factors", ""), "plan": post.get("risk_plan", "")}
    content["late_entry_reason"] = post.get("late_entry_reason", "").strip()
    return content


def form_from_content(content: dict) -> dict:
    """The form's values for a stored record (editing a draft)."""
    tests = content.get("clinical_tests") or {}
    risk = content.get("risk_assessment") or {}
    values = {name: content.get(name) or "" for name in REQUIRED_SCALARS}
    values.update({name: content.get(name) or "" for name, _ in TEXT_FIELDS})
    values.update({
        "start_time": str(content.get("start_time") or "")[:5], "stop_time": str(content.get("stop_time") or "")[:5],
        "diagnosis_codes": " ".join(content.get("diagnosis_codes") or []),
        "phq9": "" if tests.get("phq9") is None else tests["phq9"],
        "gad7": "" if tests.get("gad7") is None else tests["gad7"],
        "risk_level": risk.get("level") or "", "risk_factors": risk.get("factors") or "",
        "risk_plan": risk.get("plan") or "", "late_entry_reason": content.get("late_entry_reason") or "",
    })
    return {"values": values, "medications": list(content.get("medications") or [])}


def form_from_post(post) -> dict:
    values = {k: post.get(k, "") for k in (*REQUIRED_SCALARS, *(n for n, _ in TEXT_FIELDS), "diagnosis_codes",
                                           "phq9", "gad7", "risk_level", "risk_factors", "risk_plan",
                                           "late_entry_reason")}
    meds = []
    for i in range(MEDICATION_ROWS_MAX):
        row = {k: post.get(f"med_{i}_{k}", "") for k in ("name", "dose", "prescription", "monitoring")}
        if f"med_{i}_name" in post:
            meds.append(row)
    return {"values": values, "medications": meds}


def _medication_rows(medications: list[dict], extra: int = 0) -> list[dict]:
    rows = [dict(m, index=i) for i, m in enumerate(medications)]
    while len(rows) < max(MEDICATION_ROWS_MIN, len(medications) + extra) and len(rows) < MEDICATION_ROWS_MAX:
        rows.append({"index": len(rows), "name": "", "dose": "", "prescription": "", "monitoring": ""})
    return rows


def _error_label(service_path: str) -> str:
    """A person's name for the field an error path names (``content.medications.1.name`` ->
    "Medication 2: name"), the path itself when there is none."""
    key = form_key(service_path)
    med = re.fullmatch(r"med_(\d+)_(\w+)", key)
    if med:
        return f"Medication {int(med.group(1)) + 1}: {med.group(2)}"
    extra = {"phq9": "PHQ-9", "gad7": "GAD-7", "risk_level": "Risk level", "risk_factors": "Risk factors",
             "risk_plan": "Safety plan", "form": "The note", "supervisor_id": "Supervisor"}
    return extra.get(key) or FIELD_LABELS.get(key) or service_path


def _form_context(request: HttpRequest, form: dict, errors: dict[str, str], **extra) -> dict:
    keyed: dict[str, str] = {}
    for service_path, message in errors.items():
        keyed.setdefault(form_key(service_path), message)
    rows = _medication_rows(form["medications"], extra.pop("extra_rows", 0))
    for row in rows:
        row["errors"] = {k: keyed.get(f"med_{row['index']}_{k}", "") for k in ("name", "dose", "prescription",
                                                                                 "monitoring")}
    text_fields = [{"name": n, "label": label, "value": form["values"].get(n, ""), "error": keyed.get(n, "")}
                   for n, label in TEXT_FIELDS]
    return {"values": form["values"], "med_rows": rows, "errors": keyed,
            "error_list": [{"key": form_key(p), "label": _error_label(p), "message": m} for p, m in errors.items()],
            "text_fields": text_fields, "risk_levels": RISK_LEVELS, "modalities": MODALITIES,
            "cpt_codes": CPT_CODES, "icd10": icd10_codes(), "today": date.today().isoformat(), **extra}


# -- small helpers ------------------------------------------------------------------------------

def _me(request: HttpRequest) -> str:
    return request.user.get_username()


def _when(value):
    parsed = parse_datetime(value) if isinstance(value, str) else None
    return parsed or value


#: Service errors that mean "no such thing here": a 404, not a 400.
NOT_FOUND = frozenset({"PatientNotRegisteredError", "NoteNotFoundError"})


def _patient(request: HttpRequest, patient_id: str) -> dict:
    try:
        return call(request, "directory", "get_patient", patient_id)
    except InvalidInput as exc:
        if exc.exc_type in NOT_FOUND:
            raise Http404("no such patient") from None
        raise


def _read(request: HttpRequest, note_id: str, layout: str | None) -> dict:
    """``notes.read_note`` for treatment (decided and recorded). A psychotherapy note is never
    opened here: without a reply key the service refuses to release its text, and this page says
    it opens only in the private pane (404 here)."""
    try:
        return call(request, "notes", "read_note", str(note_id), TREATMENT, presentation=layout,
                    request_id=read_request_id())
    except InvalidInput as exc:
        if "reply_public_key" in exc.reason:
            raise Http404("a psychotherapy note opens only in the private pane") from None
        if exc.exc_type in NOT_FOUND:
            raise Http404("no such note") from None
        raise


def _late_entry(note: dict) -> dict | None:
    if not note.get("late_entry"):
        return None
    return {"written": _when(note.get("drafted_at")), "session_date": note.get("session_date")}


# -- pages ---------------------------------------------------------------------------------------

@roles_required(*WRITERS)
def patients(request: HttpRequest) -> HttpResponse:
    """My patients (the practice's patients, ``directory.list_patients``) and my notes (``notes.my_notes``:
    drafts to sign, signed, awaiting co-sign)."""
    listed = call(request, "directory", "list_patients")["patients"]
    mine = call(request, "notes", "my_notes")["notes"]
    for row in mine:
        row["drafted_at"] = _when(row.get("drafted_at"))
    return render(request, "web/clinician/patients.html", {
        "patients": sorted(listed, key=lambda p: (p.get("name") or "", p["patient_id"])),
        "drafts": [n for n in mine if n["status"] == "draft"],
        "awaiting": [n for n in mine if n["status"] == "awaiting_cosign"],
        "signed": [n for n in mine if n["status"] == "signed"],
    })


@roles_required(*WRITERS)
def patient(request: HttpRequest, patient_id: str) -> HttpResponse:
    """A patient's chart: their progress notes as ``notes.list_notes(purpose="treatment",
    kinds=["progress"])`` lists them (each decided and recorded; notes not permitted are not listed),
    and the signed-in clinician's own psychotherapy notes of the patient as a line only (from their
    worklist, ``notes.my_notes``). A colleague's psychotherapy notes are not asked about: the chart
    never shows them, and asking would record a denial on each at every view."""
    person = _patient(request, patient_id)
    listed = call(request, "notes", "list_notes", person["patient_id"], TREATMENT, kinds=["progress"])["notes"]
    listed += [n for n in call(request, "notes", "my_notes")["notes"]
               if n.get("kind") == "psychotherapy" and n.get("patient_id") == person["patient_id"]]
    listed.sort(key=lambda n: (n.get("session_date") or "", n["note_id"]), reverse=True)
    for row in listed:
        row["status_label"] = STATUS_LABELS.get(row.get("status"), row.get("status"))
    return render(request, "web/clinician/patient.html", {"patient": person, "notes": listed, "me": _me(request)})


def _my_supervisors(request: HttpRequest) -> list[dict]:
    """For a trainee writing a new note: the active supervisors who supervise them in the directory
    (the note names one; it awaits their co-signature). The notes service checks the link again."""
    if not has_role(request, "trainee"):
        return []
    me = _me(request)
    return [{"member_id": m["member_id"], "name": m.get("name") or m["member_id"]}
            for m in call(request, "directory", "list_members")["members"]
            if m.get("active") and "supervisor" in (m.get("roles") or []) and me in (m.get("supervisees") or [])]


def _write_or_revise(request: HttpRequest, *, person: dict, note: dict | None) -> HttpResponse:
    """The progress-note form: GET shows it, POST saves the draft (``write_progress_note`` for a new
    note, ``revise_note`` for a draft), or adds a medication row without saving."""
    template = "web/clinician/note_form.html"
    supervisors = [] if note else _my_supervisors(request)
    base = {"patient": person, "note": note, "supervisors": supervisors,
            "supervisor_id": request.POST.get("supervisor_id", "") if request.method == "POST" else ""}
    if request.method != "POST":
        form = form_from_content(note["content"]) if note else {"values": {"session_date": date.today().isoformat(),
                                                                           "frequency": "Weekly",
                                                                           "risk_level": "low"},
                                                                "medications": []}
        return render(request, template, _form_context(request, form, {}, **base))
    form = form_from_post(request.POST)
    if request.POST.get("action") == "add_medication":
        return render(request, template, _form_context(request, form, {}, extra_rows=1, focus_med=True, **base))
    content = content_from_post(request.POST)
    if note:
        content["session_date"] = note["session_date"]  # fixed when drafted (the service checks it too)
    try:
        if note:
            call(request, "notes", "revise_note", note["note_id"], content=content)
            note_id = note["note_id"]
        else:
            body = {"patient_id": person["patient_id"], "content": content}
            if request.POST.get("supervisor_id"):
                body["supervisor_id"] = request.POST["supervisor_id"]  # checked against the directory
            note_id = call(request, "notes", "write_progress_note", body)["note_id"]
    except InvalidInput as exc:
        errors = field_errors(exc.reason) or {"form": exc.reason}
        return render(request, template, _form_context(request, form, errors, **base), status=400)
    messages.info(request, "Draft saved. It is not part of the signed record until you sign it.")
    return redirect("web:clinician_note", note_id=note_id)


@roles_required(*WRITERS)
def note_new(request: HttpRequest, patient_id: str) -> HttpResponse:
    return _write_or_revise(request, person=_patient(request, patient_id), note=None)


@roles_required(*WRITERS)
def note_edit(request: HttpRequest, note_id) -> HttpResponse:
    """Edit a draft I wrote; a signed note (or someone else's) has no form: back to the note."""
    read = _read(request, note_id, None)
    note = read["note"]
    if note.get("kind") != "progress" or "content" not in note:
        raise Http404("not a progress note released in full")
    if note.get("status") != "draft" or note.get("author_id") != _me(request):
        messages.info(request, "This note is signed and locked, or not yours: it can no longer be edited here.")
        return redirect("web:clinician_note", note_id=note["note_id"])
    return _write_or_revise(request, person=_patient(request, note["patient_id"]), note=note)


@roles_required(*WRITERS)
def note(request: HttpRequest, note_id) -> HttpResponse:
    """A progress note in SOAP, DAP or BIRP (``?layout=``), its decision, addenda, and what I may do
    with it: edit and sign my draft; add an addendum to a signed note I wrote or supervise."""
    layout = request.GET.get("layout", "soap")
    if layout not in LAYOUTS:
        layout = "soap"
    read = _read(request, note_id, layout)
    note, decision = read["note"], read["decision"]
    if note.get("kind") != "progress" or not isinstance(note.get("content"), dict):
        raise Http404("not a progress note released in full")
    me = _me(request)
    titles = dict(icd10_codes())

    def shown(name, value):
        if name == "diagnosis_codes":
            return [{"code": code, "title": titles.get(code, "")} for code in value or []]
        return value

    sections = [{"key": key, "title": SECTION_TITLES.get(key, key.title()),
                 "fields": [{"name": f, "label": FIELD_LABELS.get(f, f), "value": shown(f, v)}
                            for f, v in fields.items() if not (f == "late_entry_reason" and not v)]}
                for key, fields in note["content"].items()]
    for a in note.get("addenda") or []:
        a["added_at"] = _when(a.get("added_at"))
    signed = note.get("status") != "draft"
    late = _late_entry(note)
    late_reason = next((f["value"] for s in sections for f in s["fields"] if f["name"] == "late_entry_reason"), "")
    return render(request, "web/clinician/note.html", {
        "note": note, "decision": decision, "sections": sections, "layout": layout, "layouts": LAYOUTS,
        "patient": _patient(request, note["patient_id"]), "late": late, "late_reason": late_reason,
        "signed_at": _when(note.get("signed_at")), "cosigned_at": _when(note.get("cosigned_at")),
        "can_edit": not signed and note.get("author_id") == me,
        "can_addend": signed and me in (note.get("author_id"), note.get("supervisor_id")),
    })


@roles_required(*WRITERS)
@require_POST
def note_sign(request: HttpRequest, note_id) -> HttpResponse:
    """Sign and lock (``notes.sign_note``: the signer is the caller; only the author may)."""
    call(request, "notes", "sign_note", str(note_id))
    messages.info(request, "Signed and locked. Changes from now on are addenda.")
    return redirect("web:clinician_note", note_id=note_id)


@roles_required(*WRITERS)
@require_POST
def note_addendum(request: HttpRequest, note_id) -> HttpResponse:
    """A plain-text addendum to a signed progress note (``notes.add_addendum``; the author or the
    author's supervisor on the note). An empty text is named by the service."""
    text = request.POST.get("addendum_text", "")
    try:
        call(request, "notes", "add_addendum", str(note_id), text=text or None)
    except InvalidInput as exc:
        messages.error(request, f"Addendum not added: {exc.reason}")
        return redirect(f"{reverse('web:clinician_note', kwargs={'note_id': note_id})}#addendum-text")
    messages.info(request, "Addendum added.")
    return redirect("web:clinician_note", note_id=note_id)


@roles_required(*WRITERS)
def icd10(request: HttpRequest) -> JsonResponse:
    """``?q=`` -> {results[{code, title}]}: the form's live ICD-10-CM search (package data, no PHI)."""
    return JsonResponse({"results": icd10_search(request.GET.get("q", "")[:100])})


NAV: list[NavItem] = [NavItem("My patients", "web:clinician_patients", WRITERS, id="nav-clinician-patients")]
urlpatterns: list = [
    path("", patients, name="clinician_patients"),
    path("patients/<str:patient_id>/", patient, name="clinician_patient"),
    path("patients/<str:patient_id>/notes/new", note_new, name="clinician_note_new"),
    path("notes/<uuid:note_id>/", note, name="clinician_note"),
    path("notes/<uuid:note_id>/edit", note_edit, name="clinician_note_edit"),
    path("notes/<uuid:note_id>/sign", note_sign, name="clinician_note_sign"),
    path("notes/<uuid:note_id>/addendum", note_addendum, name="clinician_note_addendum"),
    path("icd10", icd10, name="clinician_icd10"),
]
