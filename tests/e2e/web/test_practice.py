"""The practice's stack comes up with the demo's data and the front door signs each kind of person in."""
from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.e2e


def test_the_demo_seeded_the_practice(practice):
    assert re.search(r"audit verify\s+│ OK", practice.demo_out), practice.demo_out[-2000:]
    assert re.search(r"progress notes \(signed\)\s+│ [1-9]", practice.demo_out), practice.demo_out[-2000:]


def test_a_clinician_signs_in_with_totp_and_the_home_page_passes_axe(practice, journey, new_id):
    clinician = new_id("C")
    practice.people.member(clinician, "clinician")
    data = journey("home.signed_in", person_id=clinician, label="clinician")
    assert data["roles"] == "clinician"


#: The roles `make demo` prints a one-time enrolment link for (one line each; two patients).
DEMO_ROLES = ("clinician", "supervisor", "trainee", "front_desk", "release_of_information", "privacy_officer",
              "auditor", "practice_admin", "patient")


def demo_accounts(out: str) -> list[dict]:
    """The demo's account lines: ``role  id  link  (expires in 24 h, shown once)``."""
    rows = re.findall(r"^(\w+)\s+(\S+)\s+(http://\S+/enrol/[\w-]+)\s+\((expires in [\d.]+ h, shown once)\)$", out,
                      re.MULTILINE)
    return [{"role": r, "id": i, "link": link, "note": note} for r, i, link, note in rows]


def test_the_demo_prints_a_one_time_link_for_every_role(practice):
    out = practice.demo_out
    assert "set a password, then TOTP (workforce)" in out, out[-3000:]
    accounts = demo_accounts(out)
    assert sorted({a["role"] for a in accounts}) == sorted(DEMO_ROLES), out[-3000:]
    assert [a["role"] for a in accounts].count("patient") == 2
    assert all(a["link"].startswith(f"{practice.web_url}/enrol/") for a in accounts)
    assert len({a["link"] for a in accounts}) == len(accounts) == len({a["id"] for a in accounts})


def test_a_printed_link_enrols_the_note_author_who_sees_who_read_their_notes(practice, journey, new_id):
    clinician = next(a for a in demo_accounts(practice.demo_out) if a["role"] == "clinician")
    data = journey("home.enrol_with_printed_link", link=clinician["link"], person_id=clinician["id"],
                   label="clinician")
    assert data["member"] == clinician["id"] and data["roles"] == "clinician"
    # The demo's psychotherapy-note read by its author (permitted) and by another clinician (denied).
    assert {"permit", "deny"} <= {row["decision"] for row in data["seen"]}, data
    # The demo's insurer requests cover several notes each: a decision on several notes is shown too,
    # naming the notes of this author it concerned (and no one else's).
    insurer = [row for row in data["seen"] if "insurer_health_plan" in row["who_detail"]]
    assert insurer and all(row["notes"] and "disclosure" in row["purpose"] for row in insurer), data["seen"]
    assert any(len(row["notes"]) > 1 for row in insurer), data["seen"]
    with practice.rpc(practice.people.member(clinician["id"], "clinician")) as rpc:
        hers = {n["note_id"] for n in rpc.notes.my_notes()["notes"]}
    with practice.rpc(practice.people.member(new_id("AU"), "auditor")) as rpc:
        log = rpc.audit.access_log()
    assert {n for row in data["seen"] for n in row["notes"]} <= hers, data["seen"]
    # Every decision on one of her notes is listed once, however many notes it covered (a colleague's
    # notes on the same request are never named: tests/integration/web/test_notes_seen_browser.py).
    on_hers = [r["decision_id"] for r in log if set(r["note_ids"]) & hers]
    assert sorted(data["seen_decisions"]) == sorted(on_hers), (data["seen"], on_hers)
    assert data["second_use_status"] == 404, data  # shown once, used once


def test_every_front_door_page_passes_axe_core(practice, journey, new_id):
    """Sign-in, enrolment, TOTP set-up and sign-in, home, second factor, sessions, CLI sign-in,
    password-reset help, who has seen my notes, a refusal and a missing page: 0 serious or critical
    axe-core violations on each (the role pages are checked by their own journeys)."""
    admin = new_id("A")
    practice.people.member(admin, "practice_admin", "clinician")
    data = journey("home.front_door_pages", admin_id=admin)
    assert data["checked"] == ["login", "login-failed", "password-reset-help", "enrol", "totp-activate", "home",
                               "second-factor", "sessions", "cli-assertion", "cli-assertion-minted",
                               "notes-seen", "refused", "not-found", "mfa-authenticate"]
    assert (data["refused_status"], data["missing_status"]) == (403, 404)
