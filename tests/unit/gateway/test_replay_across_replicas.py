"""A payer's client assertion is used once across every gateway replica (RFC 7523 3(7)).

An in-process replay cache per replica would let an attacker who captured an assertion replay it to
another replica behind the load balancer and get a second access token. Each replica here keeps
nothing of its own: it asks the directory (its real handler, over one event store) to record the
assertion, and the directory's "no stream yet" append lets exactly one replica through."""
from datetime import timedelta

import pytest
from nameko.exceptions import RemoteError

from confide.testing.identities import sealed_directory
from directory import handlers
from directory.domain import errors
from gateway import client, smart
from gateway.dependencies import DirectoryReplayRecord
from gateway.payers import DirectoryPayerRegistry

from .test_smart import NOW, ORG, ask, assertion


class DirectoryRecording:
    """``directory.record_client_assertion`` as the gateway's RpcProxy sees it: the directory's
    handler on a shared store, its user errors arriving as RemoteError."""

    def __init__(self, store):
        self.store = store
        self.calls = 0

    def record_client_assertion(self, assertion_digest, until):
        from directory import schemas

        self.calls += 1
        payload = schemas.load(schemas.ClientAssertionSchema, {"assertion_digest": assertion_digest, "until": until})
        try:
            return handlers.record_client_assertion(self.store, lambda: NOW, payload)
        except errors.ClientAssertionReplayedError as exc:
            raise RemoteError("ClientAssertionReplayedError", str(exc)) from None


class Unreachable:
    def record_client_assertion(self, assertion_digest, until):
        raise RemoteError("UnknownService", "directory")


@pytest.fixture
def registry(directory):
    return DirectoryPayerRegistry(directory)


@pytest.fixture
def key():
    return client.new_key()


@pytest.fixture
def payer(directory, key):
    return directory.register(ORG, "Payer 123 Health Plan", "insurer_health_plan", client.public_jwks(key))


@pytest.fixture
def directory_rpc():
    return DirectoryRecording(sealed_directory())


def test_an_assertion_used_on_one_replica_is_refused_on_the_other(registry, payer, key, directory_rpc):
    replica_a, replica_b = DirectoryReplayRecord(directory_rpc), DirectoryReplayRecord(directory_rpc)
    captured = assertion(key, jti="captured-once")
    grant = ask(registry, replica_a, captured)
    assert grant.payer.org == ORG and grant.access_token
    with pytest.raises(smart.OAuthError) as info:
        ask(registry, replica_b, captured, now=NOW + timedelta(seconds=5))
    assert info.value.error == "invalid_client" and "reused jti 'captured-once'" in info.value.reason
    # a fresh assertion (another jti) is accepted on either replica
    other = assertion(key, jti="fresh")
    assert ask(registry, replica_b, other).access_token
    assert directory_rpc.calls == 3


def test_no_token_when_the_assertion_cannot_be_recorded(registry, payer, key):
    with pytest.raises(smart.OAuthError) as info:
        ask(registry, DirectoryReplayRecord(Unreachable()), assertion(key, jti="j-unrecorded"))
    assert info.value.error == "temporarily_unavailable" and info.value.status == 503


def test_the_directory_keeps_a_digest_of_the_assertion_id_never_the_jti(directory_rpc):
    from confide.contracts import directory as d

    DirectoryReplayRecord(directory_rpc).add(f"{ORG}\x00secret-jti", until=NOW + timedelta(minutes=5), now=NOW)
    digest = d.client_assertion_digest(f"{ORG}\x00secret-jti")
    recorded = directory_rpc.store.read_stream(d.client_assertion_stream(digest))
    assert [e.type for e in recorded] == ["ClientAssertionUsed"]
    assert "secret-jti" not in str(recorded[0].data)
    assert recorded[0].data["assertion_digest"] == digest
