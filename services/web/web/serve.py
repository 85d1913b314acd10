"""Serve the front door with waitress on ``CONFIDE_WEB_ADDRESS`` (default 127.0.0.1:8080)."""
from __future__ import annotations

import os


def serve() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "web.settings")
    from django.conf import settings
    from waitress import serve as waitress_serve

    from web.wsgi import application

    host, _, port = settings.ADDRESS.rpartition(":")
    print(f"web listening on http://{settings.ADDRESS}", flush=True)
    waitress_serve(application, host=host or "127.0.0.1", port=int(port), threads=8, ident="confide-web")
