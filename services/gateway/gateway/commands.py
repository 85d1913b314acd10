"""CLI commands of the gateway (registered on the ``confide`` CLI by its owner).

``confide token --org "Acme Health Plan" --role insurer_health_plan --ttl 3600``
prints a signed token for that organisation.
"""
from __future__ import annotations

import click

from gateway.tokens import TOKEN_ROLES, issue_token


@click.command("token")
@click.option("--org", required=True, help="insurer organisation the token speaks for")
@click.option("--role", required=True, type=click.Choice(sorted(TOKEN_ROLES)), help="requester role")
@click.option("--ttl", default=3600, show_default=True, type=click.IntRange(min=1), help="lifetime in seconds")
@click.option("--key-dir", default=None, type=click.Path(file_okay=False),
              help="key directory (default: CONFIDE_KEY_DIR or ~/.local/share/confide/keys)")
def token(org: str, role: str, ttl: int, key_dir: str | None) -> None:
    """Issue a signed insurer API token (JWT with org, role, exp)."""
    click.echo(issue_token(org, role, ttl, key_dir=key_dir))
