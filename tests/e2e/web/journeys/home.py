"""The home page after a first enrolment: every role's links, axe-checked; and the links `make demo` prints."""
from __future__ import annotations

import re

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
        data["seen"] = [{"who": r.locator("th .who").inner_text(), "decision": r.locator("td").nth(2).inner_text()}
                        for r in page.locator("#notes-seen tbody tr[data-decision]").all()]
    again = session.new_page()
    response = again.goto(params["link"])
    data["second_use_status"] = response.status if response else None
    return data
