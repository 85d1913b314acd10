"""``confide web``: the front door's operator commands.

    confide web enrolment-link --member-id A-1 [--role practice_admin ...]
    confide web enrolment-links < people.json      (set-up tools: `confide demo`)

print one-time enrolment links (24 h) once; only their hash is stored.
"""
from __future__ import annotations

import json
import os
import sys

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


@web.command("enrolment-links")
def enrolment_links():
    """Links for many people at once, for set-up tools (``confide demo``), as JSON.

    Reads ``[{"member_id", "roles": [...]}]`` on stdin (people the caller has just put on file in the
    directory, so the directory is not asked again). Writes one JSON object per person:
    ``{"member_id", "status", "link", "withdrawn"}`` where ``status`` is ``new`` (a first link),
    ``renewed`` (a new link for someone given one before; the ``withdrawn`` earlier links of theirs
    that were still usable no longer work) or
    ``enrolled`` (they have set a password already: no link, they sign in); and ``expires_in_hours``.
    """
    _django()
    from django.conf import settings

    from confide.identity.ids import normalise_id
    from web.enrolment import create_enrolment_link, has_account, withdraw_unused_links
    from web.models import Enrolment

    try:
        people = json.load(sys.stdin)
    except ValueError as exc:
        raise click.ClickException(f"stdin is not JSON: {exc}") from None
    out = []
    hours = round(settings.ENROLMENT_TTL_SECONDS / 3600, 1)
    for person in people:
        member_id, roles = normalise_id(person["member_id"], "member_id"), list(person["roles"])
        if has_account(member_id):
            out.append({"member_id": member_id, "status": "enrolled", "link": None, "withdrawn": 0,
                        "expires_in_hours": None})
            continue
        earlier = Enrolment.objects.filter(member_id=member_id).exists()
        withdrawn = withdraw_unused_links(member_id)
        link = create_enrolment_link(member_id, roles, check_directory=False)
        out.append({"member_id": member_id, "status": "renewed" if earlier else "new", "link": link,
                    "withdrawn": withdrawn, "expires_in_hours": hours})
    click.echo(json.dumps(out))
