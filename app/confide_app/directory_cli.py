"""``confide directory ...``: the practice's directory through the running directory service.

Every command but ``enrol-first-admin`` acts as a person: it sends the identity assertion read from
``--as-assertion-file`` (minted from a signed-in session at the web front door's /session/cli-assertion),
together with the ``cli`` client's own service assertion when its key is in the key directory.
``enrol-first-admin`` is set-up's bootstrap and acts as the ``cli`` service alone; the directory
accepts it only while no active practice_admin exists. Replies print as JSON; refusals and user
errors print their type and reason and exit 1.
"""
from __future__ import annotations

import json
from pathlib import Path

import click

from confide import config


def _service_assertion() -> str | None:
    from confide.identity.provider import mint_service_assertion

    try:
        return mint_service_assertion(config.key_dir(), "cli")
    except FileNotFoundError:
        return None


def _call(method: str, *args, assertion: str | None = None, service: str | None = None, timeout: float = 30):
    from nameko.exceptions import RemoteError

    from confide.identity.provider import identity_context
    from confide.rpc import ClusterRpcProxy

    context = identity_context(assertion, service)
    try:
        with ClusterRpcProxy({"AMQP_URI": config.amqp_uri(), "serializer": "json"}, context_data=context,
                             timeout=timeout) as rpc:
            reply = getattr(rpc.directory, method)(*args)
    except RemoteError as exc:
        raise click.ClickException(f"{exc.exc_type}: {exc.value}") from None
    click.echo(json.dumps(reply, indent=2, sort_keys=True))


def _assertion(path: Path) -> str:
    text = path.read_text().strip()
    if not text:
        raise click.ClickException(f"{path}: empty (expected a minted identity assertion)")
    return text


as_option = click.option("--as-assertion-file", "assertion_file", required=True,
                         type=click.Path(exists=True, dir_okay=False, path_type=Path),
                         help="file holding your identity assertion (minted at sign-in)")


@click.group()
def directory():
    """Workforce members, roles, patients and payers (the directory service)."""


@directory.command("enrol-first-admin")
@click.option("--id", "member_id", required=True, help="the admin's member id")
@click.option("--name", required=True)
@click.option("--credentials", required=True)
def enrol_first_admin(member_id, name, credentials):
    """Set-up: enrol the first practice admin (only while none is active), as the cli service, and
    print the one-time link (24 h) at which they set their password and second factor. No default
    password exists anywhere: the link is printed once and stored only as a hash."""
    service = _service_assertion()
    if service is None:
        raise click.ClickException(f"no cli service key in {config.key_dir()}: run `confide keys init`")
    _call("enrol_first_admin", {"member_id": member_id, "name": name, "credentials": credentials},
          service=service)
    import subprocess
    import sys

    # The web front door's own command, in its own process (Django is configured once per process).
    made = subprocess.run([sys.executable, "-m", "confide_app.cli", "web", "enrolment-link", "--member-id", member_id,
                           "--role", "practice_admin", "--no-directory-check"], capture_output=True, text=True,
                          timeout=120)
    if made.returncode != 0:
        raise click.ClickException(f"{member_id} is enrolled, but no enrolment link was made: "
                                   f"{(made.stderr or made.stdout).strip()[-500:]}")
    click.echo(f"enrolment link for {member_id} (valid 24 h, shown once): {made.stdout.strip()}")


@directory.command("enrol-member")
@as_option
@click.option("--id", "member_id", required=True)
@click.option("--name", required=True)
@click.option("--credentials", required=True)
@click.option("--npi", default=None)
@click.option("--role", "roles", multiple=True, required=True, help="repeat for each role")
def enrol_member(assertion_file, member_id, name, credentials, npi, roles):
    """Enrol a workforce member (practice_admin)."""
    member = {"member_id": member_id, "name": name, "credentials": credentials, "roles": list(roles)}
    if npi:
        member["npi"] = npi
    _call("enrol_member", member, assertion=_assertion(assertion_file), service=_service_assertion())


@directory.command("grant-role")
@as_option
@click.option("--id", "member_id", required=True)
@click.option("--role", required=True)
def grant_role(assertion_file, member_id, role):
    """Grant a role (practice_admin)."""
    _call("grant_role", member_id, role, assertion=_assertion(assertion_file), service=_service_assertion())


@directory.command("revoke-role")
@as_option
@click.option("--id", "member_id", required=True)
@click.option("--role", required=True)
def revoke_role(assertion_file, member_id, role):
    """Revoke a role (practice_admin)."""
    _call("revoke_role", member_id, role, assertion=_assertion(assertion_file), service=_service_assertion())


@directory.command("deactivate")
@as_option
@click.option("--id", "member_id", required=True)
def deactivate(assertion_file, member_id):
    """Deactivate a member; every service refuses them within seconds (practice_admin)."""
    _call("deactivate_member", member_id, assertion=_assertion(assertion_file), service=_service_assertion())


@directory.command("register-patient")
@as_option
@click.option("--id", "patient_id", required=True, help="the practice's MRN")
@click.option("--name", required=True)
@click.option("--date-of-birth", required=True, help="YYYY-MM-DD")
def register_patient(assertion_file, patient_id, name, date_of_birth):
    """Register a patient (front_desk, practice_admin, release_of_information)."""
    _call("register_patient", {"patient_id": patient_id, "name": name, "date_of_birth": date_of_birth},
          assertion=_assertion(assertion_file), service=_service_assertion())


def _checked_jwks(jwks_file: Path) -> dict:
    """The JWKS in ``jwks_file`` if the gateway's token endpoint can judge every key in it (public
    RS384/ES384 signing keys, each with a kid: ``gateway.payers.check_jwks``); else exit 1 naming why."""
    from gateway.payers import PayerRegistrationError, check_jwks

    try:
        jwks = json.loads(jwks_file.read_text())
    except ValueError as exc:
        raise click.ClickException(f"{jwks_file}: not JSON ({exc})") from None
    try:
        return check_jwks(jwks)
    except PayerRegistrationError as exc:
        raise click.ClickException(f"payer not registered: {exc}") from None


jwks_option = click.option("--jwks-file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
                           help="the payer's JWK Set: public RS384/ES384 signing keys, each with a kid")


@directory.command("register-payer")
@as_option
@click.option("--org", required=True, help="the payer's org id (also its SMART client id)")
@click.option("--name", required=True)
@click.option("--engine-role", required=True,
              type=click.Choice(["insurer_health_plan", "insurer_non_covered", "workers_comp_carrier"]),
              help="the role the HIPAA engine decides the payer's requests as")
@jwks_option
def register_payer(assertion_file, org, name, engine_role, jwks_file):
    """Register a payer organisation with its JWKS (practice_admin): the gateway gives it SMART
    Backend Services tokens and every service accepts it as an insurer."""
    jwks = _checked_jwks(jwks_file)
    _call("register_payer", {"org": org, "name": name, "engine_role": engine_role, "jwks": jwks},
          assertion=_assertion(assertion_file), service=_service_assertion())


@directory.command("replace-payer-keys")
@as_option
@click.option("--org", required=True)
@jwks_option
def replace_payer_keys(assertion_file, org, jwks_file):
    """Re-key a registered payer (practice_admin); the gateway uses the new keys within seconds."""
    _call("replace_payer_keys", org, _checked_jwks(jwks_file), assertion=_assertion(assertion_file),
          service=_service_assertion())


@directory.command("show-payer")
@as_option
@click.option("--org", required=True)
def show_payer(assertion_file, org):
    """A payer as registered: {org, name, engine_role, jwks (public keys), active} (any workforce role)."""
    _call("get_payer", org, assertion=_assertion(assertion_file), service=_service_assertion())


@directory.command("deactivate-payer")
@as_option
@click.option("--org", required=True)
def deactivate_payer(assertion_file, org):
    """Stop a payer (practice_admin): within seconds the gateway refuses it tokens, and refuses the
    tokens it holds, and every service refuses it as an insurer."""
    _call("deactivate_payer", org, assertion=_assertion(assertion_file), service=_service_assertion())


@directory.command("list")
@as_option
@click.argument("what", type=click.Choice(["members", "patients"]), default="members")
def list_(assertion_file, what):
    """List members or patients (any workforce role)."""
    _call(f"list_{what}", assertion=_assertion(assertion_file), service=_service_assertion())
