"""The patient portal (``/my/``): a patient's progress notes (fetched as often as they like), an
amendment request, the accounting of disclosures and the access log; refusals; and one whole journey
driven by the keyboard alone."""
from __future__ import annotations

import re

from journeys.common import PASSWORD

#: What can take the focus by Tab (no positive tabindex anywhere: DOM order is the focus order).
FOCUSABLE_JS = """() => Array.from(document.querySelectorAll(
  'a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), textarea:not([disabled]),'
  + ' select:not([disabled]), summary, [tabindex]:not([tabindex="-1"])'))
  .filter(e => !e.closest('[hidden]') && getComputedStyle(e).visibility !== 'hidden'
               && getComputedStyle(e).display !== 'none')"""

FOCUS_STATE_JS = """(focusable) => {
  const el = document.activeElement;
  const list = (%s)();
  const s = getComputedStyle(el);
  return {index: list.indexOf(el), tag: el.tagName.toLowerCase(), id: el.id || '',
          text: (el.innerText || el.value || el.getAttribute('aria-label') || '').trim().slice(0, 60),
          focus_visible: el.matches(':focus-visible'),
          outline_style: s.outlineStyle, outline_width: parseFloat(s.outlineWidth) || 0,
          box_shadow: s.boxShadow, count: list.length};
}""" % FOCUSABLE_JS


def _text(page, selector: str) -> str:
    return page.locator(selector).inner_text()


def _status(page, url: str) -> tuple[int, str]:
    response = page.goto(url)
    return response.status, page.locator("body").inner_text()


def patient_journey(session) -> dict:
    """A demo patient: my notes twice (the same), a note twice (the same), no psychotherapy note
    anywhere, another patient's note and my psychotherapy note refused alike, an amendment request
    (with markup in it), my amendment requests, accounting and access log; the workforce's pages
    refused; a POST without its CSRF token refused."""
    from playwright.sync_api import expect

    p = session.params
    base = session.base
    page, _ = session.enrol(p["patient_id"], ["patient"])
    nav = page.locator("header nav a").all_inner_texts()
    html_seen: list[str] = []

    page.click("#nav-portal-notes")
    expect(page.get_by_role("heading", name="My progress notes")).to_be_visible()
    session.look(page, "portal-notes")
    first_list = _text(page, "#portal-note-list")
    rights = _text(page, "#portal-rights")
    html_seen.append(page.content())
    page.reload()
    expect(page.locator("#portal-note-list")).to_be_visible()
    second_list = _text(page, "#portal-note-list")
    html_seen.append(page.content())

    page.click(f"#note-link-{p['progress_note_id']}")
    expect(page.locator("#portal-note-heading")).to_be_visible()
    session.look(page, "portal-note")
    first_note = _text(page, "#portal-note-content")
    injected_in_note = page.evaluate("() => window.__portal_injected === true")
    addenda = _text(page, "#portal-addenda")
    html_seen.append(page.content())
    page.reload()
    expect(page.locator("#portal-note-content")).to_be_visible()
    second_note = _text(page, "#portal-note-content")
    html_seen.append(page.content())

    # An empty amendment request: the errors are named and tied to their fields.
    page.click("#amend-submit")
    expect(page.locator("#requested_change-error")).to_be_visible()
    session.look(page, "portal-note-errors")
    empty_errors = {"requested_change": page.get_attribute("#id_requested_change", "aria-describedby"),
                    "reason": page.get_attribute("#id_reason", "aria-describedby")}
    page.fill("#id_requested_change", p["amendment_text"])
    page.fill("#id_reason", "The session was on a different day.")
    page.click("#amend-submit")
    expect(page).to_have_url(re.compile(r"/my/amendments/$"))
    expect(page.locator("#messages")).to_contain_text("amendment request was received")
    session.look(page, "portal-amendments")
    amendments = page.locator("[data-amendment]").evaluate_all(
        "els => els.map(e => ({id: e.dataset.amendment, status: e.dataset.status,"
        " change: e.querySelector('.requested-change').innerText,"
        " html: e.querySelector('.requested-change').innerHTML}))")
    injected = page.evaluate("() => window.__portal_injected === true")
    html_seen.append(page.content())
    # The denied request (arranged by the test): my statement of disagreement, added to my record.
    denied = f"#amendment-{p['denied_amendment_id']}"
    denial = page.locator(f"{denied} .denial").inner_text()
    page.fill(f"#statement-{p['denied_amendment_id']}", p["disagreement"])
    page.locator(f"{denied} button[type=submit]").click()
    expect(page.locator("#messages")).to_contain_text("statement of disagreement was added")
    disagreement = page.locator(f"{denied} .disagreement").inner_text()
    disagreement_form_left = page.locator(f"#statement-{p['denied_amendment_id']}").count()

    page.click("#nav-portal-accounting")
    expect(page.get_by_role("heading", name="My accounting of disclosures")).to_be_visible()
    session.look(page, "portal-accounting")
    accounting = {"caption": _text(page, "#accounting-caption"), "request_id": _text(page, "#accounting-request-id"),
                  "entries": page.locator("#portal-accounting tbody tr").evaluate_all(
                      "rows => rows.map(r => Array.from(r.children).map(c => c.innerText.trim()))")}

    page.click("#nav-portal-access-log")
    expect(page.get_by_role("heading", name="Who has seen my record")).to_be_visible()
    session.look(page, "portal-access-log")
    rows_js = "rows => rows.map(r => Array.from(r.children).map(c => c.innerText.trim()))"
    others_log = page.locator("#portal-access-log tbody tr").evaluate_all(rows_js)
    own_views = _text(page, "#portal-own-views")
    html_seen.append(page.content())
    page.click("#show-mine")
    expect(page.locator("#hide-mine")).to_be_visible()
    access_log = page.locator("#portal-access-log tbody tr").evaluate_all(rows_js)
    html_seen.append(page.content())

    refusals = {
        "psychotherapy_note": _status(page, f"{base}/my/notes/{p['psych_note_id']}"),
        "other_patients_note": _status(page, f"{base}/my/notes/{p['other_note_id']}"),
        "clinician_notes_seen": _status(page, f"{base}/notes/seen")[0],
        "admin_sessions": _status(page, f"{base}/admin/sessions/")[0],
    }
    # Amending another patient's note by a forged POST (with a valid CSRF token): refused, nothing asked.
    page.goto(f"{base}/my/notes/")
    token = page.locator("input[name=csrfmiddlewaretoken]").first.input_value()
    forged = page.request.post(f"{base}/my/notes/{p['other_note_id']}/amend",
                               form={"csrfmiddlewaretoken": token, "requested_change": "x", "reason": "y"},
                               headers={"Referer": f"{base}/my/notes/"})
    forged_disagreement = page.request.post(
        f"{base}/my/amendments/{p['other_note_id']}/{p['denied_amendment_id']}/disagree",
        form={"csrfmiddlewaretoken": token, "statement": "not mine"}, headers={"Referer": f"{base}/my/amendments/"})
    no_csrf = page.request.post(f"{base}/my/notes/{p['progress_note_id']}/amend",
                                form={"requested_change": "x", "reason": "y"}, headers={"Referer": f"{base}/my/notes/"})
    return {
        "nav": nav, "rights": rights, "lists": [first_list, second_list], "notes": [first_note, second_note],
        "injected_in_note": injected_in_note, "addenda": addenda, "empty_errors": empty_errors, "amendments": amendments, "injected": injected,
        "accounting": accounting, "access_log": access_log, "others_log": others_log, "own_views": own_views,
        "denial": denial, "disagreement": disagreement, "disagreement_form_left": disagreement_form_left,
        "refusals": refusals,
        "forged_status": forged.status, "forged_disagreement_status": forged_disagreement.status,
        "no_csrf_status": no_csrf.status,
        "psych_seen": any(p["psych_marker"] in h or p["psych_note_id"] in h for h in html_seen),
        "other_seen": any(p["other_note_id"] in h for h in html_seen),
    }


# -- the keyboard-only journey ------------------------------------------------------------------

def _focus(page) -> dict:
    return page.evaluate(FOCUS_STATE_JS)


def _walk(page, name: str) -> dict:
    """Tab through the whole page from its start (call it right after the page loads: the focus
    starts at the top): each focused element in order, and whether its focus is visible (an outline
    of 2px or more, or a box-shadow, under :focus-visible)."""
    count = page.evaluate(f"() => ({FOCUSABLE_JS})().length")
    seen = []
    for _ in range(count):
        page.keyboard.press("Tab")
        seen.append(_focus(page))
    return {"page": name, "count": count, "order": [s["index"] for s in seen],
            "labels": [s["id"] or s["text"] for s in seen],
            "invisible": [s for s in seen if not (s["focus_visible"] and (
                (s["outline_style"] != "none" and s["outline_width"] >= 2) or s["box_shadow"] != "none"))]}


def _tab_to(page, selector: str, limit: int = 60) -> int:
    """Press Tab until ``selector`` has the focus; -> how many presses it took."""
    for n in range(1, limit + 1):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement === document.querySelector(s)", selector):
            return n
    raise AssertionError(f"{selector} never took the focus after {limit} Tabs")


def keyboard_journey(session) -> dict:
    """Enrol, sign in, open my notes, open a note, request an amendment, open my accounting and my
    access log: Tab, Shift+Tab, Enter, Space and typing only (the enrolment link is opened by URL)."""
    from playwright.sync_api import expect

    p = session.params
    page = session.new_page()
    page.goto(session.enrolment_link(p["patient_id"], "patient"))
    expect(page.get_by_role("heading", name=re.compile(r"Welcome"))).to_be_visible()
    _tab_to(page, "#id_password1")
    page.keyboard.type(PASSWORD)
    _tab_to(page, "#id_password2")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    _tab_to(page, "input[name=login]")
    page.keyboard.type(p["patient_id"])
    _tab_to(page, "input[name=password]")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator("#signed-in-as")).to_have_text(p["patient_id"])
    walks = [_walk(page, "home")]

    # Tab on from the last element wraps to the top: "Skip to content" first, shown when focused; Enter
    # moves the focus to <main>.
    _tab_to(page, "#skip-to-content")
    skip = _focus(page)
    skip_box = page.locator("#skip-to-content").bounding_box()
    session.shot(page, "portal-skip-link.png")
    page.keyboard.press("Enter")
    after_skip = page.evaluate("() => document.activeElement.id")

    _tab_to(page, "#nav-portal-notes")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="My progress notes")).to_be_visible()
    walks.append(_walk(page, "notes"))
    _tab_to(page, f"#note-link-{p['note_id']}")
    page.keyboard.press("Enter")
    expect(page.locator("#portal-note-heading")).to_be_visible()
    walks.append(_walk(page, "note"))

    _tab_to(page, "#id_requested_change")
    page.keyboard.type(p["amendment_text"])
    page.keyboard.press("Tab")
    reason_next = page.evaluate("() => document.activeElement.id")
    page.keyboard.type("Typed with the keyboard alone.")
    page.keyboard.press("Shift+Tab")
    back_to_change = page.evaluate("() => document.activeElement.id")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    submit_next = page.evaluate("() => document.activeElement.id")
    page.keyboard.press("Space")
    expect(page).to_have_url(re.compile(r"/my/amendments/$"))
    amendment = page.locator("[data-amendment] .requested-change").first.inner_text()
    walks.append(_walk(page, "amendments"))

    _tab_to(page, "#nav-portal-accounting")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="My accounting of disclosures")).to_be_visible()
    walks.append(_walk(page, "accounting"))
    _tab_to(page, "#nav-portal-access-log")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Who has seen my record")).to_be_visible()
    walks.append(_walk(page, "access-log"))
    _tab_to(page, "#show-mine")
    page.keyboard.press("Enter")
    expect(page.locator("#hide-mine")).to_be_visible()
    who = page.locator("#portal-access-log tbody th.who").all_inner_texts()
    return {"walks": walks, "skip": skip, "skip_on_screen": bool(skip_box and skip_box["x"] >= 0),
            "after_skip": after_skip, "reason_next": reason_next, "back_to_change": back_to_change,
            "submit_next": submit_next, "amendment": amendment, "who": who}


def workforce_refused(session) -> dict:
    """A workforce member (signed in with TOTP) opens every portal page: each refused (403)."""
    page, _ = session.enrol(session.params["person_id"], session.params["roles"])
    statuses = {}
    for path in ("/my/notes/", f"/my/notes/{session.params['note_id']}", "/my/amendments/", "/my/accounting/",
                 "/my/access-log/"):
        statuses[path] = page.goto(f"{session.base}{path}").status
    return {"statuses": statuses, "nav": page.locator("header nav a").all_inner_texts()}
