"""marshmallow 4 schemas: RPC request shapes and the stored progress-note record.

Every load error names the field (nested ones with dots, e.g. ``content.cpt_code``);
:func:`load` turns marshmallow's error into the domain ValidationError.

No schema has a field naming who acts (author, signed_by, requester, ...): who is asking is the
call's verified principal (docs/identity.md); the service refuses such a field before loading.
Patient, supervisor and request ids are brought to their one canonical form
(:func:`confide.identity.ids.normalise_id`): a look-alike (U+200B, U+202E, ...) is refused.
"""
from __future__ import annotations

import uuid

from marshmallow import Schema, fields, pre_load, validate, validates_schema
from marshmallow import ValidationError as MarshmallowValidationError

from confide import transport, validation
from confide.contracts.access import EMERGENCY_REVIEW_OUTCOMES
from confide.identity.ids import InvalidIdentifierError, normalise_id
from notes.domain.errors import ValidationError
from notes.domain.model import DENIAL_GROUNDS, EMERGENCY_CLAIMS, NOTE_KINDS
from notes.wire import PLAINTEXT_REFUSED

# ICD-10-CM: letter (not U), digit, digit-or-letter, optional dot and up to 4 more.
ICD10CM = r"^[A-TV-Z][0-9][0-9AB](\.[0-9A-Z]{1,4})?$"
CPT = r"^[0-9]{4}[0-9A-Z]$"
PURPOSES = (
    "treatment", "payment", "operations", "training", "legal_defense_vs_individual", "hhs_compliance",
    "required_by_law", "health_oversight", "coroner_me", "serious_threat", "judicial", "law_enforcement",
    "research", "workers_comp", "individual_access", "amendment", "other",
)
AUTHOR_ROLES = ("clinician", "supervisor", "trainee")
RISK_LEVELS = ("none", "low", "moderate", "high", "imminent")
PRESENTATIONS = ("soap", "dap", "birp")

_text = lambda **kw: fields.String(validate=validate.Length(max=20000), **kw)  # noqa: E731
_new_id = lambda: str(uuid.uuid4())  # noqa: E731
_int = lambda **kw: fields.Integer(strict=True, **kw)  # noqa: E731  (5.5, "5" and true are not scores)
MAX_MEDICATIONS = 50
# A sealed box of at most 100000 characters of UTF-8 text (4 bytes each) plus its 48-byte overhead, in base64.
MAX_SEALED = 4 * ((4 * 100000 + 48 + 2) // 3)


def _x25519_public_key(value: str) -> None:
    try:
        transport.public_key(value)
    except transport.TransportError as exc:
        raise MarshmallowValidationError(f"not an X25519 public key in base64 ({exc})") from None


class CanonicalId(fields.String):
    """An identifier in its one canonical form (NFC; invisible, bidi and other look-alike characters
    refused, never stripped: :func:`confide.identity.ids.normalise_id`)."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return normalise_id(text, attr or "id")
        except InvalidIdentifierError as exc:
            raise MarshmallowValidationError(exc.reason) from None


_canonical_id = lambda **kw: CanonicalId(validate=validate.Length(min=1, max=128), **kw)  # noqa: E731
_sealed_text = lambda **kw: fields.String(validate=validate.Length(min=1, max=MAX_SEALED), **kw)  # noqa: E731
_reply_key = lambda: fields.String(load_default=None, allow_none=True, validate=_x25519_public_key)  # noqa: E731


class _NoPlaintext(Schema):
    """Psychotherapy text comes only as ``sealed_text`` (a sealed box to the notes transport key):
    a ``text`` field is refused naming it (notes.wire opens ``sealed_text`` in memory)."""

    text = fields.Raw(load_default=None, allow_none=True)

    @pre_load
    def _refuse_plaintext(self, data, **kwargs):
        # Before anything else: the refusal is the whole answer, whatever else is missing.
        if isinstance(data, dict) and data.get("text") is not None:
            raise MarshmallowValidationError({"text": [PLAINTEXT_REFUSED]})
        return data


class MedicationSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    dose = fields.String(load_default="")
    prescription = fields.String(load_default="")
    monitoring = fields.String(load_default="")


class ClinicalTestsSchema(Schema):
    phq9 = _int(load_default=None, allow_none=True, validate=validate.Range(0, 27))
    gad7 = _int(load_default=None, allow_none=True, validate=validate.Range(0, 21))


class RiskAssessmentSchema(Schema):
    level = fields.String(required=True, validate=validate.OneOf(RISK_LEVELS))
    factors = _text(load_default="")
    plan = _text(load_default="")


class ProgressNoteContentSchema(Schema):
    """The progress-note record (164.501's excluded items, structured). Stored as its dump."""

    session_date = fields.Date(required=True)
    start_time = fields.Time(required=True)
    stop_time = fields.Time(required=True)
    modality = fields.String(required=True, validate=validate.Length(min=1, max=200))
    cpt_code = fields.String(required=True, validate=validate.Regexp(CPT, error="not a CPT code"))
    frequency = fields.String(required=True, validate=validate.Length(min=1, max=200))
    diagnosis_codes = fields.List(
        fields.String(validate=validate.Regexp(ICD10CM, error="not an ICD-10-CM code")),
        required=True, validate=validate.Length(min=1))
    symptoms = _text(load_default="")
    functional_status = _text(load_default="")
    interventions = _text(load_default="")
    treatment_plan = _text(load_default="")
    prognosis = _text(load_default="")
    progress_to_date = _text(load_default="")
    medications = fields.List(fields.Nested(MedicationSchema), load_default=list,
                              validate=validate.Length(max=MAX_MEDICATIONS))
    clinical_tests = fields.Nested(ClinicalTestsSchema, load_default=lambda: {"phq9": None, "gad7": None})
    risk_assessment = fields.Nested(RiskAssessmentSchema, required=True)
    #: Why the note is written after the session day (a late entry); required then by the domain
    #: (:func:`notes.domain.model._late_entry`), empty otherwise.
    late_entry_reason = fields.String(load_default="", validate=validate.Length(max=2000))

    @validates_schema
    def _stop_after_start(self, data, **kwargs):
        start, stop = data.get("start_time"), data.get("stop_time")
        if not (start and stop):
            return
        # Local session times: both without an offset, or both with the same one (a session does
        # not start in one time zone and stop in another; mixed forms cannot even be compared).
        if (start.tzinfo is None) != (stop.tzinfo is None) or start.utcoffset() != stop.utcoffset():
            raise MarshmallowValidationError("must have the same UTC offset as start_time (or neither has one)",
                                             field_name="stop_time")
        if stop <= start:
            raise MarshmallowValidationError("must be after start_time", field_name="stop_time")


class WriteProgressNoteSchema(Schema):
    """The author is the caller (the service adds ``author{id, role, credentials}`` from the principal
    and the directory)."""

    note_id = fields.UUID(load_default=_new_id)
    patient_id = _canonical_id(required=True)
    supervisor_id = _canonical_id(load_default=None, allow_none=True)
    content = fields.Nested(ProgressNoteContentSchema, required=True)


class WritePsychotherapyNoteSchema(_NoPlaintext):
    note_id = fields.UUID(load_default=_new_id)
    patient_id = _canonical_id(required=True)
    supervisor_id = _canonical_id(load_default=None, allow_none=True)
    session_date = fields.Date(required=True)
    sealed_text = _sealed_text(required=True)


class WriteSudCounselingNoteSchema(WritePsychotherapyNoteSchema):
    """A Part 2 program's SUD counseling note (42 CFR 2.11): the same wire shape as a psychotherapy
    note, text only as ``sealed_text``."""


class ReviseNoteSchema(_NoPlaintext):
    note_id = fields.UUID(required=True)
    content = fields.Nested(ProgressNoteContentSchema, load_default=None, allow_none=True)
    sealed_text = _sealed_text(load_default=None, allow_none=True)


class SignNoteSchema(Schema):
    note_id = fields.UUID(required=True)


class CosignNoteSchema(Schema):
    note_id = fields.UUID(required=True)


class AddAddendumSchema(Schema):
    """``sealed_text`` (any note; required for a psychotherapy note's addendum) or plain ``text``
    (a progress note's addendum only: the service refuses it for a psychotherapy note)."""

    note_id = fields.UUID(required=True)
    addendum_id = fields.UUID(load_default=_new_id)
    text = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=100000))
    sealed_text = _sealed_text(load_default=None, allow_none=True)

    @validates_schema
    def _one_text(self, data, **kwargs):
        if (data.get("text") is None) == (data.get("sealed_text") is None):
            raise MarshmallowValidationError("exactly one of sealed_text and text (text: progress-note addenda only)",
                                             field_name="sealed_text")


class RequestAmendmentSchema(Schema):
    note_id = fields.UUID(required=True)
    amendment_id = fields.UUID(load_default=_new_id)
    requested_change = fields.String(required=True, validate=validate.Length(min=1, max=20000))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=20000))


class AcceptAmendmentSchema(Schema):
    note_id = fields.UUID(required=True)
    amendment_id = fields.UUID(required=True)
    content = fields.Nested(ProgressNoteContentSchema, required=True)


class DenyAmendmentSchema(Schema):
    note_id = fields.UUID(required=True)
    amendment_id = fields.UUID(required=True)
    ground = fields.String(required=True, validate=validate.OneOf(sorted(DENIAL_GROUNDS)))
    denial_statement = fields.String(required=True, validate=validate.Length(min=1, max=20000))


class ExtendAmendmentDeadlineSchema(Schema):
    note_id = fields.UUID(required=True)
    amendment_id = fields.UUID(required=True)
    statement = fields.String(required=True, validate=validate.Length(min=1, max=5000))


class AmendmentRefSchema(Schema):
    note_id = fields.UUID(required=True)
    amendment_id = fields.UUID(required=True)


class AmendmentRequestsSchema(Schema):
    open_only = fields.Boolean(load_default=True)


class EmergencyAccessSchema(Schema):
    note_id = fields.UUID(required=True)
    claim = fields.String(required=True, validate=validate.OneOf(sorted(EMERGENCY_CLAIMS)))
    reason = fields.String(required=True, validate=validate.Length(min=10, max=2000))
    presentation = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(PRESENTATIONS))
    reply_public_key = _reply_key()


class EmergencyAccessQueueSchema(Schema):
    open_only = fields.Boolean(load_default=True)


class ReviewEmergencyAccessSchema(Schema):
    decision_id = fields.UUID(required=True)
    outcome = fields.String(required=True, validate=validate.OneOf(EMERGENCY_REVIEW_OUTCOMES))
    comment = fields.String(required=True, validate=validate.Length(min=1, max=5000))


class AppendDisagreementSchema(Schema):
    note_id = fields.UUID(required=True)
    amendment_id = fields.UUID(required=True)
    statement = fields.String(required=True, validate=validate.Length(min=1, max=20000))


class ReadNoteSchema(Schema):
    note_id = fields.UUID(required=True)
    purpose = fields.String(required=True, validate=validate.OneOf(PURPOSES))
    presentation = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(PRESENTATIONS))
    exception_claimed = fields.String(load_default=None, allow_none=True)
    request_id = _canonical_id(load_default=None, allow_none=True)
    # The requesting session's ephemeral X25519 public key: psychotherapy text leaves sealed to it.
    reply_public_key = _reply_key()


class ListNotesSchema(Schema):
    patient_id = _canonical_id(required=True)
    purpose = fields.String(required=True, validate=validate.OneOf(PURPOSES))
    exception_claimed = fields.String(load_default=None, allow_none=True)
    #: Only these kinds are decided and listed (a chart shows progress notes: it need not ask, and so
    #: record a decision, about every psychotherapy note of the patient). None: every kind.
    kinds = fields.List(fields.String(validate=validate.OneOf(NOTE_KINDS)),
                        load_default=None, allow_none=True, validate=validate.Length(min=1))


class LintTextSchema(_NoPlaintext):
    sealed_text = _sealed_text(required=True)


class ReleaseFieldsSchema(Schema):
    decision_id = fields.UUID(required=True)
    note_ids = fields.List(fields.UUID(), required=True, validate=validate.Length(min=1))
    # The disclosure request the decision was made for (None: a read decision of this service).
    request_id = _canonical_id(load_default=None, allow_none=True)
    reply_public_key = _reply_key()


class RequestRecordAccessSchema(Schema):
    request_id = fields.UUID(load_default=_new_id)
    patient_id = _canonical_id(required=True)


class ExtendRecordAccessSchema(Schema):
    request_id = fields.UUID(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=5000))


class ExportDesignatedRecordSetSchema(Schema):
    request_id = fields.UUID(required=True)


def load(schema_cls: type[Schema], payload) -> dict:
    """Load ``payload`` with ``schema_cls``; raises ValidationError "field: message; ..." naming every
    bad field (:func:`confide.validation.load`)."""
    try:
        data = validation.load(schema_cls, payload)
    except validation.PayloadError as exc:
        raise ValidationError(str(exc), exc.messages) from None
    return {k: _ids_to_str(v) for k, v in data.items()}


def _ids_to_str(value):
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, list):
        return [_ids_to_str(v) for v in value]
    return value


def dump_content(content: dict) -> dict:
    """The JSON-safe stored form of a loaded progress-note record (dates and times as ISO strings)."""
    return ProgressNoteContentSchema().dump(content)
