"""``confide decide FILE`` -- decide case files from the command line.

FILE (``-`` for stdin) holds one case file (an object with ``request``) or an array of them; the
outcome(s) are printed as one JSON object or an array with the keys ``decision``, ``rule``,
``citations``, ``reasons``, ``fields_released``, ``minimum_necessary_applies``,
``accounting_required``.  Malformed input (including a date-time out of range or JSON nested too
deeply to read): a message naming the field on stderr, exit status 2.
The main CLI (``confide_app.cli``) registers this command.
"""
from __future__ import annotations

import json

import click

from confide.hipaa import engine
from confide.hipaa.minimum_necessary import MinimumNecessaryConfigError


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    raise SystemExit(2)


@click.command("decide")
@click.argument("file", type=click.File("r", encoding="utf-8"))
def decide(file) -> None:
    """Decide the HIPAA case file(s) in FILE (- reads stdin) and print the outcome(s) as JSON."""
    try:
        data = json.loads(file.read())
    except json.JSONDecodeError as exc:
        _fail(f"{file.name}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})")
    except UnicodeDecodeError:
        _fail(f"{file.name}: not UTF-8 text")
    except RecursionError:
        _fail(f"{file.name}: input nested too deeply")
    many = isinstance(data, list)
    cases = data if many else [data]
    outcomes = []
    for i, case in enumerate(cases):
        where = f"[{i}]." if many else ""
        if isinstance(case, dict) and "request" not in case:
            _fail(f"{where}request: required object is missing")
        try:
            outcomes.append(engine.decide(case).to_dict())
        except engine.CaseFileError as exc:
            _fail(f"{where}{exc}")
        except RecursionError:
            _fail(f"{where}request: input nested too deeply")
        except MinimumNecessaryConfigError as exc:
            click.echo(f"error: minimum-necessary configuration: {exc}", err=True)
            raise SystemExit(1) from None
    try:
        text = json.dumps(outcomes if many else outcomes[0], indent=2, ensure_ascii=False)
    except RecursionError:  # an outcome echoes a deeply nested input field
        _fail("input nested too deeply")
    click.echo(text)
