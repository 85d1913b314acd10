"""The front door's own tables (database ``confide_web``; never the event store's).

- :class:`Account`: what kind of principal a Django user is (workforce member or patient); the
  username is the directory's member id or patient id (``normalise_id``).
- :class:`Enrolment`: one-time enrolment links, stored as SHA-256 of the token only.
- :class:`SignedInSession`: the sessions a practice admin sees and can revoke.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models


class Account(models.Model):
    WORKFORCE = "workforce"
    PATIENT = "patient"
    KINDS = [(WORKFORCE, "workforce member"), (PATIENT, "patient")]

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="confide_account")
    kind = models.CharField(max_length=16, choices=KINDS, default=WORKFORCE)
    enrolled_roles = models.JSONField(default=list)  # what the enrolling admin named; the directory decides


class Enrolment(models.Model):
    member_id = models.CharField(max_length=128, db_index=True)
    token_sha256 = models.CharField(max_length=64, unique=True)
    roles = models.JSONField(default=list)
    kind = models.CharField(max_length=16, default=Account.WORKFORCE)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)


class SignedInSession(models.Model):
    session_key = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="confide_sessions")
    member_id = models.CharField(max_length=128, db_index=True)
    method = models.CharField(max_length=64)
    started_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    user_agent = models.CharField(max_length=256, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True, db_index=True)
    ended_reason = models.CharField(max_length=32, blank=True)
    ended_by = models.CharField(max_length=128, blank=True)
