"""Unit tier of the HTTP gateway (``services/gateway``): no broker, no database, no network.

CDex Task mapping, request-body checks and insurer tokens are pure functions;
the shipped Da Vinci examples are read in place from ``confide.config.data_dir()``.
"""
import pytest


@pytest.fixture(autouse=True)
def default_key_dir(tmp_path, monkeypatch):
    """Point CONFIDE_KEY_DIR at this test's tmp dir, so a token helper called without
    ``key_dir`` never creates or reads the installation's keys (``~/.local/share/confide/keys``).

    These tests used to live under tests/unit/disclosures, whose autouse ``key_dir``
    fixture did the same.
    """
    path = tmp_path / "default-keys"
    monkeypatch.setenv("CONFIDE_KEY_DIR", str(path))
    return path
