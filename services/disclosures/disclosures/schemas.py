"""marshmallow schemas of the disclosures service's RPC payloads (one per wire shape).

Loading raises ``marshmallow.ValidationError``; the service turns it into
InvalidRequestError naming the first bad field.
"""
from __future__ import annotations

from datetime import datetime, timezone

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates, validates_schema

from confide.hipaa.schemas import RequesterFactsSchema
from confide.timestamps import format_ts as fmt_ts

ROLES = (
    "originator_clinician", "clinician_same_practice", "former_workforce_clinician", "trainee", "supervisor",
    "billing_staff", "compliance_staff", "practice_admin", "external_clinician", "external_clinician_group",
    "insurer_health_plan", "insurer_non_covered", "business_associate", "workers_comp_carrier", "patient",
    "patient_designee", "parent", "hhs_ocr", "court", "attorney", "defense_counsel", "prosecutor",
    "law_enforcement", "coroner_me", "health_oversight_agency", "child_protective_services", "researcher",
    "person_able_to_prevent_threat", "auditor",
)
PURPOSES = (
    "treatment", "payment", "operations", "training", "legal_defense_vs_individual", "hhs_compliance",
    "required_by_law", "health_oversight", "coroner_me", "serious_threat", "judicial", "law_enforcement",
    "research", "workers_comp", "individual_access", "amendment", "other",
)
#: 42 CFR 2.11: ``sud_counseling``, a Part 2 program's SUD counseling notes (released only with a consent naming them).
NOTE_KINDS = ("progress", "psychotherapy", "sud_counseling")
ACTIONS = ("use", "disclose")


class IsoDate(fields.Date):
    """A calendar date kept as its ISO string (event data holds strings, not date objects)."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).isoformat()


class Instant(fields.AwareDateTime):
    """An RFC 3339 instant kept as a UTC ``...Z`` string; a naive one is read as UTC."""

    def __init__(self, **kwargs):
        super().__init__(default_timezone=timezone.utc, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, datetime):
            value = value.isoformat()
        return fmt_ts(super()._deserialize(value, attr, data, **kwargs))


class RequesterSchema(RequesterFactsSchema):
    id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    org = fields.String(required=True, validate=validate.Length(min=1, max=200))
    identity_verified = fields.Boolean(load_default=False)


#: Engine roles of the practice's own workforce: a workforce requester is a verified principal, never a
#: party staff type in (it would skip the 164.514(h) hold).
WORKFORCE_ENGINE_ROLES = ("originator_clinician", "clinician_same_practice", "former_workforce_clinician", "trainee",
                          "supervisor", "billing_staff", "compliance_staff", "practice_admin", "auditor")


class ExternalRequesterSchema(RequesterSchema):
    """An outside party's request recorded by staff (``external_requester``): held under 164.514(h)
    until ``verify_requester``, so it can never arrive verified, nor as workforce."""

    role = fields.String(required=True, validate=validate.OneOf([r for r in ROLES if r not in WORKFORCE_ENGINE_ROLES]))
    identity_verified = fields.Boolean(load_default=False)
    is_workforce = fields.Boolean(load_default=False)

    @validates("identity_verified")
    def _not_verified(self, value, **kwargs):
        if value:
            raise ValidationError("an outside party's identity is verified by verify_requester (164.514(h)), "
                                  "never when the request is recorded")

    @validates("is_workforce")
    def _not_workforce(self, value, **kwargs):
        if value:
            raise ValidationError("an outside party is not workforce: workforce members ask as themselves")


class ChannelSchema(Schema):
    """Where the request came from: the CDex Task's identifiers, POU, claim and codes."""

    class Meta:
        unknown = EXCLUDE

    standard = fields.String(load_default=None, allow_none=True)
    task_id = fields.String(load_default=None, allow_none=True)
    task_identifiers = fields.List(fields.Dict(), load_default=list)
    task_status = fields.String(load_default=None, allow_none=True)
    task_requester = fields.String(load_default=None, allow_none=True)
    pou = fields.String(load_default=None, allow_none=True)
    claim = fields.String(load_default=None, allow_none=True)
    codes = fields.List(fields.Dict(), load_default=list)
    reason = fields.String(load_default=None, allow_none=True)
    due = fields.String(load_default=None, allow_none=True)
    body_sha256 = fields.String(load_default=None, allow_none=True, validate=validate.Length(equal=64))


LEGAL_PROCESS_TYPES = ("court_order", "subpoena_without_court_order", "informal_request",
                       "subpoena_without_part2_order")


class LegalProcessSchema(Schema):
    """``facts.legal_process`` (the case-file contract, /work/shared/cases/README.md): what an order
    or subpoena is and which note kinds it expressly names (``covers``); the dates it covers are the
    request's own ``date_from``/``date_to``. Structured, so the engine judges fields, not prose."""

    type = fields.String(required=True, validate=validate.OneOf(LEGAL_PROCESS_TYPES))
    signed_by_judge = fields.Boolean(load_default=None, allow_none=True)
    scope = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))
    covers = fields.List(fields.String(validate=validate.OneOf(NOTE_KINDS)), load_default=None, allow_none=True)
    satisfactory_assurance = fields.Raw(load_default=None, allow_none=True)
    objection_period_lapsed = fields.Boolean(load_default=None, allow_none=True)

    @validates("satisfactory_assurance")
    def _assurance(self, value, **kwargs):
        if value not in (None, True, "notice_to_individual", "qualified_protective_order"):
            raise ValidationError("must be null, true, notice_to_individual or qualified_protective_order")


class RequestDisclosureSchema(Schema):
    """``request_disclosure`` payload. ``facts`` carries the optional case facts of the
    case-file form (legal_process, proceeding, emergency, ...), as established by staff.
    The requester is the call's verified principal, or ``external_requester`` (staff only)."""

    external_requester = fields.Nested(ExternalRequesterSchema, load_default=None, allow_none=True)
    patient_id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    purpose = fields.String(required=True, validate=validate.OneOf(PURPOSES))
    note_kind = fields.String(load_default="progress", validate=validate.OneOf(NOTE_KINDS))
    action = fields.String(load_default="disclose", validate=validate.OneOf(ACTIONS))
    date_from = IsoDate(load_default=None, allow_none=True)
    date_to = IsoDate(load_default=None, allow_none=True)
    note_ids = fields.List(fields.String(), load_default=None, allow_none=True)
    authorization_id = fields.String(load_default=None, allow_none=True)
    exception_claimed = fields.String(load_default=None, allow_none=True)
    facts = fields.Dict(keys=fields.String(), load_default=dict)
    channel = fields.Nested(ChannelSchema, load_default=dict)
    request_id = fields.UUID(load_default=None, allow_none=True)
    await_release = fields.Boolean(load_default=False)

    @validates("facts")
    def _facts(self, value, **kwargs):
        """A ``legal_process`` fact is loaded as :class:`LegalProcessSchema` (errors name its field)."""
        check_legal_process(value)

    @validates_schema
    def _covered(self, data, **kwargs):
        """A request under legal process asks only for a note kind the order or subpoena names."""
        covers = ((data.get("facts") or {}).get("legal_process") or {}).get("covers")
        if covers is not None and data.get("note_kind", "progress") not in covers:
            raise ValidationError(f"the legal process does not name {data.get('note_kind')} notes", "note_kind")


def check_legal_process(facts: dict) -> None:
    """A ``legal_process`` fact is loaded as :class:`LegalProcessSchema`; raises ValidationError
    naming ``legal_process`` and its field."""
    if facts.get("legal_process") is not None:
        try:
            LegalProcessSchema().load(facts["legal_process"])
        except ValidationError as exc:
            raise ValidationError({"legal_process": exc.messages}) from None


#: Why a held request's facts were amended: a code, never free text, so that nothing clinical can be
#: typed into the record of the amendment (the amended facts themselves are case facts, not content).
AMENDMENT_REASONS = ("legal_process_received", "authorization_received", "identity_documents_received",
                     "fact_confirmed_by_requester", "fact_corrected")


class AmendDisclosureFactsSchema(Schema):
    """``amend_disclosure_facts`` payload (request staff): the case facts of a held request as now
    established (``facts``: names of the case-file form, /work/shared/cases/README.md, merged over
    the request's; ``legal_process`` structured as :class:`LegalProcessSchema`), and/or the
    ``authorization_id`` it now relies on. ``amendment_id``: the command's idempotency key (a UUID;
    default: derived from the request and what is amended); ``reason``: what established them, one
    of :data:`AMENDMENT_REASONS` (a code: no free text, so no clinical content)."""

    request_id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    amendment_id = fields.UUID(load_default=None, allow_none=True)
    facts = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=100)), load_default=dict)
    authorization_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=200))
    reason = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(AMENDMENT_REASONS))

    @validates("facts")
    def _facts(self, value, **kwargs):
        check_legal_process(value)

    @validates_schema
    def _something(self, data, **kwargs):
        if not data.get("facts") and data.get("authorization_id") is None:
            raise ValidationError("amend at least one fact, or the authorization_id the request relies on",
                                  "facts")


class VerifyRequesterSchema(Schema):
    request_id = fields.String(required=True)
    method = fields.String(required=True, validate=validate.Length(min=1))
    identity_verified = fields.Boolean(load_default=True)
    authority_verified = fields.Boolean(load_default=True)


class RevocationSchema(Schema):
    in_writing = fields.Boolean(required=True)
    received_at = fields.String(required=True)


class StatementsSchema(Schema):
    right_to_revoke = fields.Boolean(load_default=False)
    conditioning = fields.Boolean(load_default=False)
    redisclosure = fields.Boolean(load_default=False)


class EventOccurred(fields.Field):
    """``expiration_event_occurred``: a boolean, or the date (``YYYY-MM-DD``) or RFC 3339 instant on
    which the expiration event occurred (164.508(b)(2)(i)), kept as given (an ISO string)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            text = value.strip()
            try:
                if len(text) == 10:
                    return fields.Date()._deserialize(text, attr, data, **kwargs).isoformat()
                return Instant()._deserialize(text, attr, data, **kwargs)
            except ValidationError:
                pass
        raise ValidationError("expected a boolean, a date YYYY-MM-DD or an RFC 3339 instant")


class AuthorizationSchema(Schema):
    """An authorization in the case-file form (/work/shared/cases/README.md)."""

    id = fields.String(load_default=None, allow_none=True)
    patient = fields.String(required=True, validate=validate.Length(min=1))
    covers = fields.List(fields.String(), required=True, validate=validate.Length(min=1))
    description = fields.String(load_default=None, allow_none=True)
    authorized_discloser = fields.String(load_default=None, allow_none=True)
    recipients = fields.List(fields.String(), load_default=list)
    purposes = fields.List(fields.String(), load_default=list)
    signed_by = fields.String(load_default=None, allow_none=True)
    signer_role = fields.String(load_default="individual",
                                validate=validate.OneOf(("individual", "personal_representative")))
    rep_authority_described = fields.Raw(load_default=None, allow_none=True)
    signed_date = IsoDate(load_default=None, allow_none=True)
    expiration_date = IsoDate(load_default=None, allow_none=True)
    expiration_event = fields.String(load_default=None, allow_none=True)
    expiration_event_occurred = EventOccurred(load_default=None, allow_none=True)
    revoked = fields.Boolean(load_default=False)
    revocation = fields.Nested(RevocationSchema, load_default=None, allow_none=True)
    compound = fields.Boolean(load_default=False)
    combined_with = fields.List(fields.String(), load_default=list)
    conditioned_on = fields.Raw(load_default=None, allow_none=True)
    statements_present = fields.Nested(StatementsSchema, load_default=dict)
    # Not assumed: a form whose plain language nobody confirmed is not established as valid
    # (164.508(c)(3)(i)); the engine records it as a defect.
    plain_language = fields.Boolean(load_default=None, allow_none=True)
    material_information_false = fields.Boolean(load_default=None, allow_none=True)
    # 42 CFR Part 2 (as amended in 2024): the single consent for all future TPO uses and disclosures
    # (2.33(a)(2)); covers names part2_records / sud_counseling_notes for a Part 2 consent.
    part2_tpo_consent = fields.Boolean(load_default=None, allow_none=True)


class RecordAuthorizationSchema(Schema):
    authorization = fields.Nested(AuthorizationSchema, required=True)
    received_at = Instant(load_default=None, allow_none=True)


class RevokeAuthorizationSchema(Schema):
    authorization_id = fields.String(required=True)
    in_writing = fields.Boolean(required=True)
    received_at = Instant(load_default=None, allow_none=True)


class ExpireAuthorizationSchema(Schema):
    authorization_id = fields.String(required=True)
    reason = fields.String(required=True, validate=validate.OneOf(("date", "event")))
    expired_at = Instant(load_default=None, allow_none=True)
    event_description = fields.String(load_default=None, allow_none=True)


class AgencySchema(Schema):
    org = fields.String(required=True, validate=validate.Length(min=1))
    role = fields.String(required=True, validate=validate.OneOf(("health_oversight_agency", "law_enforcement")))
    id = fields.String(load_default=None, allow_none=True)


class SuspendAccountingSchema(Schema):
    patient_id = fields.String(required=True)
    agency = fields.Nested(AgencySchema, required=True)
    in_writing = fields.Boolean(required=True)
    statement = fields.String(required=True)
    starts_at = Instant(required=True)
    ends_at = Instant(load_default=None, allow_none=True)


class RequestAccountingSchema(Schema):
    patient_id = fields.String(required=True)
    received_at = Instant(load_default=None, allow_none=True)


class ExtendAccountingDeadlineSchema(Schema):
    patient_id = fields.String(required=True)
    accounting_request_id = fields.String(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=1))
