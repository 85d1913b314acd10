"""Pages for the auditor (issue 11, item 4), under ``/audit/``: read-only, over the audit service's RPCs.

- ``auditor_home``: where to start (a patient's or a note's timeline by id, the access log, integrity).
- ``auditor_patient_timeline`` / ``auditor_note_timeline``: versions and decisions interleaved by
  global position (``audit.patient_timeline`` / ``audit.note_timeline``), paged by ``?before=``.
- ``auditor_access_log``: the access log filtered by decision, rule, purpose, requester role and
  dates, its counts per rule, and a chart of decisions per day (inline SVG drawn here, with the
  same numbers as a table); ``auditor_export``: that filtered log as a FHIR Bundle or CSV download.
- ``auditor_integrity``: the last verify result, the signed tree heads, the last re-judging;
  ``auditor_verify`` and ``auditor_rejudge`` (POST, CSRF) run them on demand.

Who: auditor or privacy officer (the audit service checks again, and records refusals). Nothing
here is clinical content: the audit projections hold ids, roles, purposes, decisions and rules.
"""
from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET, require_POST

from web.pages.common import NavItem, call, roles_required

#: Who may open these pages (the audit service's AUDIT_READERS).
AUDITORS = ("auditor", "privacy_officer")
TIMELINE_PAGE = 200
SEARCH_ROWS = 500
#: Seconds to wait for a verify or a re-judging of the whole log (the page says if it took longer).
CHECK_TIMEOUT = 300.0
EXPORT_TIMEOUT = 60.0
FILTERS = ("decision", "rule", "purpose", "requester_role", "since", "until")

NAV: list[NavItem] = [
    NavItem("Audit", "web:auditor_home", AUDITORS, id="nav-audit"),
]


def _when(value):
    return parse_datetime(value or "") if isinstance(value, str) else value


def _timeline(rows: list[dict]) -> list[dict]:
    return [{**r, "at": _when(r.get("at")) or r.get("at")} for r in rows]


@require_GET
@roles_required(*AUDITORS)
def home(request: HttpRequest) -> HttpResponse:
    patient_id = request.GET.get("patient_id", "").strip()
    note_id = request.GET.get("note_id", "").strip()
    if patient_id:
        return redirect("web:auditor_patient_timeline", patient_id=patient_id)
    if note_id:
        return redirect("web:auditor_note_timeline", note_id=note_id)
    return render(request, "web/auditor/home.html", {})


def _before(request: HttpRequest) -> int | None:
    raw = request.GET.get("before", "")
    return int(raw) if raw.isdigit() else None


@require_GET
@roles_required(*AUDITORS)
def patient_timeline(request: HttpRequest, patient_id: str) -> HttpResponse:
    found = call(request, "audit", "patient_timeline", patient_id, limit=TIMELINE_PAGE,
                 before_position=_before(request))
    return render(request, "web/auditor/timeline.html", {
        "subject": "patient", "patient_id": patient_id, "found": found, "entries": _timeline(found["entries"]),
        "older_url": (reverse("web:auditor_patient_timeline", kwargs={"patient_id": patient_id})
                      + f"?before={found['older_before']}") if found.get("older_before") else None,
    })


@require_GET
@roles_required(*AUDITORS)
def note_timeline(request: HttpRequest, note_id: str) -> HttpResponse:
    found = call(request, "audit", "note_timeline", note_id, limit=TIMELINE_PAGE, before_position=_before(request))
    return render(request, "web/auditor/timeline.html", {
        "subject": "note", "note_id": note_id, "patient_id": found.get("patient_id"), "found": found,
        "entries": _timeline(found["entries"]),
        "older_url": (reverse("web:auditor_note_timeline", kwargs={"note_id": note_id})
                      + f"?before={found['older_before']}") if found.get("older_before") else None,
    })


def _filters(request: HttpRequest) -> dict[str, str]:
    return {k: request.GET.get(k, "").strip() for k in FILTERS if request.GET.get(k, "").strip()}


#: The chart's geometry (SVG user units).
CHART_HEIGHT, CHART_TOP, CHART_BOTTOM, CHART_LEFT = 180, 10, 40, 40
BAR, GAP, GROUP_GAP = 14, 2, 18
SERIES = (("permit", "#1f7a4d"), ("deny", "#b42318"), ("other", "#8a5a00"))


def chart(by_day: list[dict]) -> dict:
    """Bars per day (permit, deny, other side by side), scaled to the busiest series of any day:
    {width, height, bars: [{x, y, w, h, series, colour, n, day}], labels: [{x, y, text}], ticks, max}."""
    peak = max([d[s] for d in by_day for s, _c in SERIES] or [0]) or 1
    plot = CHART_HEIGHT - CHART_TOP - CHART_BOTTOM
    group = len(SERIES) * (BAR + GAP) + GROUP_GAP
    bars, labels = [], []
    for i, d in enumerate(by_day):
        x0 = CHART_LEFT + GROUP_GAP // 2 + i * group
        for j, (series, colour) in enumerate(SERIES):
            h = round(plot * d[series] / peak) if d[series] else 0
            bars.append({"x": x0 + j * (BAR + GAP), "y": CHART_TOP + plot - h, "w": BAR, "h": max(h, 0),
                         "series": series, "colour": colour, "n": d[series], "day": d["day"]})
        labels.append({"x": x0 + (len(SERIES) * (BAR + GAP)) // 2, "y": CHART_HEIGHT - CHART_BOTTOM + 16,
                       "text": d["day"][5:]})
    ticks = [{"y": CHART_TOP + plot - round(plot * v / peak), "v": v} for v in sorted({0, peak // 2, peak})]
    return {"width": max(CHART_LEFT + GROUP_GAP + len(by_day) * group, 240), "height": CHART_HEIGHT, "bars": bars,
            "labels": labels, "ticks": ticks, "max": peak, "axis_y": CHART_HEIGHT - CHART_BOTTOM,
            "left": CHART_LEFT, "series": [{"name": s, "colour": c} for s, c in SERIES]}


@require_GET
@roles_required(*AUDITORS)
def access_log(request: HttpRequest) -> HttpResponse:
    filters = _filters(request)
    found = call(request, "audit", "access_log_search", limit=SEARCH_ROWS, **filters)
    query = urlencode(filters)
    rules: dict[str, dict] = {}
    for r in found["by_rule"]:
        entry = rules.setdefault(r["rule"] or "", {"rule": r["rule"] or "", "total": 0, "decisions": []})
        entry["total"] += r["n"]
        entry["decisions"].append({"decision": r["decision"] or "", "n": r["n"]})
    return render(request, "web/auditor/access_log.html", {
        "filters": filters, "found": found, "choices": found["choices"],
        "rows": [{**r, "recorded_at": _when(r.get("recorded_at")) or r.get("recorded_at")} for r in found["rows"]],
        "rules": sorted(rules.values(), key=lambda r: (-r["total"], r["rule"])),
        "by_day": found["by_day"], "chart": chart(found["by_day"]), "query": query,
        "shown_all": len(found["rows"]) >= found["total"],
    })


@require_GET
@roles_required(*AUDITORS)
def export(request: HttpRequest, fmt: str) -> HttpResponse:
    found = call(request, "audit", "export_access_log", fmt, timeout=EXPORT_TIMEOUT, **_filters(request))
    response = HttpResponse(found["text"], content_type=f"{found['content_type']}; charset=utf-8")
    filename = "".join(c for c in found["filename"] if c.isalnum() or c in "-._") or "export"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_GET
@roles_required(*AUDITORS)
def integrity(request: HttpRequest) -> HttpResponse:
    found = call(request, "audit", "integrity_status")
    last = found.get("last_verify")
    if last:
        last = {**last, "verified_at": _when(last.get("verified_at")) or last.get("verified_at")}
    heads = [{**h, "timestamp": _when(h.get("timestamp")) or h.get("timestamp")} for h in found["tree_heads"]["heads"]]
    return render(request, "web/auditor/integrity.html", {
        "status": found["status"], "last": last, "heads": heads, "tree_heads": found["tree_heads"],
        "last_rejudge": found.get("last_rejudge"),
    })


@require_POST
@roles_required(*AUDITORS)
def verify(request: HttpRequest) -> HttpResponse:
    result = call(request, "audit", "verify_chain", timeout=CHECK_TIMEOUT)
    if result.get("busy"):
        messages.warning(request, "A check of the log is already running; its result will show here when done.")
    elif result["ok"]:
        messages.info(request, f"Verify: OK, {result['events']} events checked.")
    else:
        messages.error(request, f"Verify FAILED at global position {result['first_bad_position']}.")
    return redirect(reverse("web:auditor_integrity") + "#last-verify")


@require_POST
@roles_required(*AUDITORS)
def rejudge(request: HttpRequest) -> HttpResponse:
    result = call(request, "audit", "rejudge_decisions", timeout=CHECK_TIMEOUT)
    if result.get("busy"):
        messages.warning(request, "A check of the log is already running; try again when it is done.")
        return redirect("web:auditor_integrity")
    return render(request, "web/auditor/rejudge.html", {"result": result,
                                                         "rejudged_at": _when(result.get("rejudged_at"))})


urlpatterns = [
    path("", home, name="auditor_home"),
    path("patients/<path:patient_id>/", patient_timeline, name="auditor_patient_timeline"),
    path("notes/<path:note_id>/", note_timeline, name="auditor_note_timeline"),
    path("access-log/", access_log, name="auditor_access_log"),
    path("access-log/export.<str:fmt>", export, name="auditor_export"),
    path("integrity/", integrity, name="auditor_integrity"),
    path("integrity/verify", verify, name="auditor_verify"),
    path("integrity/rejudge", rejudge, name="auditor_rejudge"),
]
