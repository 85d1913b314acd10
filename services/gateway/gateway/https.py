"""The gateway's ``@http`` entrypoint: nameko's web server, speaking HTTPS when configured.

With ``TLS_CERT`` and ``TLS_KEY`` in the service config (config.yml reads
``CONFIDE_GATEWAY_TLS_CERT`` / ``CONFIDE_GATEWAY_TLS_KEY``) the listening socket is wrapped in TLS
(TLS 1.2 or later, :func:`confide.https.server_context`) and nothing else listens on the address: a
plain-HTTP client gets its connection closed. With neither set, nameko's plain HTTP server, as before.
One without the other stops the service at start (:func:`confide.https.tls_files`).

Each connection's handshake runs in its own green thread (eventlet's SSL sockets defer it from
``accept`` to the first read), so a slow or plain-HTTP client holds up no one else; a connection that
fails its handshake or drops is logged at DEBUG and closed, never the service's end (nameko kills a
container whose managed thread raises).
"""
from __future__ import annotations

import logging
import ssl

import eventlet
from eventlet import wsgi
from eventlet.green import ssl as green_ssl
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import HttpOnlyProtocol
from nameko.web.server import WebServer as PlainWebServer

from confide import https

TLS_CERT_KEY = "TLS_CERT"
TLS_KEY_KEY = "TLS_KEY"

log = logging.getLogger(__name__)


def tls_files(cfg: dict):
    """``(cert, key)`` from the service config, or None for plain HTTP.

    Raises ValueError naming the missing setting or file. (Not nameko's ConfigurationError: ``nameko
    run`` exits 0 on that one, and a service manager must see a misconfigured start as a failure.)"""
    return https.tls_files(cfg.get(TLS_CERT_KEY), cfg.get(TLS_KEY_KEY),
                           cert_setting=https.GATEWAY_TLS_CERT_KEY, key_setting=https.GATEWAY_TLS_KEY_KEY)


class WebServer(PlainWebServer):
    """nameko's WebServer with an optional TLS listener (see the module's docstring)."""

    tls = False

    def start(self):
        if self._starting:
            return
        files = tls_files(self.container.config)
        # Loaded before binding: a wrong key or an unreadable file stops the start, naming it.
        context = https.server_context(*files, context_class=green_ssl.SSLContext) if files else None
        self._starting = True
        sock = eventlet.listen(self.bind_addr)
        sock.settimeout(None)  # as nameko: work around https://github.com/celery/kombu/issues/838
        if context is not None:
            sock = context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
            self.tls = True
        self._sock = sock
        # eventlet's own protocol closes a TLS connection properly; nameko's HttpOnlyProtocol skips that.
        protocol = wsgi.HttpProtocol if self.tls else HttpOnlyProtocol
        self._serv = self.get_wsgi_server(self._sock, self.get_wsgi_app(), protocol=protocol)
        self._gt = self.container.spawn_managed_thread(self.run)
        log.info("gateway listening on %s://%s:%s", "https" if self.tls else "http", *self.bind_addr)

    def process_request(self, sock, address):
        if not self.tls:
            return super().process_request(sock, address)
        try:
            super().process_request(sock, address)
        except (ssl.SSLError, ConnectionError, TimeoutError) as exc:
            # A failed handshake (plain HTTP, an untrusting client) or a dropped connection: that
            # connection's end only. No request was read, so there is nothing else to tell.
            log.debug("TLS connection from %s closed: %s", address[0], type(exc).__name__)
            try:
                sock.close()
            except OSError:
                pass


class HttpEntrypoint(HttpRequestHandler):
    """nameko's ``@http`` entrypoint served by :class:`WebServer`."""

    server = WebServer()


http = HttpEntrypoint.decorator
