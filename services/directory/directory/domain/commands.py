"""Commands of the directory service (imperative; ``by`` is the verified member, ``at`` RFC 3339 UTC)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class EnrolMember:
    member_id: str
    name: str
    credentials: str
    roles: tuple[str, ...]
    by: str
    at: str
    npi: Optional[str] = None


@dataclass(frozen=True)
class GrantRole:
    member_id: str
    role: str
    by: str
    at: str


@dataclass(frozen=True)
class RevokeRole:
    member_id: str
    role: str
    by: str
    at: str


@dataclass(frozen=True)
class LinkSupervision:
    supervisor_id: str
    trainee_id: str
    by: str
    at: str


@dataclass(frozen=True)
class EndSupervision:
    supervisor_id: str
    trainee_id: str
    by: str
    at: str


@dataclass(frozen=True)
class DeactivateMember:
    member_id: str
    by: str
    at: str


@dataclass(frozen=True)
class RegisterPatient:
    patient_id: str
    name: str
    date_of_birth: str
    by: str
    at: str


@dataclass(frozen=True)
class RecordRepresentative:
    patient_id: str
    representative_id: str
    name: str
    authority: str
    by: str
    at: str


@dataclass(frozen=True)
class RevokeRepresentative:
    patient_id: str
    representative_id: str
    by: str
    at: str


@dataclass(frozen=True)
class RegisterPayer:
    org: str
    name: str
    engine_role: str
    jwks: dict
    by: str
    at: str


@dataclass(frozen=True)
class ReplacePayerKeys:
    org: str
    jwks: dict
    by: str
    at: str


@dataclass(frozen=True)
class DeactivatePayer:
    org: str
    by: str
    at: str
