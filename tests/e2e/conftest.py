"""e2e tier: the four services (notes, disclosures, audit, gateway) running together.

They run in one nameko runner against a per-test RabbitMQ vhost and a
throw-away event-store schema, with the gateway's HTTP server on a free
loopback port — the same wiring as `make run`, isolated per test. Tests talk
to the stack the way users do: nameko RPC for the practice, HTTP for insurers.
Poll with a deadline, never a bare sleep.

Needs what the integration tier needs (PostgreSQL with the ``confide_test``
schema, RabbitMQ with its management API; `make test-e2e` sets them up); the
services themselves are started here, not expected to be running.
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
    def __init__(self, config, base_url, schema):
        self.config = config
        self.base_url = base_url
        self.schema = schema

    def rpc(self, service):
        return ServiceRpcProxy(service, self.config)

    def http(self, method, path, body=None, token=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
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
    from disclosures.service import DisclosuresService
    from gateway.service import GatewayService
    from notes.service import NotesService

    port = free_port()
    config = {**service_config, "DB_SCHEMA": scratch_schema, "CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
              "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}"}
    runner = runner_factory(config, NotesService, DisclosuresService, AuditService, GatewayService)
    runner.start()
    stack = Stack(config, f"http://127.0.0.1:{port}", scratch_schema)
    wait_for(lambda: stack.http("GET", "/health")[0] == 200)
    return stack
