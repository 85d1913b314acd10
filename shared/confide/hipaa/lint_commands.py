"""``confide lint``: run the 45 CFR 164.501 content lint over one note.

The main CLI registers the click command :data:`lint` (also exported as ``lint_command``), e.g.
``cli.add_command(lint)``; this module does not create ``confide_app.cli``.
"""

from __future__ import annotations

import json
import sys

import click

from confide.hipaa.lint import lint as _lint

__all__ = ["lint", "lint_command"]


@click.command("lint")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
def lint(file: str) -> None:
    """Lint the text of one note (FILE, or - for stdin) for 45 CFR 164.501 excluded content.

    Prints a JSON array of {category, start, end, text} findings to stdout (offsets are character
    offsets into the decoded UTF-8 text, end exclusive) and exits 0 whether or not anything was
    found.  An unreadable or non-UTF-8 FILE prints a message on stderr (never the note text) and
    exits 2.
    """
    try:
        if file == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(file, "rb") as fh:
                data = fh.read()
        text = data.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        click.echo(f"confide lint: cannot read {file}: {reason}", err=True)
        sys.exit(2)
    click.echo(json.dumps([f.to_dict() for f in _lint(text)], indent=2, ensure_ascii=False))


#: The same click command under a name that does not shadow :func:`confide.hipaa.lint.lint`.
lint_command = lint
