"""``confide backup`` and ``confide restore``.

    confide backup OUT                 one encrypted archive: the event store's and the web front door's
                                       databases (pg_dump), the key and checkpoint directories, a manifest
    confide backup keygen KEYFILE      a recipient key pair: KEYFILE (private, 0600) and KEYFILE.pub
    confide restore ARCHIVE            onto this machine's configured databases and directories, then verify

The archive is encrypted to a passphrase (``--passphrase-file``, else ``CONFIDE_BACKUP_PASSPHRASE``,
else a prompt; never an argument) or to a recipient's public key (``--recipient KEYFILE.pub``), which
then opens it with ``--identity KEYFILE``. Keep the passphrase and the private key away from the
archives. See :mod:`confide.backup.archive` for what is inside and in which order it is taken.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click

PASSPHRASE_ENV = "CONFIDE_BACKUP_PASSPHRASE"


class DefaultGroup(click.Group):
    """A group whose first argument, when it names no subcommand, goes to ``default`` (``confide backup
    OUT`` is ``confide backup create OUT``)."""

    def __init__(self, *args, default: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.default = default

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] != "--help":
            args = [self.default, *args]
        return super().parse_args(ctx, args)


def _exit_on_sigterm() -> None:
    """SIGTERM ends the command through SystemExit, so its clean-up (the private temporary directory,
    a partly written archive, a database half restored) runs as it does on Ctrl-C."""
    import signal

    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))


def _passphrase(path: Path | None, confirm: bool) -> str:
    if path is not None:
        if path.stat().st_mode & 0o077:
            click.echo(f"warning: {path} can be read by other users (chmod 600 it)", err=True)
        text = path.read_text("utf-8")
        return text.splitlines()[0] if text.strip() else ""
    if os.environ.get(PASSPHRASE_ENV):
        return os.environ[PASSPHRASE_ENV]
    if sys.stdin.isatty():
        return click.prompt("backup passphrase", hide_input=True, confirmation_prompt=confirm)
    raise click.ClickException(f"no passphrase: give --passphrase-file FILE, set {PASSPHRASE_ENV}, or run in a "
                               "terminal to be asked (it is never taken as an argument)")


passphrase_file_option = click.option(
    "--passphrase-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
    help=f"read the passphrase from the first line of this file (else {PASSPHRASE_ENV}, else a prompt)")


@click.group(cls=DefaultGroup, default="create")
def backup():
    """Encrypted backups: `confide backup OUT` (= `confide backup create OUT`), `confide backup keygen`."""


@backup.command("create")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--recipient", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="encrypt to this public key (KEYFILE.pub from `confide backup keygen`), not to a passphrase")
@passphrase_file_option
@click.option("--without-web", is_flag=True, help="this installation has no web front door database")
def create(out, recipient, passphrase_file, without_web):
    """Write OUT (0600): the databases, keys and checkpoints, encrypted."""
    from confide.backup import archive, crypto
    from confide.eventstore.dump import DumpError

    _exit_on_sigterm()
    try:
        if recipient is not None:
            if passphrase_file is not None:
                raise click.UsageError("give --recipient or a passphrase, not both")
            key, passphrase = crypto.load_recipient(recipient), None
        else:
            key, passphrase = None, _passphrase(passphrase_file, confirm=True)
        manifest = archive.create_backup(out, target=archive.Target.from_config(), passphrase=passphrase,
                                         recipient=key, with_web=not without_web,
                                         echo=lambda m: click.echo(m, err=True))
    except (archive.BackupError, DumpError, ValueError, OSError, RuntimeError) as exc:
        raise click.ClickException(f"backup failed: {exc}") from None
    store = manifest["event_store"]
    head = store["chain_head"]
    click.echo(f"backup written to {out}: event store {store['name']} (schema {store['schema']}) to global "
               f"position {store['head_position']} ({store['events']} events), chain head "
               + (f"{head['mac'][:16]}… at index {head['chain_index']}" if head else "none (nothing sealed)")
               + (f", web database {manifest['web']['name']}" if manifest["web"] else ", no web database")
               + f", {len(manifest['files'])} files; encrypted to "
               + (f"recipient {crypto.fingerprint(key)[:16]}…" if key is not None else "a passphrase"))


@backup.command("keygen")
@click.argument("keyfile", type=click.Path(dir_okay=False, path_type=Path))
def keygen(keyfile):
    """Make a recipient key pair: KEYFILE (private, 0600: keep it away from the backups) and KEYFILE.pub."""
    from confide.backup import crypto

    public = keyfile.with_name(keyfile.name + ".pub")
    try:
        fp = crypto.generate_recipient_key(keyfile, public)
    except OSError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"private key {keyfile} (0600), public key {public}; fingerprint {fp}")
    click.echo(f"back up with: confide backup --recipient {public} OUT; restore with --identity {keyfile}")


@click.command()
@click.argument("archive_path", metavar="ARCHIVE", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--identity", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="the private key of an archive encrypted to a recipient")
@passphrase_file_option
@click.option("--force", is_flag=True,
              help="replace an installation that holds records (its databases and directories are renamed aside)")
def restore(archive_path, identity, passphrase_file, force):
    """Restore ARCHIVE onto this machine's configured databases, key and checkpoint directories, then
    verify the chain (exit 1 unless it verifies). Stop the services first."""
    from confide.backup import archive, crypto
    from confide.eventstore.dump import DumpError

    _exit_on_sigterm()
    try:
        header = crypto.archive_mode(archive_path)
        key = passphrase = None
        if header["mode"] == "recipient":
            if identity is None:
                raise click.ClickException(f"{archive_path} is encrypted to recipient key "
                                           f"{header.get('recipient')}: give its private key with --identity")
            key = crypto.load_identity(identity)
        else:
            passphrase = _passphrase(passphrase_file, confirm=False)
        target = archive.Target.from_config()
        result = archive.restore_backup(archive_path, target=target, passphrase=passphrase, identity=key,
                                        force=force, echo=lambda m: click.echo(m, err=True))
    except (crypto.BackupCryptoError, archive.RestoreError, DumpError, ValueError, OSError, RuntimeError) as exc:
        raise click.ClickException(f"restore failed: {exc}") from None
    store = result.manifest["event_store"]
    click.echo(f"restored backup of {result.manifest['created_at']}: database {target.database} (to global "
               f"position {store['head_position']}), "
               + (f"web database {target.web_database}, " if result.manifest["web"] else "")
               + f"keys in {target.key_dir}, checkpoints in {target.checkpoint_dir}")
    if result.roles_created:
        click.echo(f"roles created: {', '.join(result.roles_created)}")
    for moved in result.moved_aside:
        click.echo(f"moved aside: {moved}")
    try:
        report = archive.verify_restored(target)
    except Exception as exc:
        click.echo(f"verify: FAILED — could not run: {exc}", err=True)
        sys.exit(1)
    if not report.ok:
        click.echo(f"verify: FAILED — first bad global position: {report.first_bad_position}", err=True)
        for problem in report.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(1)
    click.echo(f"verify: OK — {report.events} events, {report.sealed} sealed ({report.unsealed_tail} not yet "
               f"sealed), {report.checkpoints} signed checkpoints")
    click.echo("next: `confide broker declare` (broker users get their restored passwords), then `confide run`")
