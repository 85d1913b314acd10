"""No development password anywhere: the database logins are the ones set-up generated into the key
directory, a DSN in the environment need not carry one, and a missing one is an error naming the file;
the front doors' TLS settings come as a pair or not at all."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from confide import config, https

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def key_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(config.KEY_DIR_KEY, str(tmp_path))
    for key in (config.DB_DSN_KEY, config.AUDITOR_DSN_KEY, config.PROJECTOR_DSN_KEY):
        monkeypatch.delenv(key, raising=False)
    return tmp_path


def _secret(key_dir: Path, role: str, value: str) -> None:
    (key_dir / "db").mkdir(exist_ok=True)
    (key_dir / "db" / f"{role}.secret").write_text(value + "\n")


def test_without_the_generated_password_the_login_is_refused_naming_the_file(key_dir):
    with pytest.raises(RuntimeError, match=re.escape(str(key_dir / "db" / "confide_app.secret"))):
        config.db_dsn()


def test_the_default_login_carries_the_generated_password(key_dir):
    _secret(key_dir, "confide_app", "s3cr/et")
    assert config.db_dsn() == "postgresql://confide_app:s3cr%2Fet@127.0.0.1:5432/confide"


def test_a_dsn_naming_a_role_without_a_password_gets_the_generated_one(key_dir, monkeypatch):
    _secret(key_dir, "confide_app", "app-secret")
    _secret(key_dir, "confide_projector", "projector-secret")
    monkeypatch.setenv(config.DB_DSN_KEY, "postgresql://confide_app@db.internal:5433/confide")
    assert "password=app-secret" in config.db_dsn() and "host=db.internal" in config.db_dsn()
    monkeypatch.setenv(config.PROJECTOR_DSN_KEY, "postgresql://confide_projector@db.internal:5433/confide")
    assert "password=projector-secret" in config.projector_dsn()


def test_a_dsn_with_its_own_password_or_another_user_is_used_as_it_is(key_dir, monkeypatch):
    _secret(key_dir, "confide_app", "app-secret")
    for dsn in ("postgresql://confide_app:given@127.0.0.1:5432/confide",
                "postgresql://someone@127.0.0.1:5432/confide"):
        monkeypatch.setenv(config.DB_DSN_KEY, dsn)
        assert config.db_dsn() == dsn


def test_no_shipped_configuration_holds_a_database_password():
    files = [REPO / "docker-compose.yml", REPO / "deploy" / "Dockerfile", REPO / "deploy" / "systemd" / "confide.env",
             *REPO.glob("services/*/config.yml"), *(REPO / "deploy" / "sql").rglob("*.sql"),
             *(REPO / "deploy" / "k8s").rglob("*.yaml")]
    for path in files:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            assert not re.search(r"postgres(ql)?://[^/@\s:]+:[^/@\s]+@", line), f"{path}:{n}: {line}"
            assert not re.search(r"PASSWORD\s+'", line, re.IGNORECASE), f"{path}:{n}: {line}"


def test_the_web_database_login_is_refused_without_its_generated_password(tmp_path):
    env = {**os.environ, config.KEY_DIR_KEY: str(tmp_path), "CONFIDE_WEB_SECRET_KEY": "unit-test-only",
           "DJANGO_SETTINGS_MODULE": "web.settings"}
    env.pop("CONFIDE_WEB_DB_DSN", None)
    out = subprocess.run([sys.executable, "-c", "import django; django.setup()"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode != 0
    assert f"{tmp_path / 'web-db.secret'} is missing" in out.stderr


@pytest.mark.parametrize("cert, key, missing", [("c.pem", None, "KEY"), (None, "k.pem", "CERT")])
def test_half_a_tls_pair_is_refused_naming_the_missing_setting(tmp_path, cert, key, missing):
    for name in ("c.pem", "k.pem"):
        (tmp_path / name).write_text("x")
    with pytest.raises(ValueError, match=f"CONFIDE_WEB_TLS_{missing} is not"):
        https.tls_files(cert and str(tmp_path / cert), key and str(tmp_path / key),
                        cert_setting=https.WEB_TLS_CERT_KEY, key_setting=https.WEB_TLS_KEY_KEY)


def test_a_tls_file_that_is_not_there_is_named(tmp_path):
    (tmp_path / "c.pem").write_text("x")
    with pytest.raises(ValueError, match=re.escape(f"CONFIDE_GATEWAY_TLS_KEY={tmp_path / 'k.pem'}: no such file")):
        https.tls_files(str(tmp_path / "c.pem"), str(tmp_path / "k.pem"),
                        cert_setting=https.GATEWAY_TLS_CERT_KEY, key_setting=https.GATEWAY_TLS_KEY_KEY)
    assert https.tls_files(None, "", cert_setting="A", key_setting="B") is None  # neither: plain HTTP


def test_the_pilot_pair_verifies_for_its_hosts_and_its_keys_are_private(tmp_path):
    import ssl

    paths = https.init_pilot_tls(["confide.local", "127.0.0.1"], tmp_path / "tls")
    for key in ("key", "ca_key"):
        assert paths[key].stat().st_mode & 0o777 == 0o600
    context = https.server_context(str(paths["cert"]), str(paths["key"]))
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(paths["cert"].read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["confide.local"]
    assert cert.issuer.rfc4514_string() == f"CN={https.PILOT_CA_NAME}"
    before = paths["cert"].read_bytes()
    assert https.init_pilot_tls(["other"], tmp_path / "tls")["cert"].read_bytes() == before  # kept
