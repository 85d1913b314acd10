"""The patient audit report in a real browser (headless Chromium).

Synthetic events for a fresh patient are appended to the test store and
applied to the audit projections; ``confide audit report`` renders the page;
Chromium loads it with a filter in the URL fragment and dumps the DOM after
the inline script ran, then takes a screenshot. Chromium missing is a
failure, never a skip: `make test` (deploy/setup.sh --test) installs it.
"""
import csv
import json
import shutil
import struct
import subprocess
import uuid
from html.parser import HTMLParser
from urllib.parse import quote

import pytest
from click.testing import CliRunner

from audit.commands import export as export_command
from audit.commands import report as report_command
from audit.replay import apply_event, event_dict
from confide.envelope import NewEvent

pytestmark = pytest.mark.integration

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MARKER = "SYNTHETIC-CLINICAL-TEXT-MUST-NOT-APPEAR"
INSURER_ORG = 'Acme "Health" <Plan> & Co'  # markup in a value must be escaped, and still filterable


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("headless Chromium is required for the report browser test and was not found on PATH: "
                    "run `make test` (its set-up installs Debian's `chromium` package), or apt-get install -y chromium")
    return path


def run_chromium(tmp_path, *args) -> subprocess.CompletedProcess:
    profile = tmp_path / "chromium-profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=3000", *args],
                          capture_output=True, text=True, timeout=120)


class Rows(HTMLParser):
    """Timeline rows of a dumped DOM: [{requester, decision, kind, hidden}]."""

    def __init__(self):
        super().__init__()
        self.rows, self.shown = [], None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and "data-decision" in a:
            self.rows.append({"requester": a.get("data-requester"), "decision": a["data-decision"],
                              "kind": a.get("data-kind"), "hidden": "hidden" in a})
        if tag == "body" and "data-shown" in a:
            self.shown = int(a["data-shown"])


def dump(tmp_path, url) -> Rows:
    proc = run_chromium(tmp_path, "--dump-dom", url)
    assert proc.returncode == 0, proc.stderr[-2000:]
    parsed = Rows()
    parsed.feed(proc.stdout)
    assert parsed.rows, f"no timeline rows in the dumped DOM: {proc.stdout[:500]}"
    assert parsed.shown is not None, "inline script did not run"
    return parsed


@pytest.fixture
def patient(pg_store, projector_db_dsn):
    """A fresh patient with notes, reads, two disclosure requests (one refused, one released) and accounting."""
    pid = f"pat-{uuid.uuid4().hex[:10]}"
    note = f"n-{uuid.uuid4().hex[:10]}"
    req_refused, req_released = f"r-{uuid.uuid4().hex[:8]}", f"r-{uuid.uuid4().hex[:8]}"
    insurer = {"id": "ins-agent-4", "role": "insurer_health_plan", "org": INSURER_ORG}
    court = {"id": "clerk-9", "role": "court", "org": "County Court"}

    def access(requester, decision, rule, action="use", request_id=None, purpose="treatment"):
        did = f"d-{uuid.uuid4().hex[:10]}"
        return f"accessDecision-{did}", "AccessDecided", {
            "decision_id": did, "requester": requester, "purpose": purpose, "action": action, "patient_id": pid,
            "note_id": note, "note_ids": [note], "note_kind": "progress", "originator_id": "clin-a",
            "decision": decision, "rule": rule, "citations": [], "fields_released": None,
            "request_id": request_id, "decided_at": "2026-05-01T10:00:00Z"}

    script = [
        (f"progressNote-{note}", "ProgressNoteDrafted", {
            "note_id": note, "patient_id": pid, "author_id": "clin-a", "author_role": "clinician",
            "author_credentials": "LCSW", "supervisor_id": None, "session_date": "2026-04-30",
            "content": {"assessment": MARKER}, "drafted_at": "2026-04-30T16:00:00Z"}),
        (f"progressNote-{note}", "ProgressNoteSigned", {
            "note_id": note, "revision": 1, "signed_by": "clin-a", "signer_id": "clin-a",
            "signed_at": "2026-04-30T17:00:00Z", "cosign_required": False, "supervisor_id": None}),
        access({"id": "clin-b", "role": "clinician_same_practice", "org": "Riverside Group Practice"},
               "permit_minimum_necessary", "45 CFR 164.506(c)(1); 164.502(b)"),
        access({"id": "billing-1", "role": "billing_staff", "org": "Riverside Group Practice"},
               "deny", "45 CFR 164.502(b); 164.514(d) (billing role may not read progress-note narrative)"),
        (f"disclosureRequest-{req_refused}", "DisclosureRequested", {
            "request_id": req_refused, "requester": insurer, "patient_id": pid, "purpose": "payment",
            "action": "disclose", "note_kind": "psychotherapy", "received_at": "2026-05-02T09:00:00Z"}),
        (f"disclosureRequest-{req_refused}", "DisclosureDecided", {
            "request_id": req_refused, "decision_id": "dd-1", "decision": "deny",
            "rule": "45 CFR 164.508(a)(2) (payment is not an exception)", "citations": [], "reasons": [],
            "fields_released": None, "note_ids": [], "decided_at": "2026-05-02T09:01:00Z"}),
        (f"disclosureRequest-{req_refused}", "DisclosureRefused", {
            "request_id": req_refused, "decision_id": "dd-1", "reason": "no authorization",
            "rule": "45 CFR 164.508(a)(2)", "refused_at": "2026-05-02T09:01:01Z"}),
        (f"disclosureRequest-{req_released}", "DisclosureRequested", {
            "request_id": req_released, "requester": court, "patient_id": pid, "purpose": "judicial",
            "action": "disclose", "note_kind": "progress", "received_at": "2026-05-03T09:00:00Z"}),
        (f"disclosureRequest-{req_released}", "DisclosureDecided", {
            "request_id": req_released, "decision_id": "dd-2", "decision": "permit",
            "rule": "45 CFR 164.512(e)(1)(i)", "citations": [], "reasons": [],
            "fields_released": ["session_date", "cpt_code"], "note_ids": [note], "decided_at": "2026-05-03T09:01:00Z"}),
        access(court, "permit", "45 CFR 164.512(e)(1)(i)", action="disclose", request_id=req_released,
               purpose="judicial"),
        (f"disclosureRequest-{req_released}", "DisclosureReleased", {
            "request_id": req_released, "decision_id": "dd-2", "note_ids": [note],
            "fields_released": ["session_date", "cpt_code"], "released_at": "2026-05-03T09:02:00Z"}),
        (f"accounting-{pid}", "AccountingEntryRecorded", {
            "entry_id": "acct-1", "patient_id": pid, "request_id": req_released, "decision_id": "dd-2",
            "disclosed_at": "2026-05-03T09:02:00Z", "recipient": {"org": "County Court"}, "purpose": "judicial",
            "description": "session dates and CPT codes of one progress note", "rule": "45 CFR 164.512(e)(1)(i)"}),
    ]
    # Appended as the services' login, projected as the audit service's own (the only one that may).
    from confide.eventstore.store import PostgresEventStore

    projector = PostgresEventStore(projector_db_dsn, schema=pg_store.schema, pool_size=1)
    try:
        for stream, type_, data in script:
            pg_store.append(stream, [NewEvent(type_, data)])
            recorded = pg_store.read_stream(stream)[-1]
            apply_event(projector.projections, event_dict(recorded))
    finally:
        projector.close()
    return pid


@pytest.fixture
def report_file(patient, test_db_dsn, tmp_path):
    path = tmp_path / "report.html"
    result = CliRunner().invoke(report_command, ["--patient", patient, "-o", str(path), "--schema", "confide"],
                                env={"CONFIDE_DB_DSN": test_db_dsn})
    assert result.exit_code == 0, result.output + repr(result.exception)
    page = path.read_text()
    assert MARKER not in page
    assert INSURER_ORG not in page and "Acme &quot;Health&quot; &lt;Plan&gt; &amp; Co" in page
    assert "http://" not in page.replace("http://www.w3.org", "") and "https://" not in page  # self-contained
    return path


def test_report_filters_by_decision_from_the_url_fragment(report_file, tmp_path):
    everything = dump(tmp_path, report_file.as_uri())
    assert not any(r["hidden"] for r in everything.rows)
    assert everything.shown == len(everything.rows) >= 12
    kinds = {r["kind"] for r in everything.rows}
    assert kinds == {"note", "read", "request", "decision", "disclosure", "accounting"}

    denied = dump(tmp_path, report_file.as_uri() + "#decision=deny")
    visible = [r for r in denied.rows if not r["hidden"]]
    assert {r["decision"] for r in visible} == {"deny"}
    assert len(visible) == denied.shown == sum(r["decision"] == "deny" for r in denied.rows) == 2
    assert all(r["hidden"] for r in denied.rows if r["decision"] != "deny")


def test_report_filters_by_requester_and_decision(report_file, tmp_path):
    court = dump(tmp_path, report_file.as_uri() + "#requester=County%20Court")
    visible = [r for r in court.rows if not r["hidden"]]
    assert visible and {r["requester"] for r in visible} == {"County Court"}
    insurer = dump(tmp_path, report_file.as_uri() + "#requester=" + quote(INSURER_ORG))
    visible = [r for r in insurer.rows if not r["hidden"]]
    assert [r["kind"] for r in visible] == ["request", "decision", "disclosure"]
    assert {r["requester"] for r in visible} == {INSURER_ORG}
    both = dump(tmp_path, report_file.as_uri() + "?requester=billing-1&decision=deny,permit")
    visible = [r for r in both.rows if not r["hidden"]]
    assert [(r["requester"], r["decision"]) for r in visible] == [("billing-1", "deny")]


def test_report_screenshot(report_file, tmp_path):
    png = tmp_path / "report.png"
    proc = run_chromium(tmp_path, f"--screenshot={png}", "--window-size=1280,900", report_file.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert png.exists(), f"no screenshot written: {proc.stderr[-2000:]}"
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 900)
    assert len(data) > 20_000, f"screenshot suspiciously small ({len(data)} bytes): blank page?"


@pytest.mark.parametrize("projection,rows,resources,profiles", [
    ("access_log", 3, 6, {"IHE.BasicAudit.AuthZconsent", "IHE.BasicAudit.PatientRead",
                          "IHE.BasicAudit.PrivacyDisclosure.Source"}),
    ("disclosure_log", 6, 4, {"IHE.BasicAudit.AuthZconsent", "IHE.BasicAudit.PrivacyDisclosure.Source"}),
    ("accounting", 1, 1, {"IHE.BasicAudit.PrivacyDisclosure.Source"}),
    ("note_versions", 2, 2, {"us-core-provenance"}),
])
def test_export_cli_writes_an_r4_bundle_and_a_csv(patient, test_db_dsn, tmp_path, projection, rows, resources,
                                                  profiles):
    from fhir.resources.R4B.bundle import Bundle

    env = {"CONFIDE_DB_DSN": test_db_dsn}
    for fmt in ("fhir", "csv"):
        result = CliRunner().invoke(export_command, ["--format", fmt, "--projection", projection, "--patient",
                                                     patient, "-o", str(tmp_path) + "/"], env=env)
        assert result.exit_code == 0, result.output + repr(result.exception)
    bundle = json.loads((tmp_path / f"{projection}-{patient}.json").read_text())
    Bundle.model_validate(bundle)
    assert bundle["type"] == "collection" and len(bundle["entry"]) == resources
    assert {e["resource"]["meta"]["profile"][0].rsplit("/", 1)[1] for e in bundle["entry"]} == profiles
    assert MARKER not in json.dumps(bundle)
    with (tmp_path / f"{projection}-{patient}.csv").open() as f:
        table = list(csv.reader(f))
    assert len(table) == rows + 1
