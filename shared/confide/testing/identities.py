"""Who is asking, for tests: directory entries written through the published contract, and the
assertions a front door would mint for them.

Tests that call a service over RPC need a principal the service's identity gate accepts: a member,
patient or payer on file in the directory (the gate reads it from the store), and an assertion
signed with a key in the service's key directory. :class:`Identities` makes both::

    people = Identities(store, key_dir)
    clinician = people.member("C-A", "clinician")          # enrolled, returns a Person
    proxy = ServiceRpcProxy("notes", config, context_data=clinician.context())

Events are appended with the contract's classes, exactly as the directory service writes them;
``by`` is ``"test-setup"``. Ids are the caller's: use unique ones per test.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Optional

from confide.contracts import directory as d
from confide.envelope import NewEvent
from confide.identity.assertions import mint
from confide.identity.directory_seal import SealedDirectory
from confide.identity.gate import AUDIENCE
from confide.identity.keys import ensure_assertion_keys, ensure_service_keys, load_assertion_signing_key
from confide.identity.provider import identity_context, mint_service_assertion
from confide.timestamps import format_ts, now_utc

BY = "test-setup"
PRACTICE_ORG = "practice"


def _append(store, stream: str, event: d.Event) -> None:
    store.append(stream, [NewEvent(event.type, event.to_data())], expected_version=None)


@dataclass(frozen=True)
class Person:
    """A principal on file and the way to mint its assertions."""

    subject: str
    roles: tuple[str, ...]
    org: str
    key_dir: Path
    issuer: str = "confide-web"
    amr: tuple[str, ...] = ("pwd", "otp")
    session_id: str = ""

    def assertion(self, *, now: Optional[datetime] = None, ttl_seconds: int = 120, roles=None,
                  session_id: Optional[str] = None) -> str:
        """A fresh assertion (a new session unless one is given)."""
        now = now or now_utc()
        return mint(load_assertion_signing_key(self.key_dir), subject=self.subject,
                    roles=tuple(roles) if roles is not None else self.roles, org=self.org,
                    session_id=session_id or self.session_id or str(uuid.uuid4()),
                    auth_time=now - timedelta(minutes=1), amr=self.amr, audience=AUDIENCE,
                    issuer=self.issuer, now=now, ttl_seconds=ttl_seconds)

    def context(self, service: Optional[str] = None, **assertion_kw: Any) -> dict[str, str]:
        """nameko ``context_data`` carrying this person's assertion (and a client service's own)."""
        service_assertion = mint_service_assertion(self.key_dir, service) if service else None
        return identity_context(self.assertion(**assertion_kw), service_assertion)

    def in_session(self, session_id: Optional[str] = None) -> "Person":
        """The same person in one fixed session (every assertion names it)."""
        return Person(self.subject, self.roles, self.org, self.key_dir, self.issuer, self.amr,
                      session_id or str(uuid.uuid4()))


class Identities:
    """Enrols members, registers patients and payers in ``store`` and mints their assertions with the
    keys of ``key_dir`` (made here if missing, with the service keys of ``services``)."""

    def __init__(self, store, key_dir, services=("cli", "web", "notes", "disclosures", "audit", "gateway",
                                                  "directory")) -> None:
        self.key_dir = Path(key_dir)
        ensure_assertion_keys(self.key_dir)
        ensure_service_keys(self.key_dir, tuple(set(services) | {"directory"}))
        # Directory facts are believed only when the directory service sealed them: write as it does.
        self.store = SealedDirectory.from_key_dir(store, self.key_dir, sign=True)

    def _at(self) -> str:
        return format_ts(now_utc())

    def member(self, member_id: str, *roles: str, name: str = "Test Member", credentials: str = "LCSW",
               org: str = PRACTICE_ORG) -> Person:
        """Enrol ``member_id`` with ``roles`` (idempotent for the same roles) and return them."""
        stream = d.member_stream(member_id)
        if d.member_as_of(self.store, member_id) is None:  # not on file as *this* directory sealed it
            _append(self.store, stream, d.WorkforceMemberEnrolled(member_id, name, credentials, list(roles), BY,
                                                                  self._at()))
        return Person(member_id, tuple(roles), org, self.key_dir)

    def deactivate(self, member_id: str) -> None:
        _append(self.store, d.member_stream(member_id), d.WorkforceMemberDeactivated(member_id, BY, self._at()))

    def supervise(self, supervisor_id: str, trainee_id: str) -> None:
        _append(self.store, d.member_stream(supervisor_id),
                d.SupervisionLinked(supervisor_id, trainee_id, BY, self._at()))

    def end_supervision(self, supervisor_id: str, trainee_id: str) -> None:
        _append(self.store, d.member_stream(supervisor_id),
                d.SupervisionEnded(supervisor_id, trainee_id, BY, self._at()))

    def patient(self, patient_id: str, name: str = "Test Patient", date_of_birth: str = "1980-01-01",
                org: str = PRACTICE_ORG) -> Person:
        """Register ``patient_id`` (once) and return them as a principal (role ``patient``)."""
        stream = d.patient_stream(patient_id)
        if d.patient_as_of(self.store, patient_id) is None:
            _append(self.store, stream, d.PatientRegistered(patient_id, name, date_of_birth, BY, self._at()))
        return Person(patient_id, ("patient",), org, self.key_dir)

    def payer(self, org: str, engine_role: str = "insurer_health_plan", name: str = "Test Payer",
              jwks: Optional[dict] = None) -> Person:
        """Register payer ``org`` (once) and return it as the gateway presents it (role ``insurer``)."""
        stream = d.payer_stream(org)
        if d.payer_as_of(self.store, org) is None:
            _append(self.store, stream, d.PayerRegistered(org, name, engine_role, jwks or {"keys": []}, BY,
                                                          self._at()))
        return Person(org, ("insurer",), org, self.key_dir, issuer="confide-gateway", amr=("swk",))

    def deactivate_payer(self, org: str) -> None:
        """``PayerDeactivated``, as ``confide directory deactivate-payer`` records it."""
        _append(self.store, d.payer_stream(org), d.PayerDeactivated(org, BY, self._at()))

    def service_assertion(self, name: str) -> str:
        return mint_service_assertion(self.key_dir, name)


def sealed_directory(store=None) -> SealedDirectory:
    """An in-memory store (or ``store``) seen as the directory sees it, sealing with a fresh key:
    what tests append there counts as the directory's own record."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from confide.eventstore.memory import InMemoryEventStore

    key = Ed25519PrivateKey.generate()
    return SealedDirectory(store if store is not None else InMemoryEventStore(), key.public_key(), key)


def sealed_disclosures(store=None, key_dir=None):
    """An in-memory store (or ``store``) seen as the disclosures service sees it, sealing its requests and
    authorizations: with ``key_dir``, with ``service-keys/disclosures.key`` there (made if missing),
    else with a fresh key. What tests append there counts as the disclosures service's own record."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from confide.eventstore.memory import InMemoryEventStore
    from confide.identity.directory_seal import (
        DISCLOSURE_CATEGORIES,
        DISCLOSURES_SERVICE,
        SealedDisclosures,
        SealedStreams,
    )

    store = store if store is not None else InMemoryEventStore()
    if key_dir is not None:
        ensure_service_keys(Path(key_dir), (DISCLOSURES_SERVICE,))
        return SealedDisclosures(store, key_dir, sign=True)
    key = Ed25519PrivateKey.generate()
    return SealedStreams(store, DISCLOSURES_SERVICE, DISCLOSURE_CATEGORIES, key.public_key(), key)
