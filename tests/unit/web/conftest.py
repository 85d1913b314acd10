"""The web app's unit tests: Django configured against a closed database address (no server needed)."""
from __future__ import annotations

import os

import pytest

CLOSED_DB = "postgresql://nobody:unit@127.0.0.1:9/none"


@pytest.fixture(scope="module")
def client():
    """Django's test client on the web settings; any page that reaches the database fails loudly."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "web.settings")
    os.environ.setdefault("CONFIDE_WEB_SECRET_KEY", "unit-tests-only")
    os.environ.setdefault("CONFIDE_WEB_DB_DSN", CLOSED_DB)
    import django
    from django.test import Client

    django.setup()
    return Client(HTTP_HOST="127.0.0.1")
