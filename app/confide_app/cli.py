"""The ``confide`` command.

    confide decide FILE          decide case files with the HIPAA engine (JSON out)
    confide lint FILE            164.501 content lint of one note's text (JSON out)
    confide demo                 the shipped real data through the running stack
    confide run                  start the four services (one prefixed log stream)
    confide audit verify|replay|seal|prove|check|...
    confide db install           roles, database, schema (set-up)
    confide broker declare       exchanges and queues (set-up)
    confide keys init|rotate     keys outside the database
    confide token                a signed token for an insurer organisation
    confide web enrolment-link   a one-time enrolment link (set password, then TOTP)

Subcommands owned by other modules are imported lazily, so a missing optional
piece never breaks the rest of the command.
"""
from __future__ import annotations

import importlib
import sys

import click

from confide import config


class LazyGroup(click.Group):
    """A click group whose subcommands live in other modules (``name -> "module:attr"``)."""

    def __init__(self, *args, lazy: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy = lazy or {}

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx, name):
        if name in self.lazy:
            module, attr = self.lazy[name].split(":")
            try:
                return getattr(importlib.import_module(module), attr)
            except (ImportError, AttributeError) as exc:
                if ctx.resilient_parsing or ctx.invoked_subcommand is None:
                    return _unavailable(name, exc)
                raise
        return super().get_command(ctx, name)


def _unavailable(name: str, exc: Exception) -> click.Command:
    def fail():
        raise click.ClickException(f"`{name}` is unavailable in this installation: {exc}")

    return click.Command(name, callback=fail, help=f"(unavailable: {exc})")


@click.group(
    cls=LazyGroup,
    lazy={
        "decide": "confide.hipaa.commands:decide",
        "lint": "confide.hipaa.lint_commands:lint",
        "audit": "confide_app.audit_cli:audit",
        "demo": "confide_app.demo:demo",
        "run": "confide_app.supervisor:run",
        "token": "gateway.commands:token",
        "web": "confide_app.web_cli:web",
    },
)
def main():
    """Confide: event-sourced records for mental-health group practices."""


@main.group()
def db():
    """Database set-up."""


@db.command("install")
@click.option("--database", default=None, help="database name (default from CONFIDE_DB_DSN)")
@click.option("--schema", default=None, help="schema name (default confide)")
def db_install(database, schema):
    """Create roles, the database and the schema (idempotent; needs a superuser DSN)."""
    from confide.eventstore import install

    try:
        install.install(dbname=database, schema=schema)
    except Exception as exc:
        raise click.ClickException(f"database install failed: {exc}") from None
    click.echo(f"database {database or 'confide'}: schema {schema or config.db_schema()} installed")


@main.group()
def broker():
    """RabbitMQ set-up."""


@broker.command("declare")
def broker_declare():
    """Declare Confide's exchanges and queues before anything publishes."""
    from confide.broker import declare_topology

    try:
        declare_topology(config.amqp_uri())
    except Exception as exc:
        raise click.ClickException(f"broker topology failed: {exc}") from None
    click.echo("broker topology declared")


@main.group(cls=LazyGroup, lazy={"rotate": "notes.commands:rotate_keys"})
def keys():
    """Keys kept outside the database."""


@keys.command("init")
def keys_init():
    """Create the chain key and the audit signing key pair if missing."""
    from confide.keys import ensure_keys

    made = ensure_keys(config.key_dir())
    click.echo(f"keys in {config.key_dir()}: " + (", ".join(made) + " created" if made else "present"))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
