"""Front desk and release of information (issue 11, item 2): the disclosure request queue, a request's
page (its decision with rule, reasons and the exact fields that will leave; the 164.514(h)
identity-verification step; amending a held request's case facts; release), recording a paper request (a patient's, a third party's, or
legal process with the note kinds and dates it covers as structured fields), and recording an
authorization against the 164.508(c) checklist (the service's own defects shown before saving) and
its revocation.

Every page asks the disclosures service over RPC as the signed-in person; the service decides who
may (request staff: release of information, front desk, privacy officer), what a request's state is
and what leaves. Content reaches a page only from ``resume_request`` (the decided path), sealed
psychotherapy text opened here with a key made for that one call, and is never stored.
"""
from __future__ import annotations

import json
import re
from datetime import date, datetime, timezone
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_http_methods, require_POST

from web.pages.common import InvalidInput, NavItem, call, roles_required

#: Who keeps requests and authorizations (the disclosures service's REQUEST_STAFF; it checks again).
STAFF = ("release_of_information", "front_desk", "privacy_officer")

NAV: list[NavItem] = [
    NavItem("Disclosure requests", "web:frontdesk_queue", STAFF, id="nav-frontdesk-queue"),
]

#: The queue's states, in the order a request moves through them (labels for people).
STATES = (
    ("requested", "Received"),
    ("on_hold", "On hold: a fact to verify"),
    ("verified", "Verified"),
    ("decided", "Decided, awaiting release"),
    ("released", "Released"),
    ("refused", "Refused"),
)
STATE_LABELS = dict(STATES)
QUEUE_LIMIT = 200

#: Who may ask from outside the practice (UI choices; the service validates the role).
REQUESTER_ROLES = (
    ("patient", "The patient"),
    ("patient_designee", "Someone the patient designated"),
    ("parent", "Parent / guardian"),
    ("attorney", "Attorney"),
    ("court", "Court"),
    ("defense_counsel", "Defense counsel"),
    ("prosecutor", "Prosecutor"),
    ("law_enforcement", "Law enforcement"),
    ("external_clinician", "Clinician outside the practice"),
    ("insurer_health_plan", "Health plan"),
    ("workers_comp_carrier", "Workers' compensation carrier"),
    ("health_oversight_agency", "Health oversight agency"),
    ("child_protective_services", "Child protective services"),
    ("coroner_me", "Coroner / medical examiner"),
    ("researcher", "Researcher"),
    ("hhs_ocr", "HHS Office for Civil Rights"),
)
PURPOSES = (
    ("other", "At the individual's request / under an authorization"),
    ("individual_access", "The patient's own access (164.524)"),
    ("treatment", "Treatment"),
    ("payment", "Payment"),
    ("judicial", "Judicial or administrative proceeding (164.512(e))"),
    ("law_enforcement", "Law enforcement (164.512(f))"),
    ("required_by_law", "Required by law (164.512(a))"),
    ("health_oversight", "Health oversight (164.512(d))"),
    ("serious_threat", "Serious threat to health or safety (164.512(j))"),
    ("workers_comp", "Workers' compensation (164.512(l))"),
    ("coroner_me", "Coroner / medical examiner (164.512(g))"),
    ("research", "Research (164.512(i))"),
)
NOTE_KINDS = (("progress", "Progress notes"), ("psychotherapy", "Psychotherapy notes"),
              ("sud_counseling", "SUD counseling notes (42 CFR Part 2)"))
LEGAL_TYPES = (
    ("", "Not legal process"),
    ("court_order", "Court order"),
    ("subpoena_without_court_order", "Subpoena (no court order)"),
    ("informal_request", "Informal request (e.g. an attorney's letter)"),
)
ASSURANCES = (
    ("", "None received"),
    ("notice_to_individual", "Notice to the individual (164.512(e)(1)(iii))"),
    ("qualified_protective_order", "Qualified protective order (164.512(e)(1)(iv))"),
)
VERIFY_METHODS = (
    ("photo identification in person", "Photo identification, in person"),
    ("call-back to the number on file", "Call-back to the number on file"),
    ("court seal and clerk's signature checked", "Court seal and clerk's signature checked"),
    ("bar membership and letter of representation checked", "Bar membership and letter of representation"),
    ("agency credentials and written statement of authority", "Agency credentials and written statement of authority"),
)
#: The 164.508(c) elements, as the form asks for them (the service judges them: check_authorization).
AUTH_COVERS = (
    ("progress_notes", "Progress notes and the rest of the record, except psychotherapy notes"),
    ("psychotherapy_notes", "Psychotherapy notes only (a separate authorization, 164.508(b)(3)(ii))"),
    ("part2_records", "42 CFR Part 2 records (a Part 2 consent, 42 CFR 2.31; not SUD counseling notes)"),
    ("sud_counseling_notes", "SUD counseling notes only (a consent for these alone, 42 CFR 2.31(b))"),
)
#: Facts a held request may be amended with besides legal process: whether each is now known true or
#: false (the disclosures service checks them against the case-file contract).
AMENDABLE_FLAGS = (
    ("patient_consent", "The patient's written consent is on file (42 CFR 2.31)"),
    ("part2_audit_agreement", "The oversight agency agreed in writing to 42 CFR 2.53's limits"),
)
KNOWN = (("", "Unknown / unchanged"), ("yes", "Yes"), ("no", "No"))
STATEMENTS = (
    ("right_to_revoke", "The right to revoke in writing, and how (164.508(c)(2)(i))"),
    ("conditioning", "Whether treatment or payment may be conditioned on signing (164.508(c)(2)(ii))"),
    ("redisclosure", "That the information may be redisclosed and no longer protected (164.508(c)(2)(iii))"),
)
UUID_RE = re.compile(r"^[0-9a-f-]{36}$")


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _instant(day: str) -> str | None:
    """A calendar date from a form as the start of that UTC day (RFC 3339); None (the service's
    "now") for no date or today, so something received today is not dated before what was done
    earlier today in reliance on the document (164.508(b)(5)(i))."""
    day = (day or "").strip()
    if not day:
        return None
    try:
        parsed = date.fromisoformat(day)
    except ValueError:
        raise InvalidInput(f"invalid date {day!r}", "ValidationError") from None
    if parsed >= datetime.now(timezone.utc).date():
        return None
    return parsed.isoformat() + "T00:00:00Z"


#: The service's field names -> the form's input ids (so an error is linked to its field).
FIELD_INPUTS = {"patient_id": "patient_id", "external_requester.id": "requester_id",
                "external_requester.org": "requester_org", "external_requester.role": "requester_role",
                "date_from": "date_from", "date_to": "date_to", "authorization_id": "authorization_id",
                "authorization.patient": "patient", "authorization.signed_date": "signed_date",
                "authorization.expiration_date": "expiration_date", "authorization.id": "authorization_id",
                "received_at": "received_date"}


def _problem_field(exc: InvalidInput) -> str:
    """The form input the service's error names, if any."""
    # The service's message names the field first: "invalid field X[: why]" or "X: why".
    match = re.match(r"^\(?'?(?:invalid field )?([A-Za-z_][\w.]*)(?::|'|$)", exc.reason)
    return FIELD_INPUTS.get(match.group(1), "") if match else ""


def _problem(exc: InvalidInput) -> str:
    """The service's own words for bad input, without the tuple dressing of a remote error."""
    text = exc.reason
    match = re.match(r"^\('([^']*)'", text)
    return match.group(1) if match else text


# -- the queue ------------------------------------------------------------------------------------

@roles_required(*STAFF)
def queue(request: HttpRequest) -> HttpResponse:
    """Every request on file, newest first, filterable by state (``?state=on_hold``)."""
    state = request.GET.get("state") or None
    if state is not None and state not in STATE_LABELS:
        state = None
    rows = call(request, "disclosures", "list_requests", state=None, limit=QUEUE_LIMIT)
    counts = {key: 0 for key, _ in STATES}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    shown = [r for r in rows if state is None or r["status"] == state]
    for row in shown:
        row["status_label"] = STATE_LABELS.get(row["status"], row["status"])
    tabs = [{"key": key, "label": label, "count": counts.get(key, 0), "current": key == state} for key, label in STATES]
    return render(request, "web/frontdesk/queue.html", {
        "rows": shown, "tabs": tabs, "state": state, "state_label": STATE_LABELS.get(state or "", ""),
        "total": len(rows), "limit": QUEUE_LIMIT})


# -- one request ----------------------------------------------------------------------------------

def _request_id(request_id: str) -> str:
    if not UUID_RE.match(request_id):
        raise Http404("no such request")
    return request_id


def _request_page(request: HttpRequest, view: dict, status: int = 200, **extra: Any) -> HttpResponse:
    legal = (view.get("facts") or {}).get("legal_process")
    return render(request, "web/frontdesk/request.html", {
        "r": view, "status_label": STATE_LABELS.get(view["status"], view["status"]), "legal": legal,
        "verify_methods": VERIFY_METHODS, "legal_types": LEGAL_TYPES[1:], "note_kinds": NOTE_KINDS,
        "known": KNOWN, "flags": AMENDABLE_FLAGS, "judge": _known_value((legal or {}).get("signed_by_judge")),
        **extra}, status=status)


def _known_value(value: Any) -> str:
    return {True: "yes", False: "no"}.get(value, "")


def _known(raw: str | None) -> bool | None:
    return {"yes": True, "no": False}.get((raw or "").strip())


@roles_required(*STAFF)
def request_detail(request: HttpRequest, request_id: str) -> HttpResponse:
    view = call(request, "disclosures", "get_disclosure_request", _request_id(request_id))
    return _request_page(request, view)


@roles_required(*STAFF)
@require_POST
def verify(request: HttpRequest, request_id: str) -> HttpResponse:
    """164.514(h): record what the staff member checked (the verifier is the signed-in person)."""
    request_id = _request_id(request_id)
    method = request.POST.get("method", "")
    detail = request.POST.get("detail", "").strip()
    identity = request.POST.get("identity_verified") == "on"
    authority = request.POST.get("authority_verified") == "on"
    if method not in dict(VERIFY_METHODS) or not (identity or authority):
        view = call(request, "disclosures", "get_disclosure_request", request_id)
        return _request_page(request, view, status=400, verify_error=(
            "Choose what you checked, and tick what it verified (identity, authority or both)."))
    recorded = f"{method}: {detail}" if detail else method
    call(request, "disclosures", "verify_requester",
         {"request_id": request_id, "method": recorded, "identity_verified": identity,
          "authority_verified": authority})
    messages.info(request, "Verification recorded; the request has been decided.")
    return redirect("web:frontdesk_request", request_id=request_id)


def _amended_facts(post) -> dict:
    """The facts the amend form establishes: legal process (replacing the request's, so the form is
    filled with it), and each flag now known. Raises InvalidInput naming what is missing."""
    facts: dict[str, Any] = {}
    legal_type = post.get("amend_legal_type", "").strip()
    if legal_type:
        if legal_type not in dict(LEGAL_TYPES):
            raise InvalidInput("facts.legal_process.type: choose the kind of legal process", "ValidationError")
        covers = [k for k in post.getlist("amend_covers") if k in dict(NOTE_KINDS)]
        facts["legal_process"] = {"type": legal_type, "signed_by_judge": _known(post.get("amend_signed_by_judge")),
                                  "covers": covers or None, "scope": post.get("amend_scope", "").strip() or None}
    for name, _ in AMENDABLE_FLAGS:
        value = _known(post.get(f"amend_{name}"))
        if value is not None:
            facts[name] = value
    return facts


@roles_required(*STAFF)
@require_POST
def amend_facts(request: HttpRequest, request_id: str) -> HttpResponse:
    """Amend a held request's case facts (``disclosures.amend_disclosure_facts``; the staff member is
    the signed-in person): legal process now recorded with what it covers, an authorization received,
    a fact that was unknown now known. The service records the amendment and decides the request
    again; an error names the field and the page shows it on the form."""
    request_id = _request_id(request_id)
    try:
        payload: dict[str, Any] = {"request_id": request_id, "facts": _amended_facts(request.POST)}
        authorization_id = request.POST.get("amend_authorization_id", "").strip()
        if authorization_id:
            payload["authorization_id"] = authorization_id
        reason = request.POST.get("amend_reason", "").strip()
        if reason:
            payload["reason"] = reason
        if not payload["facts"] and not authorization_id:
            raise InvalidInput("facts: record at least one fact now known, or the authorization received",
                               "ValidationError")
        call(request, "disclosures", "amend_disclosure_facts", payload)
    except InvalidInput as exc:
        view = call(request, "disclosures", "get_disclosure_request", request_id)
        return _request_page(request, view, status=400, amend_error=_problem(exc))
    messages.info(request, "Facts amended and recorded; the request has been decided again on them.")
    return redirect("web:frontdesk_request", request_id=request_id)


def _shown_value(value: Any, depth: int = 0) -> str:
    """A released value as plain text for print: strings as they are, lists joined, a record (a
    whole note) as indented ``name: value`` lines."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ", ".join(value)
    if isinstance(value, dict) and depth < 3:
        pad = "  " * depth
        lines = []
        for key, item in value.items():
            shown = _shown_value(item, depth + 1)
            if item in (None, "", [], {}):
                continue
            lines.append(f"{pad}{key}:\n{shown}" if "\n" in shown else f"{pad}{key}: {shown}")
        return "\n".join(lines)
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


@roles_required(*STAFF)
@require_POST
def release(request: HttpRequest, request_id: str) -> HttpResponse:
    """Carry a decided request on (``resume_request``): the notes service releases exactly the
    decided fields of the decided notes, the accounting entry is recorded, and the content is shown
    once, for printing and sending (never stored here; psychotherapy text opened with a key made
    for this call)."""
    from confide import transport

    request_id = _request_id(request_id)
    key, reply_key = transport.ephemeral()
    view = transport.open_tree(key, call(request, "disclosures", "resume_request", request_id,
                                         reply_public_key=reply_key))
    content = view.pop("content", None) or {}
    notes = []
    for note in (content.get("notes") or []) if isinstance(content, dict) else []:
        notes.append({"note_id": note.get("note_id"), "kind": note.get("kind"),
                      "fields": [(k, _shown_value(v)) for k, v in sorted((note.get("fields") or {}).items())],
                      "withheld": note.get("withheld") or []})
    shown = {name for note in notes for name, _ in note["fields"]}
    decided = list((view.get("decision") or {}).get("fields_released") or [])
    # A decided name the notes service maps to no field of a note (a description such as "records
    # described in the subpoena or request", the minimum-necessary policy's default) left nothing.
    unreleased = [name for name in decided if name not in shown] if notes else []
    return render(request, "web/frontdesk/released.html", {
        "r": view, "notes": notes, "unreleased": unreleased, "legal": (view.get("facts") or {}).get("legal_process"),
        "status_label": STATE_LABELS.get(view["status"], view["status"])})


# -- recording a paper request ----------------------------------------------------------------------

def _request_form_context(values: dict, error: str = "", invalid: str = "") -> dict:
    return {"v": values, "error": error, "invalid": invalid, "roles": REQUESTER_ROLES, "purposes": PURPOSES, "note_kinds": NOTE_KINDS,
            "legal_types": LEGAL_TYPES, "assurances": ASSURANCES}


@roles_required(*STAFF)
@require_http_methods(["GET", "POST"])
def request_new(request: HttpRequest) -> HttpResponse:
    """A request that arrived on paper. Legal process names its type, the note kinds it covers
    (one request per kind, ``facts.legal_process.covers``) and the dates it covers (the request's
    date range): fields, not prose."""
    if request.method == "GET":
        return render(request, "web/frontdesk/request_new.html", _request_form_context({"covers": []}))
    p = request.POST
    values = {k: p.get(k, "").strip() for k in (
        "patient_id", "requester_role", "requester_id", "requester_org", "purpose", "note_kind", "date_from",
        "date_to", "authorization_id", "legal_type", "assurance", "scope")}
    values.update({"covers": p.getlist("covers"), "signed_by_judge": p.get("signed_by_judge") == "on",
                   "objection_period_lapsed": p.get("objection_period_lapsed") == "on"})
    base = {"patient_id": values["patient_id"], "purpose": values["purpose"],
            "external_requester": {"role": values["requester_role"], "id": values["requester_id"],
                                   "org": values["requester_org"]},
            "date_from": values["date_from"] or None, "date_to": values["date_to"] or None,
            "authorization_id": values["authorization_id"] or None, "await_release": True}
    if values["legal_type"]:
        kinds = [k for k in values["covers"] if k in dict(NOTE_KINDS)]
        if not kinds:
            return render(request, "web/frontdesk/request_new.html", _request_form_context(
                values, "Tick the note kinds the order or subpoena expressly names."), status=400)
        legal = {"type": values["legal_type"], "covers": kinds, "signed_by_judge": values["signed_by_judge"],
                 "scope": values["scope"] or None, "satisfactory_assurance": values["assurance"] or None,
                 "objection_period_lapsed": values["objection_period_lapsed"]}
        payloads = [{**base, "note_kind": kind, "facts": {"legal_process": legal}} for kind in kinds]
    else:
        payloads = [{**base, "note_kind": values["note_kind"] or "progress"}]
    recorded = []
    try:
        for payload in payloads:
            recorded.append(call(request, "disclosures", "request_disclosure", payload))
    except InvalidInput as exc:
        if not recorded:
            return render(request, "web/frontdesk/request_new.html",
                          _request_form_context(values, _problem(exc), _problem_field(exc)), status=400)
        raise
    if len(recorded) == 1:
        messages.info(request, "Request recorded.")
        return redirect("web:frontdesk_request", request_id=recorded[0]["request_id"])
    messages.info(request, f"{len(recorded)} requests recorded, one per note kind the legal process covers.")
    return redirect(reverse("web:frontdesk_queue"))


# -- authorizations ---------------------------------------------------------------------------------

def _event_occurred(p) -> str | bool | None:
    """164.508(b)(2)(i): the date the expiration event occurred, False when staff confirmed it has not
    occurred yet, else None (unknown: the engine will not rely on the authorization, and says so)."""
    occurred_on = p.get("expiration_event_occurred_on", "").strip()
    if occurred_on:
        return occurred_on
    if p.get("expiration_event", "").strip() and p.get("expiration_event_not_occurred") == "on":
        return False
    return None


def _authorization_from(p) -> dict:
    form = {
        "patient": p.get("patient", "").strip(),
        "covers": [p.get("covers")] if p.get("covers") in dict(AUTH_COVERS) else [],
        "description": p.get("description", "").strip() or None,
        "authorized_discloser": p.get("authorized_discloser", "").strip() or None,
        "recipients": _lines(p.get("recipients", "")),
        "purposes": _lines(p.get("purposes", "")),
        "expiration_date": p.get("expiration_date", "").strip() or None,
        "expiration_event": p.get("expiration_event", "").strip() or None,
        "expiration_event_occurred": _event_occurred(p),
        "signed_by": p.get("signed_by", "").strip() or None,
        "signed_date": p.get("signed_date", "").strip() or None,
        "signer_role": "personal_representative" if p.get("signer_role") == "personal_representative" else "individual",
        "rep_authority_described": p.get("rep_authority_described", "").strip() or None,
        "statements_present": {key: p.get(f"statement_{key}") == "on" for key, _ in STATEMENTS},
        "plain_language": p.get("plain_language") == "on",
    }
    if p.get("authorization_id", "").strip():
        form["id"] = p["authorization_id"].strip()
    return form


def _authorization_context(p, **extra: Any) -> dict:
    values = {k: p.get(k, "") for k in (
        "authorization_id", "patient", "covers", "description", "authorized_discloser", "recipients", "purposes",
        "expiration_date", "expiration_event", "signed_by", "signed_date", "signer_role",
        "rep_authority_described", "received_date")}
    values["statements"] = {key: p.get(f"statement_{key}") == "on" for key, _ in STATEMENTS}
    values["plain_language"] = p.get("plain_language", "on" if not p else "") == "on"
    values["expiration_event_occurred_on"] = p.get("expiration_event_occurred_on", "")
    values["expiration_event_not_occurred"] = p.get("expiration_event_not_occurred") == "on"
    return {"v": values, "covers_choices": AUTH_COVERS, "statements": STATEMENTS, **extra}


@roles_required(*STAFF)
@require_http_methods(["GET", "POST"])
def authorization_new(request: HttpRequest) -> HttpResponse:
    """Enter a signed authorization. "Check" asks the service for its defects (nothing recorded);
    "Save" records it (a defective one is recorded as defective, with its defects)."""
    if request.method == "GET":
        return render(request, "web/frontdesk/authorization_new.html", _authorization_context({}))
    form = _authorization_from(request.POST)
    action = request.POST.get("action")
    try:
        if action == "save":
            received = _instant(request.POST.get("received_date", ""))
            saved = call(request, "disclosures", "record_authorization", form, received_at=received)
            messages.info(request, "Authorization recorded" + (" as defective." if saved.get("defective") else "."))
            return redirect("web:frontdesk_authorization", authorization_id=saved["authorization_id"])
        checked = call(request, "disclosures", "check_authorization", form)
    except InvalidInput as exc:
        return render(request, "web/frontdesk/authorization_new.html",
                      _authorization_context(request.POST, error=_problem(exc), invalid=_problem_field(exc)),
                      status=400)
    return render(request, "web/frontdesk/authorization_new.html",
                  _authorization_context(request.POST, checked=checked))


@roles_required(*STAFF)
def authorization_detail(request: HttpRequest, authorization_id: str) -> HttpResponse:
    view = call(request, "disclosures", "get_authorization", authorization_id)
    return render(request, "web/frontdesk/authorization.html", {"a": view, "form": view.get("authorization") or {},
                                                                 "today": datetime.now(timezone.utc).date().isoformat()})


@roles_required(*STAFF)
@require_POST
def authorization_revoke(request: HttpRequest, authorization_id: str) -> HttpResponse:
    """164.508(b)(5): a written revocation, effective when received (the recorder is the signed-in person)."""
    if request.POST.get("in_writing") != "on":
        view = call(request, "disclosures", "get_authorization", authorization_id)
        return render(request, "web/frontdesk/authorization.html", {
            "a": view, "form": view.get("authorization") or {}, "today": datetime.now(timezone.utc).date().isoformat(),
            "revoke_error": "A revocation must be in writing (164.508(b)(5)): tick that you received it in writing."},
            status=400)
    call(request, "disclosures", "revoke_authorization", authorization_id, True,
         received_at=_instant(request.POST.get("received_date", "")))
    messages.info(request, "Revocation recorded.")
    return redirect("web:frontdesk_authorization", authorization_id=authorization_id)


@roles_required(*STAFF)
def authorization_find(request: HttpRequest) -> HttpResponse:
    authorization_id = request.GET.get("authorization_id", "").strip()
    if not authorization_id:
        return redirect("web:frontdesk_queue")
    return redirect("web:frontdesk_authorization", authorization_id=authorization_id)


urlpatterns = [
    path("", queue, name="frontdesk_queue"),
    path("requests/new", request_new, name="frontdesk_request_new"),
    path("requests/<str:request_id>", request_detail, name="frontdesk_request"),
    path("requests/<str:request_id>/verify", verify, name="frontdesk_verify"),
    path("requests/<str:request_id>/facts", amend_facts, name="frontdesk_amend_facts"),
    path("requests/<str:request_id>/release", release, name="frontdesk_release"),
    path("authorizations/new", authorization_new, name="frontdesk_authorization_new"),
    path("authorizations/find", authorization_find, name="frontdesk_authorization_find"),
    path("authorizations/<str:authorization_id>", authorization_detail, name="frontdesk_authorization"),
    path("authorizations/<str:authorization_id>/revoke", authorization_revoke, name="frontdesk_authorization_revoke"),
]
