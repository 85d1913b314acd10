"""marshmallow shapes of the case file's requester facts (``../shared/cases/README.md``).

Both the notes service (reads) and the disclosures service (requests) take a
requester; the established facts about them are one shape, kept here.
"""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields


class RequesterFactsSchema(Schema):
    """Established facts about a requester (all optional booleans). Subclasses add id, role and org.

    ``is_originator`` is deliberately absent: the services compute it from the
    note's author, never from the caller.
    """

    class Meta:
        unknown = EXCLUDE

    is_workforce = fields.Boolean()
    in_ce_training_program = fields.Boolean()
    supervised = fields.Boolean()
    supervises_author = fields.Boolean()
    is_covered_entity = fields.Boolean()
    is_health_care_provider = fields.Boolean()
    identity_verified = fields.Boolean()
    baa_in_place = fields.Boolean()
