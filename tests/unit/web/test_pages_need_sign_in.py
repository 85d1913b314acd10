"""No page is published by mistake: every URL the front door routes (``web.urls``, every
``web.pages.<module>.urlpatterns`` included) sends a signed-out visitor to sign in, unless it is one
of the few public pages listed here; and every such answer carries ``Cache-Control: no-store`` and
the Content-Security-Policy.

Django's URL resolver, walked in-process with Django's test client: no browser, no database (the
web database DSN points at a closed port, so a view that reached the database before asking for a
sign-in fails this test), no services. allauth's own sign-in pages (``accounts/``) are its flow, not
ours, and are left to it; its password-reset paths are ours (replaced) and are listed public.
"""
from __future__ import annotations

import os
import re
import uuid

import pytest

#: The public pages, by URL name: sign-in help and the pages one reaches before signing in.
PUBLIC = {
    "web:enrol": "the one-time enrolment link (the token is the credential)",
    "web:idle_check": "where an idle page's timer leads (redirects to sign-in when signed out)",
    "web:static_baseline": "the bench's fixed baseline page (says nothing)",
    "web:health": "dependencies ok / degraded / down for a load balancer (names no person or record)",
    "password_reset_by_admin": "password reset help: 'ask a practice admin for a new link'",
}
#: Public pages that are requested here too (the others would reach the database).
REQUEST_PUBLIC = ("web:idle_check", "web:static_baseline", "password_reset_by_admin")
SAMPLE = {"int": "1", "str": "x", "slug": "x", "uuid": str(uuid.UUID(int=1)), "path": "x/y"}
CLOSED_DB = "postgresql://nobody:unit@127.0.0.1:9/none"


def _routes(patterns, prefix: str = "", namespace: str = ""):
    """(path pattern, URL name, pattern) of every route, walking includes; allauth's are left out."""
    from django.urls import URLResolver

    for p in patterns:
        route = str(p.pattern)
        if isinstance(p, URLResolver):
            if getattr(p, "app_name", None) == "allauth" or "allauth" in getattr(p.urlconf_name, "__name__", ""):
                continue
            ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
            yield from _routes(p.url_patterns, prefix + route, ns)
        else:
            yield prefix + route, f"{namespace}{p.name}" if p.name else "", p


def _concrete(route: str) -> str:
    """A URL matching ``route`` (path() converters filled with sample values; a regex stripped)."""
    path = re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLE.get(m.group(1) or "str", "x"), route)
    path = path.lstrip("^").rstrip("$")
    if re.search(r"[()\[\]\\*+?{}|]", path):
        raise AssertionError(f"cannot make a URL for the regex route {route!r}: use path() with converters")
    return "/" + path


def routes() -> list[tuple[str, str]]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "web.settings")
    os.environ.setdefault("CONFIDE_WEB_SECRET_KEY", "unit-tests-only")
    os.environ.setdefault("CONFIDE_WEB_DB_DSN", CLOSED_DB)
    import django

    django.setup()
    from django.urls import get_resolver

    return [(_concrete(route), name) for route, name, _ in _routes(get_resolver().url_patterns)]


def _headers_ok(response, url: str) -> None:
    assert "no-store" in response.get("Cache-Control", ""), (url, response.get("Cache-Control"))
    csp = response.get("Content-Security-Policy", "")
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp, (url, csp)


def test_the_walk_finds_the_pages_of_every_module_and_the_public_ones():
    found = routes()
    names = {name for _, name in found}
    assert {"web:home", "web:notes_seen", "web:sessions", "web:revoke_session"} <= names, names
    assert set(PUBLIC) <= names, f"a public page listed here is no longer routed: {set(PUBLIC) - names}"
    import importlib

    from web.pages import MODULES

    for module in MODULES:
        for p in importlib.import_module(f"web.pages.{module}").urlpatterns:
            assert p.name is None or f"web:{p.name}" in names, (module, p.name)


@pytest.mark.parametrize("url,name", routes())
def test_a_signed_out_visitor_is_sent_to_sign_in(client, url, name):
    if name in PUBLIC:
        if name not in REQUEST_PUBLIC:
            return
        response = client.get(url)
        assert response.status_code in (200, 302), (url, response.status_code)
        if response.status_code == 302:
            assert response["Location"].startswith("/accounts/login/"), (url, response["Location"])
        _headers_ok(response, url)
        return
    try:
        response = client.get(url)
        if response.status_code == 405:  # POST only: the sign-in check must still come first
            response = client.post(url, {})
    except Exception as exc:  # the view ran for a signed-out visitor (reached the database or a service)
        pytest.fail(f"{url} ({name or 'unnamed'}) ran its view for a signed-out visitor ({type(exc).__name__}): "
                    "use @roles_required / @login_required, or list it in PUBLIC with the reason")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), (
        f"{url} ({name or 'unnamed'}) answered {response.status_code} to a signed-out visitor, not a redirect to "
        f"sign-in; use @roles_required / @login_required, or list it in PUBLIC with the reason")
    _headers_ok(response, url)


def test_an_unknown_path_and_the_baseline_carry_the_headers(client):
    missing = client.get("/no-such-page-" + uuid.uuid4().hex[:6])
    assert missing.status_code in (302, 404)
    _headers_ok(missing, "unknown path")
    baseline = client.get("/static-baseline")
    assert baseline.status_code == 200 and b"<main>" in baseline.content
    _headers_ok(baseline, "/static-baseline")
