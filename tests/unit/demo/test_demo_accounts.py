"""`make demo`'s accounts (step 7): who gets one, and the table as printed (each link whole on its line)."""
from __future__ import annotations

import io
from types import SimpleNamespace

from rich.console import Console

from confide_app.demo import (
    AUDITOR,
    SUPERVISOR,
    TRAINEE,
    DemoAccount,
    _print_accounts,
    demo_accounts,
)
from confide_app.identities import Who

LINK = "http://127.0.0.1:8080/enrol/" + "A" * 43


def patient(pid: str, author: str, psychotherapy: bool):
    note = {"author": {"id": author}}
    return SimpleNamespace(patient_id=pid, progress_notes=[note], psychotherapy_notes=[note] if psychotherapy else [],
                           authors=[author])


def test_one_account_per_role_the_psychotherapy_author_as_clinician_and_two_patients():
    patients = [patient("P-1", "npi-1", False), patient("P-2", "npi-2", True), patient("P-3", "npi-3", True)]
    rows = demo_accounts(patients, Who("demo-practice-admin", ("practice_admin",), "x"))
    by_role = {}
    for r in rows:
        by_role.setdefault(r.role, []).append(r.member_id)
    assert by_role == {"clinician": ["npi-2"], "supervisor": [SUPERVISOR], "trainee": [TRAINEE],
                       "front_desk": ["demo-front-desk"], "release_of_information": ["demo-release-of-information"],
                       "privacy_officer": ["demo-privacy-officer"], "auditor": [AUDITOR],
                       "practice_admin": ["demo-practice-admin"], "patient": ["P-1", "P-2"]}
    assert next(r for r in rows if r.role == "patient").roles == ("patient",)
    assert next(r for r in rows if r.role == "supervisor").roles == ("clinician", "supervisor")


def printed(accounts) -> str:
    out = io.StringIO()
    _print_accounts(Console(file=out, width=60, force_terminal=False), accounts)
    return out.getvalue()


def test_each_link_is_printed_whole_on_its_line_with_its_expiry_even_on_a_narrow_terminal():
    text = printed([DemoAccount("clinician", "npi-2", ("clinician",), "new", LINK, 24.0),
                    DemoAccount("patient", "P-1", ("patient",), "new", LINK.replace("A", "B"), 24.0)])
    assert "set a password, then TOTP (workforce)" in text
    assert f"clinician                npi-2  {LINK}  (expires in 24 h, shown once)" in text.splitlines()
    assert "New links" not in text


def test_a_second_run_says_the_links_are_new_and_someone_enrolled_gets_none():
    text = printed([DemoAccount("clinician", "npi-2", ("clinician",), "enrolled", None, None),
                    DemoAccount("auditor", AUDITOR, ("auditor",), "renewed", LINK, 24.0)])
    assert ("New links for the same people as an earlier `make demo` (1 of them): the links it printed no "
            "longer work.") in text
    assert "has set a password already: sign in with it" in text
    assert LINK in text
