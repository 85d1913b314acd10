"""The auditor's journeys: timelines, the filtered access log with its counts and chart, verify,
re-judging and the exports; and the pages refused to someone who is not an auditor."""
from __future__ import annotations

import re
from pathlib import Path


def _rows(page, selector: str) -> list[dict]:
    return page.eval_on_selector_all(selector, """rows => rows.map(r => ({
        position: Number(r.dataset.position), kind: r.dataset.kind || '', decision: r.dataset.decision || '',
        rule: r.dataset.rule || '', text: r.innerText}))""")


def _download(page, selector: str) -> dict:
    with page.expect_download() as info:
        page.click(selector)
    download = info.value
    return {"filename": download.suggested_filename, "text": Path(download.path()).read_text(encoding="utf-8")}


def walk(session) -> dict:
    """An auditor, from the header's Audit link: a patient's timeline, one of its notes' timeline,
    the access log filtered by a rule (counts, chart), the exports, verify and re-judging."""
    from playwright.sync_api import expect

    p = session.params
    page, _ = session.enrol(p["person_id"], ["auditor"])
    out: dict = {"nav": page.locator("header nav a").all_inner_texts()}
    page.click("#nav-audit")
    expect(page.get_by_role("heading", name="Audit", exact=True)).to_be_visible()
    session.look(page, "auditor-home")

    # A patient's timeline, from the form on the audit home page.
    page.fill("#patient_id", p["patient_id"])
    page.click("#patient-open")
    expect(page.locator("#timeline-patient")).to_have_text(p["patient_id"])
    session.look(page, "auditor-patient-timeline")
    out["patient_rows"] = _rows(page, "#timeline tbody tr[data-position]")
    out["patient_count"] = page.locator("#timeline-count").inner_text()

    # One of the patient's notes, from its row in the patient's timeline.
    page.locator(f"#timeline a[href$='/audit/notes/{p['note_id']}/']").first.click()
    expect(page.locator("#timeline-note")).to_have_text(p["note_id"])
    session.look(page, "auditor-note-timeline")
    out["note_rows"] = _rows(page, "#timeline tbody tr[data-position]")

    # The access log, filtered by a rule.
    page.click("#audit-access-log-link")
    expect(page.get_by_role("heading", name="Access log")).to_be_visible()
    out["unfiltered_total"] = int(page.locator("#access-total strong").inner_text())
    session.look(page, "auditor-access-log")
    page.select_option("#f-rule", p["rule"])
    page.click("#filter-apply")
    expect(page).to_have_url(re.compile(r"[?&]rule="))
    expect(page.locator("#f-rule")).to_have_value(p["rule"])
    session.look(page, "auditor-access-log-filtered")
    out["filtered_total"] = int(page.locator("#access-total strong").inner_text())
    out["rule_counts"] = page.eval_on_selector_all(
        "#rule-counts tbody tr[data-rule]", "rows => rows.map(r => ({rule: r.dataset.rule, total: Number(r.dataset.total)}))")
    out["filtered_rows"] = _rows(page, "#access-rows tbody tr[data-position]")
    out["bars"] = page.eval_on_selector_all(
        "#decisions-chart rect.bar", "bars => bars.map(b => ({series: b.dataset.series, n: Number(b.dataset.n),"
        " height: Number(b.getAttribute('height'))}))")
    out["chart_name"] = page.locator("#decisions-chart title#chart-title").text_content()
    out["chart_table"] = page.eval_on_selector_all(
        "#chart-table tbody tr", "rows => rows.map(r => Array.from(r.cells).map(c => c.innerText))")
    out["fhir"] = _download(page, "#export-fhir")
    out["csv"] = _download(page, "#export-csv")

    # Integrity: verify, then re-judge.
    page.click("#audit-integrity-link")
    expect(page.get_by_role("heading", name="Integrity of the record")).to_be_visible()
    page.click("#verify-run")
    expect(page.locator("#verify-outcome")).to_have_text("OK", timeout=120_000)
    session.look(page, "auditor-integrity")
    out["verify_events"] = int(page.locator("#verify-events").inner_text())
    out["messages"] = page.locator("#messages").inner_text()
    out["tree_heads"] = page.locator("#tree-heads tbody tr").count()
    page.click("#rejudge-run")
    expect(page.locator("#rejudge-result")).to_be_visible(timeout=120_000)
    session.look(page, "auditor-rejudge")
    result = page.locator("#rejudge-result")
    out["rejudge"] = {k: int(result.get_attribute(f"data-{k}") or -1) for k in ("checked", "mismatches", "unsealed")}
    out["rejudge_text"] = result.inner_text()
    page.click("#audit-integrity-link")
    out["rejudge_summary"] = page.locator("#rejudge-summary").inner_text()
    return out


def hostile_input(session) -> dict:
    """Markup in an id and in a filter is shown as text; a POST without the CSRF token is refused;
    a bad date is a 400 naming the field."""
    page, _ = session.enrol(session.params["person_id"], ["auditor"])
    evil = '<img src=x id="injected">"\''
    fired: list[str] = []
    page.on("dialog", lambda d: (fired.append(d.message), d.dismiss()))
    page.goto(f"{session.base}/audit/")
    page.fill("#patient_id", evil)
    page.click("#patient-open")
    shown = page.locator("#timeline-patient").inner_text()
    injected = page.locator("#injected").count()
    bad_date = page.goto(f"{session.base}/audit/access-log/?since=yesterday")
    bad_date_text = page.locator("main").inner_text()
    filtered = page.goto(f"{session.base}/audit/access-log/?rule=" + "%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    no_csrf = page.request.post(f"{session.base}/audit/integrity/verify", max_redirects=0)
    return {"shown": shown, "injected": injected, "dialogs": fired, "bad_date_status": bad_date.status,
            "bad_date_text": bad_date_text, "filtered_status": filtered.status,
            "filtered_total": page.locator("#access-total strong").inner_text(), "no_csrf_status": no_csrf.status}


def statuses(session) -> dict:
    """The header's links and the status of every audit page and action for one person (a 403
    page is looked at with axe-core as the person sees it)."""
    page, _ = session.enrol(session.params["person_id"], session.params["roles"])
    out = {"nav": page.locator("header nav a").all_inner_texts(), "status": {}}
    for path in ("/audit/", "/audit/access-log/", "/audit/access-log/export.csv", "/audit/access-log/export.fhir",
                 "/audit/integrity/", f"/audit/patients/{session.params['patient_id']}/"):
        out["status"][path] = page.request.get(f"{session.base}{path}", max_redirects=0).status
    csrf = page.locator("input[name=csrfmiddlewaretoken]").first.input_value()  # home's sign-out form
    page.goto(f"{session.base}/audit/")
    session.look(page, f"auditor-as-{session.params['label']}")
    out["audit_home"] = page.locator("main").inner_text()
    for path in ("/audit/integrity/verify", "/audit/integrity/rejudge"):
        response = page.request.post(f"{session.base}{path}", form={"csrfmiddlewaretoken": csrf},
                                     headers={"X-CSRFToken": csrf, "Referer": f"{session.base}/audit/"},
                                     max_redirects=0)
        out["status"][path] = response.status
    return out
