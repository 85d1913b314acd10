"""A security review's attacks on the psychotherapy pane and the supervision pages, as a signed-in
insider would make them: a supervisor acting on a trainee's draft through the author's editor, and
psychotherapy text looked for where it must never be (URLs, cookies, browser storage, cacheable answers)."""
from __future__ import annotations


def _token(page) -> str:
    return page.locator("input[name=csrfmiddlewaretoken]").first.input_value()


def _post(page, url: str, form: dict):
    return page.request.post(url, form=form, headers={"X-CSRFToken": _token(page)}, max_redirects=0)


def supervisor_on_trainee_draft(session) -> dict:
    """The supervisor named on a trainee's draft opens it in the author's pane, then forges the
    editor's POSTs: a move of a flagged sentence, a save and a sign."""
    p = session.params
    base = session.base
    sup, _ = session.enrol(p["supervisor"], ["supervisor"])
    url = f"{base}/clinician/psychotherapy/{p['note_id']}"
    response = sup.goto(url)
    opened = {"status": response.status, "editor": sup.locator("#psy-form").count(),
              "move_buttons": sup.locator("button.move").count(), "injected": sup.locator("#xss").count(),
              "read_only": sup.locator("#psy-read-only").inner_text(), "text": sup.locator("#psy-signed-text").inner_text()}
    session.look(sup, "psychotherapy-supervisor-draft")
    hints = _post(sup, f"{base}/clinician/psychotherapy/hints", {"text": p["text"]}).json()["hints"]
    key = hints[0]["key"]
    move = _post(sup, url, {"text": p["text"], "move": key})
    save = _post(sup, url, {"text": p["text"] + " Forged by the supervisor.", "action": "save"})
    sign = _post(sup, url, {"text": p["text"], "action": "sign"})
    addendum = _post(sup, url, {"addendum": "Forged addendum.", "action": "addendum"})
    return {"opened": opened, "move": move.status, "save": save.status, "sign": sign.status,
            "addendum": addendum.status, "addendum_page": addendum.text()}


def where_the_text_goes(session) -> dict:
    """A clinician writes, checks, moves, signs and adds an addendum with marked text; every answer's
    URL and Cache-Control, the cookies and the browser's storage are returned for the test to search."""
    from playwright.sync_api import expect

    p = session.params
    base = session.base
    page, _ = session.enrol(p["clinician"], ["clinician"])
    answers: list[dict] = []
    page.on("response", lambda r: answers.append({"url": r.url, "status": r.status,
                                                  "cache": r.headers.get("cache-control", ""),
                                                  "location": r.headers.get("location", ""),
                                                  "set_cookie": r.headers.get("set-cookie", "")}))
    page.goto(f"{base}/clinician/psychotherapy/")
    page.fill("#start-patient", p["patient"])
    page.fill("#start-date", p["session_date"])
    page.click("#psy-start-submit")
    page.fill("#psy-text", p["text"])
    expect(page.locator("#psy-hints li.hint")).to_have_count(1)
    page.click("#psy-save")
    expect(page.locator("#messages")).to_contain_text("Draft saved.")
    # a forged move key: refused on the editor, the text kept
    _post(page, page.url, {"text": p["text"], "move": "0:3"})
    for name, value in p["facts"].items():
        page.fill(f"#{name}", value) if name != "pn_risk_level" else page.select_option(f"#{name}", value)
    page.locator("#psy-hints li.hint button.move").click()
    expect(page.locator("#messages")).to_contain_text("Moved to the progress note draft")
    page.click("#psy-sign")
    expect(page.locator("#psy-status")).to_have_text("signed")
    page.fill("#psy-addendum", p["addendum"])
    page.click("#psy-addendum-submit")
    expect(page.locator("#psy-addenda")).to_contain_text(p["addendum"])
    storage = page.evaluate("() => JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])")
    cookies = [{"name": c["name"], "value": c["value"]} for c in page.context.cookies()]
    return {"answers": answers, "cookies": cookies, "storage": storage, "note_url": page.url}
