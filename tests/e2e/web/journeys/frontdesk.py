"""Front desk and release of information in the browser: an authorization checked (a defect shown
before anything is saved) then saved; a third party's paper request relying on it, seen in the
queue, verified (164.514(h)), decided, released; a subpoena covering progress notes only for a
date range; the authorization revoked. A clinician is refused the queue."""
from __future__ import annotations

import re

FIRM = "Smith & Jones LLP"
SCRIPT = "<script>document.title='pwned'</script>"


def _fill_authorization(page, p: dict, redisclosure: bool) -> None:
    page.fill("#patient", p["patient"])
    page.fill("#authorization_id", p["authorization_id"])
    page.check("#covers_progress_notes")
    page.fill("#description", "Progress notes of sessions in 2026")
    page.fill("#authorized_discloser", "The practice")
    page.fill("#recipients", FIRM)
    page.fill("#purposes", "at the request of the individual")
    page.fill("#expiration_date", "2030-01-01")
    page.fill("#signed_by", p["patient"])
    page.fill("#signed_date", "2026-01-05")
    page.check("#statement_right_to_revoke")
    page.check("#statement_conditioning")
    if redisclosure:
        page.check("#statement_redisclosure")
    else:
        page.uncheck("#statement_redisclosure")


def _request_page_data(page) -> dict:
    return {"status": page.locator("#request-status").get_attribute("data-status"),
            "rule": page.locator("#decision-rule").inner_text() if page.locator("#decision-rule").count() else None,
            "reasons": page.locator("#decision-reasons li").all_inner_texts(),
            "fields": page.locator("#fields-released li").all_inner_texts(),
            "notes_leaving": page.locator("#notes-leaving tbody th").all_inner_texts()}


def release_of_information(session) -> dict:
    from playwright.sync_api import expect

    p = session.params
    base = session.base
    out: dict = {}
    page, _ = session.enrol(p["roi"], ["release_of_information"])
    expect(page.locator("#nav-frontdesk-queue")).to_be_visible()

    # 1. An authorization with a missing element: the defect shows before anything is saved.
    page.goto(f"{base}/front-desk/authorizations/new")
    session.look(page, "frontdesk-authorization-new")
    _fill_authorization(page, p, redisclosure=False)
    page.click("#authorization-check")
    expect(page.locator("#check-heading")).to_contain_text("not yet saved")
    out["defects"] = page.locator("#defects li").evaluate_all("els => els.map(e => e.dataset.code)")
    out["defect_text"] = page.locator("#defects").inner_text()
    session.look(page, "frontdesk-authorization-defects")
    missing = page.goto(f"{base}/front-desk/authorizations/find?authorization_id={p['authorization_id']}")
    out["unsaved_status"] = missing.status
    out["unsaved_text"] = page.locator("#service-error-reason").inner_text()

    # 2. Complete: checked clean, then saved.
    page.goto(f"{base}/front-desk/authorizations/new")
    _fill_authorization(page, p, redisclosure=True)
    page.click("#authorization-check")
    expect(page.locator("#no-defects")).to_be_visible()
    # the form kept what was entered
    expect(page.locator("#statement_redisclosure")).to_be_checked()
    page.click("#authorization-save")
    expect(page.locator("#authorization-status")).to_have_text("active")
    out["authorization_status"] = page.locator("#authorization-status").inner_text()
    session.look(page, "frontdesk-authorization")

    # 3. A paper request from a third party relying on it.
    page.goto(f"{base}/front-desk/requests/new")
    session.look(page, "frontdesk-request-new")
    # a patient the practice does not have: refused by the service, the form kept, nothing recorded
    page.fill("#patient_id", "P-not-on-file")
    page.fill("#requester_id", "J. Smith")
    page.fill("#requester_org", FIRM)
    page.click("#request-submit")
    expect(page.locator("#form-error")).to_be_visible()
    out["unknown_patient_error"] = page.locator("#form-error").inner_text()
    out["unknown_patient_kept"] = page.locator("#requester_org").input_value()
    out["unknown_patient_linked"] = page.locator("#patient_id").get_attribute("aria-describedby")
    session.look(page, "frontdesk-request-new-error")
    page.fill("#patient_id", p["patient"])
    page.select_option("#requester_role", "attorney")
    page.fill("#requester_id", "J. Smith " + SCRIPT)
    page.fill("#requester_org", FIRM)
    page.select_option("#purpose", "other")
    page.check("#note_kind_progress")
    page.fill("#date_from", "2026-01-01")
    page.fill("#date_to", "2026-12-31")
    page.fill("#authorization_id", p["authorization_id"])
    page.click("#request-submit")
    expect(page.locator("#request-status")).to_have_attribute("data-status", "on_hold")
    request_url = page.url
    out["request_id"] = request_url.rstrip("/").rsplit("/", 1)[-1]
    out["hold_rule"] = page.locator("#hold-rule").inner_text()
    out["requester_shown"] = page.locator("#request-requester").inner_text()
    out["title"] = page.title()
    session.look(page, "frontdesk-request-on-hold")

    # 4. The queue, all and on hold.
    page.goto(f"{base}/front-desk/")
    row = page.locator(f"#request-queue tr[data-request='{out['request_id']}']")
    expect(row).to_be_visible()
    out["queue_row"] = row.inner_text()
    session.look(page, "frontdesk-queue")
    page.click("#state-tabs a[data-state=on_hold]")
    expect(page.locator("#queue-caption")).to_contain_text("On hold: a fact to verify")
    out["on_hold_statuses"] = sorted(set(page.locator("#request-queue tbody tr[data-status]").evaluate_all(
        "els => els.map(e => e.dataset.status)")))
    out["on_hold_has_request"] = row.count() == 1
    page.click("#state-tabs a[data-state=released]")
    expect(page.locator("#queue-caption")).to_contain_text("Released")
    out["released_tab_has_request"] = page.locator(f"#request-queue tr[data-request='{out['request_id']}']").count() == 1

    # 5. Verified, then decided: the decision page shows the rule, the reasons and what will leave.
    page.goto(request_url)
    page.select_option("#verify-method", "bar membership and letter of representation checked")
    page.fill("#verify-detail", "Bar no. 12345, letter dated 2026-03-01")
    # a forged field naming someone else as the verifier is not passed on: the verifier is who signed in
    page.evaluate("""() => { const f = document.getElementById('verify-form');
        for (const [k, v] of [['verified_by', 'ROI-someone-else'], ['requester', 'ROI-someone-else']]) {
            const i = document.createElement('input'); i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i); } }""")
    page.click("#verify-submit")
    expect(page.locator("#request-status")).to_have_attribute("data-status", "decided")
    out["verified_by"] = page.locator("#verification").inner_text()
    out["decided"] = _request_page_data(page)
    out["verification"] = page.locator("#verification-method").inner_text()
    session.look(page, "frontdesk-request-decided")

    # 6. Released: exactly those fields, shown once.
    page.click("#release-submit")
    expect(page.locator("#release-done")).to_be_visible()
    out["released_fields"] = sorted(set(page.locator(".released-fields tbody tr").evaluate_all(
        "els => els.map(e => e.dataset.field)")))
    out["released_notes"] = page.locator(".content-note h4 code").all_inner_texts()
    out["released_text"] = "\n".join(page.locator(".released-fields td").all_inner_texts())
    session.look(page, "frontdesk-released")
    page.goto(request_url)
    expect(page.locator("#request-status")).to_have_attribute("data-status", "released")
    out["after_release"] = _request_page_data(page)

    # 7. A subpoena covering progress notes only, for a date range.
    page.goto(f"{base}/front-desk/requests/new")
    page.fill("#patient_id", p["patient"])
    page.select_option("#requester_role", "attorney")
    page.fill("#requester_id", "R. Doe, counsel for the plaintiff")
    page.fill("#requester_org", "Doe Litigation LLP")
    page.select_option("#purpose", "judicial")
    page.fill("#date_from", "2026-02-01")
    page.fill("#date_to", "2026-02-28")
    page.select_option("#legal_type", "subpoena_without_court_order")
    page.check("#covers_progress")
    page.select_option("#assurance", "qualified_protective_order")
    page.fill("#scope", "<b>all</b> treatment records")
    page.click("#request-submit")
    expect(page.locator("#request-status")).to_have_attribute("data-status", "on_hold")
    out["subpoena_legal"] = page.locator("#request-legal").inner_text()
    out["subpoena_dates"] = page.locator("#request-dates").inner_text()
    out["subpoena_kind"] = page.locator("#request-note-kind").inner_text()
    page.select_option("#verify-method", "bar membership and letter of representation checked")
    page.click("#verify-submit")
    expect(page.locator("#request-status")).to_have_attribute("data-status", re.compile("decided|refused"))
    out["subpoena"] = _request_page_data(page)
    session.look(page, "frontdesk-subpoena-decided")
    page.click("#release-submit")
    expect(page.locator("#release-done")).to_be_visible()
    out["subpoena_released_notes"] = page.locator(".content-note h4 code").all_inner_texts()
    out["subpoena_released_fields"] = sorted(set(page.locator(".released-fields tbody tr").evaluate_all(
        "els => els.map(e => e.dataset.field)")))
    out["subpoena_released_text"] = page.locator("main").inner_text()
    out["subpoena_unreleased"] = page.locator("#unreleased li").all_inner_texts()
    session.look(page, "frontdesk-subpoena-released")

    # 8. The authorization revoked, in writing.
    page.goto(f"{base}/front-desk/authorizations/{p['authorization_id']}")
    page.click("#revoke-submit")  # not ticked "in writing": refused, nothing recorded
    expect(page.locator("#revoke-error")).to_be_visible()
    out["unticked_status"] = page.locator("#authorization-status").inner_text()
    page.check("#in_writing")
    page.click("#revoke-submit")
    expect(page.locator("#revocation")).to_be_visible()
    out["revoked_status"] = page.locator("#authorization-status").inner_text()
    out["revocation_text"] = page.locator("#revocation").inner_text()
    session.look(page, "frontdesk-authorization-revoked")

    # 9. A POST without the CSRF token is refused.
    forged = page.request.post(f"{base}/front-desk/authorizations/{p['authorization_id']}/revoke",
                               form={"in_writing": "on"}, fail_on_status_code=False)
    out["no_csrf_status"] = forged.status
    return out


def clinician_refused(session) -> dict:
    p = session.params
    page, _ = session.enrol(p["clinician"], ["clinician"])
    nav = page.locator("header nav a").all_inner_texts()
    token = page.locator("input[name=csrfmiddlewaretoken]").first.input_value()
    posts = {}
    for name, url, form in (("verify", f"/front-desk/requests/{p['request_id']}/verify",
                             {"method": "photo identification in person", "identity_verified": "on"}),
                            ("release", f"/front-desk/requests/{p['request_id']}/release", {}),
                            ("new_request", "/front-desk/requests/new", {"patient_id": "P-x", "purpose": "other"})):
        posts[name] = page.request.post(session.base + url, form={**form, "csrfmiddlewaretoken": token},
                                        headers={"Referer": session.base + "/"}, fail_on_status_code=False).status
    queue = page.goto(f"{session.base}/front-desk/")
    new_auth = page.goto(f"{session.base}/front-desk/authorizations/new")
    request_page = page.goto(f"{session.base}/front-desk/requests/{p['request_id']}")
    return {"nav": nav, "posts": posts, "queue": queue.status, "new_authorization": new_auth.status, "request": request_page.status,
            "body": page.locator("body").inner_text()}


def amend_held_facts(session) -> dict:
    """A judge's order recorded without what it covers, verified and held by the engine
    (164.512(e)(1)(i)): staff record its coverage on the request's page (the amend form), nothing
    amended is refused naming the field, then the request is decided again with the rule cited."""
    from playwright.sync_api import expect

    p = session.params
    out: dict = {}
    page, _ = session.enrol(p["roi"], ["release_of_information"])
    page.goto(f"{session.base}/front-desk/requests/{p['request_id']}")
    expect(page.locator("#amend-heading")).to_be_visible()
    out["held_status"] = page.locator("#request-status").get_attribute("data-status")
    session.look(page, "frontdesk-amend-facts-held")
    # Nothing established: refused, the message linked to the form.
    page.click("#amend-submit")
    expect(page.locator("#amend-error")).to_be_visible()
    out["empty_error"] = page.locator("#amend-error").inner_text()
    out["empty_described_by"] = page.locator("#amend-form").get_attribute("aria-describedby")
    session.look(page, "frontdesk-amend-facts-error")
    # The order's coverage, by keyboard as far as the form goes.
    session.tab_to(page, "#amend-legal-type", limit=80)
    page.select_option("#amend-legal-type", "court_order")
    page.select_option("#amend-signed-by-judge", "yes")
    page.check("#amend-covers-progress")
    page.select_option("#amend-reason", "legal_process_received")
    page.click("#amend-submit")
    expect(page.locator("#amendments")).to_be_visible()
    out["amended"] = page.locator("#amendments li").all_inner_texts()
    out["decided"] = _request_page_data(page)
    out["legal"] = page.locator("#request-legal").inner_text()
    out["amend_form_left"] = page.locator("#amend-form").count()
    session.look(page, "frontdesk-amend-facts-decided")
    return out
