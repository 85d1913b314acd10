"""The browser journeys, run in a plain Python process: ``python browser_driver.py SPEC.json RESULT.json``.

The test suite's conftest monkey-patches eventlet before anything else, and Playwright's sync API
(its own greenlet and an asyncio loop over a pipe to the driver) does not work under that. So
pytest starts the web server and the IdP, then runs this script with the venv's python (no
eventlet imported here), bounded by a subprocess timeout. The script writes RESULT.json:
``{"ok": true, "data": {...}}`` or ``{"ok": false, "error": "...", "traceback": "..."}``.

SPEC.json: ``{"journey", "base_url", "web_env", "directory", "shots", "params": {...}}``;
``web_env`` is the server's environment (the enrolment-link command runs with it), ``directory``
the FileDirectory folder the server reads members from.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

PASSWORD = "correct horse battery staple 7"
TIMEOUT_MS = 15_000


class Journey:
    def __init__(self, spec: dict, browser) -> None:
        self.spec, self.browser = spec, browser
        self.base = spec["base_url"]
        self.shots = Path(spec["shots"])
        self.params = spec.get("params", {})

    # -- the world around the browser ---------------------------------------------------------

    def add_member(self, member_id: str, roles: list[str], name: str) -> None:
        folder = Path(self.spec["directory"])
        members = json.loads((folder / "members.json").read_text())
        members[member_id] = {"name": name, "roles": roles, "active": True}
        tmp = folder / f"members.json.{member_id}.tmp"
        tmp.write_text(json.dumps(members))
        tmp.replace(folder / "members.json")

    def enrolment_link(self, member_id: str, *roles: str) -> str:
        """``confide web enrolment-link`` as an operator runs it; the link it prints once."""
        args = [sys.executable, "-c", "from confide_app.cli import main; main()", "web", "enrolment-link",
                "--member-id", member_id, *[a for r in roles for a in ("--role", r)]]
        out = subprocess.run(args, env=self.spec["web_env"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        link = out.stdout.strip().splitlines()[-1]
        assert link.startswith(f"{self.base}/enrol/"), out.stdout
        return link

    def shot(self, page, name: str) -> None:
        page.screenshot(path=str(self.shots / name), full_page=True)

    # -- steps ----------------------------------------------------------------------------------

    def enrol_and_set_password(self, page, link: str, member_id: str) -> None:
        from playwright.sync_api import expect

        page.goto(link)
        expect(page.get_by_role("heading", name=f"Welcome, {member_id}")).to_be_visible()
        page.fill("#id_password1", PASSWORD)
        page.fill("#id_password2", PASSWORD)
        page.click("#enrol-submit")
        expect(page).to_have_url(re.compile(r"/accounts/login/"))

    @staticmethod
    def submit_main_form(page) -> None:
        """The page's own form, in <main>: a signed-in page's header holds the Sign out form first,
        so the first submit button of the document would sign the person out."""
        page.locator("main form button[type=submit]").first.click()

    def sign_in_password(self, page, member_id: str, password: str = PASSWORD) -> None:
        page.goto(f"{self.base}/accounts/login/")
        page.fill("input[name=login]", member_id)
        page.fill("input[name=password]", password)
        self.submit_main_form(page)

    def activate_totp(self, page, shot: str | None = None) -> str:
        import pyotp
        from playwright.sync_api import expect

        expect(page).to_have_url(re.compile(r"/accounts/2fa/totp/activate/"))
        secret = page.locator("#authenticator_secret").input_value()
        assert re.fullmatch(r"[A-Z2-7]{16,}", secret), secret
        if shot:
            self.shot(page, shot)
        page.fill("input[name=code]", pyotp.TOTP(secret).now())
        self.submit_main_form(page)
        expect(page).not_to_have_url(re.compile(r"/totp/activate/"))
        return secret

    def enrol_workforce(self, page, member_id: str, roles: list[str], shot_prefix: str | None = None) -> str:
        from playwright.sync_api import expect

        self.add_member(member_id, roles, f"Dr {member_id}")
        self.enrol_and_set_password(page, self.enrolment_link(member_id), member_id)
        if shot_prefix:
            self.shot(page, f"{shot_prefix}-login.png")
        self.sign_in_password(page, member_id)
        # A workforce account can reach nothing but TOTP set-up until it has a second factor.
        expect(page).to_have_url(re.compile(r"/accounts/2fa/totp/activate/"))
        page.goto(f"{self.base}/")
        expect(page).to_have_url(re.compile(r"/accounts/2fa/totp/activate/"))
        return self.activate_totp(page, f"{shot_prefix}-totp.png" if shot_prefix else None)

    def tab_to(self, page, selector: str, limit: int = 25) -> None:
        """Press Tab until ``selector`` has the focus (keyboard only)."""
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate("s => document.activeElement === document.querySelector(s)", selector):
                return
        raise AssertionError(f"{selector} never took the focus after {limit} Tabs")

    # -- journeys ---------------------------------------------------------------------------------

    def enrol_totp_sign_in(self) -> dict:
        import pyotp
        from playwright.sync_api import expect

        admin = self.params["member_id"]
        page = self.browser.new_context().new_page()
        secret = self.enrol_workforce(page, admin, ["practice_admin", "clinician"], shot_prefix="enrol")
        page.goto(f"{self.base}/")
        expect(page.locator("#session-roles")).to_have_text("practice_admin, clinician")
        page.click("#sign-out")
        expect(page).to_have_url(re.compile(r"/accounts/login/"))
        # Password alone is not enough once a second factor exists: the code is asked for.
        self.sign_in_password(page, admin)
        expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/"))
        self.shot(page, "mfa-authenticate.png")
        page.fill("input[name=code]", pyotp.TOTP(secret).at(time.time() + 30))  # a code not used before
        self.submit_main_form(page)
        expect(page.locator("#member-id")).to_have_text(admin)
        amr = page.locator("#session-amr").inner_text()
        self.shot(page, "home.png")
        return {"amr": amr}

    def link_works_once_keyboard(self) -> dict:
        """Keyboard only: Tab to each field, type, Enter."""
        from playwright.sync_api import expect

        patient = self.params["member_id"]
        link = self.enrolment_link(patient, "patient")
        page = self.browser.new_context().new_page()
        page.goto(link)
        expect(page.get_by_role("heading", name=f"Welcome, {patient}")).to_be_visible()
        self.tab_to(page, "#id_password1")
        page.keyboard.type(PASSWORD)
        self.tab_to(page, "#id_password2")
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"/accounts/login/"))
        self.shot(page, "login.png")
        self.tab_to(page, "input[name=login]")
        page.keyboard.type(patient)
        self.tab_to(page, "input[name=password]")
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        expect(page.locator("#member-id")).to_have_text(patient)
        self.tab_to(page, "#sign-out")
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"/accounts/login/"))
        response = page.goto(link)
        expect(page.locator("#enrol-invalid")).to_be_visible()
        return {"second_status": response.status if response else None}

    def lockout(self) -> dict:
        from playwright.sync_api import expect

        patient = self.params["member_id"]
        page = self.browser.new_context().new_page()
        self.enrol_and_set_password(page, self.enrolment_link(patient, "patient"), patient)
        for attempt in range(5):
            self.sign_in_password(page, patient, password=f"wrong password {attempt}")
            if attempt < 4:
                expect(page.get_by_text("not correct")).to_be_visible()
        self.sign_in_password(page, patient)  # locked: even the right password is refused now
        expect(page.locator("#locked-out")).to_be_visible()
        self.shot(page, "locked-out.png")
        return {}

    def admin_revokes(self) -> dict:
        from playwright.sync_api import expect

        admin, patient = self.params["admin_id"], self.params["patient_id"]
        admin_page = self.browser.new_context().new_page()
        patient_page = self.browser.new_context().new_page()
        self.enrol_workforce(admin_page, admin, ["practice_admin"])
        self.enrol_and_set_password(patient_page, self.enrolment_link(patient, "patient"), patient)
        self.sign_in_password(patient_page, patient)
        expect(patient_page.locator("#member-id")).to_have_text(patient)

        admin_page.goto(f"{self.base}/admin/sessions/")
        row = admin_page.locator(f"tr[data-member='{patient}']")
        expect(row).to_be_visible()
        self.shot(admin_page, "sessions.png")
        row.get_by_role("button", name="Revoke").click()
        expect(admin_page.get_by_text(f"Session of {patient} revoked.")).to_be_visible()
        expect(admin_page.locator(f"tr[data-member='{patient}']")).to_have_count(0)

        patient_page.goto(f"{self.base}/")
        expect(patient_page).to_have_url(re.compile(r"/accounts/login/"))
        # A member who is not a practice admin cannot see the page.
        page = self.browser.new_context().new_page()
        self.sign_in_password(page, patient)
        expect(page.locator("#member-id")).to_have_text(patient)
        response = page.goto(f"{self.base}/admin/sessions/")
        return {"non_admin_status": response.status if response else None}

    def idle_timeout(self) -> dict:
        from playwright.sync_api import expect

        patient, idle = self.params["member_id"], self.params["idle_seconds"]
        page = self.browser.new_context().new_page()
        self.enrol_and_set_password(page, self.enrolment_link(patient, "patient"), patient)
        self.sign_in_password(page, patient)
        expect(page.locator("#member-id")).to_have_text(patient)
        expect(page.locator("#idle-warning")).to_be_visible(timeout=(idle + 10) * 1000)
        self.shot(page, "idle-warning.png")
        expect(page.get_by_text(f"You were signed out after {idle} seconds of inactivity.")).to_be_visible(
            timeout=(idle + 15) * 1000)
        expect(page).to_have_url(re.compile(r"/accounts/login/\?ended=idle_timeout"))
        self.shot(page, "idle-signed-out.png")
        return {}

    def _idp_sign_in(self, page, login: str) -> None:
        from playwright.sync_api import expect

        page.goto(f"{self.base}/accounts/login/")
        page.get_by_role("link", name="Practice sign-in").click()
        page.get_by_role("button", name="Continue").click()  # the POST that starts the code flow
        expect(page).to_have_url(re.compile(re.escape(self.params["issuer"]) + r"/interaction/"))
        page.fill("input[name=login]", login)
        page.fill("input[name=password]", "any")
        page.locator("button[type=submit]").first.click()
        page.get_by_role("button", name="Continue").click()  # consent

    def sso_groups_to_roles(self) -> dict:
        import pyotp
        from playwright.sync_api import expect

        clinician = self.params["member_id"]
        page = self.browser.new_context().new_page()
        # First the member's own enrolment (password, then TOTP): an SSO link needs that proof.
        self.enrol_and_set_password(page, self.enrolment_link(clinician), clinician)
        self.sign_in_password(page, clinician)
        secret = self.activate_totp(page, "sso-totp.png")
        page.goto(f"{self.base}/")
        page.click("#sign-out")
        self._idp_sign_in(page, clinician)
        expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/"))  # their own code, after SSO
        page.fill("input[name=code]", pyotp.TOTP(secret).at(time.time() + 30))
        self.submit_main_form(page)
        expect(page.locator("#member-id")).to_have_text(clinician)
        return {"roles": page.locator("#session-roles").inner_text()}

    def cli_assertion(self) -> dict:
        """A signed-in clinician mints the command line's assertion (keyboard: Tab to the button)."""
        from playwright.sync_api import expect

        clinician = self.params["member_id"]
        page = self.browser.new_context().new_page()
        self.enrol_workforce(page, clinician, ["clinician"])
        page.goto(f"{self.base}/session/cli-assertion")
        self.tab_to(page, "#cli-assertion-mint")
        page.keyboard.press("Enter")
        expect(page.locator("#cli-assertion")).to_be_visible()
        self.shot(page, "cli-assertion.png")
        return {"assertion": page.locator("#cli-assertion").input_value().strip()}

    def notes_seen(self) -> dict:
        """A signed-in clinician follows the home page's link to "Who has seen my notes" and reads
        the table (``expect`` "table"), or the page's error when the audit service is unreachable
        (``expect`` "unavailable"); a member without an author's role (``roles``, ``expect``
        "forbidden") has no link and is refused the page."""
        from playwright.sync_api import expect

        clinician, want = self.params["member_id"], self.params["expect"]
        page = self.browser.new_context().new_page()
        self.enrol_workforce(page, clinician, self.params.get("roles", ["clinician"]))
        page.goto(f"{self.base}/")
        if want == "forbidden":  # not a note author: no link, and the page itself refuses
            expect(page.locator("#member-id")).to_have_text(clinician)
            links = page.locator("#notes-seen-link").count()
            return {"links": links, "status": page.request.get(f"{self.base}/notes/seen").status}
        page.click("#notes-seen-link")
        expect(page).to_have_url(re.compile(r"/notes/seen$"))
        expect(page.get_by_role("heading", name="Who has seen my notes")).to_be_visible()
        if want == "unavailable":
            expect(page.locator("#audit-unavailable")).to_be_visible(timeout=30_000)
            self.shot(page, "notes-seen-unavailable.png")
            status = page.request.get(f"{self.base}/notes/seen").status
            return {"status": status, "tables": page.locator("table").count()}
        table = page.get_by_role("table", name=re.compile("Access decisions on notes you wrote"))
        expect(table).to_be_visible()
        self.shot(page, "notes-seen.png")
        response = page.request.get(f"{self.base}/notes/seen")
        rows = [[c.inner_text().strip() for c in row.locator("th, td").all()]
                for row in table.locator("tbody tr").all()]
        return {"rows": rows, "decisions": table.locator("tbody tr").evaluate_all(
                    "rs => rs.map(r => r.dataset.decision)"),
                "notes": table.locator("tbody tr").evaluate_all(
                    "rs => rs.map(r => [...r.querySelectorAll('[data-note]')].map(n => n.dataset.note))"),
                "html": page.content(),
                "col_headers": table.locator("thead th[scope=col]").count(),
                "status": response.status, "cache_control": response.headers.get("cache-control", "")}

    def sso_first_sign_in_of_a_fresh_member(self) -> dict:
        """A member has set their password but not yet their second factor; someone at the IdP whose
        username claim is that member's id signs in through SSO. Where do they land?"""
        member = self.params["member_id"]
        page = self.browser.new_context().new_page()
        self.enrol_and_set_password(page, self.enrolment_link(member), member)
        other = self.browser.new_context().new_page()
        self._idp_sign_in(other, member)
        other.wait_for_load_state()
        return {"url": other.url, "totp_secret_shown": other.locator("#authenticator_secret").count() > 0}

    def sso_refuses_stranger(self) -> dict:
        from playwright.sync_api import expect

        page = self.browser.new_context().new_page()
        self._idp_sign_in(page, self.params["member_id"])
        expect(page.locator("#refused")).to_be_visible()
        self.shot(page, "sso-refused.png")
        return {}


def main(spec_path: str, result_path: str) -> int:
    from confide.testing.browser import drive

    return drive(spec_path, result_path, lambda spec, browser: getattr(Journey(spec, browser), spec["journey"])(),
                 TIMEOUT_MS)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
