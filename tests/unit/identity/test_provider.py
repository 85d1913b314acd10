"""The nameko wiring: ServiceCredential mints into the context and keeps the caller's aside;
Identity reads the context lazily; identity_context builds a proxy's context_data."""
from types import SimpleNamespace

import pytest

from confide.eventstore.memory import InMemoryEventStore
from confide.identity.errors import NotAuthenticatedError
from confide.identity.keys import ensure_assertion_keys, ensure_service_keys
from confide.identity.provider import (
    IDENTITY_KEY,
    SERVICE_KEY,
    Identity,
    ServiceCredential,
    caller_service_assertion,
    identity_context,
)


class Container:
    def __init__(self, config, service_name):
        self.config, self.service_name = config, service_name


_KEPT: list = []  # extensions hold a weak reference to their container


def container(tmp_path, name):
    _KEPT.append(Container({"KEY_DIR": str(tmp_path)}, name))
    return _KEPT[-1]


def ctx(data, method="m"):
    return SimpleNamespace(data=dict(data), entrypoint=SimpleNamespace(method_name=method))


def test_identity_context():
    assert identity_context("a") == {IDENTITY_KEY: "a"}
    assert identity_context("a", "s") == {IDENTITY_KEY: "a", SERVICE_KEY: "s"}


def test_service_credential_replaces_and_keeps_the_callers(tmp_path):
    ensure_service_keys(tmp_path, ("notes", "web"))
    cred = ServiceCredential().bind(container(tmp_path, "notes"), "credential")
    cred.setup()
    worker = ctx({SERVICE_KEY: "the-callers"})
    cred.worker_setup(worker)
    assert worker.data[SERVICE_KEY] != "the-callers" and caller_service_assertion(worker) == "the-callers"


def test_a_service_key_is_parsed_once_and_read_again_when_the_file_is_replaced(tmp_path, monkeypatch):
    import jwt

    from confide.identity import keys, provider

    ensure_service_keys(tmp_path, ("notes",))
    parsed = []
    real = keys.load_service_signing_key
    monkeypatch.setattr(provider, "load_service_signing_key", lambda d, n: parsed.append(n) or real(d, n))
    first = [provider.mint_service_assertion(tmp_path, "notes") for _ in range(3)]
    assert len(parsed) == 1 and len(set(first)) == 3  # one parse, still a fresh assertion per call
    path = tmp_path / keys.SERVICE_KEYS_DIR / "notes.key"
    path.unlink()
    (tmp_path / keys.SERVICE_KEYS_DIR / "notes.pub").unlink()
    ensure_service_keys(tmp_path, ("notes",))  # rotated: a new key in a new file
    rotated = provider.mint_service_assertion(tmp_path, "notes")
    assert len(parsed) == 2
    assert jwt.get_unverified_header(rotated)["kid"] == keys.key_id(real(tmp_path, "notes"))
    assert jwt.get_unverified_header(rotated)["kid"] != jwt.get_unverified_header(first[0])["kid"]
    path.unlink()
    with pytest.raises(FileNotFoundError):
        provider.mint_service_assertion(tmp_path, "notes")


def test_service_credential_fails_at_start_without_its_key(tmp_path):
    cred = ServiceCredential().bind(container(tmp_path, "notes"), "credential")
    with pytest.raises(FileNotFoundError):
        cred.setup()


def test_identity_verifies_the_callers_service_assertion(tmp_path):
    ensure_assertion_keys(tmp_path)
    ensure_service_keys(tmp_path, ("notes", "directory"))
    store = InMemoryEventStore()
    caller = ServiceCredential().bind(container(tmp_path, "notes"), "credential")
    caller.setup()
    outgoing = ctx({})
    caller.worker_setup(outgoing)  # what the notes worker sends

    own = ServiceCredential().bind(container(tmp_path, "directory"), "credential")
    own.setup()
    identity = Identity(store=store).bind(container(tmp_path, "directory"), "identity")
    identity.setup()
    incoming = ctx(outgoing.data, "record_access_attempt_refused")
    call = identity.get_dependency(incoming)
    own.worker_setup(incoming)  # replaces confide_service with the directory's own, after injection
    assert call.calling_service().subject == "notes"
    with pytest.raises(NotAuthenticatedError, match="no identity assertion"):
        call.principal()
    assert store.read_category("accessAttempt")[0].data["method"] == "record_access_attempt_refused"
