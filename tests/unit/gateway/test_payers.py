"""The payer registry (the directory, over RPC, through a cache of a few seconds), JWKS checks, the
`confide directory` payer commands, and the identity assertion each API call carries."""
import json
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from confide.identity import assertions
from confide.identity.keys import load_assertion_public_key
from gateway import client, payers, smart, tokens


@pytest.fixture
def key_dir(tmp_path):
    return tmp_path / "keys"


def jwks():
    return client.public_jwks(client.new_key())


def test_the_directory_registry_reads_the_directorys_payer_record(directory):
    registry = payers.DirectoryPayerRegistry(directory)
    assert registry.get("Payer123") is None
    registered = directory.register("Payer123", "Payer 123", "insurer_non_covered", jwks())
    payer = registry.get("Payer123")
    assert payer == registered
    assert (payer.org, payer.client_id, payer.engine_role, payer.active) == (
        "Payer123", "Payer123", "insurer_non_covered", True)
    directory.deactivate("Payer123")
    assert registry.get("Payer123").active is False


def test_an_org_id_that_is_no_id_is_no_payer_and_is_not_asked_about(directory):
    registry = payers.DirectoryPayerRegistry(directory)
    for org in ("Acme\n", "", "bad\u200bid", None, 7):
        assert registry.get(org) is None
    assert directory.calls == 0


def test_a_directory_that_does_not_answer_is_not_an_unknown_payer():
    from nameko.exceptions import RemoteError

    class Down:
        def get_payer(self, org):
            raise RemoteError("NotAuthenticatedError", "no service assertion")

    with pytest.raises(RemoteError):
        payers.DirectoryPayerRegistry(Down()).get("Payer123")
    with pytest.raises(TimeoutError):
        payers.DirectoryPayerRegistry(SimpleNamespace(get_payer=lambda org: (_ for _ in ()).throw(TimeoutError()))
                                      ).get("Payer123")


def test_look_ups_are_cached_a_few_seconds_so_a_deactivation_bites_within_them(directory):
    clock = [100.0]
    cache = payers.PayerCache(2, monotonic=lambda: clock[0])
    registry = payers.DirectoryPayerRegistry(directory, cache)
    directory.register("Payer123", "Payer 123", "insurer_health_plan", jwks())
    assert registry.get("Payer123").active and registry.get("Payer123").active
    assert directory.calls == 1
    directory.deactivate("Payer123")
    clock[0] += 1.9
    assert registry.get("Payer123").active  # still within the TTL
    clock[0] += 0.2
    assert registry.get("Payer123").active is False and directory.calls == 2
    assert registry.get("Nobody") is None and registry.get("Nobody") is None and directory.calls == 3


def test_a_failed_look_up_is_not_cached(directory):
    cache = payers.PayerCache(2)
    calls = []

    def load():
        calls.append(1)
        raise TimeoutError()

    for _ in range(2):
        with pytest.raises(TimeoutError):
            cache.get("Payer123", load)
    assert len(calls) == 2


@pytest.mark.parametrize("ttl", [-1, 5.5, 60])
def test_the_cache_ttl_is_at_most_a_few_seconds(ttl):
    with pytest.raises(ValueError):
        payers.PayerCache(ttl)


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


def test_each_api_call_puts_the_payers_identity_assertion_in_the_context_data(key_dir, directory):
    """What disclosures will verify: issuer confide-gateway, audience confide-services, subject the
    payer's client id, roles ("insurer",), org the payer's org."""
    from gateway.dependencies import Smart, SmartWorker

    provider = Smart()
    provider.container = SimpleNamespace(config={"KEY_DIR": str(key_dir), "WEB_SERVER_ADDRESS": "127.0.0.1:1"})
    provider.setup()
    assert provider.token_url == "http://127.0.0.1:1/oauth/token"
    directory.register("Payer123", "Payer 123", "insurer_health_plan", jwks())
    now = datetime.now(timezone.utc)
    access = tokens.issue_access_token(provider.access_key, client_id="Payer123", org="Payer123",
                                       role="insurer_health_plan", scope="system/Task.read", now=now)
    worker_ctx = SimpleNamespace(data={}, service=SimpleNamespace(directory=directory))
    worker = SmartWorker(provider, worker_ctx)
    worker.authenticate(f"Bearer {access}", "Task", "read")
    public = load_assertion_public_key(key_dir)
    principal = assertions.verify(worker_ctx.data["confide_identity"], public_keys={assertions.key_id(public): public},
                                  audience="confide-services", issuer="confide-gateway", now=now)
    assert (principal.subject, principal.roles, principal.org) == ("Payer123", ("insurer",), "Payer123")
    with pytest.raises(tokens.InsufficientScope):
        worker.authenticate(f"Bearer {access}", "Task", "write")
    assert smart.allows("system/Task.read", "Task", "read")


def test_each_api_call_rechecks_the_payer_so_a_deactivation_bites_within_the_cache_ttl(key_dir, directory):
    """No payer assertion is minted for a payer the directory says is gone or deactivated (401),
    once the gateway's cache of at most PAYER_CACHE_TTL seconds has let go of the old answer."""
    from gateway.dependencies import Smart, SmartWorker

    provider = Smart()
    provider.container = SimpleNamespace(config={"KEY_DIR": str(key_dir), "PAYER_CACHE_TTL": 0})
    provider.setup()
    directory.register("Payer123", "Payer 123", "insurer_health_plan", jwks())
    access = tokens.issue_access_token(provider.access_key, client_id="Payer123", org="Payer123",
                                       role="insurer_health_plan", scope="system/Task.read",
                                       now=datetime.now(timezone.utc))
    worker = SmartWorker(provider, SimpleNamespace(data={}, service=SimpleNamespace(directory=directory)))
    worker.authenticate(f"Bearer {access}", "Task", "read")
    directory.deactivate("Payer123")
    with pytest.raises(tokens.TokenError, match="deactivated"):
        worker.authenticate(f"Bearer {access}", "Task", "read")
    del directory.payers["Payer123"]
    with pytest.raises(tokens.TokenError, match="invalid token"):
        worker.authenticate(f"Bearer {access}", "Task", "read")
    assert provider.payer_cache.ttl == 0


def test_the_gateway_config_cache_ttl_is_bounded(key_dir):
    from gateway.dependencies import Smart

    provider = Smart()
    provider.container = SimpleNamespace(config={"KEY_DIR": str(key_dir), "PAYER_CACHE_TTL": 30})
    with pytest.raises(ValueError, match="between 0 and 5"):
        provider.setup()
    provider.container = SimpleNamespace(config={"KEY_DIR": str(key_dir)})
    provider.setup()
    assert provider.payer_cache.ttl == payers.DEFAULT_CACHE_TTL == 2


def test_confide_directory_payer_commands_act_as_the_signed_in_admin(tmp_path, monkeypatch):
    """register-payer / show-payer / replace-payer-keys / deactivate-payer call the directory with the
    admin's assertion; a JWKS the token endpoint could not judge is refused before anything is sent."""
    from click.testing import CliRunner

    import confide.config
    import confide.rpc
    from confide_app.directory_cli import directory as directory_command

    sent = []

    class Proxy:
        def __init__(self, config, context_data=None, timeout=None):
            self.context = context_data or {}

        def __enter__(self):
            outer = self

            class Directory:
                def __getattr__(self, method):
                    return lambda *args: sent.append((method, args, outer.context.get("confide_identity"))) or {}

            return SimpleNamespace(directory=Directory())

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(confide.rpc, "ClusterRpcProxy", Proxy)
    monkeypatch.setattr(confide.config, "amqp_uri", lambda: "amqp://test")
    assertion_file = tmp_path / "admin.assertion"
    assertion_file.write_text("ADMIN-ASSERTION\n")
    jwks_file = tmp_path / "payer-jwks.json"
    good = jwks()
    jwks_file.write_text(json.dumps(good))
    runner = CliRunner()
    as_admin = ["--as-assertion-file", str(assertion_file), "--org", "Payer123"]
    for args in (["register-payer", *as_admin, "--name", "Payer 123 Health Plan", "--engine-role",
                  "insurer_health_plan", "--jwks-file", str(jwks_file)],
                 ["show-payer", *as_admin], ["replace-payer-keys", *as_admin, "--jwks-file", str(jwks_file)],
                 ["deactivate-payer", *as_admin]):
        result = runner.invoke(directory_command, args)
        assert result.exit_code == 0, result.output
    assert sent == [
        ("register_payer", ({"org": "Payer123", "name": "Payer 123 Health Plan", "engine_role": "insurer_health_plan",
                             "jwks": good},), "ADMIN-ASSERTION"),
        ("get_payer", ("Payer123",), "ADMIN-ASSERTION"),
        ("replace_payer_keys", ("Payer123", good), "ADMIN-ASSERTION"),
        ("deactivate_payer", ("Payer123",), "ADMIN-ASSERTION")]
    jwks_file.write_text(json.dumps({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "s"}]}))
    refused = runner.invoke(directory_command, ["register-payer", *as_admin, "--name", "n", "--engine-role",
                                                "insurer_health_plan", "--jwks-file", str(jwks_file)])
    assert refused.exit_code != 0 and "private key material" in refused.output and len(sent) == 4
