"""The patient portal (issue 11, item 5), under ``/my/``: a patient's own record, as often as they like.

- ``/my/notes`` and ``/my/notes/<id>``: my progress notes with addenda and amendments (45 CFR
  164.524), through ``disclosures.request_access`` (the first visit in a session files a right-of-access
  request) and ``disclosures.get_disclosure_request(request_id, include_content=True)`` after it (the
  same request exported again: each note decided and recorded anew, the same fields every time). The
  request id lives in the server-side session, never in a URL or a form. Psychotherapy notes never
  appear (the export holds none, 164.524(a)(1)(i)), and a note id that is not among my progress notes
  (another patient's, or any other kind) is refused with one message, so the page says nothing about
  notes it does not show.
- ``/my/notes/<id>/amend``: request an amendment (``notes.request_amendment``, 164.526(b));
  ``/my/amendments``: my requests and their status, and a statement of disagreement on a denied one
  (``notes.append_disagreement``, 164.526(d)(1)(iii)).
- ``/my/accounting``: my accounting of disclosures (``disclosures.request_accounting``, 164.528; the
  request is recorded, the service checks that the patient id is the caller's).
- ``/my/access-log``: who saw my record, when, under which rule (``audit.my_access_log``: the patient is
  the caller's assertion; other requesters by role and organisation, as the practice chooses).

Who I am is the signed-in account (a patient id); the services check it again from the assertion.
"""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST

from web.pages.common import InvalidInput, NavItem, ServiceRefused, call, roles_required

PATIENT = ("patient",)
#: Where the session keeps the patient's right-of-access request (its id only, never content).
ACCESS_REQUEST_KEY = "confide_portal_access_request"
ACCESS_LOG_LIMIT = 200
#: The most characters a requested change, reason or statement may have (the notes service's limit).
TEXT_MAX = 20000
NOT_MINE = "That note is not among your progress notes."

NAV: list[NavItem] = [
    NavItem("My notes", "web:portal_notes", PATIENT, "nav-portal-notes"),
    NavItem("My amendment requests", "web:portal_amendments", PATIENT, "nav-portal-amendments"),
    NavItem("My disclosures", "web:portal_accounting", PATIENT, "nav-portal-accounting"),
    NavItem("My access log", "web:portal_access_log", PATIENT, "nav-portal-access-log"),
]

#: A progress note's content, in the order and words a patient reads it.
CONTENT_LABELS = (
    ("session_date", "Date of session"), ("start_time", "Started"), ("stop_time", "Ended"),
    ("modality", "Type of session"), ("cpt_code", "Service code (CPT)"), ("frequency", "How often"),
    ("diagnosis_codes", "Diagnosis codes (ICD-10)"), ("symptoms", "Symptoms"),
    ("functional_status", "Functional status"), ("interventions", "Interventions"),
    ("treatment_plan", "Treatment plan"), ("prognosis", "Prognosis"), ("progress_to_date", "Progress to date"),
)


def _me(request: HttpRequest) -> str:
    return request.user.get_username()


def _when(value: Any) -> Any:
    return parse_datetime(value) if isinstance(value, str) and "T" in value else value


def _fetch_record(request: HttpRequest) -> list[dict]:
    """My progress notes as the notes service exported them (decided and recorded on every fetch)."""
    request_id = request.session.get(ACCESS_REQUEST_KEY)
    view = None
    if request_id:
        try:
            view = call(request, "disclosures", "get_disclosure_request", request_id, include_content=True)
        except (ServiceRefused, InvalidInput):  # not mine, or gone: file a new request below
            view = None
        # A request decided when I had no notes names none; a new one finds the notes written since.
        if view is not None and not (view.get("release") or {}).get("note_ids"):
            view = None
    if view is None:
        view = call(request, "disclosures", "request_access")
        request.session[ACCESS_REQUEST_KEY] = view["request_id"]
    content = view.get("content") or {}
    notes = content.get("notes") if isinstance(content, dict) else []
    # The export holds progress notes only; a belt to the service's braces all the same.
    return [n for n in (notes or []) if n.get("kind") == "progress"]


def _present(note: dict) -> dict:
    c = note.get("content") or {}
    rows = []
    for key, label in CONTENT_LABELS:
        value = c.get(key)
        if isinstance(value, list):
            value = ", ".join(map(str, value))
        if value not in (None, ""):
            rows.append((label, value))
    tests = c.get("clinical_tests") or {}
    scores = [f"{name.upper()} {tests[name]}" for name in ("phq9", "gad7") if tests.get(name) is not None]
    if scores:
        rows.append(("Questionnaire scores", ", ".join(scores)))
    risk = c.get("risk_assessment") or {}
    if risk.get("level"):
        rows.append(("Risk assessment", "; ".join(str(risk[k]) for k in ("level", "factors", "plan") if risk.get(k))))
    return {**note, "rows": rows, "medications": c.get("medications") or [],
            "signed_at": _when(note.get("signed_at")),
            "addenda": [{**a, "added_at": _when(a.get("added_at"))} for a in note.get("addenda") or []],
            "amendments": [{**a, "requested_at": _when(a.get("requested_at")), "decided_at": _when(a.get("decided_at"))}
                           for a in note.get("amendments") or []]}


def _mine(request: HttpRequest, note_id: str) -> dict | None:
    return next((n for n in _fetch_record(request) if n.get("note_id") == str(note_id)), None)


def _refused(request: HttpRequest, reason: str = NOT_MINE) -> HttpResponse:
    return render(request, "web/service_error.html", {"status": 403, "reason": reason}, status=403)


def _text_errors(data: dict, *names: str) -> dict:
    errors = {}
    for name in names:
        value = (data.get(name) or "").strip()
        if not value:
            errors[name] = "Please fill this in."
        elif len(value) > TEXT_MAX:
            errors[name] = f"Please keep this under {TEXT_MAX} characters."
    return errors


@roles_required(*PATIENT)
def notes(request: HttpRequest) -> HttpResponse:
    record = [_present(n) for n in _fetch_record(request)]
    record.sort(key=lambda n: (n.get("session_date") or "", n.get("note_id")), reverse=True)
    return render(request, "web/portal/notes.html", {"notes": record})


@roles_required(*PATIENT)
def note(request: HttpRequest, note_id) -> HttpResponse:
    found = _mine(request, note_id)
    if found is None:
        return _refused(request)
    return render(request, "web/portal/note.html", {"note": _present(found), "form": {}, "errors": {},
                                                    "text_max": TEXT_MAX})


@require_POST
@roles_required(*PATIENT)
def amend(request: HttpRequest, note_id) -> HttpResponse:
    """Request an amendment of one of my progress notes (164.526(b)): what should change, and why."""
    found = _mine(request, note_id)
    if found is None:  # checked here first: a psychotherapy note's refusal would name its kind
        return _refused(request)
    form = {k: request.POST.get(k, "") for k in ("requested_change", "reason")}
    errors = _text_errors(form, "requested_change", "reason")
    if not errors:
        try:
            call(request, "notes", "request_amendment", str(note_id), form["requested_change"].strip(),
                 form["reason"].strip())
        except InvalidInput as exc:
            errors["requested_change"] = exc.reason
    if errors:
        return render(request, "web/portal/note.html", {"note": _present(found), "form": form, "errors": errors,
                                                        "text_max": TEXT_MAX}, status=400)
    messages.info(request, "Your amendment request was received. The practice must answer it within 60 days.")
    return redirect(reverse("web:portal_amendments"))


@roles_required(*PATIENT)
def amendments(request: HttpRequest) -> HttpResponse:
    rows = []
    for n in _fetch_record(request):
        presented = _present(n)
        for a in presented["amendments"]:
            rows.append({**a, "note_id": n["note_id"], "session_date": n.get("session_date")})
    rows.sort(key=lambda a: str(a.get("requested_at") or ""), reverse=True)
    return render(request, "web/portal/amendments.html", {"amendments": rows, "errors": {}, "text_max": TEXT_MAX})


@require_POST
@roles_required(*PATIENT)
def disagree(request: HttpRequest, note_id, amendment_id) -> HttpResponse:
    """Append my statement of disagreement to a denied amendment request (164.526(d)(1)(iii))."""
    found = _mine(request, note_id)
    amendment = next((a for a in (found or {}).get("amendments") or [] if a.get("amendment_id") == str(amendment_id)),
                     None)
    if found is None or amendment is None:
        return _refused(request, "That amendment request is not one of yours.")
    statement = request.POST.get("statement", "")
    errors = _text_errors({"statement": statement}, "statement")
    if not errors:
        try:
            call(request, "notes", "append_disagreement", str(note_id), str(amendment_id), statement.strip())
        except InvalidInput as exc:
            errors["statement"] = exc.reason
    if errors:
        messages.error(request, f"Your statement was not added: {errors['statement']}")
        return redirect(f"{reverse('web:portal_amendments')}#amendment-{amendment_id}")
    messages.info(request, "Your statement of disagreement was added to your record.")
    return redirect(reverse("web:portal_amendments"))


@roles_required(*PATIENT)
def accounting(request: HttpRequest) -> HttpResponse:
    """My accounting of disclosures (164.528): requested (and recorded) each time the page is opened."""
    report = call(request, "disclosures", "request_accounting", {"patient_id": _me(request)})
    entries = [{**e, "disclosed_at": _when(e.get("disclosed_at")),
                "purpose_words": PURPOSE_WORDS.get(e.get("purpose") or "", _words(e.get("purpose"))),
                "recipient_role": _words((e.get("recipient") or {}).get("role"))}
               for e in report.get("entries") or []]
    return render(request, "web/portal/accounting.html", {
        "report": report, "entries": entries, "period_start": _when(report.get("period_start")),
        "received_at": _when(report.get("received_at"))})


@roles_required(*PATIENT)
def access_log(request: HttpRequest) -> HttpResponse:
    """Who saw my record. My own views (each visit to my notes is decided and recorded, one row per
    note) are counted, and listed only when asked for (``?mine=1``), so that others' stand out."""
    rows = call(request, "audit", "my_access_log", limit=ACCESS_LOG_LIMIT)
    show_mine = request.GET.get("mine") == "1"
    mine = sum(1 for r in rows if r.get("by_patient"))
    shown = [{**r, "recorded_at": _when(r.get("recorded_at")), "who": _who(r),
              "purpose_words": PURPOSE_WORDS.get(r.get("purpose") or "", _words(r.get("purpose"))),
              "decision_words": DECISION_WORDS.get(r.get("decision") or "", _words(r.get("decision")))}
             for r in rows if show_mine or not r.get("by_patient")]
    return render(request, "web/portal/access_log.html", {
        "rows": shown, "total": len(rows), "mine": mine, "show_mine": show_mine, "limit": ACCESS_LOG_LIMIT})


#: The decision engine's requester roles in a patient's words (others: the role with spaces).
ROLE_WORDS = {"originator_clinician": "the clinician who wrote the note",
              "clinician_same_practice": "a clinician at the practice", "insurer_health_plan": "health plan",
              "workers_comp_carrier": "workers' compensation carrier", "hhs_ocr": "HHS Office for Civil Rights"}
PURPOSE_WORDS = {"individual_access": "your own copy (right of access)",
                 "hhs_compliance": "a compliance review by HHS",
                 "health_care_operations": "health care operations"}
DECISION_WORDS = {"permit": "permitted", "deny": "refused", "permit_minimum_necessary": "permitted (minimum necessary)",
                  "permit_redacted": "permitted (with parts removed)", "discretionary": "left to the practice",
                  "hold": "on hold"}


def _words(value: Any) -> str:
    return str(value or "").replace("_", " ").strip()


def _who(row: dict) -> str:
    """A requester as the patient reads them: "You", or role and organisation (and the id where the
    practice chose to show it: the audit service decides, ``PATIENT_LOG_NAMES``)."""
    if row.get("by_patient"):
        return "You"
    role = row.get("requester_role") or ""
    who = ROLE_WORDS.get(role, _words(role)) or "unknown role"
    org = row.get("requester_org")
    if org:
        who += ", this practice" if org == settings.ORG else f", {org}"
    if row.get("requester_id"):
        who += f" ({row['requester_id']})"
    return who


urlpatterns: list = [
    path("notes/", notes, name="portal_notes"),
    path("notes/<uuid:note_id>", note, name="portal_note"),
    path("notes/<uuid:note_id>/amend", amend, name="portal_amend"),
    path("amendments/", amendments, name="portal_amendments"),
    path("amendments/<uuid:note_id>/<uuid:amendment_id>/disagree", disagree, name="portal_disagree"),
    path("accounting/", accounting, name="portal_accounting"),
    path("access-log/", access_log, name="portal_access_log"),
]
