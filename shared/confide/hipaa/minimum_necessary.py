"""Minimum-necessary field sets (45 CFR 164.502(b), 164.514(d)) as configuration.

The standard itself -- when minimum necessary applies and its exceptions in 164.502(b)(2) -- is a
rule (``confide.hipaa.rules.s164_502``); *what* is the minimum necessary for a routine purpose is a
policy the covered entity writes down (164.514(d)(3)(i): "policies and procedures ... that limit
the PHI disclosed to the amount reasonably necessary").  That policy lives here.

Configuration file
==================
Set ``CONFIDE_MINIMUM_NECESSARY`` to the path of a JSON (``.json``) or YAML (``.yaml``/``.yml``)
file.  It is read once, on first use, and merged over the defaults below::

    {
      "purposes": {                       # field sets per purpose of the request
        "payment": {
          "default": ["patient_id", "date_of_service", ...],   # any requester
          "roles": {"billing_staff": ["patient_id", ...]}      # per requester role (optional)
        },
        "operations": {"default": [...]}
      },
      "workforce_access": {               # role-based access, 164.514(d)(2):
        "billing_staff": ["payment"]      #   purposes each workforce role may use PHI for
      }
    }

A purpose given in the file replaces that purpose's entry; a role in ``workforce_access``
replaces that role's list.  Unknown top-level keys are rejected.

Defaults
========
* ``payment`` -- the claim-support set of published case EX-05 (:data:`PAYMENT_FIELDS`);
* ``operations`` -- quality/compliance review set; ``training`` -- the clinical content a
  supervised trainee needs; public-interest purposes (``health_oversight``, ``judicial``,
  ``law_enforcement``, ``coroner_me``, ``serious_threat``, ``research``, ``workers_comp``,
  ``legal_defense_vs_individual``, ``public_health``, ``involvement``) -- narrow sets, see
  :data:`DEFAULT_POLICY`.

Errors: :class:`MinimumNecessaryConfigError` (a ``ValueError``) names the file and key when the
file is unreadable or malformed.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping

ENV_VAR = "CONFIDE_MINIMUM_NECESSARY"

PAYMENT_FIELDS: tuple[str, ...] = (
    "patient_id", "date_of_service", "session_start", "session_stop", "cpt_code_or_modality",
    "frequency", "diagnosis_codes", "symptoms_summary", "functional_status",
    "treatment_plan_summary", "progress_to_date", "rendering_clinician_and_credentials", "signature",
)

DEFAULT_POLICY: dict[str, Any] = {
    "purposes": {
        "payment": {"default": list(PAYMENT_FIELDS)},
        "operations": {"default": [
            "patient_id", "date_of_service", "session_start", "session_stop",
            "cpt_code_or_modality", "diagnosis_codes", "treatment_plan_summary",
            "progress_to_date", "rendering_clinician_and_credentials", "signature"]},
        "training": {"default": [
            "date_of_service", "cpt_code_or_modality", "diagnosis_codes", "symptoms_summary",
            "functional_status", "treatment_plan_summary", "progress_to_date", "clinical_narrative"]},
        "legal_defense_vs_individual": {"default": ["records relevant to the claims"]},
        "health_oversight": {"default": ["records requested by the oversight agency"]},
        "judicial": {"default": ["records described in the subpoena or request"]},
        "law_enforcement": {"default": ["records described in the legal process"]},
        "law_enforcement_identification": {"default": [
            "name_and_address", "date_and_place_of_birth", "social_security_number",
            "abo_blood_type_and_rh_factor", "type_of_injury", "date_and_time_of_treatment",
            "date_and_time_of_death", "distinguishing_physical_characteristics"]},
        "coroner_me": {"default": ["records needed to identify the decedent or determine cause of death"]},
        "serious_threat": {"default": [
            "patient_id", "nature_of_threat", "identity_of_intended_victim",
            "information_needed_to_prevent_or_lessen_the_threat"]},
        "research": {"default": ["data elements approved in the IRB waiver"]},
        "workers_comp": {"default": [
            "patient_id", "date_of_service", "diagnosis_codes", "functional_status",
            "treatment_plan_summary", "progress_to_date", "work_status_and_restrictions"]},
        "public_health": {"default": ["information needed for the report"]},
        "involvement": {"default": ["information directly relevant to the person's involvement"]},
    },
    "workforce_access": {
        "originator_clinician": ["treatment", "payment", "operations", "training",
                                 "legal_defense_vs_individual"],
        "clinician_same_practice": ["treatment", "payment", "operations", "training"],
        "supervisor": ["treatment", "payment", "operations", "training"],
        "trainee": ["treatment", "training"],
        "billing_staff": ["payment"],
        "practice_admin": ["payment", "operations", "legal_defense_vs_individual", "hhs_compliance",
                           "required_by_law", "health_oversight", "judicial"],
        "compliance_staff": ["operations", "legal_defense_vs_individual", "hhs_compliance",
                             "required_by_law", "health_oversight", "judicial", "law_enforcement"],
        "auditor": ["operations", "health_oversight"],
    },
}


class MinimumNecessaryConfigError(ValueError):
    """The minimum-necessary configuration file is unreadable or malformed."""


@dataclass(frozen=True)
class MinimumNecessaryPolicy:
    """Field sets per purpose (and requester role) and workforce role-based access."""

    purposes: Mapping[str, Mapping[str, Any]]
    workforce_access: Mapping[str, tuple[str, ...]]

    def fields_for(self, purpose: str, role: str | None = None) -> tuple[str, ...] | None:
        """The minimum-necessary field set for ``purpose`` requested by ``role``; None if the
        policy has no set for that purpose."""
        entry = self.purposes.get(purpose)
        if entry is None:
            return None
        roles = entry.get("roles") or {}
        if role is not None and role in roles:
            return tuple(roles[role])
        default = entry.get("default")
        return None if default is None else tuple(default)

    def workforce_may(self, role: str, purpose: str) -> bool:
        """Role-based access (164.514(d)(2)): may a workforce member in ``role`` use PHI for
        ``purpose``?"""
        return purpose in self.workforce_access.get(role, ())


def _validate(data: Any, source: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise MinimumNecessaryConfigError(f"{source}: top level must be an object")
    unknown = set(data) - {"purposes", "workforce_access"}
    if unknown:
        raise MinimumNecessaryConfigError(f"{source}: unknown key(s) {sorted(unknown)}")
    purposes = data.get("purposes", {})
    if not isinstance(purposes, dict):
        raise MinimumNecessaryConfigError(f"{source}: purposes must be an object")
    for name, entry in purposes.items():
        where = f"{source}: purposes.{name}"
        if not isinstance(entry, dict):
            raise MinimumNecessaryConfigError(f"{where} must be an object")
        if "default" in entry and not _str_list(entry["default"]):
            raise MinimumNecessaryConfigError(f"{where}.default must be a list of strings")
        roles = entry.get("roles", {})
        if not isinstance(roles, dict) or not all(_str_list(v) for v in roles.values()):
            raise MinimumNecessaryConfigError(f"{where}.roles must map roles to lists of strings")
    access = data.get("workforce_access", {})
    if not isinstance(access, dict) or not all(_str_list(v) for v in access.values()):
        raise MinimumNecessaryConfigError(
            f"{source}: workforce_access must map roles to lists of purposes")
    return data


def _str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def build_policy(overrides: Mapping[str, Any] | None = None) -> MinimumNecessaryPolicy:
    """Merge ``overrides`` (the configuration-file shape above) over :data:`DEFAULT_POLICY`.

    Raises :class:`MinimumNecessaryConfigError` when ``overrides`` is malformed."""
    data = _validate(dict(overrides or {}), "overrides")
    purposes = {k: dict(v) for k, v in DEFAULT_POLICY["purposes"].items()}
    purposes.update({k: dict(v) for k, v in data.get("purposes", {}).items()})
    access = {k: tuple(v) for k, v in DEFAULT_POLICY["workforce_access"].items()}
    access.update({k: tuple(v) for k, v in data.get("workforce_access", {}).items()})
    return MinimumNecessaryPolicy(MappingProxyType(purposes), MappingProxyType(access))


def load_policy(path: str | os.PathLike[str]) -> MinimumNecessaryPolicy:
    """Read a JSON/YAML configuration file and merge it over the defaults.

    Raises :class:`MinimumNecessaryConfigError` naming the file on any read/parse/shape error."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise MinimumNecessaryConfigError(f"{path}: cannot read ({exc.strerror})") from exc
    try:
        if path.endswith((".yaml", ".yml")):
            import yaml  # optional dependency, only for YAML files
            data = yaml.safe_load(text) or {}
        else:
            data = json.loads(text)
    except Exception as exc:  # JSON or YAML syntax error
        raise MinimumNecessaryConfigError(f"{path}: not valid configuration ({exc})") from exc
    try:
        _validate(data, path)
    except MinimumNecessaryConfigError:
        raise
    return build_policy(data)


_ACTIVE: dict[str, MinimumNecessaryPolicy] = {}


def active_policy() -> MinimumNecessaryPolicy:
    """The policy in force: the file named by ``CONFIDE_MINIMUM_NECESSARY`` (read once per path
    and cached) or the defaults.  Raises :class:`MinimumNecessaryConfigError` for a bad file."""
    path = os.environ.get(ENV_VAR, "")
    if path not in _ACTIVE:
        _ACTIVE[path] = load_policy(path) if path else build_policy()
    return _ACTIVE[path]


DEFAULTS = build_policy()
