"""Chaos under load (issue 12, item 7): ``make chaos``; the short form runs in CI (tests/e2e/test_chaos.py).

Usage::

    .venv/bin/python bench/chaos.py                 # the full run (two rounds of every fault, ~8 min)
    .venv/bin/python bench/chaos.py --short         # one kill of each kind (~2 min)
    .venv/bin/python bench/chaos.py --json out.json # also write the results as JSON

It installs Confide on a PostgreSQL cluster and a RabbitMQ node of its own (other ports, data in a
temp dir: :mod:`confide.testing.nodes`), as an operator would (``confide keys init``, ``confide db
install``, the broker topology), starts ``confide run`` (the supervisor and the six services) against
them, and drives load from threads, as users do:

- insurers: ``POST /disclosure-requests`` with an ``Idempotency-Key`` (retried with the same key
  until answered), then ``GET`` until the request is final (released or refused);
- the author: writes progress and psychotherapy notes, signs them and reads them
  (``read_note`` with a ``request_id``, retried with the same id until answered);
- another clinician: reads the author's notes (denied for psychotherapy notes).

Meanwhile it kills (SIGKILL) each service process in turn (the supervisor must restart it), then
PostgreSQL (the postmaster and its backends), has RabbitMQ close every connection (requests in flight
are redelivered), then kills RabbitMQ (the node's whole process group), and brings the two servers
back as an operator would; the services must reconnect by themselves. Every
acknowledged operation is kept by id. After the last fault it checks the event store and prints:

- acknowledged operations not recorded (lost);
- releases (``ContentReleased``, ``DisclosureReleased``) without a prior recorded decision;
- duplicate decisions (per read request id and per disclosure request) and duplicate releases
  (per decision and recipient, per disclosure request);
- disclosure requests not final 60 s after the last fault;
- services not back without a human (each fault waits for every service to answer again);
- services that exited during a PostgreSQL or RabbitMQ fault (the supervisor is the second line:
  they must ride it out);
- ``confide audit verify`` and ``confide audit replay`` failing;
- the recovery time of each fault (until the service, or every service, answers again).

Every count must be 0: the exit code is 1 otherwise. Synthetic data only. Everything it started is
stopped and its directories removed at the end, even on failure (``--keep`` keeps the directory).
"""
from __future__ import annotations

import argparse
import io
import json
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SERVICES = ("directory", "notes", "disclosures", "audit", "gateway", "web")
FINAL = ("released", "refused")
CLOSE_CONNECTIONS = "RabbitMQ closes every connection"
SERVER_FAULTS = ("kill -9 PostgreSQL", "kill -9 RabbitMQ", CLOSE_CONNECTIONS)
PERMITS = frozenset({"permit", "permit_minimum_necessary", "permit_redacted"})
PRACTICE = "practice"
PAYER_ORG = "Chaos Health Plan"
SESSION_DATE = "2026-03-02"
TEXT = "Noticed my own impatience when she spoke about her brother (synthetic chaos note)."


@dataclass(frozen=True)
class Plan:
    """How long and how hard. ``kills``: the services killed (in order), each round."""

    rounds: int
    kills: tuple[str, ...]
    warmup: float  # seconds of load before the first fault
    pause: float  # seconds of load between one fault's recovery and the next fault
    db_down: float  # seconds PostgreSQL stays down
    broker_down: float  # seconds RabbitMQ stays down
    back_timeout: float  # a service not answering this long after a fault needs a human
    final_after: float  # requests must be final this long after the last fault
    payers: int
    authors: int
    others: int


FULL = Plan(rounds=2, kills=SERVICES, warmup=15, pause=8, db_down=5, broker_down=5, back_timeout=120,
            final_after=60, payers=3, authors=2, others=1)
SHORT = Plan(rounds=1, kills=("disclosures",), warmup=5, pause=3, db_down=2, broker_down=2, back_timeout=90,
             final_after=60, payers=2, authors=1, others=1)


def log(msg: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- the installation: own servers, keys, schema, `confide run` --------------------------------------

class Installation:
    """Confide installed on a PostgreSQL cluster and a RabbitMQ node of its own, run by ``confide run``."""

    def __init__(self, base: Path):
        from confide.testing.nodes import OwnPostgres, OwnRabbit, free_port

        self.base = base
        self.pg = self.rabbit = self.proc = None
        self.pg = OwnPostgres()
        log(f"PostgreSQL cluster on 127.0.0.1:{self.pg.port} ({self.pg.base})")
        self.rabbit = OwnRabbit(base / "rabbit")
        log(f"RabbitMQ node {self.rabbit.node} on 127.0.0.1:{self.rabbit.port}")
        self.key_dir = base / "keys"
        self.gateway_port, self.web_port = free_port(), free_port()
        self.gateway_url = f"http://127.0.0.1:{self.gateway_port}"
        self.web_url = f"http://127.0.0.1:{self.web_port}"
        self.env = {
            **os.environ, "PYTHONWARNINGS": "ignore", "PYTHONUNBUFFERED": "1",
            "XDG_DATA_HOME": str(base / "data"),  # nothing of the user's installation is read
            "CONFIDE_ADMIN_DSN": self.pg.admin_dsn, "CONFIDE_DB_SCHEMA": "confide",
            "CONFIDE_KEY_DIR": str(self.key_dir), "CONFIDE_CHECKPOINT_DIR": str(base / "checkpoints"),
            "CONFIDE_AMQP_URI": self.rabbit.uri,
            "CONFIDE_GATEWAY_ADDRESS": f"127.0.0.1:{self.gateway_port}", "CONFIDE_GATEWAY_URL": self.gateway_url,
            "CONFIDE_WEB_ADDRESS": f"127.0.0.1:{self.web_port}", "CONFIDE_WEB_SECRET_KEY": uuid.uuid4().hex * 2,
        }
        self.env.pop("CONFIDE_DB_DSN", None)
        self.env.pop("CONFIDE_AUDITOR_DSN", None)
        from confide import config

        for user in config.BROKER_USERS:  # no management plugin on our node: guest for every user
            self.env[config.amqp_uri_key(user)] = self.rabbit.uri
        self._confide("keys", "init")
        self._confide("db", "install")
        secret = (self.key_dir / "db" / f"{config.APP_ROLE}.secret").read_text().strip()
        self.env["CONFIDE_DB_DSN"] = f"postgresql://{config.APP_ROLE}:{secret}@127.0.0.1:{self.pg.port}/confide"
        from confide.broker import declare_topology

        declare_topology(self.rabbit.uri)
        self._web_database()
        self.config = {"AMQP_URI": self.rabbit.uri, "serializer": "json"}

    def _confide(self, *args: str) -> None:
        done = subprocess.run([sys.executable, "-m", "confide_app.cli", *args], env=self.env, cwd=REPO,
                              capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"confide {' '.join(args)} failed: {done.stdout}{done.stderr}")

    def _web_database(self) -> None:
        from web import dbsetup

        password = uuid.uuid4().hex
        dbsetup.ensure_database(self.pg.admin_dsn, "confide_web", password)
        self.env["CONFIDE_WEB_DB_DSN"] = f"postgresql://{dbsetup.ROLE}:{password}@127.0.0.1:{self.pg.port}/confide_web"
        done = subprocess.run([sys.executable, "-m", "web", "migrate", "--noinput", "-v", "0"], env=self.env,
                              cwd=REPO, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"web migrate failed: {done.stdout}{done.stderr}")

    def store(self, pool_size: int = 4):
        from confide.eventstore.store import PostgresEventStore

        return PostgresEventStore(self.env["CONFIDE_DB_DSN"], schema="confide", pool_size=pool_size)

    def start(self) -> None:
        """``confide run``: the supervisor and every service, output to ``run.log``."""
        self.log_path = self.base / "run.log"
        with open(self.log_path, "w") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "confide_app.cli", "run"], env=self.env, cwd=REPO,
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def service_pids(self) -> dict[str, int]:
        """{service: pid} of the supervisor's children."""
        found: dict[str, int] = {}
        if self.proc is None:
            return found
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) != self.proc.pid:
                continue
            for name in SERVICES:
                if f"{name}.service".encode() in argv or (name == "web" and b"web" in argv and b"serve" in argv):
                    found[name] = int(entry.name)
        return found

    def tail(self, n: int = 8000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except (OSError, AttributeError):
            return "(no log)"

    def close(self) -> None:
        if self.proc is not None:
            from confide.testing.browser import stop

            stop(self.proc, grace=15)
        if self.rabbit is not None:
            self.rabbit.close()
        if self.pg is not None:
            self.pg.close()


# -- who acts -------------------------------------------------------------------------------------

class People:
    """The author, another clinician, the patients and the payer, on file in the installation's store."""

    def __init__(self, inst: Installation, patients: int = 4):
        from confide.testing.identities import Identities
        from gateway import client

        self.store = inst.store(pool_size=2)
        people = Identities(self.store, inst.key_dir)
        self.author = people.member("clin-chaos-a", "clinician", credentials="PhD", org=PRACTICE)
        self.other = people.member("clin-chaos-b", "clinician", org=PRACTICE)
        self.patients = [people.patient(f"P-CHAOS-{i:03d}").subject for i in range(patients)]
        self.payer_key = client.new_key()
        self.payer = people.payer(PAYER_ORG, "insurer_health_plan", name=PAYER_ORG,
                                  jwks=client.public_jwks(self.payer_key))

    def close(self) -> None:
        self.store.close()


# -- clients --------------------------------------------------------------------------------------

class Answered(Exception):
    """The service answered with one of the errors that acknowledge an operation."""

    def __init__(self, exc_type: str):
        super().__init__(exc_type)
        self.exc_type = exc_type


def rpc_call(inst: Installation, person, service: str, method: str, *args, timeout: float = 20, acks=(), **kwargs):
    """One RPC as ``person`` through a fresh standalone proxy (a fresh assertion each time). A RemoteError
    whose type is in ``acks`` raises Answered; any other error propagates."""
    from nameko.exceptions import RemoteError

    from confide.rpc import ServiceRpcProxy

    with ServiceRpcProxy(service, inst.config, client="cli", context_data=person.context(), timeout=timeout) as proxy:
        try:
            return getattr(proxy, method)(*args, **kwargs)
        except RemoteError as exc:
            if exc.exc_type in acks:
                raise Answered(exc.exc_type) from None
            raise


def http(url: str, method: str = "GET", body=None, token: str | None = None, headers=None, timeout: float = 40):
    """(status, JSON body or None); (None, None) when nothing answered."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            return resp.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            return err.code, (json.loads(raw) if raw else None)
        except ValueError:
            return err.code, None
    except (OSError, ValueError):
        return None, None


# -- the record of what was acknowledged ----------------------------------------------------------

@dataclass
class Ledger:
    """Every acknowledged operation, by id (thread-safe)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: dict = field(default_factory=dict)  # request_id -> ack time
    final: dict = field(default_factory=dict)  # request_id -> status seen by its payer
    written: dict = field(default_factory=dict)  # note_id -> kind
    signed: set = field(default_factory=set)
    reads: dict = field(default_factory=dict)  # read request_id -> (note_id, reader, outcome)
    attempts: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)  # attempts that got no answer (retried)
    refused: Counter = field(default_factory=Counter)  # answers no correct run gives (a bug)
    given_up: Counter = field(default_factory=Counter)  # operations never answered (not acknowledged)

    def count(self, counter: str, key: str) -> None:
        with self.lock:
            getattr(self, counter)[key] += 1

    def acknowledged(self) -> int:
        return len(self.requests) + len(self.written) + len(self.signed) + len(self.reads)


def retried(ledger: Ledger, kind: str, stop: threading.Event, attempt, give_up: float = 120.0):
    """Call ``attempt()`` until it returns (its value) or raises Answered (returned), retrying after any
    other failure with the same ids, for at most ``give_up`` seconds (then None: not acknowledged)."""
    deadline = time.monotonic() + give_up
    delay = 0.2
    while time.monotonic() < deadline:
        ledger.count("attempts", kind)
        try:
            return attempt()
        except Answered as ans:
            return ans
        except Exception as exc:  # noqa: BLE001 - no answer: retried with the same ids
            ledger.count("failures", kind)
            name = type(exc).__name__
            if name == "RemoteError":
                name = f"RemoteError:{getattr(exc, 'exc_type', '?')}"
            ledger.count("failures", f"{kind}:{name}")
        if stop.is_set() and time.monotonic() > deadline - give_up / 2:
            break
        time.sleep(delay)
        delay = min(2.0, delay * 1.5)
    ledger.count("given_up", kind)
    return None


class Load:
    """The load threads; ``stop()`` asks them to finish the operation in hand."""

    def __init__(self, inst: Installation, people: People, plan: Plan):
        self.inst, self.people, self.plan = inst, people, plan
        self.ledger = Ledger()
        self.stopping = threading.Event()
        self.stop_polling = threading.Event()
        self.threads: list[threading.Thread] = []
        self.signed_notes: list[tuple[str, str]] = []  # (note_id, kind) the author signed
        self._notes_lock = threading.Lock()
        self._token: tuple[str, float] | None = None
        self._token_lock = threading.Lock()

    def start(self) -> None:
        targets = ([self._payer] * self.plan.payers + [self._author] * self.plan.authors
                   + [self._other] * self.plan.others + [self._poller])
        for i, target in enumerate(targets):
            t = threading.Thread(target=target, name=f"{target.__name__}-{i}", daemon=True)
            t.start()
            self.threads.append(t)

    def stop(self) -> None:
        self.stopping.set()
        for t in self.threads:
            if t.name.startswith("_poller"):
                continue
            t.join(180)

    def stop_poller(self) -> None:
        self.stop_polling.set()
        for t in self.threads:
            t.join(60)

    # -- insurers --------------------------------------------------------------------------------

    def token(self, renew: bool = False) -> str:
        from gateway import client

        with self._token_lock:
            if self._token and not renew and time.monotonic() < self._token[1]:
                return self._token[0]
            status, body = client.request_token(self.inst.gateway_url + "/oauth/token", PAYER_ORG,
                                                self.people.payer_key, timeout=30)
            if status != 200:
                raise RuntimeError(f"token: HTTP {status}")
            self._token = (body["access_token"], time.monotonic() + min(240, int(body["expires_in"]) - 30))
            return self._token[0]

    def _post(self, key: str, body: dict):
        status, reply = http(self.inst.gateway_url + "/disclosure-requests", "POST", body, token=self.token(),
                             headers={"Idempotency-Key": key})
        if status == 401:
            self.token(renew=True)
        if status in (200, 201):
            return reply
        if status in (400, 404, 409, 422):
            self.ledger.count("refused", f"request:{status}")
        raise RuntimeError(f"HTTP {status}")

    def _payer(self) -> None:
        led = self.ledger
        i = 0
        while not self.stopping.is_set():
            i += 1
            body = {"patient_id": random.choice(self.people.patients), "purpose": "payment",
                    "note_kind": random.choice(("progress", "progress", "psychotherapy")),
                    "date_from": "2026-03-01", "date_to": "2026-03-31", "claim_id": f"C-{i}"}
            reply = retried(led, "request", self.stopping, partial(self._post, f"chaos-{uuid.uuid4()}", body))
            if isinstance(reply, dict):
                with led.lock:
                    led.requests[reply["id"]] = time.monotonic()
                    if reply.get("status") in FINAL:
                        led.final[reply["id"]] = reply["status"]

    def _poller(self) -> None:
        """The payers' GETs: each acknowledged request until it is final (this also carries on one a
        fault left half-way: only the requester's own call receives its content)."""
        led = self.ledger
        while not self.stop_polling.is_set():
            with led.lock:
                pending = [r for r in led.requests if r not in led.final]
            for request_id in pending:
                if self.stop_polling.is_set():
                    return
                try:
                    status, reply = http(f"{self.inst.gateway_url}/disclosure-requests/{request_id}",
                                         token=self.token(), timeout=40)
                except Exception:  # noqa: BLE001 - no token now: the next round asks again
                    status, reply = None, None
                if status == 401:
                    try:
                        self.token(renew=True)
                    except Exception:  # noqa: BLE001
                        pass
                if status == 200 and reply.get("status") in FINAL:
                    with led.lock:
                        led.final[request_id] = reply["status"]
            self.stop_polling.wait(1.0)

    # -- clinicians ------------------------------------------------------------------------------

    def _write(self, note_id: str, patient: str, kind: str):
        from confide import transport
        from confide.testing.notes import progress_content

        author = self.people.author
        if kind == "progress":
            return rpc_call(self.inst, author, "notes", "write_progress_note",
                            {"note_id": note_id, "patient_id": patient, "content": progress_content(SESSION_DATE)},
                            acks=("NoteExistsError",))
        pub = rpc_call(self.inst, author, "notes", "transport_public_key")
        return rpc_call(self.inst, author, "notes", "write_psychotherapy_note",
                        {"note_id": note_id, "patient_id": patient, "session_date": SESSION_DATE,
                         "sealed_text": transport.seal_for(pub, TEXT)}, acks=("NoteExistsError",))

    def _author(self) -> None:
        led, author = self.ledger, self.people.author
        n = 0
        while not self.stopping.is_set():
            n += 1
            note_id = str(uuid.uuid4())
            kind = "psychotherapy" if n % 3 == 0 else "progress"
            if retried(led, "write", self.stopping,
                       partial(self._write, note_id, random.choice(self.people.patients), kind)) is None:
                continue
            with led.lock:
                led.written[note_id] = kind
            signed = retried(led, "sign", self.stopping, partial(
                rpc_call, self.inst, author, "notes", "sign_note", note_id, acks=("NoteSignedError",)))
            if signed is None:
                continue
            with led.lock:
                led.signed.add(note_id)
            with self._notes_lock:
                self.signed_notes.append((note_id, kind))
            self._read(author, note_id)

    def _other(self) -> None:
        while not self.stopping.is_set():
            with self._notes_lock:
                choice = random.choice(self.signed_notes) if self.signed_notes else None
            if choice is None:
                self.stopping.wait(0.5)
                continue
            self._read(self.people.other, choice[0])

    def _read(self, person, note_id: str) -> None:
        from confide import transport

        led = self.ledger
        request_id = str(uuid.uuid4())
        _, reply_key = transport.ephemeral()
        reply = retried(led, "read", self.stopping, partial(
            rpc_call, self.inst, person, "notes", "read_note", note_id, "treatment", request_id=request_id,
            reply_public_key=reply_key, acks=("AccessDeniedError",)))
        if reply is None:
            return
        outcome = reply.exc_type if isinstance(reply, Answered) else reply["decision"]["decision"]
        with led.lock:
            led.reads[request_id] = (note_id, person.subject, outcome)


# -- is each service answering? --------------------------------------------------------------------

def probe(inst: Installation, people: People, name: str) -> bool:
    """True when ``name`` answers a call now (a reply or one of its own errors: it ran the call)."""
    from nameko.exceptions import RemoteError

    try:
        if name in ("gateway", "web"):
            url = inst.gateway_url if name == "gateway" else inst.web_url
            return http(url + "/health", timeout=8)[0] is not None
        try:
            if name == "notes":
                rpc_call(inst, people.author, "notes", "transport_public_key", timeout=5)
            elif name == "directory":
                rpc_call(inst, people.author, "directory", "get_member", people.author.subject, timeout=5)
            elif name == "disclosures":
                rpc_call(inst, people.payer, "disclosures", "get_disclosure_request", str(uuid.uuid4()), timeout=5)
            elif name == "audit":
                from confide.rpc import ServiceRpcProxy

                with ServiceRpcProxy("audit", inst.config, client="cli", timeout=5,
                                     context_data=people.author.context(service="gateway")) as proxy:
                    return proxy.health().get("database") == "ok"
        except RemoteError as exc:
            return exc.exc_type not in ("RpcTimeout", "UnknownService")
        return True
    except Exception:  # noqa: BLE001 - no answer
        return False


def wait_back(inst: Installation, people: People, names, timeout: float, pids_before=None) -> dict[str, float | None]:
    """Seconds until each of ``names`` answers (with a new process when ``pids_before`` names its old
    one); None for one that did not within ``timeout``. Probes in parallel, every 0.25 s."""
    started = time.monotonic()
    back: dict[str, float | None] = {n: None for n in names}
    while time.monotonic() - started < timeout and any(v is None for v in back.values()):
        pids = inst.service_pids()
        for name in [n for n, v in back.items() if v is None]:
            if pids_before and pids.get(name) in (None, pids_before.get(name)):
                continue
            if probe(inst, people, name):
                back[name] = round(time.monotonic() - started, 1)
        time.sleep(0.25)
    return back


# -- faults ---------------------------------------------------------------------------------------

@dataclass
class FaultResult:
    fault: str
    recovery: float | None  # seconds until everything it hit answered again (from the server's return)
    outage: float  # seconds the server was down (0 for a killed service)
    not_back: list
    exited: list  # services whose process changed during a server fault


def kill_service(inst: Installation, people: People, name: str, timeout: float) -> FaultResult:
    pids = inst.service_pids()
    if name not in pids:
        return FaultResult(f"kill -9 {name}", None, 0, [name], [])
    os.kill(pids[name], signal.SIGKILL)
    back = wait_back(inst, people, [name], timeout, pids_before=pids)
    others = [n for n in SERVICES if n != name and inst.service_pids().get(n) != pids.get(n)]
    return FaultResult(f"kill -9 {name}", back[name], 0, [n for n, v in back.items() if v is None], others)


def server_fault(inst: Installation, people: People, which: str, down: float, timeout: float) -> FaultResult:
    server = inst.pg if which == "postgresql" else inst.rabbit
    pids = inst.service_pids()
    killed = time.monotonic()
    server.kill()
    time.sleep(down)  # the outage: load keeps coming
    server.start()
    outage = time.monotonic() - killed
    back = wait_back(inst, people, SERVICES, timeout)
    after = inst.service_pids()
    exited = [n for n in SERVICES if after.get(n) != pids.get(n)]
    slowest = None if any(v is None for v in back.values()) else max(back.values())
    return FaultResult(f"kill -9 {'PostgreSQL' if which == 'postgresql' else 'RabbitMQ'}", slowest,
                       round(outage, 1), [n for n, v in back.items() if v is None], exited)


def connections_closed(inst: Installation, people: People, timeout: float) -> FaultResult:
    """RabbitMQ closes every client connection (``rabbitmqctl close_all_connections``): requests in
    flight are redelivered to the reconnected services, which must not decide or release twice."""
    pids = inst.service_pids()
    inst.rabbit.ctl("close_all_connections", "chaos")
    back = wait_back(inst, people, SERVICES, timeout)
    after = inst.service_pids()
    slowest = None if any(v is None for v in back.values()) else max(back.values())
    return FaultResult(CLOSE_CONNECTIONS, slowest, 0, [n for n, v in back.items() if v is None],
                       [n for n in SERVICES if after.get(n) != pids.get(n)])


# -- the checks against the event store -------------------------------------------------------------

def audit_store(inst: Installation, ledger: Ledger) -> dict:
    """Counts over the whole log: what was acknowledged but not recorded, releases without a prior
    decision, duplicate decisions and releases, and the status of every acknowledged request."""
    store = inst.store()
    try:
        events = list(store.iter_all())
    finally:
        store.close()
    requested, request_status = set(), {}
    disclosure_decided, disclosure_released = Counter(), Counter()
    decided_ids: dict[str, set] = defaultdict(set)  # request_id -> DisclosureDecided decision ids
    access: dict[str, list] = defaultdict(list)  # decision_id -> [(position, data)]
    access_by_request = Counter()
    releases = []  # (position, stream, data)
    drafted, signed = set(), set()
    from confide.contracts.disclosures import DisclosureRequestState, evolve

    states: dict[str, DisclosureRequestState] = {}
    for ev in events:
        data = json.loads(ev.data_json)
        t = ev.type
        if ev.stream_name.startswith("disclosureRequest-"):
            rid = ev.stream_name.split("-", 1)[1]
            states[rid] = evolve(states.get(rid) or DisclosureRequestState(rid), t, data)
        if t == "DisclosureRequested":
            requested.add(data["request_id"])
        elif t == "DisclosureDecided":
            disclosure_decided[data["request_id"]] += 1
            decided_ids[data["request_id"]].add(data["decision_id"])
        elif t == "DisclosureReleased":
            disclosure_released[data["request_id"]] += 1
            releases.append((ev.global_position, "disclosure", data))
        elif t == "AccessDecided":
            access[data["decision_id"]].append((ev.global_position, data))
            if data.get("request_id"):
                access_by_request[data["request_id"]] += 1
        elif t == "ContentReleased":
            releases.append((ev.global_position, "content", data))
        elif t in ("ProgressNoteDrafted", "PsychotherapyNoteDrafted"):
            drafted.add(data["note_id"])
        elif t in ("ProgressNoteSigned", "PsychotherapyNoteSigned"):
            signed.add(data["note_id"])
    request_status = {rid: s.status for rid, s in states.items()}

    lost = {
        "disclosure requests": sorted(set(ledger.requests) - requested),
        "notes written": sorted(set(ledger.written) - drafted),
        "notes signed": sorted(ledger.signed - signed),
        "reads": sorted(r for r in ledger.reads if access_by_request[r] == 0),
    }
    unbacked = []
    content_seen = Counter()
    for position, kind, data in releases:
        decision_id = data["decision_id"]
        prior = [d for p, d in access.get(decision_id, []) if p < position and d.get("decision") in PERMITS]
        if kind == "disclosure":
            prior = prior if decision_id in decided_ids.get(data["request_id"], set()) else []
        if not prior:
            unbacked.append((kind, decision_id))
        if kind == "content":
            content_seen[(decision_id, data.get("released_to"), tuple(sorted(data.get("note_ids") or [])))] += 1
    duplicate_decisions = (
        [("disclosure request", r, n) for r, n in disclosure_decided.items() if n > 1]
        + [("read or request", r, n) for r, n in access_by_request.items() if n > 1]
        + [("decision id", d, len(v)) for d, v in access.items() if len(v) > 1])
    duplicate_releases = ([("disclosure request", r, n) for r, n in disclosure_released.items() if n > 1]
                          + [("decision+recipient", k[0], n) for k, n in content_seen.items() if n > 1])
    return {"events": len(events), "lost": lost, "unbacked": unbacked, "duplicate_decisions": duplicate_decisions,
            "duplicate_releases": duplicate_releases, "status": request_status,
            "content_releases": len([r for r in releases if r[1] == "content"])}


def dead_lettered(inst: Installation) -> int:
    """Messages in ``audit.events.dlq`` (events the audit projections gave up on)."""
    from kombu import Connection

    from confide.broker import AUDIT_DLQ_NAME

    with Connection(inst.rabbit.uri, connect_timeout=5) as conn:
        _, count, _ = conn.channel().queue_declare(queue=AUDIT_DLQ_NAME, passive=True)
    return count


def verify_and_replay(inst: Installation, timeout: float = 120) -> list[str]:
    """Problems ``confide audit verify`` and ``confide audit replay`` report once the audit side has
    caught up (replay is retried until the projections reach the head, at most ``timeout`` s)."""
    problems = []
    deadline = time.monotonic() + timeout
    store = inst.store(pool_size=1)
    try:
        while time.monotonic() < deadline:  # the relay and the sealer first reach the head
            head = store.head_position()
            if store.read_checkpoint("relay:confide.events") >= head:
                break
            time.sleep(0.5)
    finally:
        store.close()
    last = None
    while time.monotonic() < deadline:
        last = subprocess.run([sys.executable, "-m", "confide_app.cli", "audit", "replay"], env=inst.env, cwd=REPO,
                              capture_output=True, text=True, timeout=300)
        if last.returncode == 0:
            break
        time.sleep(2)
    if last is None or last.returncode != 0:
        problems.append("replay: " + ((last.stdout + last.stderr)[-1500:] if last else "not run"))
    done = subprocess.run([sys.executable, "-m", "confide_app.cli", "audit", "verify"], env=inst.env, cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        problems.append("verify: " + (done.stdout + done.stderr)[-1500:])
    return problems


# -- the run --------------------------------------------------------------------------------------

def run(plan: Plan, keep: bool = False) -> dict:
    base = Path(tempfile.mkdtemp(prefix="confide-chaos-"))
    inst = people = load = None
    started = time.monotonic()
    try:
        inst = Installation(base)
        people = People(inst)
        inst.start()
        log(f"confide run started (log {inst.log_path}); waiting for every service")
        first = wait_back(inst, people, SERVICES, 180)
        if any(v is None for v in first.values()):
            raise RuntimeError(f"the stack did not come up: {first}\n{inst.tail()}")
        load = Load(inst, people, plan)
        load.start()
        log(f"load running: {plan.payers} insurer, {plan.authors} author, {plan.others} other-clinician threads")
        time.sleep(plan.warmup)
        faults: list[FaultResult] = []
        for round_no in range(plan.rounds):
            for name in plan.kills:
                log(f"round {round_no + 1}: kill -9 {name}")
                faults.append(kill_service(inst, people, name, plan.back_timeout))
                log(f"  {faults[-1]}")
                time.sleep(plan.pause)
            log(f"round {round_no + 1}: kill -9 PostgreSQL")
            faults.append(server_fault(inst, people, "postgresql", plan.db_down, plan.back_timeout))
            log(f"  {faults[-1]}")
            time.sleep(plan.pause)
            log(f"round {round_no + 1}: {CLOSE_CONNECTIONS}")
            faults.append(connections_closed(inst, people, plan.back_timeout))
            log(f"  {faults[-1]}")
            time.sleep(plan.pause)
            log(f"round {round_no + 1}: kill -9 RabbitMQ")
            faults.append(server_fault(inst, people, "rabbitmq", plan.broker_down, plan.back_timeout))
            log(f"  {faults[-1]}")
            last_fault = time.monotonic()
            time.sleep(plan.pause)
        log("faults done; load continues briefly, then stops")
        load.stop()
        log(f"load stopped; payers poll their requests until {plan.final_after:g} s after the last fault")
        while time.monotonic() < last_fault + plan.final_after:
            with load.ledger.lock:
                if all(r in load.ledger.final for r in load.ledger.requests):
                    break
            time.sleep(1)
        found = audit_store(inst, load.ledger)  # the requests' status 60 s after the last fault at most
        load.stop_poller()
        not_final = sorted(r for r in load.ledger.requests if found["status"].get(r) not in FINAL)
        still_down = [n for n, v in wait_back(inst, people, SERVICES, 30).items() if v is None]
        problems = verify_and_replay(inst)
        led = load.ledger
        result = {
            "plan": plan.__dict__, "seconds": round(time.monotonic() - started, 1),
            "acknowledged": {"disclosure requests": len(led.requests), "notes written": len(led.written),
                             "notes signed": len(led.signed), "reads": len(led.reads)},
            "reads by outcome": dict(Counter(o for _, _, o in led.reads.values())),
            "requests by status": dict(Counter(found["status"].get(r, "missing") for r in led.requests)),
            "attempts": dict(led.attempts), "unanswered attempts": dict(led.failures),
            "given up": dict(led.given_up), "refused": dict(led.refused),
            "events": found["events"], "content releases": found["content_releases"],
            "faults": [f.__dict__ for f in faults],
            "counts": {
                "acknowledged but not recorded": sum(len(v) for v in found["lost"].values()),
                "releases without a prior decision": len(found["unbacked"]),
                "duplicate decisions": len(found["duplicate_decisions"]),
                "duplicate releases": len(found["duplicate_releases"]),
                f"requests not final {plan.final_after:g} s after the last fault": len(not_final),
                "services not back without a human": len({n for f in faults for n in f.not_back} | set(still_down)),
                "service exits during a PostgreSQL or RabbitMQ fault": sum(
                    len(f.exited) for f in faults if f.fault in SERVER_FAULTS),
                "events dead-lettered by the audit consumer": dead_lettered(inst),
                "verify or replay failures": len(problems),
            },
            "details": {"lost": found["lost"], "unbacked": found["unbacked"][:20],
                        "duplicate decisions": found["duplicate_decisions"][:20],
                        "duplicate releases": found["duplicate_releases"][:20], "not final": not_final[:20],
                        "problems": problems},
        }
        kill_exits = [n for f in faults if f.fault not in SERVER_FAULTS for n in f.exited]
        result["counts"]["other services restarted by a service kill"] = len(kill_exits)
        return result
    except BaseException:
        if inst is not None:
            log("run log tail:\n" + inst.tail())
        raise
    finally:
        if load is not None:
            load.stopping.set()
            load.stop_polling.set()
        if people is not None:
            people.close()
        if inst is not None:
            inst.close()
        if keep:
            log(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


def table(result: dict) -> str:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=io.StringIO(), record=True, width=110)
    ack = Table(title=f"Chaos under load: {result['seconds']:g} s, {result['events']} events stored")
    ack.add_column("operations")
    ack.add_column("acknowledged", justify="right")
    ack.add_column("recorded", justify="right")
    for k, v in result["acknowledged"].items():
        ack.add_row(k, str(v), str(v - len(result["details"]["lost"][k])))
    ack.add_row("reads by outcome", ", ".join(f"{k} {v}" for k, v in sorted(result["reads by outcome"].items())), "")
    ack.add_row("requests by status", "", ", ".join(
        f"{k} {v}" for k, v in sorted(result["requests by status"].items())))
    ack.add_row("content releases", "", str(result["content releases"]))
    ack.add_row("attempts (unanswered, retried)", ", ".join(
        f"{k} {v} ({result['unanswered attempts'].get(k, 0)})" for k, v in sorted(result["attempts"].items())), "")
    console.print(ack)
    faults = Table(title="Faults")
    for col in ("fault", "server down (s)", "recovery (s)", "not back", "service exits"):
        faults.add_column(col)
    for f in result["faults"]:
        faults.add_row(f["fault"], f"{f['outage']:g}" if f["outage"] else "-",
                       "never" if f["recovery"] is None else f"{f['recovery']:g}",
                       ", ".join(f["not_back"]) or "0", ", ".join(f["exited"]) or "0")
    console.print(faults)
    counts = Table(title="Must all be 0")
    counts.add_column("check")
    counts.add_column("count", justify="right")
    for k, v in result["counts"].items():
        counts.add_row(k, str(v) if v == 0 else f"[bold red]{v}[/]")
    console.print(counts)
    return console.export_text()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="one kill of each kind (CI)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--keep", action="store_true", help="keep the run's directory (logs, data)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)  # the clients' reconnect chatter is not the result
    result = run(SHORT if args.short else FULL, keep=args.keep)
    print(table(result))
    failed = {k: v for k, v in result["counts"].items() if v}
    if failed:
        print(json.dumps(result["details"], indent=1, default=str))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=str))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
