"""A local CA and a server certificate, for AMQP over TLS on a single host (and, made the same
way by ``confide tls init``, for the gateway's and the web app's HTTPS: :mod:`confide.https`).

``confide broker tls-init`` writes, in ``<key_dir>/broker/tls/`` (never overwriting):
``ca.pem`` / ``ca.key`` (the CA, 10 years), ``server.pem`` / ``server.key`` (2 years,
the host names and addresses given). Clients verify the broker with ``ca.pem``
(``CONFIDE_AMQP_CA``). The CA key signs nothing else: keep it with the other keys.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _write(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def init_tls(directory: Path, hosts=("localhost", "127.0.0.1"), *, ca_name: str = "Confide broker CA") -> dict[str, Path]:
    """Create the CA (common name ``ca_name``) and a server certificate for ``hosts`` in ``directory``
    unless they exist; return their paths (``dir``, ``ca``, ``ca_key``, ``cert``, ``key``).
    Raises ValueError when ``hosts`` is empty; OSError when the directory cannot be written."""
    if not hosts:
        raise ValueError("hosts: at least one host name or address for the server certificate")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    paths = {"dir": directory, "ca": directory / "ca.pem", "ca_key": directory / "ca.key",
             "cert": directory / "server.pem", "key": directory / "server.key"}
    if all(paths[k].exists() for k in ("ca", "ca_key", "cert", "key")):
        return paths
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_name)])
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_subject).issuer_name(ca_subject)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = []
    for h in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            sans.append(x509.DNSName(h))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=730))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    for k in ("ca", "ca_key", "cert", "key"):
        if paths[k].exists():
            paths[k].unlink()  # a partial earlier run: start the set again
    _write(paths["ca_key"], _key_pem(ca_key), 0o600)
    _write(paths["key"], _key_pem(key), 0o600)  # RabbitMQ's user must read it: chown at install
    _write(paths["ca"], ca_cert.public_bytes(serialization.Encoding.PEM), 0o644)
    _write(paths["cert"], cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return paths


def rabbitmq_conf(paths: dict[str, Path], port: int = 5671) -> str:
    """The rabbitmq.conf lines of a TLS listener with these files (TLS 1.2+, no client certificate)."""
    return "\n".join([
        f"listeners.ssl.default = {port}",
        f"ssl_options.cacertfile = {paths['ca']}",
        f"ssl_options.certfile = {paths['cert']}",
        f"ssl_options.keyfile = {paths['key']}",
        "ssl_options.verify = verify_none",
        "ssl_options.fail_if_no_peer_cert = false",
        "ssl_options.versions.1 = tlsv1.3",
        "ssl_options.versions.2 = tlsv1.2",
        "# once every client uses TLS: listeners.tcp = none",
    ])
