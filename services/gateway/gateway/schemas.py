"""marshmallow schemas of the insurer API (request bodies and replies; also the OpenAPI components)."""
from __future__ import annotations

from datetime import date

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate, validates_schema

PURPOSES = ("payment", "treatment", "operations")
#: ``sud_counseling``: a Part 2 program's SUD counseling notes, decided like any request (released only
#: with a consent naming them, 42 CFR 2.31(b)).
NOTE_KINDS = ("progress", "psychotherapy", "sud_counseling")


class DisclosureRequestBodySchema(Schema):
    """POST /disclosure-requests body."""

    patient_id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    purpose = fields.String(load_default="payment", validate=validate.OneOf(PURPOSES))
    note_kind = fields.String(load_default="progress", validate=validate.OneOf(NOTE_KINDS))
    date_from = fields.Date(load_default=None, allow_none=True)
    date_to = fields.Date(load_default=None, allow_none=True)
    claim_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    authorization_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))

    @validates_schema
    def _period(self, data, **kwargs):
        start, end = data.get("date_from"), data.get("date_to")
        if isinstance(start, date) and isinstance(end, date) and start > end:
            raise ValidationError("date_to must not be before date_from", field_name="date_to")


class FhirTaskSchema(Schema):
    """POST /fhir/Task body: a FHIR R4 Task (Da Vinci CDex); elements we do not read are kept."""

    class Meta:
        unknown = INCLUDE

    resourceType = fields.String(required=True, validate=validate.Equal("Task"))
    id = fields.String(validate=validate.Length(max=64))
    status = fields.String()
    intent = fields.String()
    for_ = fields.Dict(required=True, data_key="for")
    requester = fields.Dict()
    code = fields.Dict()
    reasonCode = fields.Dict()
    reasonReference = fields.Dict()
    identifier = fields.List(fields.Dict())
    contained = fields.List(fields.Dict())
    input = fields.List(fields.Dict())
    restriction = fields.Dict()


class ErrorSchema(Schema):
    error = fields.String(required=True)
    field = fields.String(allow_none=True)
    messages = fields.Dict()


class DependencyHealthSchema(Schema):
    status = fields.String(required=True, metadata={"enum": ["ok", "degraded", "down"]})
    required = fields.Boolean(required=True)
    detail = fields.String()


class HealthSchema(Schema):
    status = fields.String(required=True, metadata={"enum": ["ok", "degraded", "down"]})
    instance = fields.String(metadata={"description": "which replica answered (CONFIDE_INSTANCE)"})
    dependencies = fields.Dict(keys=fields.String(), values=fields.Nested(DependencyHealthSchema), required=True)


class DecisionSchema(Schema):
    decision = fields.String(required=True)
    rule = fields.String(allow_none=True)
    citations = fields.List(fields.String())
    reasons = fields.List(fields.String())
    fields_released = fields.List(fields.String(), allow_none=True)
    decided_at = fields.String()


class ReleaseSchema(Schema):
    note_ids = fields.List(fields.String(), required=True)
    fields_released = fields.List(fields.String(), required=True)
    released_at = fields.String()


class RefusalSchema(Schema):
    reason = fields.String(required=True)
    rule = fields.String(allow_none=True)
    refused_at = fields.String()


class HoldSchema(Schema):
    reasons = fields.List(fields.String())
    rule = fields.String(allow_none=True)
    held_at = fields.String()


class DisclosureRequestReplySchema(Schema):
    """A disclosure request as the insurer sees it; ``content`` holds the released fields."""

    id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(
        ("requested", "on_hold", "verified", "decided", "released", "refused")))
    patient_id = fields.String(required=True)
    purpose = fields.String(required=True)
    note_kind = fields.String(required=True)
    date_from = fields.String(allow_none=True)
    date_to = fields.String(allow_none=True)
    claim_id = fields.String(allow_none=True)
    received_at = fields.String(required=True)
    decision = fields.Nested(DecisionSchema, allow_none=True)
    hold = fields.Nested(HoldSchema, allow_none=True)
    release = fields.Nested(ReleaseSchema, allow_none=True)
    refusal = fields.Nested(RefusalSchema, allow_none=True)
    content = fields.Raw(allow_none=True)


class TaskReplySchema(Schema):
    """The Task as this server keeps it: status requested/on-hold/accepted/rejected/completed."""

    class Meta:
        unknown = INCLUDE

    resourceType = fields.String(required=True, validate=validate.Equal("Task"))
    id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(
        ("requested", "on-hold", "accepted", "rejected", "completed")))
    intent = fields.String(required=True)
    identifier = fields.List(fields.Dict())
    statusReason = fields.Dict()
    businessStatus = fields.Dict()
    output = fields.List(fields.Dict())


def reply_from_view(view: dict) -> dict:
    """The insurer-facing reply of a disclosures-service request view."""
    channel = view.get("channel") or {}
    keys = ("status", "patient_id", "purpose", "note_kind", "date_from", "date_to", "received_at",
            "decision", "hold", "release", "refusal")
    reply = {k: view.get(k) for k in keys}
    reply["id"] = view["request_id"]
    reply["claim_id"] = channel.get("claim")
    if reply["decision"]:
        reply["decision"] = {k: reply["decision"].get(k) for k in
                             ("decision", "rule", "citations", "reasons", "fields_released", "decided_at")}
    if reply["hold"]:
        reply["hold"] = {k: reply["hold"].get(k) for k in ("reasons", "rule", "held_at")}
    reply["content"] = view.get("content")
    return reply
