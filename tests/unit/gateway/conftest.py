"""Unit tier of the HTTP gateway (``services/gateway``): no broker, no database, no network.

CDex Task mapping, request-body checks and insurer tokens are pure functions;
the shipped Da Vinci examples are read in place from ``confide.config.data_dir()``.
"""
import copy

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


class FakeDirectory:
    """The directory service as the gateway's payer registry meets it: ``get_payer(org)`` answers the
    record (a miss is a RemoteError ``PayerNotRegisteredError``, as over nameko RPC); ``register`` and
    ``deactivate`` change the record the way a practice admin's ``confide directory`` commands do
    (``register`` with the JWKS checks the CLI makes first). ``calls`` counts look-ups."""

    def __init__(self):
        self.payers = {}
        self.calls = 0

    def get_payer(self, org):
        from nameko.exceptions import RemoteError

        self.calls += 1
        if org not in self.payers:
            raise RemoteError("PayerNotRegisteredError", f"payer {org} is not registered")
        return copy.deepcopy(self.payers[org])

    def register(self, org, name, engine_role, jwks):
        from gateway.payers import Payer, check_registration

        org, name, engine_role, jwks = check_registration(org, name, engine_role, jwks)
        self.payers[org] = {"org": org, "name": name, "engine_role": engine_role, "jwks": jwks, "active": True}
        return Payer.from_record(self.payers[org])

    def deactivate(self, org):
        self.payers[org]["active"] = False


@pytest.fixture
def directory():
    return FakeDirectory()
