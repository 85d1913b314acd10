"""A patient's audit history as one self-contained HTML page (``confide audit report``).

Two pure functions:

- :func:`timeline` merges the four projections' rows for one patient into
  entries ordered by global position (newest last).
- :func:`render_report` renders those entries as HTML with inline CSS and JS
  only (a Content-Security-Policy forbids loading anything), every value
  passed through :func:`html.escape`.

The projection rows carry ids, roles, purposes, decisions and rule citations,
never clinical content, and nothing else reaches the page.

Filtering: a requester select box and one checkbox per decision. The state is
mirrored in the URL fragment, so ``report.html#decision=deny`` (or
``#requester=Acme%20Health%20Plan&decision=deny,permit``) opens with that
filter applied; hidden rows carry the ``hidden`` attribute.
"""
from __future__ import annotations

import html
from collections import Counter
from typing import Iterable

NO_DECISION = "none"

KIND_LABELS = {
    "note": "Note version",
    "read": "Read",
    "request": "Request",
    "decision": "Decision",
    "disclosure": "Disclosure",
    "accounting": "Accounting",
}

_STEP_KIND = {"received": "request", "verified": "request", "on_hold": "decision", "decided": "decision",
              "released": "disclosure", "refused": "disclosure"}


def _entry(row: dict, kind: str, label: str, who, role, decision, rule, detail: str) -> dict:
    return {"position": row.get("global_position"), "at": row.get("recorded_at"), "kind": kind, "label": label,
            "who": who or "", "role": role or "", "decision": decision or "", "rule": rule or "",
            "detail": detail, "note_id": row.get("note_id") or ""}


def timeline(access_rows: Iterable[dict] = (), disclosure_rows: Iterable[dict] = (),
             accounting_rows: Iterable[dict] = (), note_rows: Iterable[dict] = ()) -> list[dict]:
    """Merge projection rows (``audit.queries.rows`` shapes) into timeline entries, oldest first.

    Each entry: ``{position, at, kind, label, who, role, decision, rule, detail, note_id}`` (strings,
    ``position`` an int; absent values ``""``). ``kind`` is one of note, read, request,
    decision, disclosure, accounting; ``who`` is the requester (the actor for a note version,
    the recipient for an accounting entry). Rows repeated across calls (same position and
    kind) appear once. Steps of a disclosure request after the first carry the requester
    of the request (the projection keeps it on ``DisclosureRequested`` only).
    """
    out: list[dict] = []
    for r in note_rows:
        out.append(_entry(r, "note", r.get("event_type") or "note event", r.get("actor_id"), "", None, None,
                          f"{r.get('note_kind') or ''} note {r.get('note_id')}, version {r.get('stream_version')}"))
    for r in access_rows:
        is_read = r.get("action") == "use" and not r.get("request_id")
        what = f"note {r['note_id']}" if r.get("note_id") else f"{r.get('note_kind') or ''} notes"
        detail = f"{r.get('action') or 'access'} {what} for {r.get('purpose') or 'unstated purpose'}"
        if r.get("request_id"):
            detail += f" (request {r['request_id']})"
        out.append(_entry(r, "read" if is_read else "decision", "Access decided", r.get("requester_id"),
                          r.get("requester_role"), r.get("decision"), r.get("rule"), detail))
    requesters: dict = {}
    for r in sorted(disclosure_rows, key=lambda r: r.get("global_position") or 0):
        status = r.get("status") or ""
        if r.get("requester_org") or r.get("requester_role"):
            requesters.setdefault(r.get("request_id"), (r.get("requester_org"), r.get("requester_role")))
        org, role = requesters.get(r.get("request_id"), (None, None))
        decision = r.get("decision") or ("hold" if status == "on_hold" else None)
        detail = f"request {r.get('request_id')}: {status.replace('_', ' ')}"
        if r.get("purpose"):
            detail += f" for {r['purpose']}"
        if r.get("fields_released"):
            detail += f"; fields {r['fields_released']}"
        out.append(_entry(r, _STEP_KIND.get(status, "request"), r.get("event_type") or "Disclosure step",
                          r.get("requester_org") or org, r.get("requester_role") or role, decision, r.get("rule"),
                          detail))
    for r in accounting_rows:
        detail = f"disclosed {r.get('disclosed_at') or ''} for {r.get('purpose') or 'unstated purpose'}"
        if r.get("description"):
            detail += f": {r['description']}"
        out.append(_entry(r, "accounting", "Accounting entry", r.get("recipient"), "", None, None, detail))
    seen, unique = set(), []
    for e in sorted(out, key=lambda e: (e["position"] or 0, e["kind"])):
        key = (e["position"], e["kind"], e["label"])
        if key not in seen:
            seen.add(key)
            unique.append(e)
    return unique


_CSS = """
:root { --ink:#1d2430; --muted:#5b6678; --line:#dfe3ea; --bg:#f6f7f9; --card:#fff;
  --permit:#1f7a4d; --permit-bg:#e3f4ea; --deny:#b42318; --deny-bg:#fde8e6;
  --hold:#8a5a00; --hold-bg:#fdf1d8; --other:#3d4a5c; --other-bg:#eceff4; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
  color:var(--ink); background:var(--bg); }
header { background:#22304a; color:#fff; padding:18px 28px 16px; }
header h1 { margin:0 0 4px; font-size:20px; font-weight:600; }
header p { margin:2px 0; color:#c9d3e3; font-size:13px; }
header .patient { color:#fff; font-weight:600; }
main { padding:18px 28px 40px; max-width:1400px; }
.notice { background:#eef3fb; border:1px solid #cbd8ee; border-radius:6px; padding:8px 12px; margin-bottom:14px;
  color:#2c3e5c; font-size:13px; }
.panel { display:flex; flex-wrap:wrap; gap:18px; align-items:flex-start; background:var(--card);
  border:1px solid var(--line); border-radius:8px; padding:12px 16px; margin-bottom:14px; }
.panel fieldset { border:0; margin:0; padding:0; }
.panel legend, .panel label.title { font-size:11px; text-transform:uppercase; letter-spacing:.05em;
  color:var(--muted); font-weight:600; margin-bottom:4px; display:block; }
.panel button { font:inherit; font-size:12px; padding:3px 10px; border:1px solid var(--line); border-radius:5px;
  background:#f3f5f8; cursor:pointer; }
.panel select { font:inherit; padding:4px 6px; min-width:220px; border:1px solid var(--line); border-radius:5px; }
.checks label { display:inline-flex; align-items:center; gap:4px; margin-right:12px; white-space:nowrap; }
.counts { flex-basis:100%; border-top:1px solid var(--line); padding-top:10px; }
.counts .title { font-size:11px; text-transform:uppercase; letter-spacing:.05em; color:var(--muted);
  font-weight:600; display:block; margin-bottom:4px; }
.counts ul { list-style:none; margin:0; padding:0; display:flex; flex-wrap:wrap; gap:6px 10px; }
.counts li { display:inline-flex; align-items:center; gap:5px; font-variant-numeric:tabular-nums; }
.counts li b { font-size:14px; }
#shown { color:var(--muted); font-size:13px; margin:0 0 8px 2px; }
table.timeline { width:100%; border-collapse:separate; border-spacing:0; background:var(--card);
  border:1px solid var(--line); border-radius:8px; overflow:hidden; }
.timeline th { text-align:left; font-size:11px; text-transform:uppercase; letter-spacing:.05em; color:var(--muted);
  background:#fafbfc; border-bottom:1px solid var(--line); padding:8px 10px; }
.timeline td { padding:8px 10px; border-bottom:1px solid var(--line); vertical-align:top; }
.timeline tr:last-child td { border-bottom:0; }
.timeline td.pos, .timeline td.at { font-variant-numeric:tabular-nums; white-space:nowrap; color:var(--muted); }
.timeline td.rule { font-size:12.5px; color:#364152; width:24%; min-width:190px; }
.timeline td.pos { width:1%; }
.timeline td.what { min-width:180px; }
.timeline td.who small { display:block; color:var(--muted); }
.kind { display:inline-block; border-left:4px solid var(--other); padding:1px 8px; border-radius:3px;
  background:var(--other-bg); font-size:12px; font-weight:600; white-space:nowrap; }
.kind-note { border-color:#5b5fc7; background:#ecebfb; }
.kind-read { border-color:#2172c4; background:#e5f0fb; }
.kind-request { border-color:#8a6d00; background:#fbf5dc; }
.kind-decision { border-color:#6b3fa0; background:#f1eafa; }
.kind-disclosure { border-color:#c2410c; background:#fdeee4; }
.kind-accounting { border-color:#0f766e; background:#e1f4f1; }
.decision { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; font-weight:600;
  background:var(--other-bg); color:var(--other); white-space:nowrap; }
.d-permit { background:var(--permit-bg); color:var(--permit); }
.d-deny { background:var(--deny-bg); color:var(--deny); }
.d-hold { background:var(--hold-bg); color:var(--hold); }
.label { color:var(--muted); font-size:12px; }
.empty { padding:24px; text-align:center; color:var(--muted); }
footer { color:var(--muted); font-size:12px; margin-top:14px; }
"""

_JS = """
(function () {
  var rows = Array.prototype.slice.call(document.querySelectorAll('tbody tr[data-decision]'));
  var who = document.getElementById('f-requester');
  var boxes = Array.prototype.slice.call(document.querySelectorAll('input[name=decision]'));
  function readHash() {
    var state = {};
    var raw = (location.hash || '').replace(/^#/, '') || (location.search || '').replace(/^\\?/, '');
    raw.split('&').forEach(function (pair) {
      if (!pair) return;
      var i = pair.indexOf('=');
      var k = decodeURIComponent(i < 0 ? pair : pair.slice(0, i));
      var v = i < 0 ? '' : decodeURIComponent(pair.slice(i + 1).replace(/\\+/g, ' '));
      state[k] = v;
    });
    if ('requester' in state) {
      var ok = Array.prototype.some.call(who.options, function (o) { return o.value === state.requester; });
      who.value = ok ? state.requester : '';
    }
    if ('decision' in state) {
      var wanted = state.decision.split(',');
      boxes.forEach(function (b) { b.checked = wanted.indexOf(b.value) >= 0; });
    }
  }
  function apply(updateHash) {
    var allowed = boxes.filter(function (b) { return b.checked; }).map(function (b) { return b.value; });
    var shown = 0;
    rows.forEach(function (r) {
      var visible = (!who.value || r.getAttribute('data-requester') === who.value) &&
                    allowed.indexOf(r.getAttribute('data-decision')) >= 0;
      if (visible) { r.removeAttribute('hidden'); shown++; } else { r.setAttribute('hidden', ''); }
    });
    document.getElementById('shown').textContent = shown + ' of ' + rows.length + ' events shown';
    document.body.setAttribute('data-shown', String(shown));
    if (updateHash && window.history && history.replaceState) {
      var parts = [];
      if (who.value) parts.push('requester=' + encodeURIComponent(who.value));
      if (allowed.length !== boxes.length) parts.push('decision=' + allowed.map(encodeURIComponent).join(','));
      history.replaceState(null, '', parts.length ? '#' + parts.join('&') : location.pathname + location.search);
    }
  }
  who.addEventListener('change', function () { apply(true); });
  boxes.forEach(function (b) { b.addEventListener('change', function () { apply(true); }); });
  document.getElementById('f-reset').addEventListener('click', function () {
    who.value = ''; boxes.forEach(function (b) { b.checked = true; }); apply(true);
  });
  window.addEventListener('hashchange', function () { readHash(); apply(false); });
  readHash();
  apply(false);
})();
"""


def _short_time(at) -> str:
    """``2026-04-30T16:00:00.000000Z`` → ``2026-04-30 16:00:00`` (the full value stays in the title)."""
    text = str(at or "")
    return text[:19].replace("T", " ") if len(text) >= 19 and text[10] == "T" else text


def _decision_class(decision: str) -> str:
    if decision.startswith("permit") or decision == "released":
        return "d-permit"
    if decision in ("deny", "refused"):
        return "d-deny"
    if decision in ("hold", "discretionary"):
        return "d-hold"
    return ""


def render_report(patient_id: str, timeline_rows: list[dict], generated_at: str, head_position: int) -> str:
    """The HTML page for ``patient_id``.

    ``timeline_rows``: entries as :func:`timeline` returns them (newest last).
    ``generated_at``: an RFC 3339 time; ``head_position``: the event store's head global
    position the data reflects. Returns a complete HTML document (str) with no external
    references. Raises KeyError if an entry lacks one of the :func:`timeline` keys.
    """
    e = html.escape
    decisions = Counter(r["decision"] or NO_DECISION for r in timeline_rows)
    requesters = sorted({r["who"] for r in timeline_rows if r["who"]})
    order = sorted(decisions, key=lambda d: (d == NO_DECISION, d))

    body_rows = []
    for r in timeline_rows:
        decision = r["decision"] or NO_DECISION
        badge = (f'<span class="decision {_decision_class(r["decision"])}">{e(r["decision"])}</span>'
                 if r["decision"] else '<span class="label">—</span>')
        role = f'<small>{e(r["role"])}</small>' if r["role"] else ""
        body_rows.append(
            f'<tr data-kind="{e(r["kind"])}" data-requester="{e(r["who"])}" data-decision="{e(decision)}">'
            f'<td class="pos">{e(str(r["position"]))}</td>'
            f'<td class="at" title="{e(str(r["at"] or ""))}">{e(_short_time(r["at"]))}</td>'
            f'<td><span class="kind kind-{e(r["kind"])}">{e(KIND_LABELS.get(r["kind"], r["kind"]))}</span>'
            f'<div class="label">{e(r["label"])}</div></td>'
            f'<td class="who">{e(r["who"]) or "—"}{role}</td>'
            f'<td class="what">{e(r["detail"])}</td>'
            f'<td>{badge}</td>'
            f'<td class="rule">{e(r["rule"]) or "—"}</td></tr>')
    if not body_rows:
        body_rows.append('<tr><td colspan="7" class="empty">No audit events recorded for this patient.</td></tr>')

    options = "".join(f'<option value="{e(w)}">{e(w)}</option>' for w in requesters)
    checks = "".join(f'<label><input type="checkbox" name="decision" value="{e(d)}" checked> {e(d)}</label>'
                     for d in order)
    counts = "".join(f'<li data-count="{e(d)}"><span class="decision {_decision_class(d)}">{e(d)}</span>'
                     f'<b>{decisions[d]}</b></li>' for d in order)
    kinds = Counter(r["kind"] for r in timeline_rows)
    kind_summary = ", ".join(f"{n} {e(KIND_LABELS.get(k, k).lower())}" for k, n in sorted(kinds.items()))

    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Audit report — patient {e(patient_id)}</title>
<style>{_CSS}</style>
</head>
<body>
<header>
<h1>Confide audit report</h1>
<p>Access, disclosure and note-version history for patient <span class="patient" id="patient">{e(patient_id)}</span></p>
<p>Generated <time id="generated">{e(generated_at)}</time> · reflects the event store up to global position <strong id="head">{e(str(head_position))}</strong></p>
</header>
<main>
<div class="notice">Built from the audit projections: who asked for which note, for what purpose, the decision and
the rule it cites, what was disclosed to whom, and every note version. It holds no clinical content.
{len(timeline_rows)} events{': ' + kind_summary if kind_summary else ''}.</div>
<form class="panel" id="filters" onsubmit="return false">
<div><label class="title" for="f-requester">Requester</label>
<select id="f-requester"><option value="">All requesters</option>{options}</select></div>
<fieldset class="checks"><legend>Decision</legend>{checks}
<button type="button" id="f-reset">Show all</button></fieldset>
<div class="counts"><span class="title">Count per decision</span><ul id="counts">{counts}</ul></div>
</form>
<p id="shown">{len(timeline_rows)} of {len(timeline_rows)} events shown</p>
<table class="timeline">
<thead><tr><th>Position</th><th>Recorded (UTC)</th><th>Event</th><th>Requester / actor</th><th>What</th><th>Decision</th><th>Rule / citation</th></tr></thead>
<tbody>
{chr(10).join(body_rows)}
</tbody>
</table>
<footer>Oldest first, newest last. Positions are the event store's global positions; replaying the store from position 1 rebuilds these rows exactly.</footer>
</main>
<script>{_JS}</script>
</body>
</html>
"""
