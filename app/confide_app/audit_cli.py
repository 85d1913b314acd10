"""``confide audit …``: the auditor's commands.

    verify            recompute every hash and MAC; exit 0 intact, 1 naming the first bad position
                      (verify and prove connect as the auditor's read-only role, CONFIDE_AUDITOR_DSN);
                      a sealed log without signed checkpoints fails unless --no-checkpoints-yet
    seal              extend the chain over committed events now (the audit service does this too;
                      as the projector's login, CONFIDE_PROJECTOR_DSN, the only one that may)
    replay            rebuild projections from the store; report whether they match the live ones
                      (--apply replaces the live ones: the administrator's login, CONFIDE_ADMIN_DSN)
    publish-head DEST copy the signed tree heads to a second place the practice chooses (append-only)
    check-heads       find two signed heads of one tree size with different roots (a forked log)
    as-of             a stream's state as it stood at a time
    prove inclusion   proof that an event is in the log under a signed tree head
    prove consistency proof that the log grew only by appending since an earlier tree head
    check             verify a proof bundle offline with only the public key
    dlq               list or replay dead-lettered messages
Further subcommands (export, report, rejudge) are registered lazily from the audit service.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from confide import config
from confide_app.cli import LazyGroup

_LOGINS = {"app": config.db_dsn, "auditor": config.auditor_dsn, "projector": config.projector_dsn,
           "admin": config.maintenance_dsn}


def _store(schema: str | None = None, auditor: bool = False, login: str = "app"):
    """The event store as the services' role; as the auditor's read-only role (``auditor``,
    ``CONFIDE_AUDITOR_DSN``: what only reads the log, verify and prove, needs nothing more); as the
    projector's (``login="projector"``: sealing) or the administrator's (``login="admin"``: rebuilding
    the live projections)."""
    from confide.eventstore.store import PostgresEventStore

    try:
        dsn = _LOGINS["auditor" if auditor else login]()
        return PostgresEventStore(dsn, schema=schema or config.db_schema(), pool_size=2)
    except Exception as exc:
        raise click.ClickException(str(exc)) from None


def _progress(label: str, total: int):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    progress = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                        transient=True, console=_console())
    task = progress.add_task(label, total=total or None)
    return progress, (lambda n: progress.update(task, completed=n))


def _console():
    from rich.console import Console

    return Console(stderr=True)


schema_option = click.option("--schema", default=None, help="event store schema (default confide)")
keys_option = click.option("--key-dir", type=click.Path(path_type=Path), default=None,
                           help="key directory (default CONFIDE_KEY_DIR)")
cp_option = click.option("--checkpoint-dir", type=click.Path(path_type=Path), default=None,
                         help="signed checkpoints (default CONFIDE_CHECKPOINT_DIR)")


@click.group(cls=LazyGroup, lazy={
    "check": "confide.proofs:check_command",
    "export": "audit.commands:export",
    "report": "audit.commands:report",
    "rejudge": "audit.commands:rejudge",
})
def audit():
    """Replay, verify and prove the event history."""


@audit.command()
@schema_option
@keys_option
@cp_option
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
@click.option("--no-checkpoints-yet", is_flag=True,
              help="accept a sealed log with no signed checkpoint in the checkpoint directory (only on a "
                   "first check against a directory that has none yet; otherwise their absence fails)")
def verify(schema, key_dir, checkpoint_dir, as_json, no_checkpoints_yet):
    """Recompute the hash chain from the store; exit 0 if intact, 1 naming the first bad position.

    Fails too when the log has sealed events but the checkpoint directory holds no signed checkpoint
    (the file deleted or emptied), unless --no-checkpoints-yet says that is expected."""
    from confide.eventstore.chain import load_chain_key
    from confide.eventstore.chain import verify as run_verify
    from confide.keys import load_public_key

    key_dir = key_dir or config.key_dir()
    store = _store(schema, auditor=True)
    try:
        total = store.head_position()
        progress, update = _progress("verifying", total)
        with progress:
            report = run_verify(store, load_chain_key(key_dir), load_public_key(key_dir),
                                checkpoint_dir or config.checkpoint_dir(), progress=update,
                                no_checkpoints_yet=no_checkpoints_yet)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(report.__dict__, indent=2))
    elif report.ok:
        click.echo(f"verify: OK — {report.events} events, {report.sealed} sealed"
                   f" ({report.unsealed_tail} not yet sealed), {report.checkpoints} signed checkpoints;"
                   f" chain head {report.head_mac and report.head_mac[:16]}…, Merkle root {report.root_hash[:16]}…")
    else:
        click.echo(f"verify: FAILED — first bad global position: {report.first_bad_position}", err=True)
        for p in report.problems:
            click.echo(f"  {p}", err=True)
        if report.sealed and not report.checkpoints:
            click.echo("  (restore the checkpoint file from its published copy, `confide audit publish-head`, "
                       "and verify again; --no-checkpoints-yet only for a first check against a directory "
                       "that never had any)", err=True)
    sys.exit(0 if report.ok else 1)


@audit.command()
@schema_option
@keys_option
@cp_option
def seal(schema, key_dir, checkpoint_dir):
    """Seal committed events into the keyed chain and write a signed checkpoint (as the projector's
    login, CONFIDE_PROJECTOR_DSN: the only one that may extend the chain)."""
    from confide.eventstore.chain import ChainSealer, load_chain_key
    from confide.keys import load_signing_key

    key_dir = key_dir or config.key_dir()
    store = _store(schema, login="projector")
    try:
        result = ChainSealer(store, load_chain_key(key_dir), load_signing_key(key_dir),
                             checkpoint_dir or config.checkpoint_dir()).seal()
    finally:
        store.close()
    click.echo(f"sealed {result.sealed} events" + (f" up to global position {result.global_position}"
                                                    if result.sealed else ""))


@audit.command("publish-head")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@keys_option
@cp_option
def publish_head(dest, key_dir, checkpoint_dir):
    """Copy the signed tree heads to DEST, a second place the practice chooses.

    Appends each signed checkpoint of the checkpoint directory not yet in DEST/chain-heads.jsonl
    (created with DEST when missing), flushed to disk; nothing is ever rewritten there. Put DEST where
    whoever can write the checkpoint directory cannot (another machine's share, write-once storage)
    and run this after sealing (e.g. from cron). DEST is itself a checkpoint directory:
    `confide audit verify --checkpoint-dir DEST` verifies the log against it, and `confide audit
    check-heads DEST` compares it with the primary. Refuses, writing nothing, when a head does not
    verify, when DEST holds heads the checkpoint directory lost, or when the two disagree (a fork).
    """
    from confide.keys import load_public_key
    from confide.treeheads import PublishRefusedError, publish

    key_dir = key_dir or config.key_dir()
    checkpoint_dir = checkpoint_dir or config.checkpoint_dir()
    try:
        result = publish(checkpoint_dir, dest, load_public_key(key_dir))
    except PublishRefusedError as exc:
        click.echo(f"publish-head: REFUSED — nothing written to {dest}", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(1)
    except (OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    newest = result.newest
    click.echo(f"publish-head: {result.published} new signed head(s) appended to {result.path}; newest: "
               f"tree size {newest.tree_size}, root {newest.root_hash[:16]}…, signed {newest.timestamp}")


@audit.command("check-heads")
@click.argument("sources", nargs=-1, type=click.Path(path_type=Path))
@keys_option
@cp_option
@click.option("--public-key", "public_key_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="the practice's audit-signing public key (default <key-dir>/audit-signing.pub)")
@click.option("--no-primary", is_flag=True, help="compare only SOURCES, not the checkpoint directory "
                                                 "(an outside auditor holding copies and the public key)")
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
def check_heads(sources, key_dir, checkpoint_dir, public_key_path, no_primary, as_json):
    """Find two signed heads of one tree size with different roots: a forked (split-view) log.

    Reads the checkpoint directory's signed heads and each SOURCE's: a published copy (a directory,
    see publish-head), a chain-heads.jsonl file, or a JSON file holding signed tree heads (a proof
    bundle, a `verify_chain` result). Every signature is checked against the public key. Exit 0 when
    all agree; 1 naming both heads of each fork, a head that does not verify, a checkpoint file whose
    tree size goes back, or heads a copy holds that the checkpoint directory no longer does (cut, or
    rewritten); 2 when a key or source cannot be read.
    """
    from confide import signing, treeheads

    key_dir = key_dir or config.key_dir()
    places = ([] if no_primary else [Path(checkpoint_dir or config.checkpoint_dir())]) + list(sources)
    if not places:
        raise click.UsageError("nothing to compare: give SOURCES, or leave out --no-primary")
    try:
        public_key = signing.load_public(public_key_path or Path(key_dir) / signing.PUBLIC_KEY_FILENAME)
    except (OSError, ValueError) as exc:
        click.echo(f"UNREADABLE: public key: {exc}", err=True)
        sys.exit(2)
    heads_by_place, problems = [], []
    for place in places:
        try:
            heads, bad = treeheads.read_heads(place, public_key)
        except (OSError, UnicodeDecodeError) as exc:
            click.echo(f"UNREADABLE: {place}: {exc}", err=True)
            sys.exit(2)
        heads_by_place.append((place, heads))
        problems += bad
    if not no_primary:
        primary = heads_by_place[0][1]
        for _place, heads in heads_by_place[1:]:
            problems += treeheads.lost_head_problems(primary, heads, "the checkpoint directory")
    forks = treeheads.find_forks(h for _place, heads in heads_by_place for h in heads)
    ok = not forks and not problems
    if as_json:
        click.echo(json.dumps({"ok": ok, "forks": [f.to_dict() for f in forks], "problems": problems,
                               "sources": [{"source": str(p), "heads": len(hs),
                                            "newest_tree_size": max((h.tree_size for h in hs), default=None)}
                                           for p, hs in heads_by_place]}, indent=2))
    else:
        for place, heads in heads_by_place:
            click.echo(f"{place}: {len(heads)} signed head(s), newest tree size "
                       f"{max((h.tree_size for h in heads), default='-')}")
        for fork in forks:
            click.echo(fork.describe(), err=True)
        for problem in problems:
            click.echo(f"PROBLEM: {problem}", err=True)
        total = sum(len(hs) for _p, hs in heads_by_place)
        click.echo(f"check-heads: OK — {total} signed heads from {len(places)} place(s), no two of one size disagree"
                   if ok else f"check-heads: FAILED — {len(forks)} fork(s), {len(problems)} other problem(s)",
                   err=not ok)
    sys.exit(0 if ok else 1)


@audit.command()
@schema_option
@click.option("--projection", "names", multiple=True,
              type=click.Choice(["access_log", "disclosure_log", "accounting", "note_versions"]),
              help="projection(s) to rebuild (default all)")
@click.option("--as-of", "as_of", default=None, help="RFC 3339 time: show STREAM's state as it stood then")
@click.option("--stream", default=None, help="with --as-of: the stream (note, authorization or request)")
@click.option("--apply", is_flag=True, help="replace the live projections with the rebuild (after a code change; "
                                            "as the administrator, CONFIDE_ADMIN_DSN: no service login may)")
def replay(schema, names, as_of, stream, apply):
    """Rebuild projections from the store and report whether they match the live ones."""
    if as_of:
        if not stream:
            raise click.UsageError("--as-of needs --stream")
        return _show_as_of(schema, stream, as_of)
    from audit.replay import replay as run_replay

    store = _store(schema, login="admin" if apply else "app")
    try:
        progress, update = _progress("replaying", store.head_position())
        with progress:
            report = run_replay(store, names or None, progress=update, apply=apply)
    finally:
        store.close()
    for name, p in report.projections.items():
        verdict = "matches" if p["missing_live"] == 0 and p["extra_live"] == 0 else "DIFFERS"
        click.echo(f"{name:<15} rebuilt {p['rebuilt_rows']:>7} rows, live {p['live_rows']:>7} "
                   f"(to position {p['live_high_position']}): {verdict}"
                   + ("" if verdict == "matches" else f" — missing live {p['missing_live']}, extra/different live {p['extra_live']}"))
    click.echo(f"replayed {report.events} events: " + ("live projections match" if report.matches
                                                         else "live projections DIFFER"))
    if apply:
        click.echo("live projections replaced by the rebuild")
        sys.exit(0)
    sys.exit(0 if report.matches else 1)


@audit.command("as-of")
@schema_option
@click.argument("stream")
@click.argument("time")
def as_of_command(schema, stream, time):
    """Show STREAM (e.g. authorization-<id>) as it stood at TIME (RFC 3339)."""
    _show_as_of(schema, stream, time)


def _show_as_of(schema, stream, time):
    from confide.timestamps import parse_ts
    from confide.timetravel import state_as_of

    try:
        at = parse_ts(time, "TIME", require_zone=True)
    except ValueError:
        raise click.BadParameter(f"time {time!r} is not RFC 3339 with a zone (e.g. Z)", param_hint="TIME") from None
    store = _store(schema)
    try:
        click.echo(json.dumps(state_as_of(store, stream, at), indent=2, default=str))
    finally:
        store.close()


@audit.group()
def prove():
    """Merkle proofs (RFC 9162) under signed tree heads."""


def _content_hashes(store):
    from confide.eventstore.chain import sealed_content_hashes

    return sealed_content_hashes(store)


@prove.command("inclusion")
@schema_option
@keys_option
@click.argument("event_id")
@click.option("-o", "--output", type=click.File("w"), default="-")
def prove_inclusion(schema, key_dir, event_id, output):
    """Inclusion proof for EVENT_ID in the sealed log, under a freshly signed tree head."""
    from confide import merkle, proofs
    from confide.eventstore.chain import chain_size, sealed_entry
    from confide.keys import load_signing_key

    store = _store(schema, auditor=True)
    try:
        row = sealed_entry(store, event_id)
        size = chain_size(store)
        if row is None:
            raise click.ClickException(f"event {event_id} is not in the sealed log (run `confide audit seal`?)")
        tree = merkle.MerkleTree(_content_hashes(store))
        bundle = proofs.make_inclusion_bundle(
            tree, row[0], event_id=event_id, global_position=row[1], content_hash=row[2],
            tree_size=size, private_key=load_signing_key(key_dir or config.key_dir()))
    finally:
        store.close()
    output.write(json.dumps(bundle, indent=2) + "\n")


@prove.command("consistency")
@schema_option
@keys_option
@click.option("--old-head", type=click.File("r"), required=True,
              help="a signed tree head (JSON) seen earlier, or a bundle holding one")
@click.option("-o", "--output", type=click.File("w"), default="-")
def prove_consistency(schema, key_dir, old_head, output):
    """Consistency proof from an earlier signed tree head to the current sealed log."""
    from confide import merkle, proofs
    from confide.keys import load_signing_key

    head = json.load(old_head)
    head = head.get("tree_head") or head.get("new_tree_head") or head
    store = _store(schema, auditor=True)
    try:
        tree = merkle.MerkleTree(_content_hashes(store))
        try:
            bundle = proofs.make_consistency_bundle(tree, old_tree_head=head,
                                                    private_key=load_signing_key(key_dir or config.key_dir()))
        except ValueError as exc:
            raise click.ClickException(f"no consistency proof: {exc}") from None
    finally:
        store.close()
    output.write(json.dumps(bundle, indent=2) + "\n")


@audit.group()
def dlq():
    """Dead-lettered messages (handlers that failed DELIVERY_LIMIT times)."""


@dlq.command("list")
def dlq_list():
    """Print the dead-lettered events (type, global position, event id)."""
    from confide.dlq import peek

    messages = peek(config.amqp_uri('audit'))
    for msg in messages:
        body = msg if isinstance(msg, dict) else {}
        click.echo(f"{body.get('global_position', '?'):>10}  {str(body.get('type', '?')):<28} "
                   f"{body.get('event_id', '?')}")
    click.echo(f"{len(messages)} dead-lettered message(s) in audit.events.dlq")


@dlq.command("replay")
def dlq_replay():
    """Move every dead-lettered message back to the audit queue (handlers are idempotent)."""
    from confide.dlq import replay_all

    click.echo(f"replayed {replay_all(config.amqp_uri('audit'))} messages to audit.events")
