"""Integration tier of the directory service: DirectoryService in a nameko container on a per-test
vhost, over the real store in a scratch schema (the first-admin rule looks at the whole directory,
so each test needs a directory of its own). Calls go through ServiceRpcProxy with the assertions in
nameko context data, as every client sends them. Waits poll with a deadline, never a fixed sleep.
"""
import uuid
from datetime import timedelta

import pytest
from nameko.standalone.rpc import ServiceRpcProxy

from confide.identity.assertions import mint
from confide.identity.gate import AUDIENCE
from confide.identity.keys import ensure_assertion_keys, ensure_service_keys, load_assertion_signing_key
from confide.identity.provider import identity_context, mint_service_assertion
from confide.timestamps import now_utc
from directory.service import DirectoryService


@pytest.fixture
def directory_config(service_config, scratch_schema):
    ensure_assertion_keys(service_config["KEY_DIR"])
    ensure_service_keys(service_config["KEY_DIR"], ("cli", "web", "notes", "directory"))
    return {**service_config, "DB_SCHEMA": scratch_schema, "IDENTITY_CACHE_TTL": 0.5}


@pytest.fixture
def directory(container_factory, directory_config):
    container = container_factory(DirectoryService, directory_config)
    container.start()
    return container


class Caller:
    """Mints assertions with the installation's keys and calls the directory over RabbitMQ."""

    def __init__(self, config):
        self.config, self.key_dir = config, config["KEY_DIR"]

    def member(self, subject, *roles):
        now = now_utc()
        return mint(load_assertion_signing_key(self.key_dir), subject=subject, roles=roles, org="practice",
                    session_id=str(uuid.uuid4()), auth_time=now - timedelta(minutes=1), amr=("pwd", "otp"),
                    audience=AUDIENCE, issuer="confide-web", now=now)

    def service(self, name):
        return mint_service_assertion(self.key_dir, name)

    def proxy(self, assertion=None, service=None):
        return ServiceRpcProxy("directory", self.config, context_data=identity_context(assertion, service), timeout=30)


@pytest.fixture
def caller(directory_config):
    return Caller(directory_config)


@pytest.fixture
def ids():
    return lambda prefix: f"{prefix}-{uuid.uuid4().hex[:10]}"
