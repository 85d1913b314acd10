"""TLS for the two front doors: the gateway's insurer API and the web app.

Each front door reads its certificate chain and private key (PEM files) from a pair of settings:

- the gateway: ``CONFIDE_GATEWAY_TLS_CERT`` / ``CONFIDE_GATEWAY_TLS_KEY`` (its config.yml's
  ``TLS_CERT`` / ``TLS_KEY``);
- the web app: ``CONFIDE_WEB_TLS_CERT`` / ``CONFIDE_WEB_TLS_KEY``.

Both set: that front door speaks HTTPS only on its address (TLS 1.2 or later; no plain HTTP on the
same port). Neither: plain HTTP (development on loopback, or behind a TLS-terminating proxy).
One without the other: refused at start (:func:`tls_files`), never a silent fall back to plain HTTP.

``confide tls init`` makes a local CA and a server certificate for a pilot (:func:`init_pilot_tls`):
clients trust ``ca.pem``; a real deployment points the settings at certificates from its own CA.
"""
from __future__ import annotations

import ssl
from pathlib import Path
from typing import Optional

from confide import config

GATEWAY_TLS_CERT_KEY = "CONFIDE_GATEWAY_TLS_CERT"
GATEWAY_TLS_KEY_KEY = "CONFIDE_GATEWAY_TLS_KEY"
WEB_TLS_CERT_KEY = "CONFIDE_WEB_TLS_CERT"
WEB_TLS_KEY_KEY = "CONFIDE_WEB_TLS_KEY"
PILOT_CA_NAME = "Confide local CA"


def tls_files(cert: Optional[str], key: Optional[str], *, cert_setting: str,
              key_setting: str) -> Optional[tuple[str, str]]:
    """``(cert, key)`` when both are set, None when neither is.

    Raises ValueError naming the missing setting when only one is set (a front door half-configured
    for TLS must not start on plain HTTP), or naming the file when it does not exist."""
    cert, key = (cert or "").strip(), (key or "").strip()
    if not cert and not key:
        return None
    if not cert:
        raise ValueError(f"{key_setting} is set but {cert_setting} is not: set both for HTTPS, or neither")
    if not key:
        raise ValueError(f"{cert_setting} is set but {key_setting} is not: set both for HTTPS, or neither")
    for path, setting in ((cert, cert_setting), (key, key_setting)):
        if not Path(path).is_file():
            raise ValueError(f"{setting}={path}: no such file")
    return cert, key


def server_context(cert: str, key: str, context_class: type[ssl.SSLContext] = ssl.SSLContext) -> ssl.SSLContext:
    """A server-side TLS context (TLS 1.2 or later) with this certificate chain and key.

    ``context_class``: eventlet's green ``SSLContext`` for the gateway. Raises ssl.SSLError when the
    key does not match the certificate or a file is not PEM, OSError when a file cannot be read."""
    context = context_class(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile=cert, keyfile=key)
    return context


def pilot_tls_dir() -> Path:
    """``<key_dir>/tls``: where ``confide tls init`` keeps the pilot's CA and server certificate."""
    return config.key_dir() / "tls"


def init_pilot_tls(hosts, directory: Optional[Path] = None) -> dict[str, Path]:
    """A local CA and a server certificate for ``hosts`` in ``directory`` (default :func:`pilot_tls_dir`),
    keys 0600, existing files kept; returns the paths (``dir``, ``ca``, ``ca_key``, ``cert``, ``key``).
    Raises ValueError when ``hosts`` is empty, OSError when the directory cannot be written."""
    from confide.broker_tls import init_tls

    return init_tls(Path(directory or pilot_tls_dir()), tuple(hosts), ca_name=PILOT_CA_NAME)
