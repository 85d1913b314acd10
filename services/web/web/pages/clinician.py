"""Pages for the clinician (issue 11). urlpatterns are mounted by web.urls; NAV adds header links."""
from __future__ import annotations

from web.pages.common import NavItem

NAV: list[NavItem] = []
urlpatterns: list = []
