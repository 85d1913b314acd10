"""The clinician's journeys: my patients, a progress note written (ICD-10 search, a medication row,
PHQ-9), refused with a field error, saved, edited, read in SOAP and BIRP, signed and locked, an
addendum; a late entry; what a second clinician, a billing member and an insider's forged requests get.
"""
from __future__ import annotations

import re
from datetime import date, timedelta

HOSTILE = '<script>window.__pwned = 1</script><img src=x alt="x">'


def _csrf(page) -> str:
    """The page's CSRF token (every signed-in page has one: the header's Sign out form)."""
    return page.locator("input[name=csrfmiddlewaretoken]").first.input_value()


def _post(page, url: str, form: dict) -> int:
    """A POST from this signed-in browser (its cookies), not following redirects -> status."""
    response = page.request.post(url, form=form, max_redirects=0)
    return response.status


def _fill_note(page, *, cpt: str, symptoms: str) -> None:
    page.fill("#id_start_time", "10:00")
    page.fill("#id_stop_time", "10:50")
    page.fill("#id_modality", "Individual psychotherapy")
    page.fill("#id_cpt_code", cpt)
    page.fill("#id_frequency", "Weekly")
    page.fill("#id_symptoms", symptoms)
    page.fill("#id_functional_status", "Working full time; sleeping 5 hours")
    page.fill("#id_interventions", "CBT: thought record")
    page.fill("#id_treatment_plan", "Continue weekly CBT")
    page.fill("#id_prognosis", "Good")
    page.fill("#id_progress_to_date", "PHQ-9 down 3 points")
    page.fill("#id_phq9", "14")
    page.fill("#id_gad7", "11")
    page.select_option("#id_risk_level", "low")
    page.fill("#id_risk_factors", "None endorsed")
    page.fill("#id_risk_plan", "Safety plan reviewed")


def write_sign_addend(session) -> dict:
    """Clinician A: My patients -> a patient -> a progress note (ICD-10 code found by search, two
    medication rows, PHQ-9), a missing CPT code refused next to its field, saved, edited, SOAP then
    BIRP, signed (form gone), an addendum; a late entry without and with its reason; printed."""
    from playwright.sync_api import expect

    p = session.params
    base = session.base
    out: dict = {}
    page, _ = session.enrol(p["clinician"], ["clinician"])

    page.click("#nav-clinician-patients")
    expect(page.get_by_role("heading", name="My patients and notes")).to_be_visible()
    session.look(page, "clinician-patients")
    out["patients_listed"] = page.locator("#patients a[data-patient]").evaluate_all(
        "els => els.map(e => e.dataset.patient)")

    page.click(f"#patients a[data-patient='{p['patient']}']")
    expect(page.locator("#patient-id")).to_have_text(p["patient"])
    out["chart_psych_rows"] = page.locator("#chart-notes tr[data-kind=psychotherapy]").all_inner_texts()
    out["chart_html_has_marker"] = p["marker"] in page.content()
    session.look(page, "clinician-chart")

    # -- the form: search, medication rows, a missing field ----------------------------------------
    page.click("#write-progress-note")
    expect(page.get_by_role("heading", name="New progress note")).to_be_visible()
    session.look(page, "clinician-note-new")
    _fill_note(page, cpt="", symptoms=f"Low mood. {HOSTILE}")
    page.fill("#icd10-search", "generalized anxiety")
    add = page.locator("#icd10-results button.icd10-add").first
    expect(add).to_have_text(re.compile(r"F41\.1"))
    add.click()
    expect(page.locator("#id_diagnosis_codes")).to_have_value("F41.1")
    page.fill("#id_med_0_name", "sertraline")
    page.fill("#id_med_0_dose", "50 mg")
    page.click("#add-medication")
    expect(page.locator("#id_med_1_name")).to_be_visible()
    expect(page.locator("#id_med_0_name")).to_have_value("sertraline")  # kept, nothing saved yet
    page.fill("#id_med_1_name", "melatonin")
    page.fill("#id_med_1_dose", "3 mg")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.click("#save-draft")
    out["missing_cpt_status"] = posted.value.status
    expect(page.locator("#err-cpt_code")).to_be_visible()
    out["missing_cpt_error"] = page.locator("#err-cpt_code").inner_text()
    out["missing_cpt_described"] = page.locator("#id_cpt_code").get_attribute("aria-describedby")
    out["kept_after_error"] = {"dx": page.locator("#id_diagnosis_codes").input_value(),
                               "med1": page.locator("#id_med_1_name").input_value(),
                               "phq9": page.locator("#id_phq9").input_value()}
    session.look(page, "clinician-note-errors")
    page.fill("#id_cpt_code", "90834")
    page.click("#save-draft")
    expect(page.locator("#note-status")).to_have_text(re.compile("Draft"))
    note_url = page.url
    out["note_url"] = note_url
    out["draft_status"] = page.locator("#note-status").inner_text()
    out["window_pwned"] = page.evaluate("() => window.__pwned === 1")
    out["symptoms_shown"] = page.locator("dd[data-field=symptoms]").inner_text()
    session.look(page, "clinician-note-draft")

    # -- edit the draft -----------------------------------------------------------------------------
    page.click("#edit-draft")
    expect(page.get_by_role("heading", name="Edit draft progress note")).to_be_visible()
    out["edit_prefilled"] = {"cpt": page.locator("#id_cpt_code").input_value(),
                             "med0": page.locator("#id_med_0_name").input_value(),
                             "phq9": page.locator("#id_phq9").input_value()}
    page.fill("#id_interventions", "CBT: thought record; behavioural activation plan")
    page.click("#save-draft")
    expect(page.locator("dd[data-field=interventions]")).to_have_text(re.compile("behavioural activation"))

    # -- layouts ------------------------------------------------------------------------------------
    out["soap_sections"] = page.locator("#note-body section h3").all_inner_texts()
    out["soap_medications"] = page.locator("dd[data-field=medications]").inner_text()
    page.click("#layout-birp")
    expect(page.locator("#note-body")).to_have_attribute("data-layout", "birp")
    out["birp_sections"] = page.locator("#note-body section h3").all_inner_texts()
    out["birp_behavior_fields"] = page.locator("section[data-section=behavior] dd").evaluate_all(
        "els => els.map(e => e.dataset.field)")
    out["decision_rule"] = page.locator("#decision-rule").text_content()  # inside a closed <details>
    session.look(page, "clinician-note-birp")

    # -- sign and lock, then an addendum ------------------------------------------------------------
    page.click("#sign-note")
    expect(page.locator("#note-status")).to_have_text("Signed and locked")
    out["signed_forms"] = {"sign": page.locator("#sign-form").count(), "edit": page.locator("#edit-draft").count(),
                           "addendum": page.locator("#addendum-form").count()}
    response = page.goto(note_url.rstrip("/") + "/edit")
    out["edit_after_sign_url"] = page.url
    out["edit_after_sign_form"] = page.locator("#note-form").count()
    page.fill("#addendum-text", f"Called the PCP about sleep. {HOSTILE}")
    page.click("#add-addendum")
    expect(page.locator("#addenda-list li")).to_have_count(1)
    out["addendum"] = page.locator("#addenda-list .addendum-text").inner_text()
    out["window_pwned_after_addendum"] = page.evaluate("() => window.__pwned === 1")
    session.look(page, "clinician-note-signed")
    out["status_after_resign"] = _post(page, note_url + "sign", {"csrfmiddlewaretoken": _csrf(page)})
    out["sign_without_csrf"] = _post(page, note_url + "sign", {})

    # -- a late entry -------------------------------------------------------------------------------
    past = (date.today() - timedelta(days=3)).isoformat()
    page.goto(f"{base}/clinician/patients/{p['patient']}/notes/new")
    _fill_note(page, cpt="90837", symptoms="Anxious before exams")
    page.fill("#id_session_date", past)
    page.fill("#id_diagnosis_codes", "F41.1")
    page.fill("#id_late_entry_reason", "Clinic network outage on the session day")
    page.click("#save-draft")
    expect(page.locator("#late-entry")).to_be_visible()
    out["late_banner"] = page.locator("#late-entry").inner_text()
    out["late_note_url"] = page.url
    out["past"] = past
    out["today"] = date.today().isoformat()
    session.look(page, "clinician-note-late")
    page.emulate_media(media="print")
    out["print_nav_visible"] = page.locator("header nav").is_visible()
    out["print_forms_visible"] = page.locator("#sign-form").is_visible()
    out["print_late_visible"] = page.locator("#late-entry").is_visible()
    session.shot(page, "clinician-note-late-print.png")
    page.goto(f"{base}/clinician/patients/{p['patient']}/")
    out["print_chart_marker"] = p["marker"] in page.content()
    session.shot(page, "clinician-chart-print.png")
    page.emulate_media(media="screen")

    # -- forged fields: another author, another patient ---------------------------------------------
    page.goto(f"{base}/clinician/patients/{p['patient']}/notes/new")
    forged = {"csrfmiddlewaretoken": _csrf(page), "action": "save", "session_date": date.today().isoformat(),
              "start_time": "11:00", "stop_time": "11:45", "modality": "Individual psychotherapy",
              "cpt_code": "90834", "frequency": "Weekly", "diagnosis_codes": "F32.1", "risk_level": "low",
              "author": p["other"], "author_id": p["other"], "patient_id": p["other_patient"],
              "signed_by": p["other"]}
    resp = page.request.post(f"{base}/clinician/patients/{p['patient']}/notes/new", form=forged, max_redirects=0)
    out["forged_status"] = resp.status
    forged_url = resp.headers.get("location", "")
    page.goto(base + forged_url if forged_url.startswith("/") else forged_url)
    out["forged_meta"] = page.locator("#note-meta").inner_text()

    # -- a psychotherapy note never opens here; the ICD-10 search answers JSON ----------------------
    response = page.goto(f"{base}/clinician/notes/{p['psych_note']}/")
    out["psych_note_status"] = response.status
    out["psych_note_marker"] = p["marker"] in page.content()
    out["icd10_json"] = page.request.get(f"{base}/clinician/icd10?q=F33.1").json()
    out["unknown_note_status"] = page.goto(f"{base}/clinician/notes/00000000-0000-4000-8000-000000000000/").status
    out["unknown_patient_status"] = page.goto(f"{base}/clinician/patients/P-nobody-here/").status
    return out


def second_clinician(session) -> dict:
    """Clinician B opens A's signed note (read-only) and A's draft, and tries to sign, revise and
    addend them by forged POSTs."""
    from playwright.sync_api import expect

    p = session.params
    out: dict = {}
    page, _ = session.enrol(p["other"], ["clinician"])
    page.goto(p["note_url"])
    expect(page.locator("#note-status")).to_have_text("Signed and locked")
    out["read_only"] = page.locator("#read-only").inner_text()
    out["forms"] = page.locator("main form").count()
    out["addenda"] = page.locator("#addenda-list li").count()
    session.look(page, "clinician-note-read-only")
    token = _csrf(page)
    out["addendum_post"] = _post(page, p["note_url"] + "addendum", {"csrfmiddlewaretoken": token,
                                                                    "addendum_text": "not mine"})
    page.goto(p["late_note_url"])
    expect(page.locator("#note-status")).to_have_text(re.compile("Draft"))
    out["draft_forms"] = page.locator("main form").count()
    out["sign_other_draft"] = _post(page, p["late_note_url"] + "sign", {"csrfmiddlewaretoken": token})
    page.goto(p["late_note_url"] + "edit")
    out["edit_other_draft_url"] = page.url
    out["edit_other_draft_form"] = page.locator("#note-form").count()
    out["revise_other_draft"] = _post(page, p["late_note_url"] + "edit", {
        "csrfmiddlewaretoken": token, "action": "save", "start_time": "09:00", "stop_time": "09:30",
        "modality": "x", "cpt_code": "90832", "frequency": "once", "diagnosis_codes": "F41.1", "risk_level": "low",
        "late_entry_reason": "forged"})
    page.goto(p["late_note_url"])
    out["late_note_cpt_after"] = page.locator("dd[data-field=cpt_code]").inner_text()
    return out


def demo_chart(session) -> dict:
    """A clinician on the demo's patients: their charts (progress notes, psychotherapy notes as a
    line only), a demo clinician's progress note read-only in DAP."""
    from playwright.sync_api import expect

    p = session.params
    out: dict = {}
    page, _ = session.enrol(p["clinician"], ["clinician"])
    page.goto(f"{session.base}/clinician/")
    demo = [pid for pid in page.locator("#patients a[data-patient]").evaluate_all(
        "els => els.map(e => e.dataset.patient)") if not re.fullmatch(r"P-[0-9a-f]{8}", pid)]  # not the tests' own
    out["demo_patients"] = demo
    charts = []
    for pid in demo:
        page.goto(f"{session.base}/clinician/patients/{pid}/")
        expect(page.locator("#patient-id")).to_have_text(pid)
        rows = page.locator("#chart-notes tr[data-kind=progress]")
        charts.append({"patient": pid, "progress": rows.count(),
                       "psych": page.locator("#chart-notes tr[data-kind=psychotherapy]").count(),
                       "psych_links": page.locator("#chart-notes tr[data-kind=psychotherapy] a").count()})
    out["charts"] = charts
    with_notes = next(c["patient"] for c in charts if c["progress"])
    page.goto(f"{session.base}/clinician/patients/{with_notes}/")
    session.look(page, "clinician-chart-demo")
    page.locator("#chart-notes tr[data-kind=progress] a").first.click()
    expect(page.locator("#note-body")).to_be_visible()
    page.click("#layout-dap")
    expect(page.locator("#note-body")).to_have_attribute("data-layout", "dap")
    out["dap_sections"] = page.locator("#note-body section h3").all_inner_texts()
    out["demo_note_read_only"] = page.locator("#read-only").count()
    out["demo_note_late"] = page.locator("#late-entry").inner_text() if page.locator("#late-entry").count() else ""
    session.look(page, "clinician-note-demo-dap")
    return out


def refused(session) -> dict:
    """A billing member: no link, and 403 on every clinician page."""
    p = session.params
    page, _ = session.enrol(p["person"], ["billing"])
    out = {"nav": page.locator("header nav a").all_inner_texts(), "status": {}}
    for url in (f"{session.base}/clinician/", f"{session.base}/clinician/patients/{p['patient']}/",
                p["note_url"], f"{session.base}/clinician/patients/{p['patient']}/notes/new",
                f"{session.base}/clinician/icd10?q=F41"):
        out["status"][url] = page.goto(url).status
    session.look(page, "clinician-refused")
    page.goto(f"{session.base}/")
    out["post_sign"] = _post(page, p["note_url"] + "sign", {"csrfmiddlewaretoken": _csrf(page)})
    return out


def trainee_note(session) -> dict:
    """A trainee: a note without a supervisor is refused next to the field; with one, signed, it
    awaits the supervisor's co-signature on the note and in My notes."""
    from playwright.sync_api import expect

    p = session.params
    out: dict = {}
    page, _ = session.enrol(p["trainee"], ["trainee"])
    page.goto(f"{session.base}/clinician/patients/{p['patient']}/notes/new")
    out["supervisor_options"] = page.locator("#id_supervisor_id option").all_inner_texts()
    _fill_note(page, cpt="90832", symptoms="Worried about exams")
    page.fill("#id_diagnosis_codes", "F41.1")
    page.click("#save-draft")
    expect(page.locator("#err-supervisor_id")).to_be_visible()
    out["supervisor_error"] = page.locator("#err-supervisor_id").inner_text()
    session.look(page, "clinician-note-trainee-error")
    page.select_option("#id_supervisor_id", p["supervisor"])
    page.click("#save-draft")
    expect(page.locator("#note-status")).to_have_text(re.compile("Draft"))
    page.click("#sign-note")
    expect(page.locator("#note-status")).to_have_text(re.compile("awaiting co-signature"))
    out["status"] = page.locator("#note-status").inner_text()
    page.goto(f"{session.base}/clinician/")
    out["awaiting_rows"] = page.locator("#my-awaiting tbody tr[data-note]").count()
    out["awaiting_text"] = page.locator("#my-awaiting tbody").inner_text()
    session.look(page, "clinician-patients-trainee")
    return out
