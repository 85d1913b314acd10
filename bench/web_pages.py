"""Web pages benchmark (issue 11): p50 and p95 of the busiest pages on the demo data, beside a static
page from the same server measured in the same run, and their ratio (never a timed assertion).

Usage::

    .venv/bin/python bench/web_pages.py                       # its own stack, ~2-3 min
    .venv/bin/python bench/web_pages.py --rounds 400
    .venv/bin/python bench/web_pages.py --url http://127.0.0.1:8080    # against `make run`

**The pages** are :data:`PAGES` below (URL path, role, label), busiest first: home and "who has seen
my notes", then the role pages. Extend it when a page is built. Every row is reported: a page that
answers 404 to its role is "not built", a 403/5xx is reported with its status, and none is left out
silently. The five busiest are home, who has seen my notes and the first three role pages of the table
that are built when the bench runs; every built page is measured all the same.

**The baseline** is ``/static-baseline`` (``web.views.static_baseline``): a fixed HTML string with no
template, database or service behind it, through the same cheroot server and the same middleware
(sessions, the session policy's directory check, CSP, no-store), requested with the same signed-in
session as the pages. The login page is not used: it renders allauth's form and a CSRF token, which
is work of its own. The ratio is page ÷ baseline at the same percentile.

**How it signs in**: through the front door, as a person does: each role's one-time enrolment link as
``confide demo`` prints it (set a password over HTTP with the CSRF token, sign in, then TOTP set-up
with ``pyotp`` for the workforce), one ``requests.Session`` (keep-alive) per role.

**The stack**: by default its own, started as ``tests/e2e/web/conftest.py`` does: ``confide run`` over a
throw-away event-store schema ``webbench_<random>`` in ``confide_test``, a fresh RabbitMQ vhost, a
fresh key directory and a fresh web database ``confide_web_bench_<random>`` (all removed at the end,
also on Ctrl-C), then ``confide demo --limit-patients N``. With ``--url``: the running ``make run``
(this installation's keys and databases); the bench runs ``confide demo`` against it for the links
(it is idempotent: new links for the same demo people). A demo person who has set a password already
gets no link, and their pages are reported "not signed in" rather than measured.

Timing: rounds of every measured page and the baseline, in a shuffled order each round (so drift and
the directory cache's 30 s refresh fall on all of them alike), after ``--warmup`` discarded rounds;
``time.perf_counter`` around one GET (no redirects followed), the body read.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import requests

import harness

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Page:
    path: str
    role: str
    label: str
    #: At most this many requests (warm-up included) in a run: the patient's copy (164.524) is bounded
    #: per patient by the disclosures service (COPIES_PER_WINDOW a minute), which the bench must respect.
    max_requests: int | None = None


#: The pages to time, busiest first (URL path, role that opens it, label). The first two and the first
#: three built role pages are "the five busiest". ``{patient}`` in a path is the first demo patient's id.
PAGES: tuple[Page, ...] = (
    Page("/", "clinician", "home"),
    Page("/notes/seen", "clinician", "who has seen my notes"),
    Page("/clinician/", "clinician", "clinician: my patients and my notes"),
    Page("/clinician/patients/{patient}/", "clinician", "clinician: a patient's chart (each note decided)"),
    Page("/front-desk/", "release_of_information", "release of information: request queue"),
    Page("/my/notes/", "patient", "patient portal: my progress notes (164.524 copy)", max_requests=25),
    Page("/supervision/", "supervisor", "supervisor: review queue"),
    Page("/privacy/amendments", "privacy_officer", "privacy officer: amendment requests"),
    Page("/audit/access-log/", "auditor", "auditor: access log, counts and chart"),
)
BASELINE = Page("/static-baseline", "clinician", "static baseline (fixed page, same server)")
#: For reading the baseline: the same page signed out (no session to load, no directory check).
SIGNED_OUT = "(signed out)"
FLOOR = Page("/static-baseline", SIGNED_OUT, "static page signed out (server floor)")
#: How many of PAGES are always among the five (home, who has seen my notes); then role pages.
FIXED_BUSIEST, ROLE_BUSIEST = 2, 3
PASSWORD = "bench horse battery staple 7"
#: One line of `confide demo`'s accounts table: role, id, link, (expires …).
ACCOUNT_LINE = re.compile(r"^(\w+)\s+(\S+)\s+(https?://\S+/enrol/[\w-]+)\s+\(expires in [\d.]+ h, shown once\)$",
                          re.MULTILINE)


# -- the stack -----------------------------------------------------------------------------------

class Stack:
    """``confide run`` + ``confide demo`` on throw-away resources (module docstring)."""

    def __init__(self, scratch: harness.Scratch, log) -> None:
        self.scratch, self.log = scratch, log
        self.proc: Optional[subprocess.Popen] = None

    def start(self, patients: int) -> tuple[str, dict, str]:
        """-> (web base URL, the stack's environment, the demo's output)."""
        from confide.broker import declare_topology

        schema = self.scratch.schema()
        amqp = self.scratch.vhost()
        declare_topology(amqp)
        folder = self.scratch.tmpdir("confide-webbench-")
        key_dir = harness.make_keys(folder / "keys")
        web_dsn = self._web_database()
        web_port, gateway_port = harness.free_port(), harness.free_port()
        users = ("notes", "disclosures", "audit", "gateway", "directory", "web", "cli")
        from confide import config

        env = {
            **os.environ, "PYTHONPATH": pythonpath(), "PYTHONWARNINGS": "ignore", "PYTHONUNBUFFERED": "1",
            "CONFIDE_DB_DSN": self.scratch.app_dsn, "CONFIDE_DB_SCHEMA": schema,
            config.PROJECTOR_DSN_KEY: self.scratch.projector_dsn,
            "CONFIDE_KEY_DIR": str(key_dir), "CONFIDE_CHECKPOINT_DIR": str(folder / "checkpoints"),
            "CONFIDE_AMQP_URI": amqp, **{config.amqp_uri_key(u): amqp for u in users},
            "CONFIDE_GATEWAY_ADDRESS": f"127.0.0.1:{gateway_port}",
            "CONFIDE_GATEWAY_URL": f"http://127.0.0.1:{gateway_port}",
            "CONFIDE_WEB_ADDRESS": f"127.0.0.1:{web_port}", "CONFIDE_WEB_DB_DSN": web_dsn,
            "CONFIDE_WEB_SECRET_KEY": secrets.token_urlsafe(40),
            "CONFIDE_WEB_SECURE_COOKIES": "0",  # plain HTTP on loopback, as the tests
        }
        for key in ("CONFIDE_WEB_DIRECTORY", "CONFIDE_WEB_OIDC_ISSUER"):
            env.pop(key, None)
        self.stack_log = folder / "stack.log"
        with open(self.stack_log, "w") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "confide_app.cli", "run"], env=env, cwd=REPO,
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.scratch.on_close("confide run", lambda: harness.stop_processes([self.proc], grace=20))
        web, gateway = f"http://127.0.0.1:{web_port}", f"http://127.0.0.1:{gateway_port}"
        deadline = time.monotonic() + 120
        while not (_answers(f"{gateway}/health") and _answers(f"{web}/static-baseline")):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the stack did not come up; its log:\n{self.stack_log.read_text()[-4000:]}")
            time.sleep(0.5)
        self.log(f"stack up: web {web}, gateway {gateway}; running confide demo --limit-patients {patients}")
        demo = run_demo(env, ["--limit-patients", str(patients)])
        return web, env, demo

    def _web_database(self) -> str:
        import psycopg
        from psycopg import sql

        from confide import config
        from web import dbsetup

        name = f"confide_web_bench_{self.scratch.tag}"
        password = dbsetup._secret(config.key_dir() / "web-db.secret", lambda: secrets.token_urlsafe(24))
        dbsetup.ensure_database(config.admin_dsn(), name, password)

        def drop() -> None:
            with psycopg.connect(config.admin_dsn(), autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

        self.scratch.on_close(f"database {name}", drop)
        dsn = dbsetup.dsn(name, password)
        env = {**os.environ, "PYTHONPATH": pythonpath(), "CONFIDE_WEB_SECRET_KEY": "migrate-only",
               "CONFIDE_WEB_DB_DSN": dsn}
        subprocess.run([sys.executable, "-m", "web", "migrate", "--noinput", "-v", "0"], env=env, check=True)
        return dsn


def pythonpath() -> str:
    parts = [str(REPO / p) for p in ("shared", "app", "services/notes", "services/disclosures", "services/audit",
                                     "services/gateway", "services/directory", "services/web")]
    return os.pathsep.join(parts + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2).close()
        return True
    except OSError:
        return False


def run_demo(env: dict, args: list[str]) -> str:
    out = subprocess.run([sys.executable, "-m", "confide_app.cli", "demo", *args], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(f"confide demo failed ({out.returncode}):\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return out.stdout


def demo_links(demo_out: str) -> dict[str, list[tuple[str, str]]]:
    """The demo's printed accounts: role -> [(id, link)]."""
    links: dict[str, list[tuple[str, str]]] = {}
    for role, member_id, link in ACCOUNT_LINE.findall(demo_out):
        links.setdefault(role, []).append((member_id, link))
    return links


# -- signing in through the front door -----------------------------------------------------------

class LoopbackSession(requests.Session):
    """Sends Secure cookies to a loopback http:// server too, as browsers do (``make run`` keeps them
    Secure; 127.0.0.1 is a secure context); requests would not. Used only for loopback URLs."""

    def send(self, request, **kwargs):
        response = super().send(request, **kwargs)
        for cookie in self.cookies:
            cookie.secure = False
        return response


def _token(text: str) -> str:
    m = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', text)
    if not m:
        raise RuntimeError("no CSRF token on the page")
    return m.group(1)


def _post(sess, url: str, data: dict):
    r = sess.get(url, timeout=30)
    return sess.post(url, data={"csrfmiddlewaretoken": _token(r.text), **data}, timeout=30,
                     headers={"Referer": url})


def sign_in(base: str, member_id: str, link: str, workforce: bool):
    """Enrol with ``link``, sign in, set up TOTP (workforce) -> a signed-in requests.Session."""
    from urllib.parse import urlsplit

    import pyotp

    loopback = urlsplit(base).hostname in ("127.0.0.1", "localhost", "::1")
    sess = LoopbackSession() if loopback else requests.Session()
    r = _post(sess, link, {"password1": PASSWORD, "password2": PASSWORD})
    if "/accounts/login/" not in r.url:
        raise RuntimeError(f"enrolment of {member_id} failed ({r.status_code} at {r.url})")
    r = _post(sess, f"{base}/accounts/login/", {"login": member_id, "password": PASSWORD})
    if workforce:
        page = sess.get(f"{base}/accounts/2fa/totp/activate/", timeout=30)
        m = re.search(r'id="authenticator_secret"[^>]*value="([A-Z2-7]+)"', page.text) or \
            re.search(r'value="([A-Z2-7]{16,})"[^>]*id="authenticator_secret"', page.text)
        if not m:
            raise RuntimeError(f"no TOTP secret offered to {member_id} ({page.status_code} at {page.url})")
        url = f"{base}/accounts/2fa/totp/activate/"
        r = sess.post(url, data={"csrfmiddlewaretoken": _token(page.text), "code": pyotp.TOTP(m.group(1)).now()},
                      timeout=30, headers={"Referer": url})
        if "/totp/activate/" in r.url:
            raise RuntimeError(f"TOTP set-up of {member_id} refused")
    home = sess.get(f"{base}/", timeout=30, allow_redirects=False)
    if home.status_code != 200:
        raise RuntimeError(f"{member_id} is not signed in: home answers {home.status_code}")
    return sess


# -- measuring ------------------------------------------------------------------------------------

@dataclass
class Row:
    page: Page
    status: str = ""          # measured | not built | HTTP nnn | not signed in (why)
    samples: list = field(default_factory=list)
    busiest: bool = False

    def pct(self, q: float) -> float:
        if not self.samples:
            return float("nan")
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def probe(sess, base: str, page: Page, path: str) -> str:
    r = sess.get(base + path, timeout=60, allow_redirects=False)
    if r.status_code == 200:
        return "measured"
    if r.status_code == 404:
        return "not built"
    where = f" to {r.headers.get('Location')}" if r.is_redirect else ""
    return f"HTTP {r.status_code}{where}"


def measure(base: str, rows: list[Row], baseline: Row, sessions: dict, paths: dict, rounds: int, warmup: int):
    timed = [r for r in rows if r.status == "measured"] + [baseline]
    for n in range(warmup + rounds):
        order = timed[:]
        random.shuffle(order)
        for row in order:
            if row.page.max_requests is not None and n >= row.page.max_requests - 1:  # the probe was one
                continue
            sess = sessions[row.page.role]
            t0 = time.perf_counter()
            r = sess.get(base + paths[row.page], timeout=60, allow_redirects=False)
            _ = r.content
            elapsed = time.perf_counter() - t0
            if r.status_code != 200:
                raise RuntimeError(f"{row.page.path} answered {r.status_code} during the run")
            if n >= warmup:
                row.samples.append(elapsed * 1000)


def report(console, rows: list[Row], baseline: Row, rounds: int, base: str) -> None:
    t = harness.table(f"Web pages on the demo data: {rounds} requests each, {base}",
                      ["page", ("path", "left"), ("role", "left"), ("status", "left"), "p50 ms", "p95 ms",
                       "p50 ÷ baseline", "p95 ÷ baseline"])
    b50, b95 = baseline.pct(0.5), baseline.pct(0.95)
    for row in [*rows, baseline]:
        measured = bool(row.samples)
        p50, p95 = row.pct(0.5), row.pct(0.95)
        label = ("★ " if row.busiest else "") + row.page.label
        status = row.status if row.page.max_requests is None or not measured else \
            f"{row.status} ({len(row.samples)} timed: copies bounded per patient)"
        t.add_row(label, row.page.path, row.page.role, status,
                  harness.num(p50, 1), harness.num(p95, 1),
                  f"{p50 / b50:.1f}×" if measured and row is not baseline else ("1.0×" if row is baseline else "-"),
                  f"{p95 / b95:.1f}×" if measured and row is not baseline else ("1.0×" if row is baseline else "-"))
    console.print(t)
    console.print("  ★ = the five busiest (home, who has seen my notes, the first three built role pages of PAGES). "
                  "Baseline: /static-baseline, a fixed page through the same server and middleware, requested "
                  "with the clinician's session; signed out, the same page shows the server's floor.")
    console.print(f"  machine: {os.cpu_count()} cores, load {harness.loadavg()}; ratios, not timed assertions")


def main(argv: Optional[list[str]] = None) -> int:
    from rich.console import Console

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", help="measure the running `make run` at this base URL (runs `confide demo` for links)")
    ap.add_argument("--rounds", type=int, default=200, help="timed requests per page (default 200)")
    ap.add_argument("--warmup", type=int, default=10, help="discarded rounds first (default 10)")
    ap.add_argument("--patients", type=int, default=2,
                    help="confide demo --limit-patients (default 2; with --url the rest stay as they are)")
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args(argv)
    random.seed(args.seed)
    console = Console(width=None if sys.stdout.isatty() else 150)
    harness.interrupt_on(2, 15)
    with harness.Scratch("webbench", log=console.print) as scratch:
        if args.url:
            base = args.url.rstrip("/")
            console.print(f"against {base}: running confide demo for the demo people's links")
            demo_out = run_demo(dict(os.environ), ["--limit-patients", str(args.patients)])
        else:
            base, _env, demo_out = Stack(scratch, console.print).start(args.patients)
        links = demo_links(demo_out)
        if not links:
            raise RuntimeError(f"confide demo printed no enrolment links:\n{demo_out[-3000:]}")
        patient = (links.get("patient") or [("", "")])[0][0]
        paths = {p: p.path.replace("{patient}", patient) for p in (*PAGES, BASELINE)}
        sessions: dict = {}
        why: dict[str, str] = {}
        for role in dict.fromkeys(p.role for p in (*PAGES, BASELINE)):
            if not links.get(role):
                why[role] = "not signed in (the demo printed no link: a password is set already)"
                continue
            member_id, link = links[role][0]
            sessions[role] = sign_in(base, member_id, link, workforce=role != "patient")
        rows = [Row(p) for p in PAGES]
        for row in rows:
            sess = sessions.get(row.page.role)
            row.status = probe(sess, base, row.page, paths[row.page]) if sess else why[row.page.role]
        role_pages = [r for r in rows[FIXED_BUSIEST:] if r.status == "measured"][:ROLE_BUSIEST]
        for row in rows[:FIXED_BUSIEST] + role_pages:
            row.busiest = True
        baseline = Row(BASELINE, status="measured")
        if BASELINE.role not in sessions:
            raise RuntimeError(f"no {BASELINE.role} session for the baseline: {why.get(BASELINE.role)}")
        console.print(f"signed in as {', '.join(sessions)}; {sum(r.status == 'measured' for r in rows)} pages built "
                      f"of {len(rows)}; {args.warmup} warm-up + {args.rounds} timed rounds")
        sessions[SIGNED_OUT] = requests.Session()
        rows.append(Row(FLOOR, status="measured"))
        paths[FLOOR] = FLOOR.path
        measure(base, rows, baseline, sessions, paths, args.rounds, args.warmup)
        report(console, rows, baseline, args.rounds, base)
        summary = {r.page.label: {"path": r.page.path, "role": r.page.role, "status": r.status, "p50_ms": r.pct(0.5) if r.samples else None,
                                 "p95_ms": r.pct(0.95) if r.samples else None}
                   for r in [*rows, baseline]}
        console.print(json.dumps({"web_pages": summary}), soft_wrap=True, highlight=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
