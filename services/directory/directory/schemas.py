"""marshmallow schemas of the directory's RPC payloads. Every error names the field; ids are
canonical (:func:`confide.identity.ids.normalise_id`) once loaded."""
from __future__ import annotations

import re

from marshmallow import Schema, ValidationError, fields, validate, validates

from confide import validation
from confide.contracts.directory import PAYER_ENGINE_ROLES, REPRESENTATIVE_AUTHORITIES
from confide.identity.assertions import AMR_VALUES
from confide.identity.ids import InvalidIdentifierError, normalise_id
from confide.identity.roles import WORKFORCE_ROLES
from directory.domain.errors import ValidationError as DirectoryValidationError

PRIVATE_JWK_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
HASHED_USERNAME = re.compile(r"^sha256:[0-9a-f]{64}$")


class Id(fields.String):
    """An identifier, normalised (NFC, no controls or invisible characters, no outer whitespace)."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return normalise_id(text, attr or "id")
        except InvalidIdentifierError as exc:
            raise ValidationError(str(exc)) from None


_name = lambda **kw: fields.String(validate=validate.Length(min=1, max=200), **kw)  # noqa: E731
_role = lambda: fields.String(required=True, validate=validate.OneOf(sorted(WORKFORCE_ROLES)))  # noqa: E731


class EnrolMemberSchema(Schema):
    member_id = Id(required=True)
    name = _name(required=True)
    credentials = fields.String(required=True, validate=validate.Length(min=1, max=100))
    npi = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(r"^[0-9]{10}$"))
    roles = fields.List(fields.String(validate=validate.OneOf(sorted(WORKFORCE_ROLES))), required=True,
                        validate=validate.Length(min=1, max=len(WORKFORCE_ROLES)))

    @validates("roles")
    def _unique(self, value, **kwargs):
        if len(set(value)) != len(value):
            raise ValidationError("a role is repeated")


class RoleSchema(Schema):
    member_id = Id(required=True)
    role = _role()


class MemberIdSchema(Schema):
    member_id = Id(required=True)


class SupervisionSchema(Schema):
    supervisor_id = Id(required=True)
    trainee_id = Id(required=True)


class RegisterPatientSchema(Schema):
    patient_id = Id(required=True)
    name = _name(required=True)
    date_of_birth = fields.Date(required=True)


class PatientIdSchema(Schema):
    patient_id = Id(required=True)


class RepresentativeSchema(Schema):
    patient_id = Id(required=True)
    representative_id = Id(required=True)
    name = _name(required=True)
    authority = fields.String(required=True, validate=validate.OneOf(REPRESENTATIVE_AUTHORITIES))


class RevokeRepresentativeSchema(Schema):
    patient_id = Id(required=True)
    representative_id = Id(required=True)


class JwkSchema(Schema):
    kty = fields.String(required=True, validate=validate.OneOf(("RSA", "EC")))
    kid = fields.String(required=True, validate=validate.Length(min=1, max=200))

    class Meta:
        unknown = "include"


class JwksField(fields.Dict):
    """A JWK Set of public keys (RSA or EC): ``{"keys": [...]}``; private key material is refused."""

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        keys = value.get("keys")
        if not isinstance(keys, list) or not keys:
            raise ValidationError("keys: a JWK Set needs at least one key")
        for i, jwk in enumerate(keys):
            if not isinstance(jwk, dict):
                raise ValidationError(f"keys.{i}: must be an object")
            private = [m for m in PRIVATE_JWK_MEMBERS if m in jwk]
            if private:
                raise ValidationError(f"keys.{i}: holds private key material ({', '.join(private)}); register public keys only")
            errors = JwkSchema().validate(jwk)
            if errors:
                first = sorted(errors)[0]
                raise ValidationError(f"keys.{i}.{first}: {' '.join(map(str, errors[first]))}")
        return {"keys": keys}


class RegisterPayerSchema(Schema):
    org = Id(required=True)
    name = _name(required=True)
    engine_role = fields.String(required=True, validate=validate.OneOf(PAYER_ENGINE_ROLES))
    jwks = JwksField(required=True)


class PayerKeysSchema(Schema):
    org = Id(required=True)
    jwks = JwksField(required=True)


class OrgSchema(Schema):
    org = Id(required=True)


class ClientAssertionSchema(Schema):
    """A used client assertion as the gateway names it: ``assertion_digest`` (SHA-256, 64 lowercase
    hex digits, of its client id, NUL and jti: :func:`confide.contracts.directory.client_assertion_digest`)
    and ``until`` (when it stops verifying, an aware instant)."""

    assertion_digest = fields.String(required=True, validate=validate.Regexp(r"\A[0-9a-f]{64}\Z"))
    until = fields.AwareDateTime(required=True)


# -- sign-in events (from the web front door) --------------------------------------------------

class Username(fields.String):
    """A username as typed: its canonical id, or ``sha256:<hex>`` when it is not a valid id."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if HASHED_USERNAME.match(text):
            return text
        try:
            return normalise_id(text, attr or "username")
        except InvalidIdentifierError as exc:
            raise ValidationError(f"{exc}; send sha256:<hex> of what was typed instead") from None


_reason = lambda: fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_]{0,63}$"))  # noqa: E731


class SignedInSchema(Schema):
    type = fields.String(required=True)
    member_id = Id(required=True)
    session_id = Id(required=True)
    amr = fields.List(fields.String(validate=validate.OneOf(sorted(AMR_VALUES))), required=True,
                      validate=validate.Length(min=1))


class SignInFailedSchema(Schema):
    type = fields.String(required=True)
    username = Username(required=True)
    reason = _reason()


class AccountLockedOutSchema(Schema):
    type = fields.String(required=True)
    username = Username(required=True)
    until = fields.AwareDateTime(load_default=None, allow_none=True)


class SessionSchema(Schema):
    type = fields.String(required=True)
    member_id = Id(required=True)
    session_id = Id(required=True)


class SessionTimedOutSchema(SessionSchema):
    kind = fields.String(load_default="idle", validate=validate.OneOf(("idle", "absolute")))


class SessionRevokedSchema(Schema):
    type = fields.String(required=True)
    session_id = Id(required=True)
    member_id = Id(load_default=None, allow_none=True)


SIGN_IN_SCHEMAS: dict[str, type[Schema]] = {
    "SignedIn": SignedInSchema, "SignInFailed": SignInFailedSchema, "AccountLockedOut": AccountLockedOutSchema,
    "SignedOut": SessionSchema, "SessionTimedOut": SessionTimedOutSchema, "SessionRevoked": SessionRevokedSchema,
}


class AccessAttemptSchema(Schema):
    method = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$"))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))
    subject = Id(load_default=None, allow_none=True)
    session_id = Id(load_default=None, allow_none=True)


#: What the sign-in log may be filtered by: one event type, or ``failures`` (SignInFailed,
#: AccountLockedOut and AccessAttemptRefused together).
SIGN_IN_LOG_KINDS = ("SignedIn", "SignInFailed", "AccountLockedOut", "SignedOut", "SessionTimedOut",
                     "SessionRevoked", "AccessAttemptRefused", "failures")
#: The longest period one sign-in log query covers (one stream per day is read).
SIGN_IN_LOG_MAX_DAYS = 366


class SignInLogSchema(Schema):
    since = fields.Date(load_default=None, allow_none=True)
    until = fields.Date(load_default=None, allow_none=True)
    kind = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(SIGN_IN_LOG_KINDS))
    member_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=200))
    limit = fields.Integer(load_default=500, validate=validate.Range(min=1, max=5000))


def load(schema, payload) -> dict:
    """``payload`` loaded by ``schema``; raises the domain ValidationError naming the first bad field."""
    try:
        return validation.load(schema, payload)
    except validation.PayloadError as exc:
        raise DirectoryValidationError(str(exc), exc.messages) from None


def load_sign_in_event(event) -> dict:
    """A sign-in event by its ``type``. Raises ValidationError naming ``type`` for an unknown one."""
    kind = event.get("type") if isinstance(event, dict) else None
    if kind not in SIGN_IN_SCHEMAS:
        raise DirectoryValidationError(f"type: must be one of {', '.join(SIGN_IN_SCHEMAS)}",
                                       {"type": ["unknown sign-in event type"]})
    return load(SIGN_IN_SCHEMAS[kind], event)


class FirstAdminSchema(Schema):
    member_id = Id(required=True)
    name = _name(required=True)
    credentials = fields.String(required=True, validate=validate.Length(min=1, max=100))
    npi = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(r"^[0-9]{10}$"))
