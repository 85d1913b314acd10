"""Red team: the services' database login is the directory's writer.

The identity gate (``confide.identity.gate.IdentityVerifier.check_directory``) believes whatever
``workforceMember-*`` / ``patient-*`` / ``payer-*`` streams hold, and ``confide.append_events``
(SECURITY DEFINER) lets ``confide_app`` -- the one login every service shares, default password
``confide`` -- append any event to any stream. So a front-desk employee who learns that DSN (it is
in every service's config) appends ``RoleGranted(auditor)`` "by" an admin who does not exist and
the gate honours an assertion claiming it: the directory service, its RPCs and its role checks are
never involved. The same append grants clinician / privacy_officer / practice_admin, links a
supervision, registers a patient, deactivates every real admin, or records an authorization
that the engine then relies on (requests and authorizations: test_forged_disclosure_facts.py).

The store here is the services' own (``test_db_dsn`` is ``confide_app``); nothing but
``append_events`` is used.
"""
import uuid

import psycopg

from confide.contracts import directory as d
from confide.envelope import NewEvent
from confide.timestamps import format_ts, now_utc

from .test_identity_attacks import call, ids, system  # noqa: F401  (the running services)


def test_a_role_appended_with_the_services_db_login_is_not_honoured(system, test_db_dsn):  # noqa: F811
    with psycopg.connect(test_db_dsn) as conn:
        assert conn.execute("select current_user").fetchone()[0] == "confide_app"
    insider = system.people.member(ids("F"), "front_desk")
    forged = d.RoleGranted(insider.subject, "auditor", "practice-admin-who-does-not-exist", format_ts(now_utc()))
    system.store.append(d.member_stream(insider.subject),
                        [NewEvent(forged.type, forged.to_data(), event_id=uuid.uuid4())], expected_version=None)

    from nameko.exceptions import RemoteError
    try:
        rows = call(system, "audit", "access_log", insider.context(roles=("front_desk", "auditor")),
                    patient_id=ids("P"))
    except RemoteError as exc:
        assert exc.exc_type in ("NotAuthenticatedError", "NotAuthorizedError"), exc
        return
    raise AssertionError(f"audit.access_log answered a self-granted auditor ({rows!r}): a role appended "
                         "with the services' database login is honoured by the identity gate")
