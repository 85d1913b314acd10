"""What every journey does: enrol at the front door, set up TOTP, sign in, check a page with axe-core,
take a screenshot, move by keyboard.

A person must already be on file in the practice's directory (the test puts them there with
``practice.people.member(...)`` / ``.patient(...)``); :meth:`Session.enrol` then asks for their
one-time link as an operator would (``confide web enrolment-link``), sets the password and, for the
workforce, TOTP, and returns a signed-in page.
"""
from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

PASSWORD = "correct horse battery staple 7"
#: axe-core impacts that fail a page (issue 11: 0 serious or critical violations on every page).
BLOCKING_IMPACTS = ("serious", "critical")


class AccessibilityError(AssertionError):
    pass


class Session:
    def __init__(self, spec: dict, browser) -> None:
        self.spec, self.browser = spec, browser
        self.base = spec["base_url"]
        self.params = spec.get("params", {})
        self.shots = Path(spec["shots"])
        self.axe_source = Path(spec["axe"]).read_text()
        self.checked: dict[str, list] = {}

    # -- the world around the browser -------------------------------------------------------------

    def enrolment_link(self, person_id: str, *roles: str) -> str:
        args = [sys.executable, "-c", "from confide_app.cli import main; main()", "web", "enrolment-link",
                "--member-id", person_id, *[a for r in roles for a in ("--role", r)]]
        out = subprocess.run(args, env=self.spec["web_env"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        link = out.stdout.strip().splitlines()[-1]
        assert link.startswith(f"{self.base}/enrol/"), out.stdout
        return link

    # -- steps ------------------------------------------------------------------------------------

    def new_page(self):
        return self.browser.new_context().new_page()

    @staticmethod
    def submit_main_form(page) -> None:
        """The page's own form in <main> (the header's first form is Sign out)."""
        page.locator("main form button[type=submit]").first.click()

    def enrol(self, person_id: str, roles: list[str] | None = None, page=None):
        """Enrol ``person_id`` (on file in the directory), set the password, sign in, and for the
        workforce activate TOTP. -> (page signed in at home, TOTP secret or None)."""
        from playwright.sync_api import expect

        page = page or self.new_page()
        link = self.enrolment_link(person_id, *(roles or []))
        page.goto(link)
        expect(page.get_by_role("heading", name=re.compile(r"Welcome"))).to_be_visible()
        page.fill("#id_password1", PASSWORD)
        page.fill("#id_password2", PASSWORD)
        page.click("#enrol-submit")
        expect(page).to_have_url(re.compile(r"/accounts/login/"))
        self.sign_in_password(page, person_id)
        secret = None
        if roles != ["patient"]:
            secret = self.activate_totp(page)
        page.goto(f"{self.base}/")
        return page, secret

    def sign_in_password(self, page, person_id: str, password: str = PASSWORD) -> None:
        page.goto(f"{self.base}/accounts/login/")
        page.fill("input[name=login]", person_id)
        page.fill("input[name=password]", password)
        self.submit_main_form(page)

    def activate_totp(self, page) -> str:
        import pyotp
        from playwright.sync_api import expect

        expect(page).to_have_url(re.compile(r"/accounts/2fa/totp/activate/"))
        secret = page.locator("#authenticator_secret").input_value()
        page.fill("input[name=code]", pyotp.TOTP(secret).now())
        self.submit_main_form(page)
        expect(page).not_to_have_url(re.compile(r"/totp/activate/"))
        return secret

    def sign_in_again(self, page, person_id: str, secret: str | None) -> None:
        """A later sign-in: password, then a TOTP code not used before."""
        import pyotp
        from playwright.sync_api import expect

        self.sign_in_password(page, person_id)
        if secret:
            expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/"))
            page.fill("input[name=code]", pyotp.TOTP(secret).at(time.time() + 30))
            self.submit_main_form(page)
        expect(page).not_to_have_url(re.compile(r"/accounts/"))

    def shot(self, page, name: str) -> str:
        path = self.shots / name
        page.screenshot(path=str(path), full_page=True)
        return str(path)

    def axe(self, page, name: str | None = None) -> list[dict]:
        """Run axe-core on the page as it stands; raise AccessibilityError on any serious or critical
        violation (naming rule, impact and the first nodes). -> every violation found (all impacts)."""
        if not page.evaluate("() => typeof window.axe !== 'undefined'"):
            # Evaluated through the DevTools protocol, which the page's CSP does not govern (a <script>
            # tag would be refused, as it should be); the page's own policy stays on for the journey.
            page.evaluate(self.axe_source + "\n;void 0")
        result = page.evaluate("async () => await window.axe.run(document, {resultTypes: ['violations']})")
        violations = [{"id": v["id"], "impact": v.get("impact"), "help": v["help"],
                       "nodes": [n["target"] for n in v["nodes"][:3]]} for v in result["violations"]]
        self.checked[name or page.url] = violations
        blocking = [v for v in violations if v["impact"] in BLOCKING_IMPACTS]
        if blocking:
            raise AccessibilityError(f"axe-core on {name or page.url}: {blocking}")
        return violations

    def look(self, page, name: str) -> None:
        """The page as a person sees it: axe-core checked, then a screenshot ``<name>.png``."""
        self.axe(page, name)
        self.shot(page, f"{name}.png")

    def tab_to(self, page, selector: str, limit: int = 40) -> None:
        """Press Tab until ``selector`` has the focus (keyboard only)."""
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate("s => document.activeElement === document.querySelector(s)", selector):
                return
        raise AssertionError(f"{selector} never took the focus after {limit} Tabs")
