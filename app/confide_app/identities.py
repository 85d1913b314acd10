"""Who the installation's own tools act as: identity assertions minted with the front door's key.

Every service takes who is asking from a verified identity assertion (docs/identity.md). ``confide
demo`` and the benchmarks are installation tools, run on the server with the installation's key
directory, so they act as the people they set up (the practice admin, the demo clinicians, an
auditor, patients) by minting those people's assertions with the installation's OWN front-door
signing key (``identity-assertion.key``; issuer ``confide-web``, audience ``confide-services``, amr
``pwd`` + ``otp``), exactly as the web front door does after a sign-in, and send them with the
``cli`` client's own service assertion. This is for set-up and the demo only: a person signs in
through the web front door (the device-code flow for command-line tools), which replaces this.

- :class:`Installation`: ``rpc(who)`` opens a ``ClusterRpcProxy`` (client ``cli``) carrying a fresh
  assertion of ``who`` (``None``: the ``cli`` service alone). Assertions are short-lived (120 s;
  the service assertion 60 s), so open one per unit of work rather than one for a whole run.
- :func:`practice_admin`: the active practice admin to act as; on a directory with none, the first
  one is enrolled (``directory.enrol_first_admin`` as the ``cli`` service, as set-up does).
- :func:`enrol_members`, :func:`register_patients`, :func:`register_payers`: directory entries made
  as that admin; an entry already there is kept (a member gets the role; a payer its new keys).
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Optional

from confide.identity.assertions import mint
from confide.identity.gate import AUDIENCE
from confide.identity.keys import load_assertion_signing_key
from confide.identity.provider import identity_context, mint_service_assertion
from confide.timestamps import now_utc

ISSUER = "confide-web"
AMR = ("pwd", "otp")
CLIENT = "cli"
DEMO_ADMIN = "demo-practice-admin"
ADMIN_ROLE = "practice_admin"


@dataclass(frozen=True)
class Who:
    """A person the tool acts as: directory id, the roles they act in, their organisation; ``issuer`` and
    ``amr`` as their front door states them (a payer: ``confide-gateway``, ``swk``)."""

    subject: str
    roles: tuple[str, ...]
    org: str
    issuer: str = ISSUER
    amr: tuple[str, ...] = AMR


class Installation:
    """The installation's key directory and broker: mints assertions and opens RPC proxies as people."""

    def __init__(self, key_dir: Path | str, rpc_config: dict, timeout: float = 30) -> None:
        self.key_dir, self.rpc_config, self.timeout = Path(key_dir), dict(rpc_config), timeout
        self._key = load_assertion_signing_key(self.key_dir)  # FileNotFoundError: `confide keys init`

    def assertion(self, who: Who) -> str:
        """``who``'s identity assertion, as the web front door mints it after a sign-in."""
        now = now_utc()
        return mint(self._key, subject=who.subject, roles=who.roles, org=who.org, session_id=str(uuid.uuid4()),
                    auth_time=now - timedelta(seconds=1), amr=who.amr, audience=AUDIENCE, issuer=who.issuer, now=now)

    def context(self, who: Optional[Who], service: str = CLIENT) -> dict[str, str]:
        """nameko context data: ``who``'s assertion (none for ``None``) and the calling client's own
        (``cli``; a benchmark standing in for a service passes that service's name)."""
        return identity_context(self.assertion(who) if who else None, mint_service_assertion(self.key_dir, service))

    @contextmanager
    def rpc(self, who: Optional[Who] = None) -> Iterator[Any]:
        """A cluster proxy whose every call carries ``who``'s fresh assertion (and the cli service's)."""
        from confide.rpc import ClusterRpcProxy

        with ClusterRpcProxy(self.rpc_config, client=CLIENT, context_data=self.context(who),
                             timeout=self.timeout) as proxy:
            yield proxy


def _remote_type(exc: Exception) -> str:
    return getattr(exc, "exc_type", "") or type(exc).__name__


def active_admins(store, key_dir) -> list[str]:
    """Ids of the directory's active practice admins, as the directory sealed them (a member appended
    straight to the store does not count: confide.identity.directory_seal)."""
    from confide.contracts.directory import member_as_of
    from confide.identity.directory_seal import SealedDirectory

    names: set[str] = set()
    position = 1
    while True:
        batch = store.read_category("workforceMember", from_position=position, limit=1000, prefix_only=False)
        names.update(event.stream_name.split("-", 1)[1] for event in batch)
        if len(batch) < 1000:
            break
        position = batch[-1].global_position + 1
    sealed = SealedDirectory.from_key_dir(store, key_dir)
    members = [member_as_of(sealed, member_id) for member_id in sorted(names)]
    return sorted(m.member_id for m in members if m is not None and m.active and ADMIN_ROLE in m.roles)


def practice_admin(inst: Installation, store, org: str) -> Who:
    """The practice admin to act as: the demo's own if active, else another active one; with none,
    ``DEMO_ADMIN`` is enrolled as the first (``directory.enrol_first_admin`` as the cli service)."""
    admins = active_admins(store, inst.key_dir)
    if not admins:
        with inst.rpc(None) as rpc:
            rpc.directory.enrol_first_admin({"member_id": DEMO_ADMIN, "name": "Demo practice admin",
                                             "credentials": "set-up"})
        admins = [DEMO_ADMIN]
    return Who(DEMO_ADMIN if DEMO_ADMIN in admins else admins[0], (ADMIN_ROLE,), org)


def _settle_all(calls: list, kept: tuple[str, ...], redo=None) -> None:
    """Wait for async directory calls; an error in ``kept`` means "already there" (``redo(arg)`` then
    brings the entry up to date, when given); any other error is raised."""
    for arg, reply in calls:
        try:
            reply.result()
        except Exception as exc:
            if _remote_type(exc) not in kept:
                raise
            if redo is not None:
                redo(arg)


def enrol_members(inst: Installation, admin: Who, members: Iterable[dict], role: str) -> None:
    """Enrol each ``{member_id, name, credentials, npi?}`` with ``role``; one already enrolled is granted it."""
    with inst.rpc(admin) as rpc:
        calls = [(m["member_id"], rpc.directory.enrol_member.call_async({**m, "roles": [role]})) for m in members]
        _settle_all(calls, ("MemberExistsError",), lambda member_id: rpc.directory.grant_role(member_id, role))


def register_patients(inst: Installation, admin: Who, patients: Iterable[dict]) -> None:
    """Register each ``{patient_id, name, date_of_birth}``; one already registered is kept."""
    with inst.rpc(admin) as rpc:
        _settle_all([(p["patient_id"], rpc.directory.register_patient.call_async(p)) for p in patients],
                    ("PatientExistsError",))


def register_payers(inst: Installation, admin: Who, payers: Iterable[dict]) -> None:
    """Register each ``{org, name, engine_role, jwks}``; one already registered gets these keys."""
    payers = list(payers)
    jwks = {p["org"]: p["jwks"] for p in payers}
    with inst.rpc(admin) as rpc:
        _settle_all([(p["org"], rpc.directory.register_payer.call_async(p)) for p in payers],
                    ("PayerExistsError",), lambda org: rpc.directory.replace_payer_keys(org, jwks[org]))
