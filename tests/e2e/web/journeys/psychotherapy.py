"""The psychotherapy note's private pane, its live 164.501 hints and the one-click move, signing and an
addendum; the supervisor's review queue and co-signature; a colleague's refusal; the print rule."""
from __future__ import annotations

import re

DIAGNOSIS = "Meets criteria for major depressive disorder, recurrent, moderate (F33.1)."
SESSION = "She spoke about her father's funeral and cried for the first time <i>sic</i>."
PROCESS = "We stayed with the anger underneath the grief."


def _post_from_page(page, url: str, fields: dict) -> None:
    """Submit a form the page does not offer, with the session's CSRF token (from the sign-out form)."""
    page.evaluate("""([url, fields]) => {
        const form = document.createElement('form'); form.method = 'post'; form.action = url;
        const token = document.querySelector('input[name=csrfmiddlewaretoken]').cloneNode();
        form.appendChild(token);
        for (const [k, v] of Object.entries(fields)) {
            const input = document.createElement('input'); input.type = 'hidden'; input.name = k; input.value = v;
            form.appendChild(input);
        }
        document.body.appendChild(form); form.submit();
    }""", [url, fields])


def write_move_sign_cosign(session) -> dict:
    from playwright.sync_api import expect

    p = session.params
    base = session.base
    page, _ = session.enrol(p["trainee"], ["trainee"])
    page.click("#nav-psychotherapy")
    expect(page.locator("#psy-heading")).to_have_text(
        "Psychotherapy note — private, kept apart from the chart (45 CFR 164.501)")
    session.look(page, "psychotherapy-index")
    page.fill("#start-patient", p["patient"])
    page.fill("#start-date", p["session_date"])
    page.fill("#start-supervisor", p["supervisor"])
    page.click("#psy-start-submit")
    assert "text" not in page.url and DIAGNOSIS not in page.url

    # Typing: the hint appears live (debounced fetch), worded by category.
    page.fill("#psy-text", f"{SESSION} {DIAGNOSIS} {PROCESS}")
    hint = page.locator("#psy-hints li.hint")
    expect(hint).to_have_count(1)
    expect(hint.locator(".hint-message")).to_have_text(
        "this sentence reads like a diagnosis summary: it belongs in the progress note and would not be "
        "protected here")
    expect(hint.locator(".sentence")).to_contain_text(DIAGNOSIS)
    session.look(page, "psychotherapy-hints")
    hint_text = hint.inner_text()

    # No draft progress note for the session yet: a move without the session facts is refused, the text kept.
    hint.locator("button.move").click()
    expect(page.locator("#psy-error")).to_contain_text("There is no draft progress note for this session yet")
    expect(page.locator("#psy-text")).to_have_value(f"{SESSION} {DIAGNOSIS} {PROCESS}")
    missing_facts = page.locator("#psy-error").inner_text()
    session.look(page, "psychotherapy-error")
    expect(hint).to_have_count(1)  # the hints come back on load
    # The facts to start one, then one click moves it.
    page.fill("#pn_start_time", "14:00")
    page.fill("#pn_stop_time", "14:53")
    page.fill("#pn_cpt_code", "90837")
    page.fill("#pn_modality", "individual psychotherapy")
    page.fill("#pn_frequency", "weekly")
    page.fill("#pn_diagnosis_codes", "F32.1")
    page.select_option("#pn_risk_level", "low")
    hint.locator("button.move").click()
    expect(page).to_have_url(re.compile(r"/clinician/psychotherapy/[0-9a-f-]{36}$"))
    note_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("#messages")).to_contain_text("Moved to the progress note draft (Diagnosis and symptoms)")
    expect(page.locator("#progress-symptoms")).to_contain_text(DIAGNOSIS)
    expect(page.locator("#progress-diagnosis_codes")).to_contain_text("F33.1")
    psych_after_move = page.locator("#psy-text").input_value()
    assert DIAGNOSIS not in psych_after_move, psych_after_move
    progress_id = page.locator("#progress-id").inner_text()
    expect(page.locator("#psy-rule")).to_contain_text("164.508(a)(2)(i)(A)")
    expect(page.locator("#psy-hints-status")).to_have_text("No sentence reads like progress-note content.")
    session.look(page, "psychotherapy-draft")

    # The Check button (the path without JavaScript): the server lints and renders the hints.
    page.fill("#psy-text", f"{psych_after_move} Refer to DBT skills group.")
    page.click("#psy-check")
    expect(page.locator("#psy-hints li.hint")).to_have_count(1)
    expect(page.locator("#psy-hints li.hint .hint-message").first).to_have_text(
        "this sentence reads like a treatment plan: it belongs in the progress note and would not be protected here")
    checked_hint = page.locator("#psy-hints li.hint .sentence").inner_text()
    # Moving into the draft progress note that now exists (revised, not a second draft).
    page.locator("#psy-hints li.hint button.move").click()
    expect(page.locator("#messages")).to_contain_text("Moved to the progress note draft (Treatment plan)")
    expect(page.locator("#progress-treatment_plan")).to_have_text("Refer to DBT skills group.")
    expect(page.locator("#progress-id")).to_have_text(progress_id)
    assert "DBT" not in page.locator("#psy-text").input_value()
    # A forged move (a sentence the lint does not flag) is refused; nothing moves.
    _post_from_page(page, page.url, {"text": psych_after_move, "move": "0:10"})
    forged_move = page.locator("#psy-error").inner_text()
    page.goto(f"{base}/clinician/psychotherapy/{note_id}")

    # The print stylesheet hides the note: nothing but a notice prints.
    page.emulate_media(media="print")
    expect(page.locator("#psy-text")).not_to_be_visible()
    expect(page.locator("#psy-pane")).not_to_be_visible()
    page.emulate_media(media="screen")
    expect(page.locator("#psy-text")).to_be_visible()
    assert page.locator("a", has_text=re.compile("export|print|download", re.I)).count() == 0

    page.click("#psy-sign")
    expect(page.locator("#psy-status")).to_have_text("signed, awaiting co-signature")
    signed_text = page.locator("#psy-signed-text").inner_text()
    assert page.locator("#psy-pane i").count() == 0  # the text's markup is shown, not rendered
    page.fill("#psy-addendum", "Addendum: she called the next day to say she felt lighter.")
    page.click("#psy-addendum-submit")
    expect(page.locator("#psy-addenda")).to_contain_text("she felt lighter")
    session.look(page, "psychotherapy-signed")
    page.emulate_media(media="print")
    expect(page.locator("#psy-signed-text")).not_to_be_visible()
    page.emulate_media(media="screen")

    # The supervisor finds it in the queue, reads it, co-signs.
    sup, _ = session.enrol(p["supervisor"], ["supervisor"])
    sup.click("#nav-supervision")
    row = sup.locator(f"#review-queue tr[data-note='{note_id}']")
    expect(row).to_contain_text("psychotherapy note (private)")
    expect(row).to_contain_text(p["trainee"])
    session.look(sup, "supervision-queue")
    row.locator("a.review-link").click()
    expect(sup.locator("#review-text")).to_contain_text(PROCESS)
    expect(sup.locator("#review-rule")).to_have_text("45 CFR 164.508(a)(2)(i)(B)")
    session.look(sup, "supervision-note")
    sup.emulate_media(media="print")
    expect(sup.locator("#review-text")).not_to_be_visible()
    sup.emulate_media(media="screen")
    sup.click("#cosign")
    expect(sup.locator("#messages")).to_contain_text(f"Co-signed note {note_id}")
    expect(sup.locator(f"#review-queue tr[data-note='{note_id}']")).to_have_count(0)

    # A colleague clinician: refused with the rule; a POST without CSRF is refused too.
    col, _ = session.enrol(p["colleague"], ["clinician"])
    response = col.goto(f"{base}/clinician/psychotherapy/{note_id}")
    refused_status = response.status
    refusal = col.locator("#service-error-reason").inner_text()
    assert PROCESS not in col.content()
    session.look(col, "psychotherapy-refused")
    _post_from_page(col, f"{base}/clinician/psychotherapy/{note_id}", {"action": "addendum", "addendum": "forged"})
    expect(col.locator("#service-error")).to_have_attribute("data-status", "403")
    colleague_post = col.locator("#service-error-reason").inner_text()
    supervision_status = col.goto(f"{base}/supervision/").status
    no_csrf = col.request.post(f"{base}/clinician/psychotherapy/{note_id}",
                               form={"action": "addendum", "addendum": "forged"}).status
    return {"note_id": note_id, "progress_id": progress_id, "hint": hint_text, "psych_after_move": psych_after_move,
            "signed_text": signed_text, "refused_status": refused_status, "refusal": refusal, "no_csrf": no_csrf,
            "checked_hint": checked_hint, "missing_facts": missing_facts, "forged_move": forged_move, "colleague_post": colleague_post,
            "colleague_supervision_status": supervision_status}


def ended_supervision(session) -> dict:
    """A supervisor whose supervision ended: an empty queue, the note refused, a co-sign POST refused."""
    from playwright.sync_api import expect

    p = session.params
    sup, _ = session.enrol(p["supervisor"], ["supervisor"])
    sup.click("#nav-supervision")
    expect(sup.locator("#review-queue-empty")).to_be_visible()
    queue_rows = sup.locator("#review-queue tbody tr[data-note]").count()
    response = sup.goto(f"{session.base}/supervision/{p['note_id']}")
    read_status, read_reason = response.status, sup.locator("#service-error-reason").inner_text()
    _post_from_page(sup, f"{session.base}/supervision/{p['note_id']}/cosign", {})
    expect(sup.locator("#service-error")).to_have_attribute("data-status", "403")
    outsider, _ = session.enrol(p["billing"], ["billing"])
    outsider_status = [outsider.goto(f"{session.base}{url}").status
                       for url in ("/clinician/psychotherapy/", f"/clinician/psychotherapy/{p['note_id']}",
                                   "/supervision/")]
    assert outsider.locator("#nav-psychotherapy, #nav-supervision").count() == 0
    return {"outsider_status": outsider_status, "queue_rows": queue_rows, "read_status": read_status, "read_reason": read_reason,
            "cosign_reason": sup.locator("#service-error-reason").inner_text()}


def cosign_progress_note(session) -> dict:
    """The supervisor reviews a trainee's signed progress note (minimum necessary fields) and co-signs."""
    from playwright.sync_api import expect

    p = session.params
    sup, _ = session.enrol(p["supervisor"], ["supervisor"])
    sup.click("#nav-supervision")
    row = sup.locator(f"#review-queue tr[data-note='{p['note_id']}']")
    expect(row).to_contain_text("progress note")
    row.locator("a.review-link").click()
    expect(sup.locator("#review-rule")).to_contain_text("164.506(c)(1)")
    content = sup.locator("#review-content").inner_text()
    session.look(sup, "supervision-progress-note")
    sup.click("#cosign")
    expect(sup.locator("#messages")).to_contain_text(f"Co-signed note {p['note_id']}")
    return {"content": content, "left_in_queue": sup.locator(f"#review-queue tr[data-note='{p['note_id']}']").count()}
