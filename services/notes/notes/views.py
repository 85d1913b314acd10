"""What leaves the service: note views, the released-field mapping, decision checks.

Field names of a decision's ``fields_released`` and what they release. One table
for every kind: progress notes release from the structured record; psychotherapy
notes release the spans the 164.501 lint marked with the matching excluded
category (content that keeps no psychotherapy-note protection), and the whole
decrypted text only for ``full_note``. A Part 2 program's SUD counseling notes are
released exactly as psychotherapy notes are (42 CFR 2.11 defines them in the same
words, with the same exclusions): wherever this module says psychotherapy note,
read "sealed note" (:data:`notes.domain.model.SEALED_KINDS`).

| fields_released name                   | progress note                                  | psychotherapy note (lint category)       |
|----------------------------------------|------------------------------------------------|------------------------------------------|
| patient_id                             | patient_id                                     | patient_id                               |
| date_of_service                        | content.session_date                           | session_date                             |
| session_start                          | content.start_time                             | session_start_stop_times spans           |
| session_stop                           | content.stop_time                              | session_start_stop_times spans           |
| cpt_code_or_modality                   | content.cpt_code, content.modality             | modalities_and_frequencies_of_treatment  |
| frequency                              | content.frequency                              | modalities_and_frequencies_of_treatment  |
| diagnosis_codes                        | content.diagnosis_codes                        | summary_diagnosis spans                  |
| symptoms_summary                       | content.symptoms                               | summary_symptoms spans                   |
| functional_status                      | content.functional_status                      | summary_functional_status spans          |
| treatment_plan_summary                 | content.treatment_plan                         | summary_treatment_plan spans             |
| prognosis                              | content.prognosis                              | summary_prognosis spans                  |
| progress_to_date                       | content.progress_to_date                       | summary_progress_to_date spans           |
| clinical_test_results                  | content.clinical_tests                         | clinical_test_results spans              |
| medication_prescription_and_monitoring | content.medications                            | medication_prescription_and_monitoring   |
| rendering_clinician_and_credentials    | author_id, author_credentials                  | author_id, author_credentials            |
| signature                              | signed_by/at, cosigned_by/at                   | signed_by/at, cosigned_by/at             |
| full_note                              | the whole record with addenda and amendments   | the decrypted text with addenda          |

Names not in this table (descriptive strings) release nothing; they are reported
back as ``unmapped_fields``. One exception: the engine's field set under a valid authorization
(``records within authorization ...`` / ``notes within authorization ...``, 164.508(a)(1)-(2),
minimum necessary not applying, 164.502(b)(2)(iii)) releases ``full_note`` of the notes the
decision names (the engine chose them by kind and dates, and checked the authorization covers the
kind, 164.508(c)(1)(i)).

From a psychotherapy note only the *tight* categories are released as excerpts
(diagnosis codes/names, medication with dose/monitoring, clinical test scores,
session start/stop times, modality/frequency), each cut to its own lint span and
at most ``EXCERPT_MAX`` characters. The free-text summary categories (symptoms,
functional status, treatment plan, prognosis, progress to date) are never
released from a psychotherapy note: the lint's spans for them run to the end of
a sentence and carry session content with them. They are reported as
``withheld`` with ``WITHHELD_SUMMARY_REASON`` instead.

Psychotherapy text and excerpts leave only sealed (``{"sealed": box}`` in place of each string,
:class:`notes.wire.Sealer`, to the requester's ``reply_public_key``); the sealer refuses when
there is no key, before anything is returned. Progress-note content is returned as it is.

A recorded decision is honoured only when its ``seal`` verifies under the
practice's decision key (``confide.keys.verify_decision``), and it releases only
the notes it names, as they stood at its ``decided_at``.
"""
from __future__ import annotations

import logging
from datetime import datetime

from confide import keys
from confide.contracts.access import PERMITS, AccessDecided
from confide.contracts.casefile import NOTE_CATEGORIES
from confide.contracts.notes import DRAFTED
from confide.hipaa.rules.s164_501 import EXCLUDED_CATEGORY_FIELDS
from confide.streams import ACCESS_DECISION, stream_name
from confide.timestamps import parse_ts
from notes.crypto import aad_for
from notes.domain import errors
from notes.domain import model as m
from notes.domain.events import from_stored
from notes.presentations import present
from notes.wire import REFUSE, Sealer

log = logging.getLogger(__name__)

DECISION_TYPE = AccessDecided.__name__

_PROGRESS = {
    "patient_id": lambda s: s.patient_id,
    "date_of_service": lambda s: s.content["session_date"],
    "session_start": lambda s: s.content["start_time"],
    "session_stop": lambda s: s.content["stop_time"],
    "cpt_code_or_modality": lambda s: {"cpt_code": s.content["cpt_code"], "modality": s.content["modality"]},
    "frequency": lambda s: s.content["frequency"],
    "diagnosis_codes": lambda s: s.content["diagnosis_codes"],
    "symptoms_summary": lambda s: s.content["symptoms"],
    "functional_status": lambda s: s.content["functional_status"],
    "treatment_plan_summary": lambda s: s.content["treatment_plan"],
    "prognosis": lambda s: s.content["prognosis"],
    "progress_to_date": lambda s: s.content["progress_to_date"],
    "clinical_test_results": lambda s: s.content["clinical_tests"],
    "medication_prescription_and_monitoring": lambda s: s.content["medications"],
}
_COMMON = {
    "rendering_clinician_and_credentials": lambda s: {"author_id": s.author_id,
                                                      "credentials": s.author_credentials},
    "signature": lambda s: {"signed_by": s.signed_by, "signed_at": s.signed_at,
                            "cosigned_by": s.cosigned_by, "cosigned_at": s.cosigned_at},
}
_PSYCH_META = {"patient_id": lambda s: s.patient_id, "date_of_service": lambda s: s.session_date}
# field name -> the lint category whose spans it releases: the inverse of the engine's 164.501 table,
# so the fields a decision names and the excerpts released for them cannot drift apart.
_PSYCH_CATEGORY = {name: category for category, names in EXCLUDED_CATEGORY_FIELDS.items() for name in names}
# Categories whose lint spans are short, structured items (a code, a drug and dose, a score, a time
# range, a modality or frequency): released verbatim from a psychotherapy note, each capped.
TIGHT_CATEGORIES = frozenset({
    "summary_diagnosis", "medication_prescription_and_monitoring", "clinical_test_results",
    "session_start_stop_times", "modalities_and_frequencies_of_treatment",
})
EXCERPT_MAX = 80
WITHHELD_SUMMARY_REASON = ("summary content typed in a psychotherapy note is released only once moved to the "
                           "progress note (45 CFR 164.501; minimum necessary 164.502(b))")
KNOWN_FIELDS = set(_PROGRESS) | set(_COMMON) | {"full_note"}


# -- decrypting ---------------------------------------------------------------------------

def _open_at(recorded: list, keyring, version: int) -> str:
    r = next(r for r in recorded if r.stream_version == version)
    return keyring.open(r.data["sealed"], aad_for(r.stream_name, r.stream_version, r.event_id))


def psych_text(state: m.Note, recorded: list, keyring) -> str:
    return _open_at(recorded, keyring, state.text_version)


# -- views --------------------------------------------------------------------------------

def summary(state: m.Note) -> dict:
    return {"note_id": state.note_id, "kind": state.kind, "patient_id": state.patient_id,
            "author_id": state.author_id, "session_date": state.session_date, "status": state.status,
            "revision": state.revision, "late_entry": state.late_entry}


def amendment_view(a: m.Amendment) -> dict:
    return {"amendment_id": a.amendment_id, "status": a.status, "requested_change": a.requested_change,
            "reason": a.reason, "requested_at": a.requested_at, "decided_by": a.decided_by,
            "decided_at": a.decided_at, "ground": a.ground, "citation": a.citation,
            "denial_statement": a.denial_statement, "statement_of_disagreement": a.disagreement,
            "amended_revision": a.amended_revision, "due_at": a.due_at, "extended": a.extended,
            "extension_statement": a.extension_statement}


def note_view(state: m.Note, recorded: list, keyring, presentation: str | None, seal: Sealer = REFUSE) -> dict:
    """The full note (``full_note``): metadata, record or text, addenda, amendments. A psychotherapy
    note's text and addenda are decrypted and each sealed with ``seal`` (never returned in clear)."""
    view = {**summary(state), "author_credentials": state.author_credentials,
            "supervisor_id": state.supervisor_id, "drafted_at": state.drafted_at,
            **_COMMON["signature"](state), "version": state.version}
    addenda = [{"addendum_id": a.addendum_id, "author_id": a.author_id, "added_at": a.added_at,
                "text": a.text if a.sealed_version is None else seal(_open_at(recorded, keyring, a.sealed_version))}
               for a in state.addenda]
    if state.sealed:
        return {**view, "text": seal(psych_text(state, recorded, keyring)), "addenda": addenda,
                "content_in_psych_note": [dict(s) for s in state.content_in_psych_note]}
    return {**view, "presentation": presentation, "content": present(state.content, presentation),
            "addenda": addenda, "amendments": [amendment_view(a) for a in state.amendments]}


#: The engine's field set under a valid authorization (s164_508._released_under): the whole of each
#: note the decision names (module docstring).
AUTHORIZED_RECORDS = ("records within authorization", "notes within authorization")


def release(state: m.Note, recorded: list, keyring, fields: list, seal: Sealer = REFUSE) -> dict:
    """``{field: value}`` for each mapped name in ``fields`` (see the module table); psychotherapy
    text and excerpts sealed with ``seal``."""
    out = {}
    for name in fields:
        if name == "full_note" or name.startswith(AUTHORIZED_RECORDS):
            out[name] = note_view(state, recorded, keyring, None, seal)
        elif name in _COMMON:
            out[name] = _COMMON[name](state)
        elif state.kind == m.PROGRESS and name in _PROGRESS:
            out[name] = _PROGRESS[name](state)
        elif state.sealed and name in _PSYCH_META:
            out[name] = _PSYCH_META[name](state)
        elif state.sealed and _PSYCH_CATEGORY.get(name) in TIGHT_CATEGORIES:
            out[name] = [seal(e) for e in _psych_spans(state, recorded, keyring, _PSYCH_CATEGORY[name])]
    return out


def withheld(state: m.Note, fields: list) -> list[dict]:
    """``[{field, reason}]`` for the decided names a psychotherapy note does not release as excerpts
    (the free-text summary categories; see the module docstring)."""
    if not state.sealed:
        return []
    return [{"field": name, "reason": WITHHELD_SUMMARY_REASON} for name in fields
            if name in _PSYCH_CATEGORY and _PSYCH_CATEGORY[name] not in TIGHT_CATEGORIES]


def _excerpt(text: str, span: dict) -> str:
    """The span's own text, never extended, cut to ``EXCERPT_MAX`` characters (at a space when
    there is one, so no word is halved)."""
    start, end = int(span["start"]), int(span["end"])
    if not 0 <= start < end <= len(text):
        return ""
    piece = text[start:end]
    if len(piece) > EXCERPT_MAX:
        piece = piece[:EXCERPT_MAX]
        cut = piece.rfind(" ")
        piece = piece[:cut] if cut > 0 else piece
    return piece.strip()


def _psych_spans(state: m.Note, recorded: list, keyring, category: str) -> list[str]:
    """The flagged excerpts of a tight ``category`` from the current text, then from each addendum."""
    if category not in TIGHT_CATEGORIES:
        return []
    sources = [(state.text_version, state.content_in_psych_note)] + [
        (a.sealed_version, a.content_in_psych_note) for a in state.addenda]
    out = []
    for version, spans in sources:
        wanted = [s for s in spans if s["category"] == category]
        if wanted:
            text = _open_at(recorded, keyring, version)
            out += [e for e in (_excerpt(text, s) for s in wanted) if e]
    return out


def released_for_read(state: m.Note, recorded: list, keyring, decided, presentation: str | None = None,
                      seal: Sealer = REFUSE) -> dict:
    """Apply the decision to a read: the full view (:func:`note_view`) for ``full_note`` (or a plain
    ``permit`` naming no mapped field); otherwise only the mapped fields. ``permit_redacted`` never
    releases the full note: redaction of other people's information is not automated here (fail
    closed). Psychotherapy text and excerpts are sealed with ``seal``."""
    fields = list(decided.fields_released or [])
    mapped = [f for f in fields if f in KNOWN_FIELDS]
    whole = "full_note" in fields or (decided.decision == "permit" and not mapped)
    if whole and decided.decision != "permit_redacted":
        return note_view(state, recorded, keyring, presentation, seal)
    mapped = [f for f in mapped if f != "full_note"]
    return {"note_id": state.note_id, "kind": state.kind,
            "fields": release(state, recorded, keyring, mapped, seal),
            "withheld": withheld(state, mapped),
            "unmapped_fields": [f for f in fields if f not in KNOWN_FIELDS]}


# -- finding notes --------------------------------------------------------------------------

def note_ids_of_patient(store, patient_id: str, kinds=m.NOTE_KINDS) -> list[str]:
    """Ids of the patient's notes, oldest first, through the store's patient index."""
    found = []
    for kind in kinds:
        names = store.find_streams_by_patient(patient_id, DRAFTED[kind])
        found += [(e.global_position, e.data["note_id"]) for e in store.read_streams(names)
                  if e.type == DRAFTED[kind]]
    return [note_id for _, note_id in sorted(found)]


def notes_by_author(store, author_id: str, page: int = 5000) -> list[m.Note]:
    """Every note (of every kind) drafted by ``author_id``, folded, oldest first: the author's worklist.
    Reads the note categories in pages (no checkpoint kept, so every committed event is seen)."""
    notes = []
    for category, kind in NOTE_CATEGORIES.items():
        by_stream: dict[str, list] = {}
        position = 1
        while True:
            batch = store.read_category(category, from_position=position, limit=page, prefix_only=False)
            for r in batch:
                by_stream.setdefault(r.stream_name, []).append(r)
            if len(batch) < page:
                break
            position = batch[-1].global_position + 1
        for recorded in by_stream.values():
            if recorded[0].type != DRAFTED[kind] or recorded[0].data.get("author_id") != author_id:
                continue
            note_id = str(recorded[0].data["note_id"])
            state = m.fold(m.Note(note_id, kind), [from_stored(r.type, r.data) for r in recorded])
            notes.append((recorded[0].global_position, state))
    return [state for _, state in sorted(notes, key=lambda pair: pair[0])]


def worklist_row(state: m.Note) -> dict:
    """A note's metadata for its author's worklist: no content, no text."""
    return {**summary(state), "supervisor_id": state.supervisor_id, "drafted_at": state.drafted_at,
            "signed_at": state.signed_at, "cosign_required": state.cosign_required,
            "cosigned_by": state.cosigned_by, "cosigned_at": state.cosigned_at,
            "awaiting_cosign": state.awaiting_cosign, "addenda": len(state.addenda)}


# -- recorded decisions ----------------------------------------------------------------------

def _refuse(decision_id: str, why: str, rule: str | None = None) -> errors.AccessDeniedError:
    return errors.AccessDeniedError(f"decision {decision_id} {why}; nothing released", decision_id, rule)


def load_decision(store, decision_id: str, key_dir) -> tuple[dict, int]:
    """The recorded, sealed, permitting AccessDecided data of ``accessDecision-<decision_id>`` and
    the stream's last version. Raises AccessDeniedError when there is no decision, more than one,
    its seal is missing or does not verify under the decision key in ``key_dir`` (a decision
    written straight to the store), or it does not permit."""
    data, recorded = load_decision_events(store, decision_id, key_dir)
    return data, recorded[-1].stream_version


def load_decision_events(store, decision_id: str, key_dir) -> tuple[dict, list]:
    """As :func:`load_decision`, with the stream's recorded events instead of its last version (a
    caller that appends to the stream next appends at the last one's version without reading it
    again). Raises AccessDeniedError as :func:`load_decision`."""
    recorded = store.read_stream(stream_name(ACCESS_DECISION, decision_id))
    decided = [r for r in recorded if r.type == DECISION_TYPE]
    if not decided:
        raise errors.AccessDeniedError(f"no recorded decision {decision_id}", decision_id)
    if len(decided) > 1:
        log.warning("refused decision %s: %d decision events in its stream", decision_id, len(decided))
        raise _refuse(decision_id, "has more than one recorded decision event")
    data = decided[0].data
    if str(data.get("decision_id")) != str(decision_id) or not keys.verify_decision(key_dir, data, data.get("seal")):
        log.warning("refused decision %s at position %s: seal missing or wrong", decision_id,
                    decided[0].global_position)
        raise _refuse(decision_id, "is not sealed by this practice's decision key (seal missing or wrong)")
    if data.get("decision") not in PERMITS:
        raise errors.AccessDeniedError(
            f"decision {decision_id} does not permit release ({data.get('decision')})", decision_id, data.get("rule"))
    return data, recorded


def decided_at(decision: dict) -> datetime:
    """The decision's instant (aware UTC); notes are released as they stood then. Raises
    AccessDeniedError when it is missing or unreadable (fail closed)."""
    try:
        return parse_ts(str(decision.get("decided_at")), "decided_at", require_zone=True)
    except ValueError:
        raise _refuse(decision.get("decision_id"), "has no readable decided_at", decision.get("rule")) from None


def named_notes(decision: dict) -> list[str]:
    """The notes a decision names: ``note_ids`` when recorded (a disclosure), else its one ``note_id``."""
    if isinstance(decision.get("note_ids"), list):
        return [str(n) for n in decision["note_ids"]]
    return [str(decision["note_id"])] if decision.get("note_id") else []


def check_named(decision: dict, note_id: str) -> None:
    """Only a note the decision names is released; a decision naming none releases nothing."""
    named = named_notes(decision)
    if not named:
        raise _refuse(decision.get("decision_id"), "names no notes", decision.get("rule"))
    if str(note_id) not in named:
        raise _refuse(decision.get("decision_id"), f"does not name note {note_id}", decision.get("rule"))


def check_patient(decision: dict, state: m.Note) -> None:
    patient = decision.get("patient_id") or decision.get("patient")
    kind = decision.get("note_kind")
    if not patient or patient != state.patient_id or (kind and kind != state.kind):
        raise errors.AccessDeniedError(
            f"decision {decision.get('decision_id')} does not cover note {state.note_id}",
            decision.get("decision_id"), decision.get("rule"))


def check_individual(requester: dict, request: m.AccessRequest) -> None:
    if requester["role"] == "patient" and requester["id"] != request.patient_id:
        raise errors.AccessDeniedError(f"requester is not the patient of access request {request.request_id}")
