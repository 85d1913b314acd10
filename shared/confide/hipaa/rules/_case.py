"""The case file as the rules see it: validated, normalised facts.

A *case file* is ``{"request": {...}, ...}`` (or the bare request object) as documented in
``shared/cases/README.md``.  :func:`parse_case` checks the shape and types of every field the
rules read and returns a :class:`Case`; it never consults a clock or any store.

Errors: :class:`CaseFileError` (a ``ValueError``) when the input is malformed -- the ``request``
object is missing, or a field has the wrong type, or the case file does not conform to the
published JSON Schema (``confide/hipaa/case_file.schema.json``, :mod:`confide.hipaa.case_schema`).
Its ``field`` attribute names the offending field as a dotted path (``request.requester.role``).
Unknown *values* (an unheard-of role or purpose) are not malformed input: the rules deny them with
a reason.

A fact the outcome depends on that is absent or null is *unknown*, never false: the accessors here
return None for it, and a rule that would permit on it denies (or holds, where a verification would
settle it) and names the missing fact (``docs/fail-closed-defaults.md``).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Mapping

from confide.timestamps import parse_ts

WORKFORCE_ROLES = frozenset({
    "originator_clinician", "clinician_same_practice", "trainee", "supervisor", "billing_staff",
    "compliance_staff", "practice_admin",
})
CLINICIAN_ROLES = frozenset({"originator_clinician", "clinician_same_practice", "trainee", "supervisor"})
KNOWN_ROLES = WORKFORCE_ROLES | frozenset({
    "former_workforce_clinician", "external_clinician", "external_clinician_group",
    "insurer_health_plan", "insurer_non_covered", "business_associate", "workers_comp_carrier",
    "patient", "patient_designee", "parent", "hhs_ocr", "court", "attorney", "defense_counsel",
    "prosecutor", "law_enforcement", "coroner_me", "health_oversight_agency",
    "child_protective_services", "researcher", "person_able_to_prevent_threat", "auditor",
})
KNOWN_PURPOSES = frozenset({
    "treatment", "payment", "operations", "training", "legal_defense_vs_individual", "hhs_compliance",
    "required_by_law", "health_oversight", "coroner_me", "serious_threat", "judicial",
    "law_enforcement", "research", "workers_comp", "individual_access", "amendment", "other",
})
#: ``sud_counseling``: a Part 2 program's SUD counseling notes (42 CFR 2.11 as amended in 2024), kept
#: apart like psychotherapy notes and released only with their own consent (2.31(b)).
NOTE_KINDS = frozenset({"psychotherapy", "progress", "sud_counseling"})
#: Note kinds whose separated session notes are protected like psychotherapy notes (164.508(a)(2);
#: 42 CFR 2.31(b)).
SEPARATED_NOTE_KINDS = frozenset({"psychotherapy", "sud_counseling"})
ACTIONS = frozenset({"use", "disclose"})


class CaseFileError(ValueError):
    """A case file is malformed. ``field`` is the dotted path of the offending field."""

    def __init__(self, field: str, problem: str):
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def parse_instant(value: Any, field: str) -> datetime:
    """Parse an RFC 3339 instant (``2026-05-01T15:00:00Z``) or a date (``2026-05-01``, read as
    00:00 UTC) into an aware UTC datetime. Raises :class:`CaseFileError` naming ``field``."""
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    elif not isinstance(value, (str, datetime)):
        raise CaseFileError(field, f"expected an RFC 3339 date-time string, got {_type_name(value)}")
    try:
        return parse_ts(value, field)
    except ValueError as exc:
        if "out of range" in str(exc):  # 9999-12-31T23:59:59-01:00 is after datetime.max in UTC
            raise CaseFileError(field, f"date-time out of range, got {value!r}") from None
        raise CaseFileError(field, f"expected an RFC 3339 date-time, got {value!r}") from None


def days_after(at: datetime, days: int) -> str:
    """The calendar date (ISO) ``days`` after ``at``: a response deadline.  Past 9999-12-31 it
    is that last representable date rather than an OverflowError."""
    try:
        return (at + timedelta(days=days)).date().isoformat()
    except OverflowError:
        return date.max.isoformat()


def has_time(value: Any) -> bool:
    """Does ``value`` carry a time of day (an RFC 3339 instant), not just a calendar date?"""
    return isinstance(value, datetime) or (isinstance(value, str) and len(value.strip()) > 10)


def parse_date(value: Any, field: str) -> date:
    """Parse a calendar date (``2026-12-31``) or an RFC 3339 instant (its UTC date)."""
    if isinstance(value, str) and len(value.strip()) == 10:
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise CaseFileError(field, f"expected a date YYYY-MM-DD, got {value!r}") from None
    return parse_instant(value, field).date()


class _Reader:
    """Typed access to one JSON object, naming fields by dotted path on error."""

    def __init__(self, obj: Mapping[str, Any], path: str):
        self.obj = obj
        self.path = path

    def _get(self, key: str, types: tuple, label: str, required: bool):
        if key not in self.obj or self.obj[key] is None:
            if required:
                raise CaseFileError(f"{self.path}.{key}", f"missing (expected {label})")
            return None
        value = self.obj[key]
        # bool is an int subclass: never accept it where a number/string is expected
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise CaseFileError(f"{self.path}.{key}", f"expected {label}, got {_type_name(value)}")
        return value

    def string(self, key: str, required: bool = False):
        return self._get(key, (str,), "a string", required)

    def boolean(self, key: str):
        return self._get(key, (bool,), "a boolean", False)

    def object(self, key: str, required: bool = False) -> "_Reader | None":
        value = self._get(key, (dict,), "an object", required)
        return None if value is None else _Reader(value, f"{self.path}.{key}")

    def array(self, key: str, of: type | None = str) -> list | None:
        value = self._get(key, (list,), "an array", False)
        if value is not None and of is not None:
            for i, item in enumerate(value):
                if not isinstance(item, of):
                    raise CaseFileError(f"{self.path}.{key}[{i}]",
                                        f"expected {of.__name__}, got {_type_name(item)}")
        return value

    def any(self, key: str):
        return self.obj.get(key)


@dataclass(frozen=True)
class Case:
    """Normalised facts of one disclosure/use request (see ``shared/cases/README.md``)."""

    raw: Mapping[str, Any]            # the request object as given
    role: str
    requester: Mapping[str, Any]
    purpose: str
    note_kind: str
    action: str
    patient: str | None
    at: datetime                       # decision_time, UTC
    authorization: Mapping[str, Any] | None
    exception_claimed: str | None
    legal_process: Mapping[str, Any] | None
    proceeding: Mapping[str, Any] | None
    mandate: Mapping[str, Any] | None
    irb_waiver: Mapping[str, Any] | None
    content: tuple[str, ...] | None
    other_participants: tuple[str, ...]
    jurisdiction_overlay: Mapping[str, Any]
    directed_by_patient: Mapping[str, Any] | None
    note_originator: str | None = None  # the notes' author; never inferred from another field
    jurisdiction: str | None = None     # the practice's state (two-letter code), None: federal only
    practice_setting: str | None = None

    # -- requester facts -------------------------------------------------------------------------
    def req_flag(self, key: str) -> bool | None:
        return self.requester.get(key)

    def fact(self, key: str, default: Any = None) -> Any:
        value = self.raw.get(key)
        return default if value is None else value

    @property
    def is_workforce(self) -> bool:
        flag = self.req_flag("is_workforce")
        if flag is not None:
            return flag
        return self.role in WORKFORCE_ROLES

    @property
    def is_originator(self) -> bool:
        """Is the requester the notes' author (164.508(a)(2)(i)(A))?  The ``is_originator`` flag, or
        else the ``originator_clinician`` role, says so -- unless the case names both the requester
        (``requester.id``) and ``note_originator`` and they differ: contradicting facts never make
        an originator."""
        flag = self.req_flag("is_originator")
        claimed = flag if flag is not None else self.role == "originator_clinician"
        if not claimed:
            return False
        rid = self.requester.get("id")
        if self.note_originator and isinstance(rid, str) and rid.strip():
            return rid.strip().casefold() == self.note_originator.strip().casefold()
        return True

    @property
    def is_disclosure(self) -> bool:
        """A disclosure releases PHI outside the covered entity; a use stays inside (164.501)."""
        return self.action == "disclose" or not self.is_workforce

    @property
    def is_psychotherapy_kind(self) -> bool:
        return self.note_kind == "psychotherapy"

    @property
    def is_sud_counseling(self) -> bool:
        """SUD counseling notes (42 CFR 2.11): Part 2 records by definition."""
        return self.note_kind == "sud_counseling"

    @property
    def is_part2(self) -> bool:
        """The record's segregation flag (``record_is_part2``), or SUD counseling notes (which only a
        Part 2 program keeps, 42 CFR 2.11)."""
        return self.fact("record_is_part2") is True or self.is_sud_counseling


def parse_case(case: Any) -> Case:
    """Validate a case file (``{"request": {...}}``) or a bare request and return a :class:`Case`.

    Raises :class:`CaseFileError` naming the field when ``request`` is missing or not an object,
    when ``requester``/``requester.role``/``purpose``/``note_kind``/``decision_time`` is missing,
    when any documented field has the wrong JSON type, or when the case file does not conform to
    the published JSON Schema (:func:`confide.hipaa.case_schema.validate`).
    """
    if not isinstance(case, Mapping):
        raise CaseFileError("request", f"expected a case-file object, got {_type_name(case)}")
    if "request" in case:
        request = case["request"]
        if not isinstance(request, Mapping):
            raise CaseFileError("request", f"expected an object, got {_type_name(request)}")
    elif "requester" in case or "purpose" in case:
        request = case  # a bare request object
    else:
        raise CaseFileError("request", "required object is missing")

    r = _Reader(request, "request")
    rq = r.object("requester", required=True)
    assert rq is not None  # required=True raises CaseFileError rather than return None
    role = rq.string("role", required=True)
    for key in ("id", "org"):
        rq.string(key)
    for key in ("is_originator", "is_workforce", "in_ce_training_program", "supervised",
                "supervises_author", "is_covered_entity", "is_health_care_provider",
                "identity_verified", "authority_verified", "baa_in_place",
                "is_personal_representative"):
        rq.boolean(key)
    purpose = r.string("purpose", required=True)
    note_kind = r.string("note_kind", required=True)
    action = r.string("action")
    patient = r.string("patient")
    decision_time = r.any("decision_time")
    if decision_time is None:
        raise CaseFileError("request.decision_time", "required RFC 3339 date-time is missing")
    at = parse_instant(decision_time, "request.decision_time")
    exception_claimed = r.string("exception_claimed")

    auth = r.object("authorization")
    if auth is not None:
        for key in ("id", "patient", "description", "authorized_discloser", "signed_by",
                    "signer_role", "expiration_event"):
            auth.string(key)
        for key in ("covers", "recipients", "purposes", "combined_with"):
            auth.array(key)
        for key in ("revoked", "compound", "plain_language", "part2_tpo_consent"):
            auth.boolean(key)
        occurred = auth.any("expiration_event_occurred")
        if isinstance(occurred, str):  # the date on which the event occurred (164.508(b)(2)(i))
            parse_date(occurred, "request.authorization.expiration_event_occurred")
        elif occurred is not None and not isinstance(occurred, bool):
            raise CaseFileError("request.authorization.expiration_event_occurred",
                                f"expected a boolean, an RFC 3339 date or null, got {_type_name(occurred)}")
        for key in ("signed_date", "expiration_date"):
            if auth.any(key) is not None:
                parse_date(auth.any(key), f"request.authorization.{key}")
        rev = auth.object("revocation")
        if rev is not None:
            rev.boolean("in_writing")
            if rev.any("received_at") is not None:
                parse_instant(rev.any("received_at"), "request.authorization.revocation.received_at")
        sp = auth.object("statements_present")
        if sp is not None:
            for key in ("right_to_revoke", "conditioning", "redisclosure"):
                sp.boolean(key)
        cond = auth.any("conditioned_on")
        if cond is not None and not isinstance(cond, (str, list)):
            raise CaseFileError("request.authorization.conditioned_on",
                                f"expected a string, array or null, got {_type_name(cond)}")
        rad = auth.any("rep_authority_described")
        if rad is not None and not isinstance(rad, (str, bool)):
            raise CaseFileError("request.authorization.rep_authority_described",
                                f"expected a string, boolean or null, got {_type_name(rad)}")

    lp = r.object("legal_process")
    if lp is not None:
        lp.string("type")
        lp.string("scope")
        lp.array("covers")
        lp.boolean("signed_by_judge")
        lp.boolean("objection_period_lapsed")
        sa = lp.any("satisfactory_assurance")
        if sa is not None and not isinstance(sa, (bool, str)):
            raise CaseFileError("request.legal_process.satisfactory_assurance",
                                f"expected true, a string or null, got {_type_name(sa)}")
    proceeding = r.object("proceeding")
    if proceeding is not None:
        proceeding.string("initiator")
        proceeding.string("defendant")
    mandate = r.object("mandate")
    if mandate is not None:
        mandate.boolean("compels")
    irb = r.object("irb_waiver")
    if irb is not None:
        irb.boolean("documented")
        if irb.any("date") is not None:
            parse_date(irb.any("date"), "request.irb_waiver.date")
    for key in ("patient_deceased", "good_faith_belief_imminent", "imminent_threat", "emergency",
                "stored_separately", "patient_consent", "record_is_part2"):
        r.boolean(key)
    r.string("session_type")
    r.string("oversight_subject")
    note_originator = r.string("note_originator")
    jurisdiction = r.string("jurisdiction")
    practice_setting = r.string("practice_setting")
    participants = r.array("other_identified_participants") or []
    content = r.array("content_in_psych_note")
    if content is None:
        content = r.array("content")
    else:
        r.array("content")
    r.object("channel")
    overlay = r.object("jurisdiction_overlay")
    dbp = r.object("directed_by_patient")
    if dbp is not None:
        for key in ("in_writing", "signed", "designee_identified"):
            dbp.boolean(key)
    r.array("patients", of=None)

    from confide.hipaa import case_schema  # it imports this module (CaseFileError)

    case_schema.validate({"request": request})

    if action is None:  # not stated: a workforce member's access is a use, anyone else's a disclosure
        action = "use" if (rq.obj.get("is_workforce") is not False and role in WORKFORCE_ROLES) else "disclose"

    return Case(
        raw=request, role=role, requester=rq.obj, purpose=purpose, note_kind=note_kind,
        action=action, patient=patient, at=at,
        authorization=None if auth is None else auth.obj,
        exception_claimed=exception_claimed,
        legal_process=None if lp is None else lp.obj,
        proceeding=None if proceeding is None else proceeding.obj,
        mandate=None if mandate is None else mandate.obj,
        irb_waiver=None if irb is None else irb.obj,
        content=None if content is None else tuple(content),
        other_participants=tuple(participants),
        jurisdiction_overlay={} if overlay is None else overlay.obj,
        directed_by_patient=None if dbp is None else dbp.obj,
        note_originator=note_originator.strip() or None if note_originator else None,
        jurisdiction=jurisdiction,
        practice_setting=practice_setting,
    )
