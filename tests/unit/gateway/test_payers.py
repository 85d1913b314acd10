"""The payer registry (file-backed until the directory service lands), JWKS checks, the directory RPC
adapter against its contract, the `confide payers` CLI, and the identity assertion each API call carries."""
import json
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric import ec

from confide.identity import assertions
from confide.identity.keys import load_assertion_public_key
from confide_app.payers_cli import payers as payers_command
from gateway import client, payers, smart, tokens


@pytest.fixture
def key_dir(tmp_path):
    return tmp_path / "keys"


def jwks():
    return client.public_jwks(client.new_key())


def test_file_registry_round_trip_and_deactivation(key_dir):
    registry = payers.FilePayerRegistry(key_dir)
    assert registry.get("Payer123") is None
    registered = registry.register("Payer123", "Payer 123", "insurer_health_plan", jwks())
    assert registry.get("Payer123") == registered and registered.client_id == "Payer123" and registered.active
    assert (key_dir / "payers" / "Payer123.json").stat().st_mode & 0o077 == 0
    assert not registry.deactivate("Payer123").active and not registry.get("Payer123").active
    with pytest.raises(LookupError):
        registry.deactivate("Nobody")


def test_an_org_id_never_names_a_path_outside_the_registry(key_dir):
    registry = payers.FilePayerRegistry(key_dir)
    for org in ("../evil", "x-41", "Ünïcode Plan", ".hidden"):
        registry.register(org, "n", "insurer_health_plan", jwks())
        assert registry.get(org).org == org
    assert {p.parent for p in (key_dir / "payers").iterdir()} == {key_dir / "payers"}
    with pytest.raises(payers.PayerRegistrationError):
        registry.register("Acme\n", "n", "insurer_health_plan", jwks())


@pytest.mark.parametrize("bad, words", [
    ({}, "keys"),
    ({"keys": [{"kty": "EC", "crv": "P-384", "x": "a", "y": "b"}]}, "no kid"),
    ({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "s"}]}, "private key material"),
    ({"keys": [{"kty": "oct", "kid": "s"}]}, "not RSA or EC"),
    ({"keys": [{**client.public_jwk(client.new_key()), "alg": "ES256"}]}, "alg 'ES256'"),
    ({"keys": [{**client.public_jwk(client.new_key()), "use": "enc"}]}, "not a signing key"),
    ({"keys": [{**client.public_jwk(client.new_key()), "d": "x"}]}, "private key material"),
])
def test_jwks_that_cannot_be_judged_are_refused_at_registration(bad, words):
    with pytest.raises(payers.PayerRegistrationError, match=words):
        payers.check_jwks(bad)


def test_a_p256_key_is_refused_at_registration():
    import jwt

    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()).public_key()))
    with pytest.raises(payers.PayerRegistrationError, match="P-384"):
        payers.check_jwks({"keys": [{**jwk, "kid": "p256"}]})


class FakeDirectory:
    """The directory service's payer RPCs as their contract states them."""

    def __init__(self):
        self.payers = {}

    def get_payer(self, org):
        if org not in self.payers:
            error = Exception(org)
            error.exc_type = "PayerNotFoundError"
            raise error
        return self.payers[org]

    def register_payer(self, org, name, engine_role, jwks):
        self.payers[org] = {"org": org, "name": name, "engine_role": engine_role, "jwks": jwks, "active": True}


def test_directory_registry_speaks_the_directory_contract():
    directory = FakeDirectory()
    registry = payers.make_registry("directory", directory=directory)
    assert registry.get("Payer123") is None
    registry.register("Payer123", "Payer 123", "insurer_non_covered", jwks())
    payer = registry.get("Payer123")
    assert (payer.org, payer.client_id, payer.engine_role, payer.active) == (
        "Payer123", "Payer123", "insurer_non_covered", True)
    directory.payers["Payer123"]["active"] = False
    assert not registry.get("Payer123").active


def test_cli_register_show_deactivate(key_dir, tmp_path):
    jwks_file = tmp_path / "payer-jwks.json"
    jwks_file.write_text(json.dumps(jwks()))
    runner = CliRunner()
    result = runner.invoke(payers_command, ["register", "--org", "Payer123", "--name", "Payer 123 Health Plan",
                                            "--engine-role", "insurer_health_plan", "--jwks-file", str(jwks_file),
                                            "--key-dir", str(key_dir)])
    assert result.exit_code == 0, result.output
    shown = json.loads(runner.invoke(payers_command, ["show", "--org", "Payer123", "--key-dir", str(key_dir)]).output)
    assert shown["engine_role"] == "insurer_health_plan" and shown["active"] is True
    assert runner.invoke(payers_command, ["deactivate", "--org", "Payer123", "--key-dir", str(key_dir)]).exit_code == 0
    assert payers.FilePayerRegistry(key_dir).get("Payer123").active is False
    jwks_file.write_text(json.dumps({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "s"}]}))
    refused = runner.invoke(payers_command, ["register", "--org", "P2", "--name", "n", "--engine-role",
                                             "insurer_health_plan", "--jwks-file", str(jwks_file),
                                             "--key-dir", str(key_dir)])
    assert refused.exit_code != 0 and "private key material" in refused.output


def test_each_api_call_puts_the_payers_identity_assertion_in_the_context_data(key_dir):
    """What disclosures will verify: issuer confide-gateway, audience confide-services, subject the
    payer's client id, roles ("insurer",), org the payer's org."""
    from gateway.dependencies import Smart, SmartWorker

    provider = Smart()
    provider.container = SimpleNamespace(config={"KEY_DIR": str(key_dir), "WEB_SERVER_ADDRESS": "127.0.0.1:1"})
    provider.setup()
    assert provider.token_url == "http://127.0.0.1:1/oauth/token"
    payers.FilePayerRegistry(key_dir).register("Payer123", "Payer 123", "insurer_health_plan", jwks())
    now = datetime.now(timezone.utc)
    access = tokens.issue_access_token(provider.access_key, client_id="Payer123", org="Payer123",
                                       role="insurer_health_plan", scope="system/Task.read", now=now)
    worker_ctx = SimpleNamespace(data={}, service=None)
    worker = SmartWorker(provider, worker_ctx)
    worker.authenticate(f"Bearer {access}", "Task", "read")
    public = load_assertion_public_key(key_dir)
    principal = assertions.verify(worker_ctx.data["confide_identity"], public_keys={assertions.key_id(public): public},
                                  audience="confide-services", issuer="confide-gateway", now=now)
    assert (principal.subject, principal.roles, principal.org) == ("Payer123", ("insurer",), "Payer123")
    with pytest.raises(tokens.InsufficientScope):
        worker.authenticate(f"Bearer {access}", "Task", "write")
    assert smart.allows("system/Task.read", "Task", "read")
