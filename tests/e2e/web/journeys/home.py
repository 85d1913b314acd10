"""The home page after a first enrolment: every role's links, axe-checked; and the links `make demo` prints."""
from __future__ import annotations

import re
import time

from .common import PASSWORD


def signed_in(session) -> dict:
    page, _ = session.enrol(session.params["person_id"], session.params.get("roles"))
    session.look(page, f"home-{session.params['label']}")
    return {"nav": page.locator("header nav a").all_inner_texts(),
            "roles": page.locator("#session-roles").inner_text()}


def enrol_with_printed_link(session) -> dict:
    """A demo person opens the link ``make demo`` printed, sets a password, then TOTP (workforce),
    as the README says; then the link is spent, and a note author finds who has seen their notes."""
    from playwright.sync_api import expect

    params = session.params
    page = session.new_page()
    page.goto(params["link"])
    expect(page.get_by_role("heading", name=re.compile(r"Welcome"))).to_be_visible()
    session.look(page, f"demo-enrol-{params['label']}")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("#enrol-submit")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    session.sign_in_password(page, params["person_id"])
    if params.get("workforce", True):
        session.activate_totp(page)
    page.goto(f"{session.base}/")
    session.look(page, f"demo-home-{params['label']}")
    data = {"member": page.locator("#member-id").inner_text(),
            "roles": page.locator("#session-roles").inner_text(),
            "nav": page.locator("header nav a").all_inner_texts(), "seen": None}
    if page.locator("#notes-seen-link").count():
        page.click("#notes-seen-link")
        expect(page.locator("#notes-seen")).to_be_visible()
        session.look(page, f"demo-notes-seen-{params['label']}")
        data["seen"] = [{"who": r.locator("th .who").inner_text(), "decision": r.locator("td").nth(2).inner_text(),
                         "who_detail": r.locator("th .who-detail").inner_text(),
                         "purpose": r.locator("td").nth(1).inner_text(),
                         "notes": [n.get_attribute("data-note") for n in r.locator("[data-note]").all()]}
                        for r in page.locator("#notes-seen tbody tr[data-decision]").all()]
        data["seen_decisions"] = [r.get_attribute("data-decision")
                                  for r in page.locator("#notes-seen tbody tr[data-decision]").all()]
    again = session.new_page()
    response = again.goto(params["link"])
    data["second_use_status"] = response.status if response else None
    return data


def front_door_pages(session) -> dict:
    """Every page of the front door itself, each axe-checked and screenshotted: sign-in (signed out,
    and with a wrong password), enrolment, TOTP set-up, the second-factor sign-in, home, second-factor
    settings, the practice admin's sessions, the command-line sign-in (before and after minting), the
    password-reset help, who has seen my notes, a refusal (403) and a page that does not exist (404)."""
    import pyotp
    from playwright.sync_api import expect

    admin = session.params["admin_id"]
    checked: list[str] = []

    def look(page, name: str) -> None:
        session.look(page, f"front-door-{name}")
        checked.append(name)

    page = session.new_page()
    page.goto(f"{session.base}/accounts/login/")
    look(page, "login")
    page.fill("input[name=login]", admin)
    page.fill("input[name=password]", "not the password")
    session.submit_main_form(page)
    expect(page.locator(".errorlist, .error").first).to_be_visible()
    look(page, "login-failed")
    page.goto(f"{session.base}/accounts/password/reset/")
    look(page, "password-reset-help")

    link = session.enrolment_link(admin, "practice_admin", "clinician")
    page.goto(link)
    expect(page.get_by_role("heading", name=re.compile(r"Welcome"))).to_be_visible()
    look(page, "enrol")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("#enrol-submit")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    session.sign_in_password(page, admin)
    expect(page).to_have_url(re.compile(r"/accounts/2fa/totp/activate/"))
    look(page, "totp-activate")
    secret = session.activate_totp(page)
    page.goto(f"{session.base}/")
    look(page, "home")
    page.goto(f"{session.base}/accounts/2fa/")
    look(page, "second-factor")
    page.goto(f"{session.base}/admin/sessions/")
    look(page, "sessions")
    page.goto(f"{session.base}/session/cli-assertion")
    look(page, "cli-assertion")
    session.submit_main_form(page)
    look(page, "cli-assertion-minted")
    page.goto(f"{session.base}/notes/seen")
    look(page, "notes-seen")
    refused = page.goto(f"{session.base}/my/notes/")
    look(page, "refused")
    missing = page.goto(f"{session.base}/no-such-page")
    look(page, "not-found")

    page.click("#sign-out")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    session.sign_in_password(page, admin)
    expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/"))
    look(page, "mfa-authenticate")
    page.fill("input[name=code]", pyotp.TOTP(secret).at(time.time() + 30))
    session.submit_main_form(page)
    expect(page.locator("#member-id")).to_have_text(admin)
    return {"checked": checked, "refused_status": refused.status if refused else None,
            "missing_status": missing.status if missing else None,
            "violations": {k: v for k, v in session.checked.items() if v}}
