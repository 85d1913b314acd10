"""``confide payers``: register payers (insurer organisations) for SMART Backend Services.

    confide payers register --org Payer123 --name "Payer 123 Health Plan" \\
        --engine-role insurer_health_plan --jwks-file payer-jwks.json
    confide payers show --org Payer123
    confide payers deactivate --org Payer123

The JWKS file holds the payer's public signing keys (RS384 or ES384, each with a ``kid``); the
payer keeps its private keys. Registering an org again replaces its name, role and keys.

Where payers are written (``--registry``, else ``CONFIDE_PAYER_REGISTRY``, else ``file``):

- ``file``: ``<key dir>/payers/<org>.json``, the registry the gateway reads by default today
  (``PAYER_REGISTRY`` in its config). ``--key-dir`` must be the gateway's key directory.
- ``directory``: the directory service over RPC (``directory.register_payer``), the default once
  that service is merged; deactivation then goes through the directory (``PayerDeactivated``).
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import click

from confide import config


@contextmanager
def _registry(kind: str | None, key_dir: str | None):
    import os

    from gateway import payers

    kind = payers.registry_kind(kind or os.environ.get(payers.REGISTRY_ENV_KEY))
    if kind == payers.DIRECTORY:
        from confide.rpc import ClusterRpcProxy

        with ClusterRpcProxy({"AMQP_URI": config.amqp_uri(), "serializer": "json"}, timeout=30) as rpc:
            yield payers.make_registry(kind, directory=rpc.directory)
    else:
        yield payers.make_registry(kind, key_dir=key_dir)


_registry_option = click.option("--registry", type=click.Choice(["file", "directory"]), default=None,
                                help="where payers are kept (default CONFIDE_PAYER_REGISTRY, else file)")
_key_dir_option = click.option("--key-dir", type=click.Path(file_okay=False), default=None,
                               help="the gateway's key directory, for --registry file (default CONFIDE_KEY_DIR)")


@click.group()
def payers():
    """Payers (insurers) allowed to get SMART Backend Services tokens from the gateway."""


@payers.command("register")
@click.option("--org", required=True, help="the payer's org id (also its client id)")
@click.option("--name", required=True, help="the payer's name")
@click.option("--engine-role", required=True,
              type=click.Choice(["insurer_health_plan", "insurer_non_covered", "workers_comp_carrier"]),
              help="the role the HIPAA engine decides the payer's requests as")
@click.option("--jwks-file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSON Web Key Set of the payer's public RS384/ES384 signing keys")
@_registry_option
@_key_dir_option
def register(org, name, engine_role, jwks_file, registry, key_dir):
    """Register (or re-key) a payer with its public JWKS."""
    from gateway.payers import PayerRegistrationError

    try:
        jwks = json.loads(jwks_file.read_text())
    except ValueError as exc:
        raise click.ClickException(f"{jwks_file} is not JSON: {exc}") from None
    try:
        with _registry(registry, key_dir) as reg:
            payer = reg.register(org, name, engine_role, jwks)
    except PayerRegistrationError as exc:
        raise click.ClickException(f"payer not registered: {exc}") from None
    kids = ", ".join(k["kid"] for k in payer.jwks["keys"])
    click.echo(f"payer {payer.org!r} registered as {payer.engine_role} (client id {payer.client_id!r}; keys {kids})")


@payers.command("show")
@click.option("--org", required=True)
@_registry_option
@_key_dir_option
def show(org, registry, key_dir):
    """Print a payer as registered (JSON; public keys only)."""
    with _registry(registry, key_dir) as reg:
        payer = reg.get(org)
    if payer is None:
        raise click.ClickException(f"no payer {org!r} is registered")
    click.echo(json.dumps({**payer.to_json(), "client_id": payer.client_id}, indent=2, sort_keys=True))


@payers.command("deactivate")
@click.option("--org", required=True)
@_registry_option
@_key_dir_option
def deactivate(org, registry, key_dir):
    """Stop a payer getting tokens; the tokens it holds stop working at once."""
    try:
        with _registry(registry, key_dir) as reg:
            reg.deactivate(org)
    except (LookupError, NotImplementedError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"payer {org!r} deactivated")
