"""``confide demo``: the shipped real data through the running stack, end to end.

Steps (each shows progress; the output carries counts, ids, decisions and
rules — never note text or clinical content):

1. ``GET <gateway>/health``; exit 1 with "run `make run` in another terminal"
   when the stack is not up.
2. Read the Synthea bundles in place (:mod:`confide_app.synthea`) and set up who acts
   (:mod:`confide_app.identities`: the installation's own front-door key, set-up and demo only):
   with no practice admin in the directory, enrol the demo's (``directory.enrol_first_admin`` as
   the ``cli`` service); as the practice admin, enrol one clinician per Synthea practitioner whose
   notes are imported (role clinician) and an auditor, register the imported patients and the
   payers of step 4 (with the JWKS their SMART clients sign with). Then, over nameko RPC to the
   ``notes`` service, each clinician writes and signs their own progress and psychotherapy notes
   (the author is the caller). Note ids are deterministic, so a second run finds the notes already
   there (counted as "already on file") instead of duplicating them; directory entries already
   there are kept (a payer gets this run's keys).
3. The author of one psychotherapy note reads it (permitted, recorded) and
   another clinician of the practice tries (denied, recorded).
4. Submit every ``<data dir>/payer-requests/davinci-cdex/cdex-task-example*.json``
   to ``POST /fhir/Task`` with an access token of the payer the Task's ``requester``
   names (the gateway refuses a Task sent on another's behalf), obtained the SMART
   Backend Services way: at demo time each payer gets a fresh ES384 key pair, is
   registered (``insurer_health_plan``) with its public JWKS in the directory (step 2; the one payer
   registry, which the gateway reads), signs a client assertion and calls ``POST /oauth/token``. The examples name HL7's
   sample member "Member123" or a sample Patient, who is not ours: Task *i* is
   pointed at imported patient *i mod n* by setting ``Task.for.identifier`` to
   ``{"system": "urn:confide:patient-id", "value": <patient id>}`` (a ``type``
   already there is kept). Nothing else changes: ``for.reference``/``display`` and
   any contained Patient stay, so the Task remains valid FHIR, and the gateway
   reads ``for.identifier`` first. Then one psychotherapy-note request without an
   authorization goes to ``POST /disclosure-requests`` as "Acme Health Plan" (expected: denied under
   45 CFR 164.508(a)(2)). Each request is polled until it leaves ``requested``.
5. Wait until the audit service has sealed and relayed every event
   (``audit.status``, asked as the demo's auditor), then run the same verify and replay the
   ``confide audit verify`` / ``replay`` commands run, in-process; replay is
   retried briefly while the projections consume the last relayed events.
6. A summary table. Exit 0 when verify passes and replay matches, else 1.
7. Demo accounts at the web front door (:data:`DEMO_ACCOUNTS`): one person per role — the clinician
   who wrote the psychotherapy note of step 3 (they find their own notes and who has seen them), a
   trainee supervised by a supervisor, front desk, release of information, privacy officer, the
   auditor, the practice admin — and two demo patients; the members are enrolled in the directory in
   step 2 (as the practice admin; the supervision linked). Each gets a one-time enrolment link
   (``confide web enrolment-links``: 24 h, stored hashed, printed once, for local use only; the web
   database must be reachable, as it is after ``make run``'s set-up). A second run issues new links
   for the same people (their earlier unused links stop working) and says so; someone who has set a
   password already gets none (they sign in).

Options override the environment (``CONFIDE_GATEWAY_URL``, ``CONFIDE_AMQP_URI``,
``CONFIDE_DB_SCHEMA``, ``CONFIDE_DATA_DIR``; the store DSN, key and checkpoint
directories come from ``confide.config``).
"""
from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import click

from confide import config, transport
from confide_app.identities import (
    Installation,
    Who,
    enrol_members,
    practice_admin,
    register_patients,
    register_payers,
)

INSURER_ORG = "Acme Health Plan"
INSURER_ROLE = "insurer_health_plan"
PRACTICE = "Confide demo practice"
#: Demo people besides the Synthea practitioners: the auditor who asks audit.status, and a second
#: clinician for the denied psychotherapy-note read when the imported notes have a single author.
AUDITOR = "demo-auditor"
OTHER_CLINICIAN = "demo-clinician"
CLINICIAN_CREDENTIALS = "clinician (Synthea)"
SUPERVISOR = "demo-supervisor"
TRAINEE = "demo-trainee"
#: Staff enrolled for the demo's accounts (step 7): (member id, name, credentials, roles).
DEMO_STAFF = (
    (SUPERVISOR, "Demo supervisor", "LCSW-S (demo)", ("clinician", "supervisor")),
    (TRAINEE, "Demo trainee", "MSW intern (demo)", ("trainee",)),
    ("demo-front-desk", "Demo front desk", "front desk (demo)", ("front_desk",)),
    ("demo-release-of-information", "Demo release of information", "ROI specialist (demo)",
     ("release_of_information",)),
    ("demo-privacy-officer", "Demo privacy officer", "privacy officer (demo)", ("privacy_officer",)),
)
#: How many imported patients get a portal account.
PORTAL_PATIENTS = 2
ACCOUNTS_NOTE = "expires in 24 h, shown once"
PATIENT_ID_SYSTEM = "urn:confide:patient-id"
PSYCHOTHERAPY_RULE = "164.508(a)(2)"
PERMITS = {"permit", "permit_minimum_necessary", "permit_redacted"}
UNDECIDED = {"requested", "on_hold", "on-hold"}


class DemoError(click.ClickException):
    """A step failed; the message says which and what to do (exit 1)."""

    exit_code = 1


@dataclass
class Decision:
    """One request's outcome as printed: ``kind`` (cdex task | psychotherapy), source, patient, result, rule."""

    label: str
    request_id: str
    patient_id: str
    note_kind: str
    status: str
    decision: str
    rule: str

    @property
    def permitted(self) -> bool:
        return self.decision in PERMITS


@dataclass
class DemoSummary:
    """What the demo did; ``ok`` is verify passed and replay matched."""

    patients: int = 0
    progress_notes: int = 0
    psychotherapy_notes: int = 0
    already_on_file: int = 0
    reads: list = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    events: int = 0
    verify_ok: bool = False
    verify_text: str = ""
    replay_ok: bool = False
    replay_text: str = ""
    elapsed: float = 0.0
    selection: Counter = field(default_factory=Counter)
    accounts: list = field(default_factory=list)

    @property
    def permitted(self) -> int:
        return sum(d.permitted for d in self.decisions)

    @property
    def denied(self) -> int:
        return sum(not d.permitted and d.status not in UNDECIDED for d in self.decisions)

    @property
    def undecided(self) -> int:
        return sum(d.status in UNDECIDED for d in self.decisions)

    @property
    def ok(self) -> bool:
        return self.verify_ok and self.replay_ok


# -- HTTP ---------------------------------------------------------------------------------------

def _http(method: str, url: str, body: Optional[dict] = None, token: Optional[str] = None,
          timeout: float = 30) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Accept": "application/json"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    from gateway.client import send

    return send(urllib.request.Request(url, data=data, method=method, headers=headers), timeout)


def check_health(gateway: str) -> None:
    """Raise DemoError unless ``GET /health`` answers 200."""
    try:
        status, body = _http("GET", f"{gateway}/health", timeout=5)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DemoError(f"the Confide stack is not running: no gateway at {gateway} ({reason}).\n"
                        "Start it with `make run` in another terminal, then run `make demo` again.") from None
    if status != 200:
        deps = body.get("dependencies") if isinstance(body, dict) else None
        down = ", ".join(f"{name} {dep.get('status')} ({dep.get('detail', '')})" for name, dep in (deps or {}).items()
                         if isinstance(dep, dict) and dep.get("status") != "ok") or "no details"
        raise DemoError(f"the gateway at {gateway} answers {status}: {down}. "
                        "Fix that (or restart `make run`) and try again.")


# -- CDex tasks ---------------------------------------------------------------------------------

def cdex_task_files(data_dir: Path) -> list[Path]:
    """The Da Vinci CDex Task examples, in numeric order."""
    folder = data_dir / "payer-requests" / "davinci-cdex"
    files = list(folder.glob("cdex-task-example*.json"))

    def number(p: Path) -> int:
        digits = "".join(ch for ch in p.stem.rsplit("example", 1)[-1] if ch.isdigit())
        return int(digits or 0)

    return sorted(files, key=number)


def point_task_at(task: dict, patient_id: str) -> dict:
    """A copy of ``task`` whose ``for.identifier`` names ``patient_id`` (see module docstring)."""
    task = copy.deepcopy(task)
    subject = task.get("for") if isinstance(task.get("for"), dict) else {}
    identifier = {"system": PATIENT_ID_SYSTEM, "value": patient_id}
    old = subject.get("identifier")
    if isinstance(old, dict) and old.get("type"):
        identifier = {"type": old["type"], **identifier}
    task["for"] = {**subject, "identifier": identifier}
    return task


# -- RPC helpers --------------------------------------------------------------------------------

def _remote_type(exc: Exception) -> str:
    return getattr(exc, "exc_type", "") or type(exc).__name__


def _settle(reply) -> Optional[str]:
    """Wait for an async RPC reply; None on success, the remote error type when it raised."""
    try:
        reply.result()
        return None
    except Exception as exc:
        return _remote_type(exc)


# -- the demo -----------------------------------------------------------------------------------

def _progress(console):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description:<34}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console)


def clinician(member_id: str) -> Who:
    """A demo clinician as they act (role clinician, of the practice)."""
    return Who(member_id, ("clinician",), PRACTICE)


def set_up_people(inst: Installation, store, patients, payer_jwks: dict) -> tuple[Who, Who]:
    """The directory entries the demo acts with (module docstring, step 2) -> (the auditor, the admin)."""
    admin = practice_admin(inst, store, PRACTICE)
    authors = {n["author"]["id"]: n["author"] for p in patients for n in p.progress_notes + p.psychotherapy_notes}
    members = [{"member_id": a["id"], "name": a.get("name") or a["id"], "credentials": CLINICIAN_CREDENTIALS,
                **({"npi": a["id"][4:]} if re.fullmatch(r"npi-[0-9]{10}", a["id"]) else {})} for a in authors.values()]
    if len(authors) < 2:  # someone other than the author to be denied the psychotherapy note
        members.append({"member_id": OTHER_CLINICIAN, "name": "Demo clinician", "credentials": CLINICIAN_CREDENTIALS})
    enrol_members(inst, admin, members, "clinician")
    enrol_members(inst, admin, [{"member_id": AUDITOR, "name": "Demo auditor", "credentials": "auditor"}], "auditor")
    for member_id, name, credentials, roles in DEMO_STAFF:  # one per role, for the front door (step 7)
        for role in roles:  # already enrolled: granted the role (no event when it is held)
            enrol_members(inst, admin, [{"member_id": member_id, "name": name, "credentials": credentials}], role)
    with inst.rpc(admin) as rpc:
        rpc.directory.link_supervision(SUPERVISOR, TRAINEE)  # no event when already linked
    missing = [p.patient_id for p in patients if not p.birth_date]
    if missing:
        raise DemoError(f"Synthea Patient {missing[0]} has no birthDate: the directory registers none without one")
    register_patients(inst, admin, [{"patient_id": p.patient_id, "name": p.name or p.patient_id,
                                     "date_of_birth": p.birth_date} for p in patients])
    register_payers(inst, admin, [{"org": org, "name": org, "engine_role": INSURER_ROLE, "jwks": jwks}
                                  for org, jwks in payer_jwks.items()])
    return Who(AUDITOR, ("auditor",), PRACTICE), admin


@dataclass
class DemoAccount:
    """One demo person at the front door: the role they show, their id, the roles of their link, and
    what ``confide web enrolment-links`` said (status new | renewed | enrolled, the link or None)."""

    role: str
    member_id: str
    roles: tuple[str, ...]
    status: str = ""
    link: Optional[str] = None
    expires_in_hours: Optional[float] = None


def demo_accounts(patients, admin: Who) -> list[DemoAccount]:
    """Who gets a demo account (module docstring, step 7), one row per role shown."""
    psychotherapy = next((n for p in patients for n in p.psychotherapy_notes), None)
    author = psychotherapy["author"]["id"] if psychotherapy else next(a for p in patients for a in p.authors)
    staff = {member_id: roles for member_id, _name, _cred, roles in DEMO_STAFF}
    rows = [DemoAccount("clinician", author, ("clinician",)),
            DemoAccount("supervisor", SUPERVISOR, staff[SUPERVISOR]),
            DemoAccount("trainee", TRAINEE, staff[TRAINEE])]
    rows += [DemoAccount(roles[0], member_id, roles) for member_id, roles in staff.items()
             if member_id not in (SUPERVISOR, TRAINEE)]
    rows += [DemoAccount("auditor", AUDITOR, ("auditor",)),
             DemoAccount("practice_admin", admin.subject, ("practice_admin",))]
    rows += [DemoAccount("patient", p.patient_id, ("patient",)) for p in patients[:PORTAL_PATIENTS]]
    return rows


def issue_enrolment_links(accounts: list[DemoAccount], timeout: float = 120) -> list[DemoAccount]:
    """One-time links for ``accounts`` from the web front door's database (``confide web
    enrolment-links``, in its own process: Django's settings come from this environment)."""
    people = [{"member_id": a.member_id, "roles": list(a.roles)} for a in accounts]
    try:
        out = subprocess.run([sys.executable, "-m", "confide_app.cli", "web", "enrolment-links"],
                             input=json.dumps(people), capture_output=True, text=True, timeout=timeout,
                             env=os.environ.copy())
    except subprocess.TimeoutExpired:
        raise DemoError(f"`confide web enrolment-links` did not answer within {timeout:g}s") from None
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise DemoError(f"no demo accounts: `confide web enrolment-links` failed: {last}\n"
                        "The web front door's database must be reachable: run `make run` (its set-up "
                        "creates it), then `make demo` again.")
    by_id = {row["member_id"]: row for row in json.loads(out.stdout.strip().splitlines()[-1])}
    for account in accounts:
        row = by_id[account.member_id]
        account.status, account.link, account.expires_in_hours = row["status"], row["link"], row["expires_in_hours"]
    return accounts


def import_notes(inst: Installation, patients, progress, summary: DemoSummary) -> None:
    """Each clinician writes and signs their own notes of every patient (async RPCs per patient and author)."""
    total = sum(len(p.progress_notes) + len(p.psychotherapy_notes) for p in patients)
    task = progress.add_task("writing and signing notes", total=total)
    # Psychotherapy text crosses the broker only sealed to the notes service's transport key.
    notes_key = None
    if any(p.psychotherapy_notes for p in patients):
        with inst.rpc(None) as rpc:
            notes_key = rpc.notes.transport_public_key()
    for patient in patients:
        by_author: dict[str, list] = {}
        for kind, notes in (("progress", patient.progress_notes), ("psychotherapy", patient.psychotherapy_notes)):
            for note in notes:
                by_author.setdefault(note["author"]["id"], []).append((kind, note))
        for author, written in by_author.items():
            with inst.rpc(clinician(author)) as rpc:  # the author is the caller
                writes = []
                for kind, note in written:
                    if kind == "progress":
                        payload = {k: note[k] for k in ("note_id", "patient_id", "content")}
                        writes.append((kind, note, rpc.notes.write_progress_note.call_async(payload)))
                    else:
                        payload = {k: note[k] for k in ("note_id", "patient_id", "session_date")}
                        payload["sealed_text"] = transport.seal_for(notes_key, note["text"])
                        writes.append((kind, note, rpc.notes.write_psychotherapy_note.call_async(payload)))
                signs = []
                for kind, note, reply in writes:
                    error = _settle(reply)
                    if error == "NoteExistsError":
                        summary.already_on_file += 1
                    elif error:
                        raise DemoError(f"notes.write_{kind}_note failed for note {note['note_id']}: {error}")
                    signs.append((kind, note, rpc.notes.sign_note.call_async(note["note_id"])))
                for kind, note, reply in signs:
                    error = _settle(reply)
                    if error and error != "NoteSignedError":
                        raise DemoError(f"notes.sign_note failed for note {note['note_id']}: {error}")
                    if kind == "progress":
                        summary.progress_notes += 1
                    else:
                        summary.psychotherapy_notes += 1
                    progress.advance(task)
        summary.patients += 1


def psychotherapy_reads(inst: Installation, patients) -> list[dict]:
    """The author reads one psychotherapy note; another clinician tries. -> [{who, note_id, decision, rule}].
    Each reads as themself (their own assertion): the notes service takes the requester from it."""
    note = next((n for p in patients for n in p.psychotherapy_notes), None)
    if note is None:
        return []
    author = note["author"]["id"]
    others = [a for p in patients for a in p.authors if a != author]
    other = others[0] if others else OTHER_CLINICIAN
    results = []
    for who, requester_id in (("author", author), ("other clinician", other)):
        try:
            # The text comes back sealed to this read's ephemeral key (opened only to check it opens).
            key, reply_key = transport.ephemeral()
            with inst.rpc(clinician(requester_id)) as rpc:
                sealed = rpc.notes.read_note(note["note_id"], "treatment", reply_public_key=reply_key)
            reply = transport.open_tree(key, sealed)
            decision = reply["decision"]
            results.append({"who": who, "requester": requester_id, "note_id": note["note_id"],
                            "decision": decision["decision"], "rule": decision.get("rule") or ""})
            del reply  # the released note is not shown
        except Exception as exc:
            if _remote_type(exc) != "AccessDeniedError":
                raise DemoError(f"notes.read_note failed: {_remote_type(exc)}") from None
            match = re.search(r"not permitted \((\w+); (.*)\); decision", str(getattr(exc, "value", exc)))
            results.append({"who": who, "requester": requester_id, "note_id": note["note_id"],
                            "decision": match.group(1) if match else "deny", "rule": match.group(2) if match else ""})
    return results


def _poll(gateway: str, path: str, token: str, done, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status, body = _http("GET", f"{gateway}{path}", token=token)
        if status != 200:
            raise DemoError(f"GET {path} answered {status}: {body.get('error')}")
        if done(body) or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


def payer_of(task: dict) -> str:
    """The organisation a CDex Task says it comes from (its first ``requester`` name), else INSURER_ORG.

    The gateway only accepts a Task sent on the requester's own behalf, so each
    shipped example is sent with a token issued to the payer it names.
    """
    from gateway.cdex import requester_names

    names = requester_names(task)
    return names[0] if names else INSURER_ORG


def demo_payers(data_dir: Path) -> list[str]:
    """The payers the demo sends requests as: those the CDex Tasks name, and INSURER_ORG."""
    orgs = [payer_of(json.loads(path.read_text())) for path in cdex_task_files(data_dir)] + [INSURER_ORG]
    return list(dict.fromkeys(orgs))


def payer_tokens(gateway: str, orgs: list[str]):
    """-> (``{org: public JWKS}``, ``token_for(org)``: an access token of payer ``org`` from
    ``<gateway>/oauth/token``).

    Each org gets a fresh ES384 key pair now; its public JWKS is returned for the directory, the
    one payer registry (the caller registers it there as the practice admin, or re-keys it on a
    later run; the gateway and every service's identity gate read it from there). A token is
    reused until it has less than a minute left.
    """
    from gateway import client

    keys = {org: client.new_key() for org in orgs}
    jwks = {org: client.public_jwks(key) for org, key in keys.items()}
    held: dict[str, tuple[str, float]] = {}
    token_url = f"{gateway}/oauth/token"

    def token_for(org: str) -> str:
        token, until = held.get(org, ("", 0.0))
        if time.monotonic() < until - 60:
            return token
        if org not in keys:
            raise DemoError(f"payer {org!r} was not set up for the demo (see demo_payers)")
        status, body = client.request_token(token_url, org, keys[org])
        if status != 200:
            raise DemoError(f"POST /oauth/token for payer {org!r} answered {status}: {body.get('error')} "
                            f"({body.get('error_description')})")
        held[org] = (body["access_token"], time.monotonic() + int(body["expires_in"]))
        return body["access_token"]

    return jwks, token_for


def submit_requests(gateway: str, token_for, data_dir: Path, patients, progress, timeout: float) -> list[Decision]:
    """The CDex Tasks, then the unauthorized psychotherapy-note request; each polled until decided.

    ``token_for(org)`` returns an access token of that payer (:func:`payer_tokens`).
    """
    files = cdex_task_files(data_dir)
    if not files:
        raise DemoError(f"no CDex Task examples under {data_dir / 'payer-requests' / 'davinci-cdex'}")
    task_bar = progress.add_task("insurer requests (gateway)", total=len(files) + 1)
    decisions = []
    for i, path in enumerate(files):
        patient = patients[i % len(patients)]
        task = point_task_at(json.loads(path.read_text()), patient.patient_id)
        token = token_for(payer_of(task))
        status, body = _http("POST", f"{gateway}/fhir/Task", task, token)
        if status not in (200, 201):  # 200: the same Task was already submitted by an earlier run
            raise DemoError(f"POST /fhir/Task ({path.name}) answered {status}: {body.get('error')} "
                            f"(field {body.get('field')})")
        rid = body["id"]
        _poll(gateway, f"/fhir/Task/{rid}", token, lambda t: t.get("status") not in ("requested", "on-hold"), timeout)
        view = _poll(gateway, f"/disclosure-requests/{rid}", token, lambda v: v.get("status") not in UNDECIDED, 0)
        decisions.append(_decision(path.stem, view))
        progress.advance(task_bar)
    target = next((p for p in patients if p.psychotherapy_notes), patients[0])
    body = {"patient_id": target.patient_id, "note_kind": "psychotherapy", "purpose": "payment",
            "claim_id": "DEMO-PSYCHOTHERAPY-1"}
    token = token_for(INSURER_ORG)
    status, reply = _http("POST", f"{gateway}/disclosure-requests", body, token)
    if status not in (200, 201):
        raise DemoError(f"POST /disclosure-requests answered {status}: {reply.get('error')}")
    view = _poll(gateway, f"/disclosure-requests/{reply['id']}", token,
                 lambda v: v.get("status") not in UNDECIDED, timeout)
    decisions.append(_decision("psychotherapy notes, no authorization", view))
    progress.advance(task_bar)
    return decisions


def _decision(label: str, view: dict) -> Decision:
    decision = view.get("decision") or {}
    refusal = view.get("refusal") or {}
    hold = view.get("hold") or {}
    rule = decision.get("rule") or refusal.get("rule") or hold.get("rule") or ""
    return Decision(label, view["id"], view["patient_id"], view["note_kind"], view["status"],
                    decision.get("decision") or ("hold" if view["status"] == "on_hold" else view["status"]), rule)


def wait_for_audit(inst: Installation, auditor: Who, timeout: float, progress) -> dict:
    """Until the audit service has sealed and relayed up to the current head (``audit.status``, asked as
    ``auditor``). Raises DemoError on timeout."""
    def audit_status() -> dict:
        with inst.rpc(auditor) as rpc:  # a fresh assertion for each poll
            return rpc.audit.status()

    status = audit_status()
    head = status["head_position"] or 0
    bar = progress.add_task("audit: sealing and relaying", total=max(head, 1))
    deadline = time.monotonic() + timeout
    while True:
        relayed = status.get("relayed_position") or 0
        progress.update(bar, completed=min(relayed, head))
        if relayed >= head and status.get("sealed_index") is not None:
            return status
        if time.monotonic() > deadline:
            raise DemoError(f"the audit service relayed up to {relayed} of {head} within {timeout:g}s; "
                            "is the audit service running? (see the `make run` terminal)")
        time.sleep(0.5)
        status = audit_status()


def verify_and_replay(schema: str, progress, summary: DemoSummary, attempts: int = 20) -> None:
    """The functions behind ``confide audit verify`` and ``confide audit replay``, in-process."""
    from audit.replay import replay as run_replay
    from confide.eventstore.chain import load_chain_key
    from confide.eventstore.chain import verify as run_verify
    from confide.eventstore.store import PostgresEventStore
    from confide.keys import load_public_key

    store = PostgresEventStore(config.db_dsn(), schema=schema, pool_size=2)
    try:
        head = store.head_position()
        bar = progress.add_task("audit verify", total=max(head, 1))
        report = run_verify(store, load_chain_key(config.key_dir()), load_public_key(config.key_dir()),
                            config.checkpoint_dir(), progress=lambda n: progress.update(bar, completed=n))
        progress.update(bar, completed=report.events)
        summary.events = report.events
        summary.verify_ok = bool(report.ok)
        summary.verify_text = (f"OK — {report.events} events, {report.sealed} sealed, "
                               f"{report.checkpoints} signed checkpoints" if report.ok
                               else f"FAILED at global position {report.first_bad_position}")
        bar = progress.add_task("audit replay", total=max(head, 1))
        for _attempt in range(attempts):
            progress.reset(bar, total=max(head, 1))
            result = run_replay(store, None, progress=lambda n: progress.update(bar, completed=n))
            if result.matches:
                break
            time.sleep(0.5)  # the projections are still consuming the last relayed events
        summary.replay_ok = bool(result.matches)
        differing = [n for n, p in result.projections.items() if p["missing_live"] or p["extra_live"]]
        summary.replay_text = (
            f"live projections match ({len(result.projections)} rebuilt from {result.events} events)"
            if result.matches else "DIFFERS: " + ", ".join(
                f"{n} (missing live {result.projections[n]['missing_live']}, "
                f"extra/different live {result.projections[n]['extra_live']})" for n in differing)
            + " — see `confide audit replay`")
    finally:
        store.close()


def run_demo(gateway: str, amqp_uri: str, schema: str, data_dir: Path, limit: Optional[int],
             timeout: float = 120, console=None) -> DemoSummary:
    """Run every step (module docstring) and return the summary. Raises DemoError naming the failed step."""
    from rich.console import Console

    from confide_app import synthea

    console = console or Console()
    started = time.monotonic()
    summary = DemoSummary()
    check_health(gateway)
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    from confide.eventstore.store import PostgresEventStore

    console.print(f"[green]✓[/] stack is up at {gateway}")

    patients = synthea.load_patients(data_dir, limit=limit, stats=summary.selection)
    if not patients:
        raise DemoError(f"no behavioral-health patients found in {synthea.synthea_dir(data_dir)}")
    sel = summary.selection
    console.print(f"[green]✓[/] read {sel['bundles']} Synthea bundles in place from {synthea.synthea_dir(data_dir)}: "
                  f"{sel['candidates']} behavioral-health encounters, {sel['notes']} become progress notes "
                  f"({sel['skipped_no_mh_diagnosis']} without an MH diagnosis and {sel['skipped_period']} "
                  f"multi-day stays skipped) for {len(patients)} patients")

    try:
        inst = Installation(config.key_dir(), {"AMQP_URI": amqp_uri, "AMQP_SSL": config.amqp_ssl(),
                                               "serializer": "json"}, timeout=timeout)
    except FileNotFoundError as exc:
        raise DemoError(f"{exc}: the demo acts with the installation's keys; run `confide keys init`") from None
    payer_jwks, token_for = payer_tokens(gateway, demo_payers(data_dir))
    store = PostgresEventStore(config.db_dsn(), schema=schema, pool_size=1)
    try:
        auditor, admin = set_up_people(inst, store, patients, payer_jwks)
    finally:
        store.close()
    console.print(f"[green]✓[/] directory: the clinicians who wrote the notes, an auditor, a supervisor and "
                  f"their trainee, front desk, release of information, a privacy officer, {len(patients)} "
                  f"patients and {len(payer_jwks)} payers on file")

    with _progress(console) as progress:
        import_notes(inst, patients, progress, summary)
    new = summary.progress_notes + summary.psychotherapy_notes - summary.already_on_file
    console.print(f"[green]✓[/] {summary.progress_notes} progress notes and {summary.psychotherapy_notes} "
                  f"psychotherapy notes signed over RPC: {new} new"
                  + (f", {summary.already_on_file} already on file from an earlier run (same note ids)"
                     if summary.already_on_file else ""))

    summary.reads = psychotherapy_reads(inst, patients)
    for r in summary.reads:
        verdict = "[green]permitted[/]" if r["decision"] in PERMITS else "[red]denied[/]"
        console.print(f"[green]✓[/] psychotherapy note {r['note_id'][:8]}, read for treatment by the {r['who']} "
                      f"({r['requester']}): {verdict}, recorded — {r['rule']}")

    console.print(f"  sending the HL7 Da Vinci CDex Task examples, each with a token the payer it names "
                  f"({INSURER_ROLE}, registered now with a fresh ES384 key) got from /oauth/token; each Task is unchanged except Task.for.identifier, set to an imported "
                  "patient (by order)")
    with _progress(console) as progress:
        summary.decisions = submit_requests(gateway, token_for, data_dir, patients, progress, timeout)
    _print_decisions(console, summary.decisions)

    with _progress(console) as progress:
        wait_for_audit(inst, auditor, timeout, progress)
        verify_and_replay(schema, progress, summary)
    summary.elapsed = time.monotonic() - started
    _print_summary(console, summary)
    summary.accounts = issue_enrolment_links(demo_accounts(patients, admin))
    _print_accounts(console, summary.accounts)
    return summary


def _print_accounts(console, accounts: list[DemoAccount]) -> None:
    """The demo accounts as plain lines (never wrapped: each link is copied whole)."""
    def say(text: str = "") -> None:
        console.print(text, soft_wrap=True, highlight=False, markup=False)

    say()
    say("Demo accounts at the web front door — one-time enrolment links, for local use only")
    say("Open a link, set a password, then TOTP (workforce): scan the QR code or paste the secret into an "
        "authenticator app. Patients set a password only.")
    renewed = [a for a in accounts if a.status == "renewed"]
    if renewed:
        say(f"New links for the same people as an earlier `make demo` ({len(renewed)} of them): the links it "
            "printed no longer work.")
    width = max(len(a.member_id) for a in accounts)
    say(f"{'role':<24} {'id':<{width}}  link")
    for a in accounts:
        if a.link:
            hours = f"{a.expires_in_hours:g} h" if a.expires_in_hours else "24 h"
            note = ACCOUNTS_NOTE.replace("24 h", hours)
            say(f"{a.role:<24} {a.member_id:<{width}}  {a.link}  ({note})")
        else:
            say(f"{a.role:<24} {a.member_id:<{width}}  (has set a password already: sign in with it)")


def _outcome(d: Decision) -> str:
    if d.status in UNDECIDED:
        return f"[yellow]{d.status} (undecided)[/]"
    words = d.decision.replace("permit", "permitted").replace("deny", "denied").replace("_", " ")
    if d.permitted:
        return f"[green]{words}[/], {d.status}"
    return f"[red]{words}[/], {d.status}"


def _print_decisions(console, decisions: list[Decision]) -> None:
    console.print("[bold]Insurer requests[/] — request id, patient, notes asked for: outcome — rule")
    for d in decisions:
        label = d.label.replace("cdex-task-", "CDex ").replace("psychotherapy notes, no authorization",
                                                                  "psychotherapy, no auth.")
        console.print(f"  {label:<16} {d.request_id[:8]} patient {d.patient_id[:8]} {d.note_kind:<13}: "
                      f"{_outcome(d)} — {d.rule}", highlight=False)


def _print_summary(console, s: DemoSummary) -> None:
    from rich.table import Table

    table = Table(title="Demo summary", title_justify="left", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    psy = next((d for d in s.decisions if d.note_kind == "psychotherapy" and d.label.startswith("psychotherapy")), None)
    rows = [
        ("patients imported", str(s.patients)),
        ("progress notes (signed)", str(s.progress_notes)),
        ("psychotherapy notes (signed)", str(s.psychotherapy_notes)),
        ("psychotherapy-note reads", ", ".join(f"{r['who']}: {r['decision']}" for r in s.reads) or "—"),
        ("requests permitted / denied", f"{s.permitted} / {s.denied}" + (f" ({s.undecided} undecided)" if s.undecided else "")),
        ("psychotherapy request", f"{psy.decision} — {psy.rule}" if psy else "—"),
        ("events in the store", str(s.events)),
        ("audit verify", ("[green]" if s.verify_ok else "[red]") + s.verify_text + "[/]"),
        ("audit replay", ("[green]" if s.replay_ok else "[red]") + s.replay_text + "[/]"),
        ("elapsed", f"{s.elapsed:.1f} s"),
    ]
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)


@click.command()
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="shipped data (default CONFIDE_DATA_DIR); Synthea bundles are read from its synthea/ folder")
@click.option("--limit-patients", type=click.IntRange(min=1), default=None,
              help="import only the first N behavioral-health patients")
@click.option("--gateway-url", default=None, help="gateway base URL (default CONFIDE_GATEWAY_URL)")
@click.option("--amqp-uri", default=None, help="RabbitMQ URI of the services (default CONFIDE_AMQP_URI)")
@click.option("--schema", default=None, help="event store schema to verify (default CONFIDE_DB_SCHEMA)")
@click.option("--timeout", default=120.0, show_default=True, type=click.FloatRange(min=1),
              help="seconds to wait for any one RPC, request decision or the audit catch-up")
def demo(data_dir, limit_patients, gateway_url, amqp_uri, schema, timeout):
    """Import the shipped Synthea patients, send the CDex payer requests, then verify and replay the audit log."""
    summary = run_demo(
        gateway=(gateway_url or config.gateway_url()).rstrip("/"), amqp_uri=amqp_uri or config.amqp_uri(),
        schema=schema or config.db_schema(), data_dir=Path(data_dir) if data_dir else config.data_dir(),
        limit=limit_patients, timeout=timeout)
    sys.exit(0 if summary.ok else 1)
