"""Operator commands of the notes service (registered as ``confide keys rotate`` by the CLI)."""
from __future__ import annotations

from pathlib import Path

import click

from confide import config
from notes.crypto import rotate_kek


@click.command("rotate-keys")
@click.option("--key-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keyring directory (default: CONFIDE_KEY_DIR or ~/.local/share/confide/keys).")
def rotate_keys(key_dir: Path | None) -> None:
    """Make a new key-encryption key and re-wrap every psychotherapy-note data key with it.

    Only keyring files are rewritten; no event changes.
    """
    count = rotate_kek(key_dir or config.key_dir())
    click.echo(f"re-wrapped {count} data key(s)")
