"""Sign-in at the front door, in Chromium: enrolment link -> password -> TOTP -> sign-in with
password and TOTP; a link works once (keyboard only); lockout; an admin revoking a session; idle
timeout; SSO against a real OpenID Connect provider with a groups claim mapped to a role, and a
person not enrolled refused. Each journey runs in ``browser_driver.py`` (a plain Python process:
Playwright's sync API does not work under this suite's eventlet); each step waits for what the page
shows, never a fixed sleep; screenshots go to /tmp/web-shots/. The directory is a file directory
here (``test_directory_rpc.py`` proves the real directory service)."""
from __future__ import annotations

import pytest

from confide.testing.polling import wait_for

from .conftest import start_web, stop

pytestmark = pytest.mark.integration
PASSWORD = "correct horse battery staple 7"


def test_enrolment_link_password_totp_then_sign_in_with_both(web, directory, journey, member_id):
    admin = member_id("A")
    data = journey("enrol_totp_sign_in", web, member_id=admin)
    assert data["amr"] == "pwd, otp, mfa"
    kinds = directory.kinds(admin)
    assert kinds.count("signed_in") == 2 and "signed_out" in kinds, kinds
    signed_in = [e for e in directory.events(admin) if e["kind"] == "signed_in"]
    assert signed_in[-1]["amr"] == ["pwd", "otp", "mfa"], signed_in
    for event in directory.events(admin):
        assert PASSWORD not in str(event)


def test_an_enrolment_link_works_once_keyboard_only(web, directory, journey, member_id):
    patient = member_id("P")
    data = journey("link_works_once_keyboard", web, member_id=patient)
    assert data["second_status"] == 404
    assert "signed_in" in directory.kinds(patient)


def test_lockout_after_five_failures(web, directory, journey, member_id):
    patient = member_id("P")
    journey("lockout", web, member_id=patient)
    kinds = directory.kinds(patient)
    assert kinds.count("sign_in_failed") >= 5 and "locked_out" in kinds and "signed_in" not in kinds, kinds


def test_admin_revokes_a_session_and_a_non_admin_gets_403(web, directory, journey, member_id):
    admin, patient = member_id("A"), member_id("P")
    data = journey("admin_revokes", web, admin_id=admin, patient_id=patient)
    assert data["non_admin_status"] == 403
    revoked = [e for e in directory.events(patient) if e["kind"] == "session_revoked"]
    assert revoked and revoked[0]["by"] == admin, directory.events(patient)


def test_idle_timeout_warns_then_signs_out(tmp_path, web_db_dsn, directory, journey, member_id):
    server = start_web(tmp_path, web_db_dsn, directory, CONFIDE_WEB_IDLE_TIMEOUT="8", CONFIDE_WEB_IDLE_WARNING="6")
    try:
        patient = member_id("P")
        journey("idle_timeout", server, member_id=patient, idle_seconds=8)
        wait_for(lambda: "idle_timeout" in directory.kinds(patient), timeout=10)
    finally:
        stop(server.proc)


def test_sso_sign_in_maps_groups_to_roles(web, directory, idp, journey, member_id):
    clinician = member_id("C")
    # The directory grants two roles; the IdP's group maps to one: the session holds only that one.
    directory.add(clinician, ["clinician", "supervisor"], name="Dr SSO")
    idp["config"]["accounts"][clinician] = {"name": "Dr SSO", "groups": ["confide-clinicians"]}
    idp["write"]()
    data = journey("sso_groups_to_roles", web, member_id=clinician, issuer=idp["issuer"])
    assert data["roles"] == "clinician"
    assert "signed_in" in directory.kinds(clinician)


def test_sso_refuses_someone_not_enrolled(web, directory, idp, journey, member_id):
    stranger = member_id("X")
    journey("sso_refuses_stranger", web, member_id=stranger, issuer=idp["issuer"])
    assert "signed_in" not in directory.kinds(stranger)


def test_a_signed_in_member_mints_the_command_line_s_assertion(web, directory, journey, member_id):
    """The ``confide`` command acts as a person only with an assertion minted from a signed-in session
    (password and second factor): it verifies under the front door's key with that person's
    directory roles and how they signed in, and lives minutes."""
    from pathlib import Path

    from confide.identity.assertions import verify
    from confide.identity.gate import AUDIENCE
    from confide.identity.keys import key_set, load_assertion_public_key
    from confide.timestamps import now_utc

    clinician = member_id("C")
    token = journey("cli_assertion", web, member_id=clinician)["assertion"]
    keys = key_set([load_assertion_public_key(Path(web.env["CONFIDE_KEY_DIR"]))])
    principal = verify(token, public_keys=keys, audience=AUDIENCE, issuer="confide-web", now=now_utc())
    assert principal.subject == clinician and principal.roles == ("clinician",)
    assert "otp" in principal.amr and (principal.expires_at - now_utc()).total_seconds() <= 300


def test_sso_does_not_hand_a_fresh_member_to_whoever_has_their_username_at_the_idp(web, directory, idp, journey,
                                                                                    member_id):
    """Linking by the username claim alone: a member who set a password but no second factor yet is
    claimed by the first IdP identity whose preferred_username is their id, which then binds its own
    TOTP to the account. The first SSO link must need the member's own proof (or an admin's)."""
    member = member_id("C")
    directory.add(member, ["clinician"], name="Dr Fresh")
    idp["config"]["accounts"][member] = {"name": "Someone else", "groups": ["confide-clinicians"]}
    idp["write"]()
    data = journey("sso_first_sign_in_of_a_fresh_member", web, member_id=member, issuer=idp["issuer"])
    assert not data["totp_secret_shown"], f"the IdP identity was offered TOTP set-up for {member}: {data['url']}"
