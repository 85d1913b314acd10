"""Attack as a privacy officer (or anyone reading the sign-in log): a password typed into the
username box is kept only as a digest. A digest anyone can recompute (SHA-256 of a fixed, published
prefix and the text) gives the password back to a dictionary in seconds; the digest is keyed with the
web's secret key, so only the web can compute it, and the same text still groups its failures."""
from __future__ import annotations

import hashlib
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
