"""``confide audit export``, ``report`` and ``rejudge`` (registered lazily by confide_app.audit_cli).

    confide audit export --format fhir|csv --projection access_log|disclosure_log|accounting|note_versions
                         [--patient ID] [-o FILE|DIR] [--schema S]
    confide audit report --patient ID [-o FILE] [--schema S]
    confide audit rejudge [--schema S] [--json]     (exit 0: every decision holds; 1: mismatches;
                                                     unsealed request/authorization events are listed)

The data comes from the audit projections (``store.projections``, a
:class:`~confide.eventstore.interfaces.ProjectionStore`); the mapping to
FHIR/CSV is ``audit.fhir_export`` and the page is ``audit.report`` (both pure).
For one patient, disclosure steps and note versions that do not repeat the
patient id (only ``DisclosureRequested`` and ``*Drafted`` carry it) are found
through their request or note.
"""
from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import click

from audit import fhir_export, queries
from audit import report as report_mod
from confide import config
from confide.eventstore.interfaces import ProjectionStore

PROJECTIONS = tuple(fhir_export.TABLES)

schema_option = click.option("--schema", default=None,
                             help="event store schema (default CONFIDE_DB_SCHEMA, else confide)")


def open_store(schema: str | None):
    """A PostgresEventStore on ``config.db_dsn()``; raises click.ClickException when unreachable."""
    from confide.eventstore.store import PostgresEventStore

    try:
        return PostgresEventStore(config.db_dsn(), schema=schema or config.db_schema(), pool_size=2)
    except Exception as exc:
        raise click.ClickException(str(exc)) from None


# Steps of a request and versions of a note after the first do not repeat the patient id:
# find them through the request or the note.
_RELATED_BY = {"disclosure_log": "request_id", "note_versions": "note_id"}


def projection_rows(projections: ProjectionStore, projection: str, patient_id: str | None,
                    limit: int) -> list[dict]:
    """Rows of one projection in global order, for one patient when ``patient_id`` is given.

    For ``disclosure_log`` every step of each of the patient's requests is
    included; for ``note_versions`` every version of each of the patient's notes.
    Raises KeyError for an unknown projection.
    """
    table = fhir_export.TABLES[projection]
    if patient_id and projection in _RELATED_BY:
        return [queries._safe(r) for r in projections.select(
            table, where={"patient_id": patient_id}, related_by=_RELATED_BY[projection], limit=limit)]
    return queries.rows(projections, table, patient_id, limit)


def _output_path(output: str | None, projection: str, patient_id: str | None, ext: str) -> Path | None:
    if output is None or output == "-":
        return None
    path = Path(output)
    if path.is_dir() or output.endswith(("/", "\\")):
        path.mkdir(parents=True, exist_ok=True)
        path = path / f"{projection}{'-' + patient_id if patient_id else ''}.{ext}"
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    return path


@click.command()
@schema_option
@click.option("--format", "fmt", type=click.Choice(["fhir", "csv"]), required=True,
              help="fhir: a Bundle (collection) of BALP AuditEvents or Provenance; csv: the table")
@click.option("--projection", type=click.Choice(PROJECTIONS), required=True)
@click.option("--patient", "patient_id", default=None, help="only this patient's rows")
@click.option("-o", "--output", default=None, help="file, or directory (file named after the projection); default stdout")
@click.option("--limit", default=1_000_000, show_default=True, help="at most this many rows")
def export(schema, fmt, projection, patient_id, output, limit):
    """Export one audit projection as FHIR R4 (IHE BALP AuditEvents / Provenance) or CSV."""
    store = open_store(schema)
    try:
        rows = projection_rows(store.projections, projection, patient_id, limit)
        head = store.head_position()
    finally:
        store.close()
    path = _output_path(output, projection, patient_id, "json" if fmt == "fhir" else "csv")
    if fmt == "fhir":
        resources = fhir_export.resources_for(projection, rows, fhir_export.Site(endpoint=config.gateway_url()))
        bundle = fhir_export.bundle(resources, f"confide-{projection.replace('_', '-')}-{head}")
        text = fhir_export.dumps(bundle)
        if path:
            path.write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
        summary = f"{len(resources)} resources from {len(rows)} {projection} rows"
    else:
        if path:
            with path.open("w", encoding="utf-8", newline="") as out:
                n = fhir_export.write_csv(projection, rows, out)
        else:
            n = fhir_export.write_csv(projection, rows, sys.stdout)
        summary = f"{n} {projection} rows"
    if path:
        click.echo(f"wrote {summary} to {path} (event store head {head})", err=True)


def gather_timeline(projections: ProjectionStore, patient_id: str, limit: int = 100_000) -> list[dict]:
    """The patient's timeline entries (see ``audit.report.timeline``), oldest first."""
    return report_mod.timeline(
        access_rows=projection_rows(projections, "access_log", patient_id, limit),
        disclosure_rows=projection_rows(projections, "disclosure_log", patient_id, limit),
        accounting_rows=projection_rows(projections, "accounting", patient_id, limit),
        note_rows=projection_rows(projections, "note_versions", patient_id, limit))


@click.command()
@schema_option
@click.option("--patient", "patient_id", required=True, help="the patient whose history to render")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="HTML file (default audit-report-<patient>.html)")
def report(schema, patient_id, output):
    """Write a self-contained HTML page of one patient's notes, reads, requests, decisions and disclosures."""
    store = open_store(schema)
    try:
        entries = gather_timeline(store.projections, patient_id)
        head = store.head_position()  # read after the rows: every row shown is at or below it
    finally:
        store.close()
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    page = report_mod.render_report(patient_id, entries, generated, head)
    path = output or Path(f"audit-report-{patient_id}.html")
    path.write_text(page, encoding="utf-8")
    click.echo(f"wrote {path} ({len(entries)} events, event store head {head})")


def _cell(summary: dict) -> str:
    return f"{summary['decision']}\n{summary['rule']}"


@click.command()
@schema_option
@click.option("--json", "as_json", is_flag=True, help="print {checked, mismatches} as JSON")
def rejudge(schema, as_json):
    """Re-judge every past decision with the current engine on the facts known at its decision time.

    Lists each decision that now comes out differently, or that the facts then known do not
    support, with the recorded and current decision and rule. Exit 0 when none, 1 otherwise.
    Request and authorization events the disclosures service did not seal (``CONFIDE_KEY_DIR``'s
    ``service-keys/disclosures.pub``) are listed as "unsealed, not believed" and not re-judged.
    """
    from audit.rejudge import rejudge as run_rejudge
    from confide.identity.directory_seal import SealedDirectory, SealedDisclosures

    store = open_store(schema)
    try:
        # Requests and authorizations count only as the disclosures service sealed them, directory
        # facts (a supervisor's link to a note's author) only as the directory sealed them (verify only).
        try:
            sealed = SealedDirectory.from_key_dir(SealedDisclosures(store, config.key_dir()), config.key_dir())
        except (FileNotFoundError, ValueError) as exc:
            raise click.ClickException(str(exc)) from None
        result = run_rejudge(sealed)
    finally:
        store.close()
    mismatches = result["mismatches"]
    if result["unsealed"] and not as_json:
        click.echo(f"rejudge: {len(result['unsealed'])} event(s) of disclosure requests or authorizations are "
                   "unsealed, not believed (forged, or recorded before seals: staff must re-record them):",
                   err=True)
        for u in result["unsealed"]:
            click.echo(f"  unsealed, not believed: {u['stream']} version {u['version']} "
                       f"recorded {u['recorded_at']}", err=True)
    if as_json:
        click.echo(json.dumps(result, indent=2, sort_keys=True))
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"{len(mismatches)} of {result['checked']} decisions do not hold today")
        for column in ("decided at", "kind", "decision id", "patient", "recorded", "current engine", "findings"):
            table.add_column(column, overflow="fold")
        for m in mismatches:
            table.add_row(m["decided_at"], m["kind"] + (" (unsupported)" if m["unsupported"] else ""),
                          m["decision_id"], m["patient_id"] or "", _cell(m["recorded"]), _cell(m["current"]),
                          "\n".join(m["findings"]))
        if mismatches:
            Console().print(table)
        else:
            click.echo(f"rejudge: all {result['checked']} past decisions come out the same under today's engine "
                       "on the facts known when they were made")
    sys.exit(1 if mismatches else 0)
