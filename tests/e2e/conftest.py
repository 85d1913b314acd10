"""e2e tier: the five services (notes, disclosures, audit, gateway, directory) running together.

They run in one nameko runner against a per-test RabbitMQ vhost and a
throw-away event-store schema, with the gateway's HTTP server on a free
loopback port — the same wiring as `make run`, isolated per test. Tests talk
to the stack the way users do: nameko RPC for the practice, HTTP for insurers.
Poll with a deadline, never a bare sleep.

Needs what the integration tier needs (PostgreSQL with the ``confide_test``
schema, RabbitMQ with its management API; `make test-e2e` sets them up); the
services themselves are started here, not expected to be running.

Who is asking rides every call (docs/identity.md): the installation's keys are made before the
services start, ``stack.people`` (:class:`confide.testing.identities.Identities`) puts members,
patients and payers on file in the stack's schema and mints their assertions, and
``stack.rpc(service, person)`` opens a proxy carrying ``person``'s assertion.
"""
import json
import socket
import urllib.error
import urllib.request

import pytest
from nameko.standalone.rpc import ServiceRpcProxy

from confide.testing.polling import wait_for


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    def __init__(self, config, base_url, schema, people):
        self.config = config
        self.base_url = base_url
        self.schema = schema
        self.people = people

    def rpc(self, service, person=None):
        """A proxy of ``service`` carrying ``person``'s assertion (none: an anonymous call)."""
        return ServiceRpcProxy(service, self.config, context_data=person.context() if person else None)

    def http(self, method, path, body=None, token=None, headers=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            req.add_header(name, value)
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=15) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")


@pytest.fixture
def stack(runner_factory, service_config, scratch_schema, tmp_path):
    from audit.service import AuditService
    from confide.eventstore.store import PostgresEventStore
    from confide.keys import ensure_keys
    from confide.testing.identities import Identities
    from directory.service import DirectoryService
    from disclosures.service import DisclosuresService
    from gateway.service import GatewayService
    from notes.service import NotesService

    port = free_port()
    config = {**service_config, "DB_SCHEMA": scratch_schema, "CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
              "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}"}
    ensure_keys(config["KEY_DIR"])  # every key before any service reads the ones it trusts
    store = PostgresEventStore(config["DB_DSN"], schema=scratch_schema, pool_size=1)
    runner = runner_factory(config, NotesService, DisclosuresService, AuditService, GatewayService, DirectoryService)
    runner.start()
    stack = Stack(config, f"http://127.0.0.1:{port}", scratch_schema, Identities(store, config["KEY_DIR"]))
    wait_for(lambda: stack.http("GET", "/health")[0] == 200)
    yield stack
    store.close()
