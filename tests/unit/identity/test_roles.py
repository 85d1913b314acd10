"""The role catalogue and the engine requester roles it settles."""
import re

import pytest

from confide import config
from confide.identity import roles


def test_catalogue_is_the_fixed_list():
    assert set(roles.WORKFORCE_ROLES) == {
        "clinician", "trainee", "supervisor", "front_desk", "billing", "release_of_information",
        "privacy_officer", "practice_admin", "auditor",
    }
    assert set(roles.NON_WORKFORCE_PRINCIPALS) == {"patient", "insurer", "service"}
    assert roles.ROLE_CATALOGUE == set(roles.WORKFORCE_ROLES) | set(roles.NON_WORKFORCE_PRINCIPALS)
    assert all(text.strip() for text in [*roles.WORKFORCE_ROLES.values(), *roles.NON_WORKFORCE_PRINCIPALS.values()])


def test_every_role_has_an_engine_entry_and_every_mapped_role_is_an_engine_role():
    assert set(roles.ENGINE_ROLE) == roles.ROLE_CATALOGUE
    mapped = {v for v in roles.ENGINE_ROLE.values() if v is not None}
    assert mapped <= roles.ENGINE_REQUESTER_ROLES


@pytest.mark.parametrize("role, expected", [
    ("billing", "billing_staff"),
    ("privacy_officer", "compliance_staff"),
    ("practice_admin", "practice_admin"),
    ("trainee", "trainee"),
    ("supervisor", "supervisor"),
    ("auditor", "auditor"),
    ("patient", "patient"),
    ("clinician", None),  # the note decides originator_clinician vs clinician_same_practice
    ("front_desk", None),
    ("release_of_information", None),
    ("insurer", None),
    ("service", None),
])
def test_engine_role(role, expected):
    assert roles.engine_role(role) == expected


def test_engine_role_refuses_unknown_roles():
    with pytest.raises(roles.UnknownRoleError, match="not in the role catalogue"):
        roles.engine_role("billing_staff")  # an engine role is not a catalogue role


def test_check_roles():
    assert roles.check_roles(["clinician", "supervisor"]) == ("clinician", "supervisor")
    with pytest.raises(roles.UnknownRoleError):
        roles.check_roles(["clinician", "admin"])
    with pytest.raises(roles.UnknownRoleError):
        roles.check_roles(["Clinician"])
    with pytest.raises(roles.UnknownRoleError, match="of type int"):
        roles.check_roles([1])
    with pytest.raises(ValueError, match="no roles"):
        roles.check_roles([])
    with pytest.raises(ValueError, match="repeated"):
        roles.check_roles(["billing", "billing"])


def test_unknown_role_message_escapes_bidi_controls():
    err = roles.UnknownRoleError("clinician\u202e")
    assert "\u202e" not in str(err) and "\\u202e" in str(err)


def test_engine_role_list_matches_the_published_cases_readme():
    readme = config.cases_dir() / "README.md"  # shipped public input: its absence is a failure, not a skip
    row = next(line for line in readme.read_text().splitlines() if line.startswith("| `requester.role`"))
    published = set(re.findall(r"`([a-z_]+)`", row.split("|")[3]))
    assert published == roles.ENGINE_REQUESTER_ROLES
