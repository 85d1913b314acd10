"""deploy/systemd/: one unit per service `confide run` starts, each running that service alone as an
unprivileged user, restarted on failure, logging to journald, confined to its state directory."""
import configparser
import re
from pathlib import Path

import click
import pytest

from confide_app import supervisor
from confide_app.cli import main

REPO = Path(__file__).resolve().parents[3]
UNITS = REPO / "deploy" / "systemd"
ENV_FILE = UNITS / "confide.env"


def _unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True, empty_lines_in_values=False)
    parser.optionxform = str  # systemd's keys are case-sensitive
    parser.read_string(path.read_text())
    return parser


def _service_units() -> dict[str, configparser.ConfigParser]:
    return {p.name.removeprefix("confide-").removesuffix(".service"): _unit(p)
            for p in sorted(UNITS.glob("confide-*.service"))}


def test_every_service_has_exactly_one_unit():
    assert set(_service_units()) == set(supervisor.SERVICES)


def test_the_target_starts_every_unit_and_is_started_at_boot():
    target = _unit(UNITS / "confide.target")
    assert set(target["Unit"]["Wants"].split()) == {f"confide-{n}.service" for n in supervisor.SERVICES}
    assert target["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.parametrize("name", supervisor.SERVICES)
def test_a_unit_runs_its_service_alone_as_the_unprivileged_user(name):
    unit = _unit(UNITS / f"confide-{name}.service")
    service = unit["Service"]
    assert service["User"] == service["Group"] == "confide"
    assert service["User"] not in ("root", "0") and service.get("AmbientCapabilities", "") == ""
    assert service["CapabilityBoundingSet"] == ""
    # `confide serve <name>`: a real subcommand of the installed command, and it knows this service.
    argv = service["ExecStart"].split()
    assert argv[0] == "/opt/confide/.venv/bin/confide" and argv[1:] == ["serve", name]
    serve = main.get_command(click.Context(main), "serve")
    choices = next(p for p in serve.params if p.name == "service").type.choices
    assert name in choices
    assert "confide = \"confide_app.cli:main\"" in (REPO / "app" / "pyproject.toml").read_text()
    assert service["WorkingDirectory"] == "/opt/confide"
    assert service["EnvironmentFile"] == "/etc/confide/confide.env"


@pytest.mark.parametrize("name", supervisor.SERVICES)
def test_a_unit_restarts_on_failure_for_as_long_as_it_takes_and_logs_to_journald(name):
    unit = _unit(UNITS / f"confide-{name}.service")
    service = unit["Service"]
    assert service["Restart"] == "on-failure"
    assert float(service["RestartSec"]) > 0
    # While PostgreSQL or RabbitMQ is down the service exits at start: no start limit may give up on it.
    assert unit["Unit"]["StartLimitIntervalSec"] == "0"
    assert service["StandardOutput"] == service["StandardError"] == "journal"
    assert service["SyslogIdentifier"] == f"confide-{name}"
    assert unit["Unit"]["PartOf"] == "confide.target"
    assert unit["Install"]["WantedBy"] == "confide.target"
    assert {"postgresql.service", "rabbitmq-server.service"} <= set(unit["Unit"]["After"].split())


@pytest.mark.parametrize("name", supervisor.SERVICES)
def test_a_unit_can_write_only_its_state_directory(name):
    service = _unit(UNITS / f"confide-{name}.service")["Service"]
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
                       "PrivateTmp": "yes", "PrivateDevices": "yes", "RestrictSUIDSGID": "yes",
                       "ProtectKernelModules": "yes", "ProtectKernelTunables": "yes",
                       "ProtectControlGroups": "yes", "UMask": "0077"}.items():
        assert service[key] == value, key
    assert service["ReadWritePaths"].split() == ["/var/lib/confide"]


def test_the_front_doors_start_after_the_services_they_call():
    units = _service_units()
    for door in ("gateway", "web"):
        after = set(units[door]["Unit"]["After"].split())
        assert {"confide-directory.service", "confide-audit.service", "confide-disclosures.service"} <= after


def test_the_environment_template_holds_no_password_and_keeps_keys_in_the_state_directory():
    settings = dict(line.split("=", 1) for line in ENV_FILE.read_text().splitlines()
                    if line and not line.startswith("#"))
    assert settings["CONFIDE_KEY_DIR"] == "/var/lib/confide/keys"
    assert settings["CONFIDE_CHECKPOINT_DIR"] == "/var/lib/confide/checkpoints"
    # Nor among the commented examples: no password setting, no URI carrying one, never guest.
    examples = [line.lstrip("#") for line in ENV_FILE.read_text().splitlines() if re.match(r"#?CONFIDE_", line)]
    assert len(examples) > len(settings)
    for line in examples:
        name, value = line.split("=", 1)
        assert "PASSWORD" not in name and "SECRET" not in name, line
        assert not re.search(r"://[^/@\s]+:[^/@\s]*@", value), line
        assert "guest" not in value, line
