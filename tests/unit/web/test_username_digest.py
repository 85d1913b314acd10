"""Attack as a privacy officer (or anyone reading the sign-in log): a password typed into the
username box is kept only as a digest. A digest anyone can recompute (SHA-256 of a fixed, published
prefix and the text) gives the password back to a dictionary in seconds; the digest is keyed with the
web's secret key, so only the web can compute it, and the same text still groups its failures."""
from __future__ import annotations

import hashlib
import os
import re

from web.directory import username_digest

PASSWORD = "Summer2026!"


def test_the_digest_of_what_was_typed_cannot_be_recomputed_without_the_webs_key():
    published = hashlib.sha256(("confide-web-username:" + PASSWORD).encode()).hexdigest()
    assert username_digest(PASSWORD, key="k" * 50) != published
    assert username_digest(PASSWORD, key="k" * 50) != hashlib.sha256(PASSWORD.encode()).hexdigest()
    assert username_digest(PASSWORD, key="k" * 50) != username_digest(PASSWORD, key="j" * 50)


def test_the_same_text_gives_the_same_digest_in_the_logs_form():
    one, two = username_digest(PASSWORD, key="k" * 50), username_digest(PASSWORD, key="k" * 50)
    assert one == two and re.fullmatch(r"[0-9a-f]{64}", one)
    assert username_digest("someone-else", key="k" * 50) != one


def _django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "web.settings")
    os.environ.setdefault("CONFIDE_WEB_SECRET_KEY", "unit-tests-only")
    os.environ.setdefault("CONFIDE_WEB_DB_DSN", "postgresql://nobody:unit@127.0.0.1:9/none")
    import django

    django.setup()


def test_the_lockout_counter_keeps_no_typed_text():
    """django-axes stores the name it counts failures against (AccessAttempt.username, in the web's
    database): a keyed digest of the canonical name, never what was typed; the same account typed
    in another Unicode form is still the same counter."""
    _django()
    from web.lockout import username_of

    counted = username_of(None, {"username": PASSWORD})
    assert PASSWORD not in counted and counted == "sha256:" + username_digest(PASSWORD)
    assert username_of(None, {"username": "C-Jos\u00e9"}) == username_of(None, {"login": "C-Jose\u0301"})
