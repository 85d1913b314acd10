"""The home page after a first enrolment: every role's links, axe-checked."""
from __future__ import annotations


def signed_in(session) -> dict:
    page, _ = session.enrol(session.params["person_id"], session.params.get("roles"))
    session.look(page, f"home-{session.params['label']}")
    return {"nav": page.locator("header nav a").all_inner_texts(),
            "roles": page.locator("#session-roles").inner_text()}
