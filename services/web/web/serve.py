"""Serve the front door on ``CONFIDE_WEB_ADDRESS`` (default 127.0.0.1:8080) with cheroot.

cheroot (the CherryPy project's WSGI server: a thread pool, like waitress before it) speaks TLS
itself through the standard ``ssl`` module, so the front door needs no proxy in front for HTTPS:
with ``CONFIDE_WEB_TLS_CERT`` and ``CONFIDE_WEB_TLS_KEY`` set (``settings.TLS_FILES``) it serves
HTTPS only on the address (TLS 1.2 or later, :func:`confide.https.server_context`); a plain-HTTP
request there fails the handshake and its connection is closed, never a page. Without them, plain HTTP
(loopback development and tests, or behind a TLS-terminating proxy with
``CONFIDE_WEB_BEHIND_TLS_PROXY=1``). SIGTERM (systemd's stop) and Ctrl-C stop it: requests in flight
finish (up to cheroot's shutdown timeout, 5 s), then the process exits 0.
"""
from __future__ import annotations

import os
import signal
import sys
import threading

THREADS = 8


def serve() -> None:
    """Serve until SIGTERM or Ctrl-C. Raises ImproperlyConfigured (settings), ssl.SSLError or OSError
    for an unusable certificate or key, OSError when the address cannot be bound."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "web.settings")
    from cheroot import wsgi
    from django.conf import settings

    from web.wsgi import application

    host, _, port = settings.ADDRESS.rpartition(":")
    server = wsgi.Server((host or "127.0.0.1", int(port)), application, numthreads=THREADS,
                         server_name="confide-web")
    scheme = "http"
    if settings.TLS_FILES:
        from cheroot.ssl.builtin import BuiltinSSLAdapter

        from confide.https import server_context

        cert, key = settings.TLS_FILES
        adapter = BuiltinSSLAdapter(cert, key)
        adapter.context = server_context(cert, key)  # TLS 1.2 or later, as the gateway
        server.ssl_adapter = adapter
        scheme = "https"
    stopping = threading.Thread(target=server.stop, name="stop", daemon=True)

    def stop(*_):
        if not stopping.is_alive() and stopping.ident is None:
            stopping.start()

    # SIGTERM (systemd's stop): cheroot's own stop, from another thread, as it expects (raising in the
    # handler could leave a lock held mid-request).
    signal.signal(signal.SIGTERM, stop)
    server.prepare()  # binds now: a taken port fails here, before "listening" is printed
    print(f"web listening on {scheme}://{settings.ADDRESS}", flush=True)
    try:
        server.serve()  # returns once the stop has begun
    except KeyboardInterrupt:
        stop()
    # Requests in flight get cheroot's shutdown_timeout to finish. Then the process ends here: a
    # worker thread that made an RPC call (nameko's client runs greenlets in it) is never reported
    # finished to ``threading``, so waiting for the threads at interpreter exit would hang.
    stopping.join(server.shutdown_timeout + 2)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
