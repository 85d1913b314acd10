"""The case file as a published JSON Schema (draft 2020-12): ``case_file.schema.json``.

The schema ships as package data next to this module and is the contract of the engine's pure entry
point (:func:`confide.hipaa.engine.decide`) and of everything that builds a case file
(``confide.contracts.casefile``): :func:`validate` checks a case file against it (``jsonschema_rs``
answers whether it conforms; the ``jsonschema`` library, both in ``requirements.lock``, names the
field when it does not) and raises
:class:`~confide.hipaa.rules._case.CaseFileError` naming the most relevant offending field as a
dotted path (``request.legal_process.covers[1]``).

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

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from confide.hipaa.rules._case import CaseFileError

SCHEMA_FILE = "case_file.schema.json"


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The case-file JSON Schema (a fresh parse, cached; do not mutate it)."""
    return json.loads(resources.files("confide.hipaa").joinpath(SCHEMA_FILE).read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _validator():
    return Draft202012Validator(schema())


@lru_cache(maxsize=1)
def _compiled():
    """The same schema compiled by ``jsonschema_rs`` (``requirements.lock``), or None where it is not
    installed. It only answers "conforms": every case the engine decides is checked, and the pure
    Python validator took two thirds of ``decide``; a case it finds wrong goes to the ``jsonschema``
    validator, which names the field (the contract's error text is that library's)."""
    try:
        import jsonschema_rs
    except ImportError:  # pragma: no cover - the lock installs it
        return None
    return jsonschema_rs.Draft202012Validator(schema(), validate_formats=False)


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

    Raises :class:`CaseFileError` whose ``field`` is the dotted path of the field that does not
    conform (the most relevant error when there are several; for a missing required field, the
    path of that field)."""
    instance = _json_safe(case_file)
    compiled = _compiled()
    if compiled is not None and compiled.is_valid(instance):
        return
    error = best_match(_validator().iter_errors(instance))
    if error is None:
        return
    path = list(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, Mapping):
        missing = next((p for p in error.validator_value if p not in error.instance), None)
        if missing is not None:
            path.append(missing)
            raise CaseFileError(_dotted(path) or "request", "required field is missing")
    raise CaseFileError(_dotted(path) or "request", f"does not conform to the case-file schema: {error.message}")
