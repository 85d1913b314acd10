"""`confide run` gives the projector's database login to the audit service alone."""
import pytest

from confide import config
from confide_app.supervisor import SERVICES, service_environments

PROJECTOR = "postgresql://confide_projector:secret@127.0.0.1:5432/confide"


def test_only_the_audit_service_gets_the_projectors_login():
    base = {config.DB_DSN_KEY: "postgresql://confide_app@127.0.0.1/confide",
            config.PROJECTOR_DSN_KEY: "postgresql://set-by-the-operator@elsewhere/confide", "PATH": "/usr/bin"}
    envs = service_environments(SERVICES, base, PROJECTOR)
    assert envs["audit"][config.PROJECTOR_DSN_KEY] == PROJECTOR
    for name in set(SERVICES) - {"audit"}:
        assert config.PROJECTOR_DSN_KEY not in envs[name], name  # not even the operator's own setting
        assert envs[name][config.DB_DSN_KEY] == base[config.DB_DSN_KEY] and envs[name]["PATH"] == "/usr/bin"
    assert base[config.PROJECTOR_DSN_KEY].startswith("postgresql://set-by")  # the caller's dict is left alone


def test_the_audit_service_is_not_started_without_it():
    with pytest.raises(ValueError, match="CONFIDE_PROJECTOR_DSN"):
        service_environments(("audit", "notes"), {}, None)
    assert config.PROJECTOR_DSN_KEY not in service_environments(("notes",), {}, None)["notes"]


def test_no_service_gets_the_superusers_dsn():
    base = {config.ADMIN_DSN_KEY: "postgresql://postgres:secret@127.0.0.1/postgres", "KEEP": "1"}
    envs = service_environments(SERVICES, base, PROJECTOR)
    assert all(config.ADMIN_DSN_KEY not in env and env["KEEP"] == "1" for env in envs.values())
