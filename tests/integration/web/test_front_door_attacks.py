"""Attacks on the front door with plain HTTP (requests): lockout by username variant, TOTP brute
force, session fixation, CSRF, open redirect, reaching pages before the second factor."""
from __future__ import annotations

import re
import time
import unicodedata

import psycopg
import pyotp
import pytest
import requests

from .conftest import start_web, stop

pytestmark = pytest.mark.integration
PASSWORD = "correct horse battery staple 7"
WRONG = "wrong horse battery staple 7"


@pytest.fixture(scope="module")
def server(tmp_path_factory, web_db_dsn, directory):
    # The attacks' failed sign-ins and TOTP guesses are counted per address in the web's shared
    # cache (its database, so that every replica sees them): this module starts from an empty one
    # and leaves none behind, or another module's web server on the same database would find
    # 127.0.0.1 rate-limited.
    _clear_shared_cache(web_db_dsn)
    s = start_web(tmp_path_factory.mktemp("attack"), web_db_dsn, directory)
    try:
        yield s
    finally:
        stop(s.proc)
        _clear_shared_cache(web_db_dsn)


def _clear_shared_cache(web_db_dsn: str) -> None:
    with psycopg.connect(web_db_dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM web_cache")


def csrf(sess: requests.Session, url: str) -> str:
    r = sess.get(url, timeout=10)
    m = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', r.text)
    assert m, (url, r.status_code, r.text[:500])
    return m.group(1)


def post(sess, server, path, data, **kw):
    token = csrf(sess, server.base_url + path)
    return sess.post(server.base_url + path, data={"csrfmiddlewaretoken": token, **data}, timeout=20,
                     headers={"Referer": server.base_url + path}, **kw)


def enrol(server, directory, member_id, roles):
    directory.add(member_id, roles, f"Dr {member_id}")
    link = server.enrolment_link(member_id, *roles)
    s = requests.Session()
    path = link[len(server.base_url):]
    r = post(s, server, path, {"password1": PASSWORD, "password2": PASSWORD}, allow_redirects=False)
    assert r.status_code == 302, r.text[:500]
    return link


def sign_in_password(server, login, password=PASSWORD, sess=None):
    s = sess or requests.Session()
    r = post(s, server, "/accounts/login/", {"login": login, "password": password})
    return s, r


def activate_totp(server, s) -> str:
    r = s.get(server.base_url + "/accounts/2fa/totp/activate/", timeout=10)
    secret = re.search(r'id="authenticator_secret"[^>]*value="([A-Z2-7]+)"', r.text) or \
        re.search(r'value="([A-Z2-7]{16,})"[^>]*id="authenticator_secret"', r.text)
    assert secret, r.text[:2000]
    secret = secret.group(1)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', r.text).group(1)
    url = server.base_url + "/accounts/2fa/totp/activate/"
    r = s.post(url, data={"csrfmiddlewaretoken": token, "code": pyotp.TOTP(secret).now()}, timeout=20,
               headers={"Referer": url})
    assert "/totp/activate/" not in r.url, (secret, re.findall(r"errorlist.{0,300}", r.text), re.findall(r"id=\"authenticator_secret\"[^>]*", r.text))
    return secret


def workforce(server, directory, member_id, roles=("clinician",)):
    enrol(server, directory, member_id, list(roles))
    s, r = sign_in_password(server, member_id)
    secret = activate_totp(server, s)
    return s, secret


def test_lockout_cannot_be_bypassed_by_changing_the_case_of_the_username(server, directory, member_id):
    """Five failures lock the account; a sixth guess typed in another case must not get in."""
    mid = member_id("C").lower()
    enrol(server, directory, mid, ["patient"])
    for _ in range(5):
        sign_in_password(server, mid, WRONG)
    s, r = sign_in_password(server, mid)
    assert "/accounts/login/" in r.url or r.status_code in (403, 429)
    variant = mid.upper()
    s, r = sign_in_password(server, variant)  # the right password, other case
    home = s.get(server.base_url + "/", timeout=10, allow_redirects=False)
    assert home.status_code != 200, "locked-out account signed in by typing its id in upper case"


def test_totp_guessing_after_the_password_is_limited(server, directory, member_id):
    """With the password known, wrong second-factor codes must run into a limit (allauth's
    per-user MFA limit rides on ACCOUNT_RATE_LIMITS['login_failed'])."""
    mid = member_id("T")
    s, secret = workforce(server, directory, mid)
    s.get(server.base_url + "/accounts/logout/", timeout=10)
    s2, r = sign_in_password(server, mid)
    assert "/accounts/2fa/authenticate/" in r.url, r.url
    good = pyotp.TOTP(secret)
    valid = {good.at(time.time() + d) for d in (-30, 0, 30)}
    refused = False
    for i in range(30):
        code = f"{(i * 7919) % 1000000:06d}"
        if code in valid:
            continue
        r = post(s2, server, "/accounts/2fa/authenticate/", {"code": code})
        if r.status_code == 429 or "too many" in r.text.lower() or "/accounts/login/" in r.url:
            refused = True
            break
    assert refused, "30 wrong TOTP codes in a row, still asked for another"


def test_session_key_rotates_at_sign_in_and_at_the_second_factor(server, directory, member_id):
    mid = member_id("F")
    s, secret = workforce(server, directory, mid)
    s.get(server.base_url + "/accounts/logout/", timeout=10)
    s2 = requests.Session()
    s2.get(server.base_url + "/accounts/login/", timeout=10)
    before = s2.cookies.get("confide-session")
    s2, r = sign_in_password(server, mid, sess=s2)
    after_pwd = s2.cookies.get("confide-session")
    assert after_pwd and after_pwd != before
    r = post(s2, server, "/accounts/2fa/authenticate/", {"code": pyotp.TOTP(secret).at(time.time() + 30)})
    after_mfa = s2.cookies.get("confide-session")
    assert "/accounts/2fa/" not in r.url, r.url
    assert after_mfa != after_pwd, "session key not rotated when the second factor completed sign-in"


def test_nothing_but_totp_setup_before_the_second_factor(server, directory, member_id):
    mid = member_id("N")
    enrol(server, directory, mid, ["practice_admin", "clinician"])
    s, r = sign_in_password(server, mid)
    assert "/accounts/2fa/totp/activate/" in r.url, r.url
    for path in ("/", "/session/cli-assertion", "/admin/sessions/", "/accounts/password/change/",
                 "/accounts/3rdparty/",
                 "/accounts/email/", "/accounts/sessions/"):
        r = s.get(server.base_url + path, timeout=10, allow_redirects=False)
        assert r.status_code in (302, 404), (path, r.status_code)
        if r.status_code == 302:
            assert "/accounts/2fa/totp/activate/" in r.headers["Location"] or "login" in r.headers["Location"], \
                (path, r.headers["Location"])
    token = csrf(s, server.base_url + "/accounts/2fa/totp/activate/")
    r = s.post(server.base_url + "/session/cli-assertion", data={"csrfmiddlewaretoken": token}, timeout=10,
               allow_redirects=False, headers={"Referer": server.base_url + "/"})
    assert r.status_code in (302, 403) and "eyJ" not in r.text


def test_nothing_between_password_and_totp_step(server, directory, member_id):
    mid = member_id("B")
    s, secret = workforce(server, directory, mid, roles=("practice_admin",))
    s.get(server.base_url + "/accounts/logout/", timeout=10)
    s2, r = sign_in_password(server, mid)
    assert "/accounts/2fa/authenticate/" in r.url
    token = csrf(s2, server.base_url + "/accounts/2fa/authenticate/")
    for path in ("/", "/session/cli-assertion", "/admin/sessions/", "/accounts/2fa/totp/activate/",
                 "/accounts/2fa/", "/accounts/password/change/"):
        r = s2.get(server.base_url + path, timeout=10, allow_redirects=False)
        assert r.status_code != 200 or path.startswith("/accounts/2fa/") and "authenticate" in r.url, (path, r.status_code)
    r = s2.post(server.base_url + "/session/cli-assertion", data={"csrfmiddlewaretoken": token}, timeout=10,
                allow_redirects=False, headers={"Referer": server.base_url + "/"})
    assert "eyJ" not in r.text, r.status_code


def test_csrf_on_posts(server, directory, member_id):
    mid = member_id("X")
    s, secret = workforce(server, directory, mid, roles=("practice_admin",))
    for path in ("/session/cli-assertion", "/accounts/logout/", "/admin/sessions/1/revoke"):
        r = s.post(server.base_url + path, data={}, timeout=10, allow_redirects=False)
        assert r.status_code == 403, (path, r.status_code)
    # a cross-site form post with the token but a foreign Origin
    token = csrf(s, server.base_url + "/session/cli-assertion")
    r = s.post(server.base_url + "/session/cli-assertion", data={"csrfmiddlewaretoken": token}, timeout=10,
               headers={"Origin": "http://evil.example"}, allow_redirects=False)
    assert r.status_code == 403


def test_cookie_flags_and_headers(server, directory, member_id):
    mid = member_id("K")
    s, secret = workforce(server, directory, mid)
    r = s.get(server.base_url + "/", timeout=10)
    assert r.status_code == 200
    assert "no-store" in r.headers.get("Cache-Control", "")
    csp = r.headers.get("Content-Security-Policy", "")
    assert "script-src 'nonce-" in csp and "unsafe-inline" not in csp, csp
    for script in re.findall(r"<script[^>]*>", r.text):
        assert "nonce=" in script, script
    s3 = requests.Session()
    r = s3.get(server.base_url + "/accounts/login/", timeout=10)
    sc = r.headers.get("Set-Cookie", "")
    assert "HttpOnly" in sc and "SameSite" in sc, sc


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example/",
                                    "https:evil.example", "\\\\evil.example"])
def test_no_open_redirect_after_sign_in(server, directory, member_id, target):
    mid = member_id("R")
    enrol(server, directory, mid, ["patient"])
    s = requests.Session()
    path = "/accounts/login/?next=" + requests.utils.quote(target, safe="")
    token = csrf(s, server.base_url + path)
    r = s.post(server.base_url + path, data={"csrfmiddlewaretoken": token, "login": mid, "password": PASSWORD,
                                              "next": target},
               headers={"Referer": server.base_url + path}, timeout=10, allow_redirects=False)
    loc = r.headers.get("Location", "")
    assert "evil.example" not in loc, loc
    token = csrf(s, server.base_url + "/")
    r = s.post(server.base_url + "/accounts/logout/", data={"csrfmiddlewaretoken": token, "next": target},
               headers={"Referer": server.base_url + "/"}, timeout=10, allow_redirects=False)
    assert "evil.example" not in r.headers.get("Location", ""), r.headers.get("Location")


def test_non_admin_cannot_list_or_revoke(server, directory, member_id):
    mid = member_id("P")
    enrol(server, directory, mid, ["patient"])
    s, r = sign_in_password(server, mid)
    assert s.get(server.base_url + "/admin/sessions/", timeout=10).status_code == 403
    token = csrf(s, server.base_url + "/")
    r = s.post(server.base_url + "/admin/sessions/1/revoke", data={"csrfmiddlewaretoken": token},
               headers={"Referer": server.base_url + "/"}, timeout=10, allow_redirects=False)
    assert r.status_code == 403


def test_enrolment_link_once_and_guessing(server, directory, member_id):
    mid = member_id("E")
    link = enrol(server, directory, mid, ["patient"])
    s = requests.Session()
    assert s.get(link, timeout=10).status_code == 404
    assert s.get(server.base_url + "/enrol/" + "A" * 43, timeout=10).status_code == 404
    assert s.get(server.base_url + "/enrol/", timeout=10).status_code == 404


def test_password_reset_paths_send_nothing(server):
    s = requests.Session()
    for path in ("/accounts/password/reset/", "/accounts/password/reset/done/",
                 "/accounts/password/reset/key/1-set-password/", "/accounts/password/reset/key/done/"):
        r = s.get(server.base_url + path, timeout=10, allow_redirects=False)
        assert r.status_code == 200 and "enrolment link" in r.text.lower(), (path, r.status_code)
    r = s.get(server.base_url + "/accounts/signup/", timeout=10, allow_redirects=False)
    assert r.status_code != 200 or "closed" in r.text.lower()


def test_a_totp_code_works_once(server, directory, member_id):
    mid = member_id("U")
    s, secret = workforce(server, directory, mid)
    s.get(server.base_url + "/accounts/logout/", timeout=10)
    code = pyotp.TOTP(secret).at(time.time() + 30)
    s2, r = sign_in_password(server, mid)
    r = post(s2, server, "/accounts/2fa/authenticate/", {"code": code})
    assert s2.get(server.base_url + "/", timeout=10, allow_redirects=False).status_code == 200
    s3, r = sign_in_password(server, mid)
    post(s3, server, "/accounts/2fa/authenticate/", {"code": code})
    assert s3.get(server.base_url + "/", timeout=10, allow_redirects=False).status_code != 200


def test_lockout_holds_for_nfd_and_whitespace_variants(server, directory, member_id):
    mid = "Jos\u00e9-" + member_id("V")
    enrol(server, directory, mid, ["patient"])
    for _ in range(5):
        sign_in_password(server, mid, WRONG)
    for variant in (unicodedata.normalize("NFD", mid), f" {mid}", f"{mid} ", mid.upper(), mid.lower()):
        s, r = sign_in_password(server, variant)
        assert s.get(server.base_url + "/", timeout=10, allow_redirects=False).status_code != 200, repr(variant)
