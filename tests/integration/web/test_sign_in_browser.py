"""Sign-in at the front door, in Chromium: enrolment link -> password -> TOTP -> sign-in with
password and TOTP; idle timeout; lockout; an admin revoking a session; SSO against a real
OpenID Connect provider with a groups claim mapped to a role. Each step waits for what the page
shows (Playwright's auto-waiting), never a fixed sleep; screenshots go to /tmp/web-shots/."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from confide.testing.polling import wait_for

from .conftest import SHOTS, start_web, stop, totp_code

pytestmark = pytest.mark.integration
PASSWORD = "correct horse battery staple 7"


def enrol_and_set_password(page, link: str, member_id: str) -> None:
    page.goto(link)
    expect(page.get_by_role("heading", name=f"Welcome, {member_id}")).to_be_visible()
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("#enrol-submit")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))


def sign_in_password(page, base: str, member_id: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", member_id)
    page.fill("input[name=password]", password)
    page.locator("form button[type=submit]").first.click()


def activate_totp(page, shot: str | None = None) -> str:
    expect(page).to_have_url(re.compile(r"/accounts/2fa/totp/activate/"))
    secret = page.locator("#authenticator_secret").input_value()
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret), secret
    if shot:
        page.screenshot(path=str(SHOTS / shot), full_page=True)
    page.fill("input[name=code]", totp_code(secret))
    page.locator("form button[type=submit]").first.click()
    expect(page).not_to_have_url(re.compile(r"/totp/activate/"))
    return secret


def enrol_workforce(page, web, directory, member_id: str, roles: list[str], shot_prefix: str | None = None) -> str:
    directory.add(member_id, roles, name=f"Dr {member_id}")
    link = web.enrolment_link(member_id)
    enrol_and_set_password(page, link, member_id)
    if shot_prefix:
        page.screenshot(path=str(SHOTS / f"{shot_prefix}-login.png"), full_page=True)
    sign_in_password(page, web.base_url, member_id)
    # A workforce account can reach nothing but TOTP set-up until it has a second factor.
    expect(page).to_have_url(re.compile(r"/accounts/2fa/totp/activate/"))
    page.goto(f"{web.base_url}/")
    expect(page).to_have_url(re.compile(r"/accounts/2fa/totp/activate/"))
    return activate_totp(page, f"{shot_prefix}-totp.png" if shot_prefix else None)


def test_enrolment_link_password_totp_then_sign_in_with_both(web, directory, browser, member_id):
    admin = member_id("A")
    context = browser.new_context()
    page = context.new_page()
    secret = enrol_workforce(page, web, directory, admin, ["practice_admin", "clinician"], shot_prefix="enrol")
    page.goto(f"{web.base_url}/")
    expect(page.locator("#session-roles")).to_have_text("practice_admin, clinician")

    # The link was one-time.
    page.click("#sign-out")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))

    # Password alone is not enough once a second factor exists: allauth asks for the code.
    sign_in_password(page, web.base_url, admin)
    expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/"))
    page.screenshot(path=str(SHOTS / "mfa-authenticate.png"), full_page=True)
    page.fill("input[name=code]", totp_code(secret, step_offset=1))  # a code not used before
    page.locator("form button[type=submit]").first.click()
    expect(page.locator("#member-id")).to_have_text(admin)
    expect(page.locator("#session-amr")).to_have_text("pwd, otp, mfa")
    page.screenshot(path=str(SHOTS / "home.png"), full_page=True)

    kinds = directory.kinds(admin)
    assert kinds.count("signed_in") == 2 and "signed_out" in kinds, kinds
    for event in directory.events(admin):
        assert PASSWORD not in str(event)
    context.close()


def test_an_enrolment_link_works_once(web, directory, browser, member_id):
    patient = member_id("P")
    link = web.enrolment_link(patient, "patient")
    context = browser.new_context()
    page = context.new_page()
    enrol_and_set_password(page, link, patient)
    response = page.goto(link)
    assert response is not None and response.status == 404
    expect(page.locator("#enrol-invalid")).to_be_visible()
    context.close()


def test_lockout_after_five_failures(web, directory, browser, member_id):
    patient = member_id("P")
    context = browser.new_context()
    page = context.new_page()
    enrol_and_set_password(page, web.enrolment_link(patient, "patient"), patient)
    for attempt in range(5):
        sign_in_password(page, web.base_url, patient, password=f"wrong password {attempt}")
        if attempt < 4:
            expect(page.get_by_text("not correct")).to_be_visible()
    # Locked: even the right password is refused now.
    sign_in_password(page, web.base_url, patient)
    expect(page.locator("#locked-out")).to_be_visible()
    page.screenshot(path=str(SHOTS / "locked-out.png"), full_page=True)
    kinds = directory.kinds(patient)
    assert kinds.count("sign_in_failed") >= 5 and "locked_out" in kinds and "signed_in" not in kinds, kinds
    context.close()


def test_admin_revokes_a_session(web, directory, browser, member_id):
    admin, patient = member_id("A"), member_id("P")
    admin_ctx, patient_ctx = browser.new_context(), browser.new_context()
    admin_page, patient_page = admin_ctx.new_page(), patient_ctx.new_page()
    enrol_workforce(admin_page, web, directory, admin, ["practice_admin"])

    enrol_and_set_password(patient_page, web.enrolment_link(patient, "patient"), patient)
    sign_in_password(patient_page, web.base_url, patient)
    expect(patient_page.locator("#member-id")).to_have_text(patient)

    admin_page.goto(f"{web.base_url}/admin/sessions/")
    row = admin_page.locator(f"tr[data-member='{patient}']")
    expect(row).to_be_visible()
    admin_page.screenshot(path=str(SHOTS / "sessions.png"), full_page=True)
    row.get_by_role("button", name="Revoke").click()
    expect(admin_page.get_by_text(f"Session of {patient} revoked.")).to_be_visible()
    expect(admin_page.locator(f"tr[data-member='{patient}']")).to_have_count(0)

    patient_page.goto(f"{web.base_url}/")
    expect(patient_page).to_have_url(re.compile(r"/accounts/login/"))
    revoked = [e for e in directory.events(patient) if e["kind"] == "session_revoked"]
    assert revoked and revoked[0]["by"] == admin, directory.events(patient)

    # A member who is not a practice admin cannot see the page.
    patient_ctx2 = browser.new_context()
    page = patient_ctx2.new_page()
    sign_in_password(page, web.base_url, patient)
    response = page.goto(f"{web.base_url}/admin/sessions/")
    assert response is not None and response.status == 403
    for c in (admin_ctx, patient_ctx, patient_ctx2):
        c.close()


def test_idle_timeout_warns_then_signs_out(tmp_path, web_db_dsn, directory, browser, member_id):
    server = start_web(tmp_path, web_db_dsn, directory, CONFIDE_WEB_IDLE_TIMEOUT="8", CONFIDE_WEB_IDLE_WARNING="6")
    try:
        patient = member_id("P")
        context = browser.new_context()
        page = context.new_page()
        enrol_and_set_password(page, server.enrolment_link(patient, "patient"), patient)
        sign_in_password(page, server.base_url, patient)
        expect(page.locator("#member-id")).to_have_text(patient)
        expect(page.locator("#idle-warning")).to_be_visible(timeout=15_000)
        page.screenshot(path=str(SHOTS / "idle-warning.png"), full_page=True)
        expect(page.get_by_text("You were signed out after 8 seconds of inactivity.")).to_be_visible(timeout=20_000)
        expect(page).to_have_url(re.compile(r"/accounts/login/\?ended=idle_timeout"))
        page.screenshot(path=str(SHOTS / "idle-signed-out.png"), full_page=True)
        wait_for(lambda: "idle_timeout" in directory.kinds(patient), timeout=10)
        context.close()
    finally:
        stop(server.proc)


def test_sso_sign_in_maps_groups_to_roles(web, directory, browser, idp, member_id):
    clinician = member_id("C")
    # The directory grants two roles; the IdP's group maps to one: the session holds only that one.
    directory.add(clinician, ["clinician", "supervisor"], name="Dr SSO")
    idp["config"]["accounts"][clinician] = {"name": "Dr SSO", "groups": ["confide-clinicians"]}
    # findAccount reads the config at start, so the IdP account list is served from its file:
    # enrolment is what the test is about; the IdP accepts any id its login form is given.
    context = browser.new_context()
    page = context.new_page()
    enrol_and_set_password(page, web.enrolment_link(clinician), clinician)

    page.goto(f"{web.base_url}/accounts/login/")
    page.screenshot(path=str(SHOTS / "login.png"), full_page=True)
    page.get_by_role("link", name="Practice sign-in").click()
    page.get_by_role("button", name="Continue").click()  # the POST that starts the code flow
    expect(page).to_have_url(re.compile(re.escape(idp["issuer"]) + r"/interaction/"))
    url = page.url
    assert "code_challenge" not in url  # the interaction URL hides the request; PKCE is enforced by the IdP config
    page.fill("input[name=login]", clinician)
    page.fill("input[name=password]", "any")
    page.locator("button[type=submit]").first.click()
    page.get_by_role("button", name="Continue").click()  # consent
    activate_totp(page, "sso-totp.png")
    page.goto(f"{web.base_url}/")
    expect(page.locator("#member-id")).to_have_text(clinician)
    expect(page.locator("#session-roles")).to_have_text("clinician")
    assert "signed_in" in directory.kinds(clinician)
    context.close()


def test_sso_refuses_someone_not_enrolled(web, directory, browser, idp, member_id):
    stranger = member_id("X")
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{web.base_url}/accounts/login/")
    page.get_by_role("link", name="Practice sign-in").click()
    page.get_by_role("button", name="Continue").click()
    page.fill("input[name=login]", stranger)
    page.fill("input[name=password]", "any")
    page.locator("button[type=submit]").first.click()
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#refused")).to_be_visible()
    context.close()
