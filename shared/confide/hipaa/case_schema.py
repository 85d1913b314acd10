"""The case file as a published JSON Schema (draft 2020-12): ``case_file.schema.json``.

The schema ships as package data next to this module and is the contract of the engine's pure entry
point (:func:`confide.hipaa.engine.decide`) and of everything that builds a case file
(``confide.contracts.casefile``): :func:`validate` checks a case file against it with
``jsonschema_rs`` (a well-kept validator, already locked in ``requirements.lock``) and raises
:class:`~confide.hipaa.rules._case.CaseFileError` naming the first offending field as a dotted path
(``request.legal_process.covers[1]``).

The schema types every documented field and lists the vocabularies (roles, purposes, note kinds,
legal-process types, content categories, jurisdictions, practice settings) under ``$defs``; a value
outside a vocabulary is *decided* by the engine (denied with a reason naming it), never refused, so
the vocabularies are documented, not enforced -- :func:`vocabulary` reads them for the services'
own schemas and for the tests that keep the two in step.
"""
from __future__ import annotations

import json
from datetime import date, datetime
from functools import lru_cache
from importlib import resources
from typing import Any, Mapping

import jsonschema_rs

from confide.hipaa.rules._case import CaseFileError

SCHEMA_FILE = "case_file.schema.json"


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The case-file JSON Schema (a fresh parse, cached; do not mutate it)."""
    return json.loads(resources.files("confide.hipaa").joinpath(SCHEMA_FILE).read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _validator():
    return jsonschema_rs.Draft202012Validator(schema())


def vocabulary(name: str) -> tuple:
    """The values of the vocabulary ``$defs/<name>`` (e.g. ``role``, ``note_kind``). Raises KeyError."""
    return tuple(schema()["$defs"][name]["enum"])


def request_properties(*path: str) -> frozenset[str]:
    """The property names the schema documents for the request (``()``) or an object in it
    (``("requester",)``, ``("authorization",)``, ``("legal_process",)``)."""
    node = schema()["$defs"]["request"]
    for key in path:
        node = node["properties"][key]
    return frozenset(node["properties"])


def _json_safe(value: Any) -> Any:
    """Dates and instants a Python caller passed become the ISO strings the JSON form has."""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _dotted(path: list) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validate(case_file: Mapping[str, Any]) -> None:
    """Check ``case_file`` (``{"request": {...}, ...}``) against the schema.

    Raises :class:`CaseFileError` whose ``field`` is the dotted path of the first field that does
    not conform (for a missing required field, the path of that field)."""
    try:
        errors = _validator().iter_errors(case_file)
        first = next(iter(errors), None)
    except ValueError:  # a Python value JSON has no form for (a date object): compare its ISO form
        first = next(iter(_validator().iter_errors(_json_safe(case_file))), None)
    if first is None:
        return
    path = list(first.instance_path)
    missing = getattr(first.kind, "property", None) if type(first.kind).__name__ == "Required" else None
    if missing is not None:
        path.append(missing)
        raise CaseFileError(_dotted(path) or "request", "required field is missing")
    raise CaseFileError(_dotted(path) or "request", f"does not conform to the case-file schema: {first.message}")
