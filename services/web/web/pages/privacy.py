"""The privacy officer's pages (issue 11, item 3), and the clinicians' emergency-access form.

- ``/privacy/amendments``: amendment requests (45 CFR 164.526) with their deadlines, open first;
  a request's page shows the requested change and reason, the note it concerns (read through
  ``notes.read_note``: decided and recorded; what the decision released and nothing more) and the
  forms to accept with the amended record, deny in writing on a 164.526(a)(2) ground, or extend
  the deadline once (164.526(b)(2)(ii)).
- ``/privacy/emergency-access``: a clinician's emergency ("break-the-glass") read of a note, with
  a stated reason and a claimed exception; the engine decides (a denial stays a denial) and every
  one is queued for review (``notes.take_emergency_access``).
- ``/privacy/emergency-reviews``: that queue, and marking one reviewed (``notes.review_emergency_access``).
- ``/privacy/accounting``: the accounting of disclosures for a patient (164.528) through
  ``disclosures.request_accounting``, which records the request and its deadline; printable.
- ``/privacy/sign-ins``: the sign-in log and refused access attempts (``directory.sign_in_events``).

Who may do what is the services' decision; the pages only keep others off (403).
"""
from __future__ import annotations

import os
from datetime import date
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_http_methods

from web.pages.common import InvalidInput, NavItem, ServiceRefused, call, read_request_id, roles_required

OFFICER = ("privacy_officer",)
#: Who may read the sign-in log (the directory checks again).
LOG_READERS = ("privacy_officer", "practice_admin")
#: Who takes emergency access (the notes service checks again).
CLINICIANS = ("clinician", "trainee", "supervisor")

#: 164.526(a)(2): the grounds of a denial, as the notes service names them.
DENIAL_GROUNDS = (
    ("accurate_and_complete", "The record is accurate and complete (164.526(a)(2)(iv))"),
    ("not_created_by_covered_entity", "Not created by this practice (164.526(a)(2)(i))"),
    ("not_part_of_designated_record_set", "Not part of the designated record set (164.526(a)(2)(ii))"),
    ("not_available_for_inspection", "Not available for inspection under 164.524 (164.526(a)(2)(iii))"),
)
#: The claims the notes service accepts for an emergency read (notes.domain.model.EMERGENCY_CLAIMS).
EMERGENCY_CLAIMS = (
    ("treatment", "Urgent treatment of the patient (164.506(c)(1))"),
    ("serious_threat", "Serious and imminent threat to health or safety (164.512(j)(1)(i))"),
    ("required_by_law", "Required by law (164.512(a))"),
)
REVIEW_OUTCOMES = (
    ("appropriate", "Appropriate: the access was justified"),
    ("inappropriate", "Inappropriate: refer for sanctions (164.530(e))"),
    ("needs_follow_up", "Needs follow-up with the clinician"),
)
SIGN_IN_KINDS = (
    ("", "Every kind"), ("failures", "Failures only (failed, locked out, refused)"),
    ("SignedIn", "Signed in"), ("SignInFailed", "Sign-in failed"), ("AccountLockedOut", "Locked out"),
    ("SignedOut", "Signed out"), ("SessionTimedOut", "Session timed out"), ("SessionRevoked", "Session revoked"),
    ("AccessAttemptRefused", "Access attempt refused"),
)
RISK_LEVELS = ("none", "low", "moderate", "high", "imminent")

NAV: list[NavItem] = [
    NavItem("Amendments", "web:privacy_amendments", OFFICER, id="nav-privacy-amendments"),
    NavItem("Emergency reviews", "web:privacy_emergency_reviews", OFFICER, id="nav-privacy-emergency-reviews"),
    NavItem("Accounting", "web:privacy_accounting", OFFICER, id="nav-privacy-accounting"),
    NavItem("Sign-in events", "web:privacy_sign_ins", LOG_READERS, id="nav-privacy-sign-ins"),
    NavItem("Emergency access", "web:privacy_emergency_access", CLINICIANS, id="nav-privacy-emergency-access"),
]


# -- helpers -------------------------------------------------------------------------------------

def _when(value: Any) -> Any:
    """An RFC 3339 string as a datetime for the templates (the string itself if it does not parse)."""
    return (parse_datetime(value) if isinstance(value, str) else None) or value


def _label(key: str) -> str:
    return key.replace("_", " ").capitalize()


#: The order a progress note's record (or its released fields) reads in; other keys follow.
FIELD_ORDER = (
    "patient_id", "session_date", "date_of_service", "start_time", "session_start", "stop_time", "session_stop",
    "modality", "cpt_code", "cpt_code_or_modality", "frequency", "diagnosis_codes", "symptoms", "symptoms_summary",
    "functional_status", "interventions", "treatment_plan", "treatment_plan_summary", "prognosis",
    "progress_to_date", "medications", "medication_prescription_and_monitoring", "clinical_tests",
    "clinical_test_results", "risk_assessment", "level", "factors", "plan",
)


def _order(key: str) -> tuple[int, str]:
    return (FIELD_ORDER.index(key) if key in FIELD_ORDER else len(FIELD_ORDER), key)


def flatten(value: Any, label: str = "") -> list[tuple[str, str]]:
    """A released note (nested dicts and lists) as (label, text) rows for a definition list."""
    if isinstance(value, dict):
        rows: list[tuple[str, str]] = []
        for key, inner in sorted(value.items(), key=lambda kv: _order(kv[0])):
            rows += flatten(inner, f"{label} › {_label(key)}" if label else _label(key))
        return rows
    if isinstance(value, list):
        if all(not isinstance(v, (dict, list)) for v in value):
            return [(label, ", ".join(str(v) for v in value) or "—")]
        rows = []
        for i, inner in enumerate(value, 1):
            rows += flatten(inner, f"{label} {i}")
        return rows
    return [(label, "—" if value in (None, "") else str(value))]


def _practice_name() -> str:
    return os.environ.get("CONFIDE_PRACTICE_NAME") or getattr(settings, "PRACTICE_NAME", "") or settings.ORG


# -- amendment requests (164.526) ----------------------------------------------------------------

@roles_required(*OFFICER)
def amendments(request: HttpRequest) -> HttpResponse:
    show_all = request.GET.get("show") == "all"
    reply = call(request, "notes", "amendment_requests", open_only=not show_all)
    names = {p["patient_id"]: p["name"] for p in call(request, "directory", "list_patients")["patients"]}
    rows = [{**r, "requested": _when(r["requested_at"]), "due": _when(r["due_at"]),
             "decided": _when(r.get("decided_at")), "patient_name": names.get(r["patient_id"], "")}
            for r in reply["amendments"]]
    return render(request, "web/privacy/amendments.html", {
        "rows": rows, "show_all": show_all, "as_of": _when(reply["as_of"]),
        "open_count": sum(1 for r in rows if r["status"] == "requested"),
        "overdue_count": sum(1 for r in rows if r["overdue"]),
        "due_soon_count": sum(1 for r in rows if r["due_soon"]),
    })


def _read_note_for_officer(request: HttpRequest, note_id: str) -> dict:
    """The note as the engine lets the officer read it (decided and recorded), or why not."""
    try:
        reply = call(request, "notes", "read_note", note_id, purpose="operations",
                     request_id=read_request_id())
    except ServiceRefused as exc:
        return {"refused": exc.reason}
    note = reply["note"]
    released = note.get("content") if "content" in note else note.get("fields") or {}
    return {"decision": reply["decision"], "rows": flatten(released), "whole": "content" in note,
            "released": released, "unmapped": note.get("unmapped_fields") or []}


def _prefill(released: dict) -> dict:
    """Accept-form defaults from what the officer's read released (a full record or its fields)."""
    if "session_date" in released:  # the whole record
        c = released
        risk = c.get("risk_assessment") or {}
        tests = c.get("clinical_tests") or {}
        meds = c.get("medications") or []
        return {"session_date": c.get("session_date"), "start_time": c.get("start_time"),
                "stop_time": c.get("stop_time"), "modality": c.get("modality"), "cpt_code": c.get("cpt_code"),
                "frequency": c.get("frequency"), "diagnosis_codes": ", ".join(c.get("diagnosis_codes") or []),
                "symptoms": c.get("symptoms"), "functional_status": c.get("functional_status"),
                "interventions": c.get("interventions"), "treatment_plan": c.get("treatment_plan"),
                "prognosis": c.get("prognosis"), "progress_to_date": c.get("progress_to_date"),
                "medications": "\n".join(" | ".join(str(m.get(k) or "") for k in ("name", "dose", "prescription",
                                                                                   "monitoring")) for m in meds),
                "phq9": tests.get("phq9"), "gad7": tests.get("gad7"), "risk_level": risk.get("level"),
                "risk_factors": risk.get("factors"), "risk_plan": risk.get("plan")}
    cpt = released.get("cpt_code_or_modality") or {}
    return {"session_date": released.get("date_of_service"), "start_time": released.get("session_start"),
            "stop_time": released.get("session_stop"), "cpt_code": cpt.get("cpt_code"),
            "modality": cpt.get("modality"), "frequency": released.get("frequency"),
            "diagnosis_codes": ", ".join(released.get("diagnosis_codes") or []),
            "treatment_plan": released.get("treatment_plan_summary"),
            "progress_to_date": released.get("progress_to_date")}


def _content_from(post) -> dict:
    """The amended record from the accept form (the notes service validates every field)."""
    def text(name: str) -> str:
        return (post.get(name) or "").strip()

    def score(name: str):
        value = text(name)
        return int(value) if value.isdigit() else (value or None)

    meds = []
    for line in text("medications").splitlines():
        parts = [p.strip() for p in line.split("|")] + ["", "", ""]
        if parts[0]:
            meds.append({"name": parts[0], "dose": parts[1], "prescription": parts[2], "monitoring": parts[3]})
    return {"session_date": text("session_date"), "start_time": text("start_time"), "stop_time": text("stop_time"),
            "modality": text("modality"), "cpt_code": text("cpt_code"), "frequency": text("frequency"),
            "diagnosis_codes": [c.strip() for c in text("diagnosis_codes").split(",") if c.strip()],
            "symptoms": text("symptoms"), "functional_status": text("functional_status"),
            "interventions": text("interventions"), "treatment_plan": text("treatment_plan"),
            "prognosis": text("prognosis"), "progress_to_date": text("progress_to_date"), "medications": meds,
            "clinical_tests": {"phq9": score("phq9"), "gad7": score("gad7")},
            "risk_assessment": {"level": text("risk_level"), "factors": text("risk_factors"),
                                "plan": text("risk_plan")}}


@roles_required(*OFFICER)
@require_http_methods(["GET", "POST"])
def amendment(request: HttpRequest, note_id: Any, amendment_id: Any) -> HttpResponse:
    note_id, amendment_id = str(note_id), str(amendment_id)
    errors: dict[str, str] = {}
    action = request.POST.get("action") if request.method == "POST" else None
    if action:
        try:
            if action == "deny":
                call(request, "notes", "deny_amendment", note_id, amendment_id,
                     ground=request.POST.get("ground", ""), denial_statement=request.POST.get("denial_statement", ""))
                messages.info(request, "The amendment was denied in writing; the patient may file a statement "
                                       "of disagreement (164.526(d)(1)).")
            elif action == "accept":
                call(request, "notes", "accept_amendment", note_id, amendment_id, content=_content_from(request.POST))
                messages.info(request, "The amendment was accepted: the amended record is a new revision of the note.")
            elif action == "extend":
                call(request, "notes", "extend_amendment_deadline", note_id, amendment_id,
                     statement=request.POST.get("statement", ""))
                messages.info(request, "The deadline was extended once by 30 days (164.526(b)(2)(ii)).")
            else:
                errors["action"] = "Unknown action."
            if not errors:
                return redirect(reverse("web:privacy_amendment", args=[note_id, amendment_id]))
        except InvalidInput as exc:
            errors[action] = exc.reason
    request_reply = call(request, "notes", "get_amendment_request", note_id, amendment_id)
    a = request_reply["amendment"]
    a.update(requested=_when(a["requested_at"]), due=_when(a["due_at"]), decided=_when(a.get("decided_at")))
    # Each read is decided and recorded: read the note while the request is open, afterwards only when asked.
    wants_note = a["status"] == "requested" or request.GET.get("read") == "1"
    note = _read_note_for_officer(request, note_id) if request_reply["kind"] == "progress" and wants_note else {}
    prefill = _prefill(note.get("released") or {}) if a["status"] == "requested" else {}
    if action == "accept" and errors:
        prefill = {k: request.POST.get(k, "") for k in prefill} | {k: request.POST.get(k, "") for k in (
            "symptoms", "functional_status", "interventions", "prognosis", "medications", "phq9", "gad7",
            "risk_level", "risk_factors", "risk_plan")}
    return render(request, "web/privacy/amendment.html", {
        "req": request_reply, "a": a, "note": note, "errors": errors, "grounds": DENIAL_GROUNDS,
        "prefill": prefill, "risk_levels": RISK_LEVELS, "posted": request.POST if errors else {},
        "note_not_read": request_reply["kind"] == "progress" and not wants_note,
    }, status=400 if errors else 200)


# -- emergency ("break-the-glass") access -------------------------------------------------------

@roles_required(*CLINICIANS)
@require_http_methods(["GET", "POST"])
def emergency_access(request: HttpRequest) -> HttpResponse:
    """The clinician's form; on POST the engine decides and the access is queued for review."""
    from confide import transport

    ctx: dict[str, Any] = {"claims": EMERGENCY_CLAIMS, "errors": {}, "posted": {}}
    status = 200
    if request.method == "POST":
        posted = {k: (request.POST.get(k) or "").strip() for k in ("note_id", "claim", "reason")}
        ctx["posted"] = posted
        for field, message in (("note_id", "Give the note's id."), ("claim", "Choose the exception you claim."),
                               ("reason", "State the reason for the emergency access.")):
            if not posted[field]:
                ctx["errors"][field] = message
        if not ctx["errors"]:
            private, public = transport.ephemeral()
            try:
                reply = call(request, "notes", "take_emergency_access", posted["note_id"], posted["claim"],
                             posted["reason"], reply_public_key=public)
            except ServiceRefused as exc:
                # AccessDeniedError: the engine decided, and the attempt is queued; any other refusal
                # (who is asking) happened before anything was decided or queued.
                ctx["denied"], ctx["queued"] = exc.reason, exc.exc_type == "AccessDeniedError"
                status = 403
            except InvalidInput as exc:
                field = next((f for f in ("note_id", "claim", "reason") if exc.reason.startswith(f)), "note_id")
                ctx["errors"][field] = exc.reason
            else:
                note = transport.open_tree(private, reply["note"])
                body = note.get("content") if "content" in note else note.get("fields") or {}
                ctx.update(granted=reply["decision"], note=note, rows=flatten(body), posted={},
                           text=note.get("text") if isinstance(note.get("text"), str) else None,
                           emergency_access_id=reply["emergency_access_id"])
        if ctx["errors"]:
            status = 400
    return render(request, "web/privacy/emergency_access.html", ctx, status=status)


@roles_required(*OFFICER)
@require_http_methods(["GET", "POST"])
def emergency_reviews(request: HttpRequest) -> HttpResponse:
    errors: dict[str, str] = {}
    failed_id = None
    if request.method == "POST":
        failed_id = request.POST.get("decision_id", "")
        try:
            call(request, "notes", "review_emergency_access", failed_id, request.POST.get("outcome", ""),
                 request.POST.get("comment", ""))
        except InvalidInput as exc:
            errors["review"] = exc.reason
        else:
            messages.info(request, "Review recorded; the access has left the open queue.")
            return redirect("web:privacy_emergency_reviews")
    show_all = request.GET.get("show") == "all"
    rows = call(request, "notes", "emergency_access_queue", open_only=not show_all)["emergency_accesses"]
    for r in rows:
        r["taken"] = _when(r["taken_at"])
        if r.get("review"):
            r["review"]["when"] = _when(r["review"]["reviewed_at"])
    return render(request, "web/privacy/emergency_reviews.html", {
        "rows": rows, "show_all": show_all, "outcomes": REVIEW_OUTCOMES, "errors": errors, "failed_id": failed_id,
    }, status=400 if errors else 200)


# -- the accounting of disclosures (164.528) -----------------------------------------------------

@roles_required(*OFFICER)
@require_http_methods(["GET", "POST"])
def accounting(request: HttpRequest) -> HttpResponse:
    """Choose a patient (GET); prepare their accounting (POST: the request is recorded with its due
    date, 164.528(c)), shown as a document that prints."""
    patients = call(request, "directory", "list_patients")["patients"]
    ctx: dict[str, Any] = {"patients": patients, "practice_name": _practice_name(), "errors": {}}
    if request.method == "POST":
        patient_id = (request.POST.get("patient_id") or "").strip()
        if not patient_id:
            ctx["errors"]["patient_id"] = "Choose the patient."
            return render(request, "web/privacy/accounting.html", ctx, status=400)
        try:
            report = call(request, "disclosures", "request_accounting", {"patient_id": patient_id})
        except InvalidInput as exc:
            ctx["errors"]["patient_id"] = exc.reason
            return render(request, "web/privacy/accounting.html", ctx, status=400)
        for e in report["entries"]:
            e["when"] = _when(e.get("disclosed_at"))
            recipient = e.get("recipient") or {}
            e["recipient_text"] = (", ".join(str(recipient[k]) for k in ("name", "org", "role", "id", "address")
                                             if recipient.get(k)) if isinstance(recipient, dict) else str(recipient))
        patient = next((p for p in patients if p["patient_id"] == report["patient_id"]), {"patient_id": patient_id})
        ctx.update(report=report, patient=patient, period_start=_when(report["period_start"]),
                   received=_when(report["received_at"]), due=_when(report["due_at"]))
        # Screen only: every disclosure request on file for the patient and where it stands (audit's
        # log), so the officer sees what the accounting leaves out under 164.528(a)(1) (e.g. payment).
        try:
            ctx["log"] = _requests_of(request, report["patient_id"])
        except ServiceRefused:
            ctx["log"] = None
    return render(request, "web/privacy/accounting.html", ctx)


#: How many disclosure-log rows the accounting page reads to follow a patient's requests.
LOG_LIMIT = 5000


def _requests_of(request: HttpRequest, patient_id: str) -> list[dict]:
    """The patient's disclosure requests, each with its latest step (later steps of a request do not
    name the patient in the log, so they are matched by request id)."""
    opened = call(request, "audit", "disclosure_log", patient_id=patient_id, limit=LOG_LIMIT)
    ids = {r["request_id"] for r in opened}
    steps: dict[str, list[dict]] = {}
    for row in call(request, "audit", "disclosure_log", limit=LOG_LIMIT):
        if row["request_id"] in ids:
            steps.setdefault(row["request_id"], []).append(row)
    out = []
    for first in opened:
        rows = sorted(steps.get(first["request_id"], [first]), key=lambda r: r["global_position"])
        decided = next((r for r in reversed(rows) if r.get("decision")), {})
        out.append({**first, "when": _when(first.get("recorded_at")), "status": rows[-1].get("status"),
                    "decision": decided.get("decision"), "rule": decided.get("rule")})
    return out


# -- sign-in events ------------------------------------------------------------------------------

def _day(value: str | None) -> str | None:
    try:
        return date.fromisoformat(value).isoformat() if value else None
    except ValueError:
        return None


@roles_required(*LOG_READERS)
def sign_ins(request: HttpRequest) -> HttpResponse:
    q = {k: (request.GET.get(k) or "").strip() for k in ("since", "until", "kind", "member_id")}
    errors = {k: "Give a date as YYYY-MM-DD." for k in ("since", "until") if q[k] and _day(q[k]) is None}
    if q["kind"] and q["kind"] not in dict(SIGN_IN_KINDS):
        errors["kind"] = "Choose a kind from the list."
    if errors:
        return render(request, "web/privacy/sign_ins.html", {"q": q, "kinds": SIGN_IN_KINDS, "errors": errors},
                      status=400)
    try:
        log = call(request, "directory", "sign_in_events", since=q["since"] or None, until=q["until"] or None,
                   kind=q["kind"] or None, member_id=q["member_id"] or None)
    except InvalidInput as exc:
        field = next((f for f in ("since", "until", "kind", "member_id") if exc.reason.startswith(f)), "since")
        return render(request, "web/privacy/sign_ins.html", {"q": q, "kinds": SIGN_IN_KINDS,
                                                             "errors": {field: exc.reason}}, status=400)
    for e in log["events"]:
        e["when"] = _when(e["at"])
    failures = sum(log["counts"].get(k, 0) for k in ("SignInFailed", "AccountLockedOut", "AccessAttemptRefused"))
    return render(request, "web/privacy/sign_ins.html", {"q": q, "kinds": SIGN_IN_KINDS, "errors": {}, "log": log,
                                                         "failures": failures})


urlpatterns = [
    path("amendments", amendments, name="privacy_amendments"),
    path("amendments/<uuid:note_id>/<uuid:amendment_id>", amendment, name="privacy_amendment"),
    path("emergency-access", emergency_access, name="privacy_emergency_access"),
    path("emergency-reviews", emergency_reviews, name="privacy_emergency_reviews"),
    path("accounting", accounting, name="privacy_accounting"),
    path("sign-ins", sign_ins, name="privacy_sign_ins"),
]
