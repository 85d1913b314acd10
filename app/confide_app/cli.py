"""The ``confide`` command.

    confide decide FILE          decide case files with the HIPAA engine (JSON out)
    confide lint FILE            164.501 content lint of one note's text (JSON out)
    confide demo                 the shipped real data through the running stack
    confide run                  start the five services (one prefixed log stream)
    confide serve SERVICE        one service in the foreground (what a systemd unit runs)
    confide directory ...        workforce, patients, payers (acts with a minted assertion);
                                 payers: register-payer|show-payer|replace-payer-keys|deactivate-payer
    confide audit verify|replay|seal|prove|check|...
    confide db install           roles, database, schema (set-up)
    confide broker declare       vhost, users, permissions, exchanges and queues (set-up)
    confide broker tls-init      a local CA and server certificate for AMQP over TLS
    confide tls init             a local CA and server certificate for the gateway's and web's HTTPS
    confide keys init|rotate     keys outside the database
    confide web enrolment-link   a one-time enrolment link (set password, then TOTP)
    confide backup OUT|keygen    an encrypted archive of databases, keys and checkpoints
    confide restore ARCHIVE      onto this machine's databases and directories, then verify

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
        "serve": "confide_app.supervisor:serve",
        "directory": "confide_app.directory_cli:directory",
        "web": "confide_app.web_cli:web",
        "backup": "confide_app.backup_cli:backup",
        "restore": "confide_app.backup_cli:restore",
        "cluster": "confide_app.cluster_cli:cluster",
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
@click.option("--rotate", multiple=True, type=click.Choice(config.BROKER_USERS),
              help="give this user a new password (then restart what connects as it)")
def broker_declare(rotate):
    """Create vhost `confide` and the per-service users (management API), then the topology.

    The administrator is CONFIDE_RABBIT_ADMIN_URI (default guest on localhost); passwords
    are kept in <key_dir>/broker/<user>.secret. The topology is declared as `audit`, who owns it.
    """
    from confide.broker import BrokerAdmin, declare_topology, provision

    try:
        users = provision(BrokerAdmin(config.rabbit_admin_uri()), config.key_dir(), config.AMQP_VHOST,
                          rotate=set(rotate))
        declare_topology(config.amqp_uri("audit"), ssl=config.amqp_ssl())
    except Exception as exc:
        raise click.ClickException(f"broker set-up failed: {exc}") from None
    click.echo(f"broker vhost {config.AMQP_VHOST}: users {', '.join(users)}; topology declared")
    if rotate:
        click.echo(f"rotated: {', '.join(rotate)} — restart the services using them (confide run)")


@broker.command("tls-init")
@click.option("--host", "hosts", multiple=True, default=("localhost", "127.0.0.1"), show_default=True,
              help="names and addresses in the server certificate")
def broker_tls_init(hosts):
    """A local CA and a server certificate for RabbitMQ on this host; prints the listener config."""
    from confide.broker_tls import init_tls, rabbitmq_conf

    paths = init_tls(config.key_dir() / "broker" / "tls", hosts)
    click.echo(f"CA and server certificate in {paths['dir']} (existing files kept)")
    click.echo("Add to rabbitmq.conf and restart RabbitMQ:\n")
    click.echo(rabbitmq_conf(paths))
    click.echo(f"\nThen: CONFIDE_AMQP_URI=amqps://{hosts[0]}:5671/confide CONFIDE_AMQP_CA={paths['ca']}")


@main.group()
def tls():
    """HTTPS for the gateway and the web app."""


@tls.command("init")
@click.option("--host", "hosts", multiple=True, default=("localhost", "127.0.0.1"), show_default=True,
              help="names and addresses the front doors are reached at (in the server certificate)")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=None,
              help="where to write the files (default <key_dir>/tls)")
def tls_init(hosts, directory):
    """A local CA and a server certificate for a pilot's HTTPS (gateway and web); prints the settings.

    Existing files are kept (delete the directory's files to make a new pair). Clients trust ca.pem;
    the keys are 0600. With certificates from your own CA, set the same four settings to them instead.
    """
    from confide import https

    try:
        paths = https.init_pilot_tls(hosts, directory)
    except (ValueError, OSError) as exc:
        raise click.ClickException(f"tls init failed: {exc}") from None
    click.echo(f"CA and server certificate for {', '.join(hosts)} in {paths['dir']} (existing files kept)")
    click.echo("Add to the environment (/etc/confide/confide.env under systemd), then restart:\n")
    for setting in (https.GATEWAY_TLS_CERT_KEY, https.WEB_TLS_CERT_KEY):
        click.echo(f"{setting}={paths['cert']}")
    for setting in (https.GATEWAY_TLS_KEY_KEY, https.WEB_TLS_KEY_KEY):
        click.echo(f"{setting}={paths['key']}")
    click.echo(f"CONFIDE_GATEWAY_URL=https://{hosts[0]}:8000")
    click.echo(f"CONFIDE_WEB_BASE_URL=https://{hosts[0]}:8080")
    click.echo(f"CONFIDE_WEB_ALLOWED_HOSTS={','.join(hosts)}")
    click.echo(f"\nClients verify the server with {paths['ca']} (e.g. curl --cacert, REQUESTS_CA_BUNDLE).")


@main.group(cls=LazyGroup, lazy={"rotate": "notes.commands:rotate_keys"})
def keys():
    """Keys kept outside the database."""


@keys.command("init")
def keys_init():
    """Create the chain, decision, audit-signing, assertion and service keys if missing."""
    from confide.keys import ensure_keys

    made = ensure_keys(config.key_dir())
    click.echo(f"keys in {config.key_dir()}: " + (", ".join(made) + " created" if made else "present"))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
