"""Cookie flags and headers the existing front-door tests do not cover: the session cookie (not only the
CSRF cookie), Secure and the ``__Host-`` prefix when ``CONFIDE_WEB_SECURE_COOKIES`` is on (as under
``make run``), and ``no-store`` + CSP on refusals, missing pages and redirects, not only on home.
(test_front_door_attacks.test_cookie_flags_and_headers covers home's headers and the login page's
CSRF cookie with secure cookies off.)"""
from __future__ import annotations

import re

import pyotp
import pytest
import requests

from .conftest import start_web, stop

pytestmark = pytest.mark.integration
PASSWORD = "correct horse battery staple 7"


class LoopbackSession(requests.Session):
    """Returns Secure cookies to http://127.0.0.1 as browsers do (a loopback origin is a secure context);
    requests would not (and drops a jar's cookie policy when it merges jars): once each answer's cookies
    are stored, they are kept without the flag (their Set-Cookie headers are checked first)."""

    def send(self, request, **kwargs):
        response = super().send(request, **kwargs)
        for cookie in self.cookies:
            cookie.secure = False
        return response


def set_cookies(response) -> dict[str, str]:
    """Each Set-Cookie header of ``response`` by cookie name (the whole header, flags included)."""
    out = {}
    for header in response.raw.headers.getlist("Set-Cookie"):
        out[header.split("=", 1)[0].strip()] = header
    return out


def flags(header: str) -> dict[str, str]:
    parts = [p.strip() for p in header.split(";")[1:]]
    return {p.split("=", 1)[0].lower(): (p.split("=", 1)[1] if "=" in p else "") for p in parts}


def csrf_token(text: str) -> str:
    m = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', text)
    assert m, text[:500]
    return m.group(1)


def post(sess, url, data):
    r = sess.get(url, timeout=20)
    return sess.post(url, data={"csrfmiddlewaretoken": csrf_token(r.text), **data}, timeout=20,
                     headers={"Referer": url}, allow_redirects=False)


def headers_ok(r, what: str) -> None:
    assert "no-store" in r.headers.get("Cache-Control", ""), (what, r.status_code, r.headers.get("Cache-Control"))
    csp = r.headers.get("Content-Security-Policy", "")
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp, (what, csp)


def sign_in(server, directory, member_id, roles, sess):
    """Enrol (file directory), sign in with the password; -> the sign-in POST's response (302)."""
    directory.add(member_id, roles, f"Dr {member_id}")
    link = server.enrolment_link(member_id, *roles)
    r = post(sess, link, {"password1": PASSWORD, "password2": PASSWORD})
    assert r.status_code == 302, r.text[:500]
    r = post(sess, f"{server.base_url}/accounts/login/", {"login": member_id, "password": PASSWORD})
    assert r.status_code == 302, r.text[:500]
    return r


@pytest.fixture(scope="module")
def secure_server(tmp_path_factory, web_db_dsn, directory):
    s = start_web(tmp_path_factory.mktemp("secure"), web_db_dsn, directory, CONFIDE_WEB_SECURE_COOKIES="1")
    try:
        yield s
    finally:
        stop(s.proc)


@pytest.fixture(scope="module")
def server(tmp_path_factory, web_db_dsn, directory):
    s = start_web(tmp_path_factory.mktemp("plain"), web_db_dsn, directory)
    try:
        yield s
    finally:
        stop(s.proc)


def test_with_secure_cookies_on_both_cookies_are_secure_host_only_httponly_and_samesite(secure_server, directory,
                                                                                          member_id):
    sess = LoopbackSession()
    login = sess.get(f"{secure_server.base_url}/accounts/login/", timeout=20)
    csrf = set_cookies(login)["__Host-confide-csrf"]
    f = flags(csrf)
    assert "secure" in f and "httponly" in f and f.get("samesite") == "Strict" and f.get("path") == "/", csrf
    assert "domain" not in f, csrf
    r = sign_in(secure_server, directory, member_id("S"), ["patient"], sess)
    session = set_cookies(r)["__Host-confide-session"]
    f = flags(session)
    assert "secure" in f and "httponly" in f and f.get("samesite") == "Lax" and f.get("path") == "/", session
    assert "domain" not in f, session
    assert not any(name in ("confide-session", "confide-csrf") for name in set_cookies(r)), "unprefixed cookie"
    headers_ok(r, "sign-in redirect")


def test_a_browser_signs_in_over_loopback_http_with_secure_cookies_as_under_make_run(secure_server, journey,
                                                                                      member_id):
    """The README's first screen: `make run` keeps cookies Secure, and http://127.0.0.1:8080 still works."""
    data = journey("enrol_totp_sign_in", secure_server, member_id=member_id("A"))
    assert data["amr"] == "pwd, otp, mfa"


def test_session_cookie_flags_and_headers_on_refusals_and_missing_pages(server, directory, member_id):
    sess = requests.Session()
    billing = member_id("B")
    r = sign_in(server, directory, billing, ["billing"], sess)
    session = set_cookies(r)["confide-session"]
    f = flags(session)
    assert "httponly" in f and f.get("samesite") == "Lax" and "secure" not in f, session  # secure off: tests only
    headers_ok(r, "sign-in redirect")
    # billing, TOTP not set yet: every page but TOTP set-up redirects there
    headers_ok(sess.get(f"{server.base_url}/notes/seen", timeout=20, allow_redirects=False), "before TOTP")
    page = sess.get(f"{server.base_url}/accounts/2fa/totp/activate/", timeout=20)
    secret = re.search(r'id="authenticator_secret"[^>]*value="([A-Z2-7]+)"', page.text) or \
        re.search(r'value="([A-Z2-7]{16,})"[^>]*id="authenticator_secret"', page.text)
    url = f"{server.base_url}/accounts/2fa/totp/activate/"
    r = sess.post(url, data={"csrfmiddlewaretoken": csrf_token(page.text), "code": pyotp.TOTP(secret.group(1)).now()},
                  timeout=20, headers={"Referer": url})
    assert "/totp/activate/" not in r.url
    refused = sess.get(f"{server.base_url}/notes/seen", timeout=20)
    assert refused.status_code == 403
    headers_ok(refused, "403")
    missing = sess.get(f"{server.base_url}/no-such-page", timeout=20)
    assert missing.status_code == 404
    headers_ok(missing, "404")
    headers_ok(sess.get(f"{server.base_url}/static-baseline", timeout=20), "static baseline")
    signed_out = requests.get(f"{server.base_url}/notes/seen", timeout=20, allow_redirects=False)
    assert signed_out.status_code == 302 and "/accounts/login/" in signed_out.headers["Location"]
    headers_ok(signed_out, "signed-out redirect")
