"""The privacy officer's day in the browser, and a clinician's emergency access.

``officer_day`` params: ``officer``, ``covering`` (a clinician who takes emergency access),
``note_id`` and ``amendment_id`` (a patient's amendment request, arranged over RPC),
``amendment_patient``, ``demo_patient`` (a demo patient with insurer requests), ``insurer``.
"""
from __future__ import annotations

import re

from journeys.common import PASSWORD


def _texts(locator) -> list[str]:
    return [t.strip() for t in locator.all_inner_texts()]


def officer_day(session) -> dict:
    from playwright.sync_api import expect

    p = session.params
    base = session.base
    out: dict = {}

    # -- the clinician covering tonight: emergency access, with a reason -----------------------------
    clinician, _ = session.enrol(p["covering"], ["clinician"])
    out["clinician_nav"] = _texts(clinician.locator("header nav a"))
    clinician.goto(f"{base}/privacy/emergency-access")
    expect(clinician.get_by_role("heading", name="Emergency access")).to_be_visible()
    session.look(clinician, "privacy-emergency-access")
    # no reason: refused by the form, nothing taken
    clinician.fill("#emergency-note-id", p["note_id"])
    clinician.check("#claim-treatment")
    session.submit_main_form(clinician)
    expect(clinician.locator("#reason-error")).to_be_visible()
    out["no_reason_error"] = clinician.locator("#reason-error").inner_text()
    clinician.fill("#emergency-reason", "Patient in crisis at the front desk; her clinician is away tonight.")
    clinician.check("#claim-treatment")
    session.submit_main_form(clinician)
    expect(clinician.locator("#emergency-granted")).to_be_visible()
    out["granted"] = clinician.locator("#emergency-granted h3").inner_text()
    out["emergency_access_id"] = clinician.locator("#emergency-access-id").inner_text()
    session.look(clinician, "privacy-emergency-access-granted")
    # another clinician's psychotherapy note: the rules refuse, whatever the claim; still queued
    clinician.fill("#emergency-note-id", p["psych_note_id"])
    clinician.check("#claim-treatment")
    clinician.fill("#emergency-reason", "Need her psychotherapy notes too, urgently.")
    session.submit_main_form(clinician)
    expect(clinician.locator("#emergency-denied")).to_be_visible()
    out["denied"] = clinician.locator("#emergency-denied").inner_text()
    session.look(clinician, "privacy-emergency-access-denied")
    # a clinician is refused the privacy officer's pages
    refused = {}
    for path in ("amendments", "emergency-reviews", "accounting", "sign-ins",
                 f"amendments/{p['note_id']}/{p['amendment_id']}"):
        response = clinician.goto(f"{base}/privacy/{path}")
        refused[path] = response.status
    out["clinician_refused"] = refused

    # -- a failed sign-in, typed in the browser (wrong password for the clinician) -------------------
    stranger = session.new_page()
    stranger.goto(f"{base}/accounts/login/")
    stranger.fill("input[name=login]", p["covering"])
    stranger.fill("input[name=password]", PASSWORD + " wrong")
    session.submit_main_form(stranger)
    expect(stranger.locator("main")).to_contain_text(re.compile(r"not correct|incorrect|invalid", re.I))
    # and a username that names no account (it may be a password typed in the wrong box)
    stranger.goto(f"{base}/accounts/login/")
    stranger.fill("input[name=login]", p["typed_username"])
    stranger.fill("input[name=password]", PASSWORD)
    session.submit_main_form(stranger)
    expect(stranger.locator("main")).to_contain_text(re.compile(r"not correct|incorrect|invalid", re.I))

    # -- the privacy officer --------------------------------------------------------------------------
    officer, _ = session.enrol(p["officer"], ["privacy_officer"])
    out["officer_nav"] = _texts(officer.locator("header nav a"))

    # amendment requests: the patient's appears with its due date
    officer.click("#nav-privacy-amendments")
    expect(officer.get_by_role("heading", name="Amendment requests")).to_be_visible()
    row = officer.locator(f"tr[data-amendment='{p['amendment_id']}']")
    expect(row).to_be_visible()
    out["amendment_row"] = row.inner_text()
    out["amendment_due"] = row.locator("td.due time").get_attribute("datetime")
    session.look(officer, "privacy-amendments")
    row.get_by_role("link").click()
    expect(officer.get_by_role("heading", name="Amendment request", exact=True)).to_be_visible()
    out["requested_change"] = officer.locator("#requested-change").inner_text()
    out["note_decision"] = officer.locator("#note-decision").inner_text()
    out["note_fields"] = officer.locator("#note-fields").inner_text()
    session.look(officer, "privacy-amendment")
    # deny with a ground, in writing
    officer.check("#ground-accurate_and_complete")
    officer.fill("#denial-statement-input", "The record is accurate and complete as written. <b>not bold</b>")
    officer.click("#deny-submit")
    expect(officer.locator("#denial")).to_be_visible()
    out["denial_ground"] = officer.locator("#denial-ground").inner_text()
    out["denial_statement"] = officer.locator("#denial-statement").inner_text()
    out["amendment_status"] = officer.locator("#amendment-status").inner_text()
    out["bold_in_denial"] = officer.locator("#denial-statement b").count()
    out["note_read_after_decision"] = officer.locator("#note-fields").count()
    session.look(officer, "privacy-amendment-denied")
    officer.goto(f"{base}/privacy/amendments")
    out["open_after_denial"] = officer.locator(f"tr[data-amendment='{p['amendment_id']}']").count()

    # the emergency access is in the review queue; mark it reviewed
    officer.click("#nav-privacy-emergency-reviews")
    queued = officer.locator(f"tr[data-emergency='{out['emergency_access_id']}']")
    expect(queued).to_be_visible()
    out["queued_row"] = queued.inner_text()
    out["queue_rows"] = _texts(officer.locator("#emergency-reviews tbody tr"))
    session.look(officer, "privacy-emergency-reviews")
    queued.locator("select[name=outcome]").select_option("appropriate")
    queued.locator("textarea[name=comment]").fill("Confirmed with the on-call log.")
    queued.get_by_role("button", name="Mark reviewed").click()
    expect(officer.locator("#messages")).to_contain_text("Review recorded")
    out["still_queued"] = officer.locator(f"tr[data-emergency='{out['emergency_access_id']}']").count()
    officer.click("#show-all-reviews")
    reviewed = officer.locator(f"tr[data-emergency='{out['emergency_access_id']}']")
    out["reviewed_row"] = reviewed.inner_text()

    # the accounting of disclosures for a demo patient, on screen and printed
    officer.click("#nav-privacy-accounting")
    expect(officer.get_by_role("heading", name="Accounting of disclosures")).to_be_visible()
    session.look(officer, "privacy-accounting-choose")
    officer.select_option("#accounting-patient", p["demo_patient"])
    officer.click("#accounting-submit")
    expect(officer.locator("#accounting-document")).to_be_visible()
    out["doc_patient"] = officer.locator("#doc-patient").inner_text()
    out["doc_period"] = officer.locator("#doc-period").inner_text()
    out["doc_practice"] = officer.locator("#doc-practice").inner_text()
    out["entries"] = _texts(officer.locator("#accounting-entries tbody tr"))
    out["disclosure_log"] = _texts(officer.locator("#disclosure-log tbody tr"))
    session.look(officer, "privacy-accounting")
    officer.emulate_media(media="print")
    out["printed_header_visible"] = officer.locator("header").is_visible()
    out["printed_form_visible"] = officer.locator("#accounting-form").is_visible()
    out["printed_log_visible"] = officer.locator("#disclosure-log").is_visible()
    out["printed_document_visible"] = officer.locator("#accounting-document").is_visible()
    session.shot(officer, "privacy-accounting-print.png")
    out["pdf_bytes"] = len(officer.pdf(format="Letter"))
    officer.emulate_media(media="screen")

    # sign-in events: the failed attempt shows, filtered by member and kind
    officer.click("#nav-privacy-sign-ins")
    expect(officer.get_by_role("heading", name="Sign-in events")).to_be_visible()
    session.look(officer, "privacy-sign-ins")
    out["unfiltered_page"] = officer.locator("main").inner_text()
    officer.fill("#f-member", p["covering"])
    officer.select_option("#f-kind", "failures")
    officer.click("#filter-submit")
    expect(officer.locator("#sign-in-events")).to_be_visible()
    out["failure_count"] = officer.locator("#failure-count").inner_text()
    out["failure_rows"] = _texts(officer.locator("#sign-in-events tbody tr"))
    out["failures_by_username"] = _texts(officer.locator("#failures-by-username tbody tr"))
    session.look(officer, "privacy-sign-ins-filtered")
    officer.goto(f"{base}/privacy/sign-ins?since=2026-13-40")
    out["bad_date_error"] = officer.locator("#since-error").inner_text()
    return out


def csrf_and_forgery(session) -> dict:
    """An officer's session posting without a CSRF token, and with a forged hidden field."""
    p = session.params
    base = session.base
    officer, _ = session.enrol(p["officer"], ["privacy_officer"])
    officer.goto(f"{base}/privacy/emergency-reviews?show=all")
    out = {}
    # no CSRF token: Django refuses before any RPC
    response = officer.request.post(f"{base}/privacy/emergency-reviews",
                                    form={"decision_id": p["decision_id"], "outcome": "appropriate",
                                          "comment": "no token"})
    out["no_csrf_status"] = response.status
    token = officer.locator("form.review-form input[name=csrfmiddlewaretoken]").first.input_value() \
        if officer.locator("form.review-form").count() else officer.locator(
            "header form input[name=csrfmiddlewaretoken]").first.input_value()
    # a forged "reviewed_by" naming someone else is ignored: the reviewer is the signed-in officer
    response = officer.request.post(f"{base}/privacy/emergency-reviews",
                                    form={"csrfmiddlewaretoken": token, "decision_id": p["decision_id"],
                                          "outcome": "inappropriate", "comment": "<script>alert(1)</script>",
                                          "reviewed_by": "SOMEONE-ELSE"},
                                    headers={"Referer": f"{base}/privacy/emergency-reviews"})
    out["forged_status"] = response.status
    officer.goto(f"{base}/privacy/emergency-reviews?show=all")
    row = officer.locator(f"tr[data-emergency='{p['decision_id']}']")
    out["row"] = row.inner_text()
    out["script_elements_in_row"] = row.locator("script").count()
    out["injected_images"] = row.locator("#injected").count()
    # the accounting for a patient the practice does not have (a forged option value): refused, named
    officer.goto(f"{base}/privacy/accounting")
    token = officer.locator("#accounting-form input[name=csrfmiddlewaretoken]").input_value()
    response = officer.request.post(f"{base}/privacy/accounting",
                                    form={"csrfmiddlewaretoken": token, "patient_id": "P-NOT-OURS"},
                                    headers={"Referer": f"{base}/privacy/accounting"})
    out["foreign_patient_status"] = response.status
    out["foreign_patient_body_has_document"] = 'id="accounting-document"' in response.text()
    out["foreign_patient_error"] = 'id="patient-error"' in response.text()
    return out


def accept_amendment(session) -> dict:
    """The officer accepts an amendment with the amended record (fields not released to them typed in);
    a first try without the frequency is refused naming it, nothing written."""
    from playwright.sync_api import expect

    p = session.params
    officer, _ = session.enrol(p["officer"], ["privacy_officer"])
    officer.goto(f"{session.base}/privacy/amendments/{p['note_id']}/{p['amendment_id']}")
    out = {"prefilled_cpt": officer.locator("#acc-cpt_code").input_value(),
           "prefilled_plan": officer.locator("#acc-treatment_plan").input_value()}
    officer.fill("#acc-functional_status", "Working full time at Acme.")
    officer.click("#accept-submit")
    expect(officer.locator("#accept-error")).to_be_visible()
    out["missing_frequency_error"] = officer.locator("#accept-error").inner_text()
    out["kept_after_error"] = officer.locator("#acc-functional_status").input_value()
    officer.fill("#acc-frequency", "weekly")
    officer.select_option("#acc-risk_level", "low")
    officer.click("#accept-submit")
    expect(officer.locator("#accepted")).to_be_visible()
    out["status"] = officer.locator("#amendment-status").inner_text()
    out["accepted"] = officer.locator("#accepted").inner_text()
    session.look(officer, "privacy-amendment-accepted")
    return out
