"""Re-judging past decisions with the current engine, on the facts known when each was made (issue 6.3).

For every recorded decision the case file is rebuilt from ONLY the events recorded at or before
its ``decided_at``, with the services' own code, and decided again by the current
:func:`confide.hipaa.engine.decide`:

- ``DisclosureDecided`` in ``disclosureRequest-*``: the request as folded before the decision
  (with any ``RequesterVerified``), then :func:`confide.contracts.casefile.case_as_of` -- the same
  read-only fact-gathering the disclosures service decides with (notes, their 164.501 lint
  categories, authorizations and revocations as known then).
- ``AccessDecided`` recorded by the notes service for a read (no ``request_id``; the disclosures
  service's own ``AccessDecided`` copies a ``DisclosureDecided`` and is judged through it): the
  note's facts as of the decision (:func:`confide.contracts.casefile.note_facts`), the requester and
  purpose the decision recorded, and :func:`confide.contracts.casefile.read_case`, the case file the
  notes service decides with. Facts the requester gave but the decision did not record (beyond id,
  role, org) are not available and count as absent. A recorded ``supervises_author`` (the notes
  service's supervisor fact, 164.508(a)(2)(i)(B)) is not believed on the record's word: it holds only
  when the requester was the supervisor named on the note and the directory (read only through a
  reader that checks its seals) linked them to its author at the decision time; otherwise the
  decision is reported unsupported and re-judged without it.

Everything is read through the published contracts (:mod:`confide.contracts`), never another
service's code. Requests and authorizations are read only through a reader that checks the
disclosures service's seals (:func:`confide.identity.directory_seal.SealedDisclosures`, verify only;
TypeError otherwise): an event there that it did not seal -- forged with the services' database
login, or written by a version before seals -- is not believed. It is not re-judged nor relied on,
and is listed under ``unsealed`` (stream, version, recorded_at) so it is not silently dropped.

A decision is reported when it now comes out differently (decision, controlling rule, or the
fields released) or when it is not supported by the facts then known: it names an authorization
not on file at its decision time, or notes not written by then, or other notes than the request
matched. A revocation or a note written after the decision is not among the facts then known, so
a disclosure made in reliance on an authorization revoked later is not a mismatch
(45 CFR 164.508(b)(5)).

Output (:func:`rejudge`): ``{"checked": int, "mismatches": [Mismatch.to_dict()], "unsealed": [{stream,
version, recorded_at}]}``; nothing is
written to the store and no clinical content is read beyond the lint categories.
Errors: a decision whose case the current engine rejects (``CaseFileError``) is reported as a
mismatch whose current decision is ``error`` with the message; store errors propagate.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from itertools import islice
from typing import Any, Callable, Iterable, Iterator, Optional

from confide import config, streams
from confide.contracts import casefile
from confide.contracts.directory import UNSEALED, member_as_of
from confide.contracts.disclosures import DisclosureRequestState, effective_requester, evolve
from confide.contracts.notes import DRAFTED
from confide.eventstore.interfaces import HistoryReader
from confide.timestamps import format_ts, parse_ts

Engine = Callable[[dict], Any]

#: Patients (their requests) and note reads judged per page: the facts a page needs are read in a
#: few queries (see _Prefetched) and held until the next page. A patient's page holds the patients'
#: whole histories (every note's events): few patients per page keep that memory small.
PATIENT_PAGE = 20
READ_PAGE = 500
#: The events that open the streams a request's facts live in (notes of the patient, authorizations).
#: Every stream a patient's case is built from: each note kind's (SUD counseling notes too: left out,
#: every decision looked its patient's up again, one query each) and the authorizations.
_PATIENT_STREAM_TYPES = (*DRAFTED.values(), "AuthorizationRecorded")


class _Prefetched:
    """A page cache over a HistoryReader: the streams a page of decisions needs are read in one query
    (and the patients' note and authorization streams found in one query per kind), then served from
    memory to the unchanged fact-gathering of :mod:`confide.contracts.casefile`.

    Without it re-judging asked the database several times per decision, and each disclosure
    decision re-read its patient's whole history: round trips were most of its time, growing with
    the log. What it serves is what the reader beneath returned for the same call (every event of
    each cached stream, checked for seals by that reader, in the same order); anything not cached
    goes to the reader beneath. Everything else (``seals``, the directory) is delegated unchanged.
    Memory: one page's streams (``clear`` between pages)."""

    def __init__(self, store: HistoryReader):
        self._store = store
        self._streams: dict[str, list] = {}
        self._by_patient: dict[tuple[str, str], list[str]] = {}
        self._merged: dict[tuple[str, ...], tuple] = {}  # read_streams' answers from the cache

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def clear(self) -> None:
        self._streams.clear()
        self._by_patient.clear()
        self._merged.clear()

    def prefetch(self, stream_names: Iterable[str]) -> None:
        """Read these streams (those not cached yet) in one call of the reader beneath."""
        wanted = [n for n in dict.fromkeys(stream_names) if n not in self._streams]
        if not wanted:
            return
        got: dict[str, list] = {n: [] for n in wanted}
        for event in self._store.read_streams(wanted):  # global order: each stream in version order
            got[event.stream_name].append(event)
        self._streams.update(got)

    def prefetch_patients(self, patient_ids: Iterable[str], event_types: Iterable[str]) -> list[str]:
        """Find the streams these patients' ``event_types`` events opened (one query per type where
        the reader has ``find_streams_by_patients``); returns every stream name found."""
        patients = [p for p in dict.fromkeys(patient_ids) if isinstance(p, str)]
        many = getattr(self._store, "find_streams_by_patients", None)
        names: list[str] = []
        for event_type in event_types:
            wanted = [p for p in patients if (p, event_type) not in self._by_patient]
            if not wanted:
                continue
            found = many(wanted, event_type) if many else {
                p: self._store.find_streams_by_patient(p, event_type) for p in wanted}
            for p in wanted:
                self._by_patient[(p, event_type)] = streams_found = list(found.get(p, ()))
                names += streams_found
        return names

    def read_stream(self, stream_name: str, from_version: int = 0) -> list:
        cached = self._streams.get(stream_name)
        if cached is None:
            return self._store.read_stream(stream_name, from_version)
        return [e for e in cached if e.stream_version >= from_version]

    def read_streams(self, stream_names) -> list:
        names = tuple(dict.fromkeys(stream_names))
        merged = self._merged.get(names)
        if merged is not None:  # a patient's notes, asked again for each of its decisions
            return list(merged)
        if not all(n in self._streams for n in names):
            return self._store.read_streams(names)
        out = [e for n in names for e in self._streams[n]]
        out.sort(key=lambda e: e.global_position)
        self._merged[names] = tuple(out)
        return out

    def find_streams_by_patient(self, patient_id: str, event_type: str) -> list[str]:
        cached = self._by_patient.get((patient_id, event_type))
        if cached is None:
            return self._store.find_streams_by_patient(patient_id, event_type)
        return list(cached)


def _pages(items: Iterable[Any], size: int) -> Iterator[list]:
    it = iter(items)
    while page := list(islice(it, size)):
        yield page


def _default_engine(case: dict):
    from confide.hipaa.engine import decide

    return decide(case)


def _outcome_dict(outcome) -> dict:
    return outcome.to_dict() if hasattr(outcome, "to_dict") else dict(outcome)


@dataclass
class Mismatch:
    """One decision that the current engine, on the facts then known, does not reproduce.

    ``kind``: ``disclosure`` or ``note_read``; ``recorded`` / ``current``: {decision, rule,
    fields_released, authorization_id, note_ids}; ``findings``: sentences saying what differs or
    which recorded fact was not known at ``decided_at``; ``unsupported``: True when a finding is
    of the latter sort."""

    kind: str
    decision_id: str
    decided_at: str
    patient_id: Optional[str]
    request_id: Optional[str]
    recorded: dict
    current: dict
    findings: list = field(default_factory=list)
    unsupported: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def _summary(decision: dict, *, authorization_id=None, note_ids=None) -> dict:
    return {"decision": decision.get("decision"), "rule": decision.get("rule") or "",
            "fields_released": decision.get("fields_released"), "authorization_id": authorization_id,
            "note_ids": list(note_ids or [])}


def _same_fields(a, b) -> bool:
    return sorted(a or []) == sorted(b or [])


def _outcome_findings(recorded: dict, current: dict) -> list[str]:
    out = []
    if recorded["decision"] != current["decision"]:
        out.append(f"decision: recorded {recorded['decision']}, now {current['decision']}")
    if recorded["rule"] != current["rule"]:
        out.append(f"rule: recorded {recorded['rule']!r}, now {current['rule']!r}")
    if not _same_fields(recorded["fields_released"], current["fields_released"]):
        out.append(f"fields released: recorded {sorted(recorded['fields_released'] or [])}, "
                   f"now {sorted(current['fields_released'] or [])}")
    return out


def _judge(engine: Engine, case: dict) -> dict:
    try:
        return _outcome_dict(engine(case))
    except ValueError as exc:  # CaseFileError: the current engine cannot read this case
        return {"decision": "error", "rule": str(exc), "fields_released": None}


# -- disclosures -------------------------------------------------------------------------------

def _unsealed_entry(event) -> dict:
    return {"stream": event.stream_name, "version": event.stream_version,
            "recorded_at": format_ts(event.recorded_at) if event.recorded_at else None}


def unsealed_disclosure_events(store: HistoryReader) -> list[dict]:
    """Every event of a request or authorization stream the disclosures service did not seal (not
    believed), in global order: {stream, version, recorded_at}."""
    casefile.require_sealed(store, streams.DISCLOSURE_REQUEST, streams.AUTHORIZATION)
    return [_unsealed_entry(e) for category in (streams.DISCLOSURE_REQUEST, streams.AUTHORIZATION)
            for e in casefile.iter_category(store, category) if e.type == UNSEALED]


def _requests_by_patient(store: HistoryReader) -> list[list[str]]:
    """Every request stream, grouped by the patient its ``DisclosureRequested`` names (a stream with
    none, or a malformed one, in a group of its own), groups in order of first appearance."""
    groups: dict[Any, list[str]] = {}
    seen: set[str] = set()
    for event in casefile.iter_category(store, streams.DISCLOSURE_REQUEST):
        name = event.stream_name
        if name in seen:
            continue
        seen.add(name)
        patient = event.data.get("patient_id") if event.type == "DisclosureRequested" else None
        groups.setdefault(patient if isinstance(patient, str) else ("", name), []).append(name)
    return list(groups.values())


def rejudge_disclosures(store: HistoryReader, engine: Engine) -> Iterator[Optional[Mismatch]]:
    """A Mismatch (or None when it holds) for every ``DisclosureDecided`` the disclosures service
    sealed, of a request it sealed (see the module docstring).

    Requests are judged patient by patient, a page of patients at a time: a page's requests, their
    patients' note and authorization streams and any authorization they name are read in a few
    queries, so each patient's history is read once, however many requests it has (reading it again
    for every decision made re-judging grow with the square of a patient's history)."""
    casefile.require_sealed(store, streams.DISCLOSURE_REQUEST, streams.AUTHORIZATION)
    reader = _Prefetched(store)
    for groups in _pages(_requests_by_patient(store), PATIENT_PAGE):
        page = [name for group in groups for name in group]
        reader.clear()
        reader.prefetch(page)
        patients, named = set(), set()
        for name in page:
            for event in reader.read_stream(name):
                data = event.data
                if isinstance(data.get("patient_id"), str):
                    patients.add(data["patient_id"])
                if isinstance(data.get("authorization_id"), str) and data["authorization_id"]:
                    named.add(streams.stream_name(streams.AUTHORIZATION, data["authorization_id"]))
        found = reader.prefetch_patients(sorted(patients), _PATIENT_STREAM_TYPES)
        reader.prefetch([*found, *sorted(named)])
        for name in page:
            state = DisclosureRequestState(streams.id_of(name))
            for event in reader.read_stream(name):
                if event.type == "DisclosureDecided" and state.request:
                    yield _judge_disclosure(reader, engine, state, event.data)
                state = evolve(state, event.type, event.data)


def _judge_disclosure(store, engine, state, decided: dict) -> Optional[Mismatch]:
    at = parse_ts(decided["decided_at"])
    request = state.request
    gathered = casefile.case_as_of(store, request, effective_requester(state), at, practice=config.practice())
    current_auth = gathered.authorization.authorization_id if gathered.authorization else None
    recorded = _summary(decided, authorization_id=decided.get("authorization_id"), note_ids=decided.get("note_ids"))
    current = _summary(_judge(engine, gathered.case), authorization_id=current_auth,
                       note_ids=[n["note_id"] for n in gathered.notes])
    findings = _outcome_findings(recorded, current)
    unsupported = []
    named = decided.get("authorization_id")
    if named and not casefile.authorization_as_of(store, named, at).exists:
        unsupported.append(f"authorization {named} was not on file at the decision time")
    elif named != current_auth:
        findings.append(f"authorization: recorded {named}, on the facts then known {current_auth}")
    known = {n["note_id"] for n in gathered.known_notes}
    unwritten = [n for n in recorded["note_ids"] if n not in known]
    if unwritten:
        unsupported.append(f"note(s) {', '.join(unwritten)} were not written by the decision time")
    elif sorted(recorded["note_ids"]) != sorted(current["note_ids"]):
        findings.append(f"notes: recorded {sorted(recorded['note_ids'])}, matched then {sorted(current['note_ids'])}")
    if not findings and not unsupported:
        return None
    return Mismatch("disclosure", decided["decision_id"], decided["decided_at"], request.get("patient_id"),
                    decided.get("request_id") or state.request_id, recorded, current,
                    unsupported + findings, bool(unsupported))


# -- note reads ----------------------------------------------------------------------------------

def rejudge_note_reads(store: HistoryReader, engine: Engine) -> Iterator[Optional[Mismatch]]:
    """A Mismatch (or None when it holds) for every ``AccessDecided`` the notes service recorded for a read."""
    reader = _Prefetched(store)
    reads = (data for event in casefile.iter_category(store, streams.ACCESS_DECISION)
             if event.type == "AccessDecided" and not (data := event.data).get("request_id") and data.get("note_id"))
    for page in _pages(reads, READ_PAGE):
        reader.clear()
        # every note a page of decisions read, both kinds' streams, in one query
        reader.prefetch(name for data in page for name in _note_streams(str(data["note_id"])))
        for data in page:
            yield _judge_read(reader, engine, data)


def _judge_read(store, engine, decided: dict) -> Optional[Mismatch]:
    missing = [k for k in ("decision_id", "decided_at", "purpose", "decision") if not decided.get(k)]
    if missing:  # a record an auditor cannot re-judge is itself a finding
        recorded = _summary({"decision": decided.get("decision"), "rule": decided.get("rule")},
                            note_ids=[decided["note_id"]])
        current = _summary({"decision": "error", "rule": "incomplete decision record"})
        return Mismatch("note_read", decided.get("decision_id") or "?", decided.get("decided_at") or "",
                        decided.get("patient_id"), None, recorded, current,
                        [f"decision record lacks {', '.join(missing)}: it cannot be re-judged"], True)
    at = parse_ts(decided["decided_at"])
    recorded = _summary(decided, note_ids=[decided["note_id"]])
    note = _note_as_of(store, decided["note_id"], at)
    if note is None:
        current = _summary({"decision": "error", "rule": "note not on file at the decision time"})
        return Mismatch("note_read", decided["decision_id"], decided["decided_at"], decided.get("patient_id"), None,
                        recorded, current, [f"note {decided['note_id']} was not written by the decision time"],
                        True)
    requester = dict(decided.get("requester") or {})
    unsupported = []
    if requester.get("supervises_author") is True:
        why = _supervision_unsupported(store, decided["note_id"], note, requester.get("id"), at)
        if why:  # not believed: re-judged as the requester stands without it
            unsupported.append(f"supervises_author: {why}")
            requester.pop("supervises_author")
    case = casefile.read_case(note, requester, decided["purpose"], decided.get("action") or "use",
                              decided["decided_at"], practice=config.practice())
    current = _summary(_judge(engine, case), note_ids=[note["note_id"]])
    findings = _outcome_findings(recorded, current)
    if not findings and not unsupported:
        return None
    return Mismatch("note_read", decided["decision_id"], decided["decided_at"], decided.get("patient_id"), None,
                    recorded, current, unsupported + findings, bool(unsupported))


def _supervision_unsupported(store, note_id: str, note: casefile.NoteFacts, requester_id, at) -> Optional[str]:
    """Why a recorded ``supervises_author`` fact is not supported by the facts then known, or None.

    The notes service sets it when the requester is the supervisor named on the note and the directory
    links them to its author (164.508(a)(2)(i)(B)); the re-judging checks both again as of ``at``
    rather than believing the record (the services' database login can append a decision). Directory
    facts count only through a reader that checks the directory's seals
    (:class:`confide.identity.directory_seal.SealedDirectory`); without one the fact cannot be checked."""
    named = None
    kinds = _note_streams(note_id)
    for e in store.read_streams(list(kinds)):  # both kinds' streams in one read
        if e.type == DRAFTED[kinds[e.stream_name]] and e.recorded_at <= at:
            named = e.data.get("supervisor_id")
    if not requester_id or named != requester_id:
        return f"{requester_id} was not the supervisor named on note {note_id} (named: {named})"
    if not getattr(store, "verifies_directory_seals", False):
        return "cannot be checked: directory facts are read only through a reader that checks the directory's seals"
    sup = member_as_of(store, requester_id, at)
    if sup is None or not sup.active or "supervisor" not in sup.roles or note.get("author_id") not in sup.supervisees:
        return f"the directory did not link {requester_id} as an active supervisor of {note.get('author_id')} then"
    return None


def _note_streams(note_id: str) -> dict[str, str]:
    """{stream name: note kind} of the streams a note of either kind would have, in NOTE_CATEGORIES order."""
    return {streams.stream_name(category, note_id): kind for category, kind in casefile.NOTE_CATEGORIES.items()}


def _note_as_of(store, note_id: str, at) -> Optional[casefile.NoteFacts]:
    """The note's facts from the events recorded by ``at``; None when it was not written by then."""
    kinds = _note_streams(note_id)
    recorded: dict[str, list] = {}
    for e in store.read_streams(list(kinds)):  # both kinds' streams in one read, each in version order
        if e.recorded_at <= at:  # data decoded only where note_facts reads it
            read = casefile.FACT_TYPES[kinds[e.stream_name]]
            recorded.setdefault(e.stream_name, []).append((e.type, e.data if e.type in read else {}))
    for name, kind in kinds.items():
        if recorded.get(name):
            return casefile.note_facts(kind, recorded[name], note_id)
    return None


# -- the whole log -------------------------------------------------------------------------------

def rejudge(store: HistoryReader, engine: Optional[Engine] = None) -> dict:
    """Re-judge every past decision in ``store`` (see the module docstring).

    Returns {"checked": int, "mismatches": [Mismatch.to_dict(), ...] ordered by decision time,
    "unsealed": [{stream, version, recorded_at}, ...]}. Reads only. ``store`` checks the disclosures
    service's seals (TypeError otherwise). Raises whatever the store raises (e.g. EventStoreError).
    """
    engine = engine or _default_engine
    unsealed = unsealed_disclosure_events(store)
    checked, mismatches = 0, []
    for source in (rejudge_disclosures(store, engine), rejudge_note_reads(store, engine)):
        for mismatch in source:
            checked += 1
            if mismatch is not None:
                mismatches.append(mismatch)
    mismatches.sort(key=lambda m: (m.decided_at, m.decision_id))
    return {"checked": checked, "mismatches": [m.to_dict() for m in mismatches], "unsealed": unsealed}

