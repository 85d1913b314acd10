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
