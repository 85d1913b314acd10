"""Events the disclosures service writes. All of them are read by other services too, so they are
defined once, in the published contracts (:mod:`confide.contracts.disclosures`,
:mod:`confide.contracts.authorizations`, :mod:`confide.contracts.access`); this module names them
for the service's own code.

Streams (see services/disclosures/README.md for the catalogue):

- ``disclosureRequest-<request_id>``: DisclosureRequested, DisclosurePlacedOnHold,
  RequesterVerified, DisclosureFactsAmended, DisclosureDecided, DisclosureReleased, DisclosureRefused.
- ``accessDecision-<decision_id>``: AccessDecided (checked by the notes service
  before it releases any field).
- ``authorization-<authorization_id>``: AuthorizationRecorded, AuthorizationRevoked,
  AuthorizationExpired.
- ``accounting-<patient_id>``: AccountingEntryRecorded, AccountingSuspended,
  AccountingRequested, AccountingDeadlineExtended, AccountingProvided.
"""
from __future__ import annotations

from confide.contracts.access import AccessDecided
from confide.contracts.authorizations import AuthorizationExpired, AuthorizationRecorded, AuthorizationRevoked
from confide.contracts.base import Event
from confide.contracts.disclosures import (
    ACCOUNTING,
    AccountingDeadlineExtended,
    AccountingEntryRecorded,
    AccountingProvided,
    AccountingRequested,
    AccountingSuspended,
    DisclosureDecided,
    DisclosureFactsAmended,
    DisclosurePlacedOnHold,
    DisclosureRefused,
    DisclosureReleased,
    DisclosureRequested,
    RequesterVerified,
)

__all__ = [
    "ACCOUNTING", "AccessDecided", "AccountingDeadlineExtended", "AccountingEntryRecorded", "AccountingProvided",
    "AccountingRequested", "AccountingSuspended", "AuthorizationExpired", "AuthorizationRecorded",
    "AuthorizationRevoked", "DisclosureDecided", "DisclosureFactsAmended", "DisclosurePlacedOnHold", "DisclosureRefused",
    "DisclosureReleased", "DisclosureRequested", "Event", "RequesterVerified",
]
