"""The practice's pages, one module per kind of user (clinician, front desk / release of information,
privacy officer, auditor, patient). Each module has ``urlpatterns`` (included by ``web.urls``) and
``NAV``: the links it adds to the header for the roles that may use them (:func:`nav_for`).

Every page talks to the services over RPC only (:mod:`web.pages.common`), as the signed-in person:
the services decide and record; a page never reads the event store.
"""
from __future__ import annotations

from web.pages.common import NavItem

MODULES = ("clinician", "frontdesk", "privacy", "auditor", "portal", "psychotherapy", "supervision")


def _all_nav() -> list[NavItem]:
    import importlib

    items: list[NavItem] = []
    for name in MODULES:
        items.extend(getattr(importlib.import_module(f"web.pages.{name}"), "NAV", []))
    return items


def nav_for(roles: list[str]) -> list[NavItem]:
    """The header links for a session holding ``roles`` (an item shows when any of its roles is held)."""
    held = set(roles)
    return [item for item in _all_nav() if held & set(item.roles)]
