"""``confide web``: the front door's operator commands.

    confide web enrolment-link --member-id A-1 [--role practice_admin ...]

prints a one-time enrolment link (24 h) once; only its hash is stored.
"""
from __future__ import annotations

import os

import click


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "web.settings")
    import django

    django.setup()


@click.group()
def web():
    """The web front door (sign-in)."""


@web.command("enrolment-link")
@click.option("--member-id", required=True, help="the directory's member id (or a patient id with --role patient)")
@click.option("--role", "roles", multiple=True, help="roles the person is enrolled for (default: the directory's)")
@click.option("--no-directory-check", is_flag=True, help="do not ask the directory that the member is active")
def enrolment_link(member_id, roles, no_directory_check):
    """Print a one-time link at which MEMBER sets a password, then TOTP."""
    _django()
    from web.directory import DirectoryUnavailableError, get_directory
    from web.enrolment import EnrolmentError, create_enrolment_link

    try:
        if not roles:
            member = get_directory().get_member(member_id)
            if member is None:
                raise click.ClickException(f"the directory does not know {member_id}")
            roles = member["roles"]
        url = create_enrolment_link(member_id, roles, check_directory=not no_directory_check)
    except (EnrolmentError, DirectoryUnavailableError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(url)
