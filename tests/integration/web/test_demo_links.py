"""`confide web enrolment-links`, what `make demo` prints its accounts with: a first run gives new
links; a second run new links for the same people, the earlier ones withdrawn; someone who has set a
password gets none."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import requests

from .conftest import REPO, start_web, stop

pytestmark = pytest.mark.integration
PASSWORD = "correct horse battery staple 7"


@pytest.fixture(scope="module")
def server(tmp_path_factory, web_db_dsn, directory):
    s = start_web(tmp_path_factory.mktemp("links"), web_db_dsn, directory)
    try:
        yield s
    finally:
        stop(s.proc)


def links(server, people) -> dict[str, dict]:
    out = subprocess.run([sys.executable, "-m", "confide_app.cli", "web", "enrolment-links"], env=server.env,
                         cwd=REPO, input=json.dumps(people), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return {row["member_id"]: row for row in json.loads(out.stdout.strip().splitlines()[-1])}


def test_a_second_run_renews_the_links_and_withdraws_the_old_ones(server, member_id):
    clinician, patient = member_id("C"), member_id("P")
    people = [{"member_id": clinician, "roles": ["clinician"]}, {"member_id": patient, "roles": ["patient"]}]
    first = links(server, people)
    assert {r["status"] for r in first.values()} == {"new"}
    assert all(r["link"].startswith(f"{server.base_url}/enrol/") and r["expires_in_hours"] == 24 for r in first.values())
    second = links(server, people)
    assert {r["status"] for r in second.values()} == {"renewed"} and {r["withdrawn"] for r in second.values()} == {1}
    for who in (clinician, patient):
        assert second[who]["link"] != first[who]["link"]
        assert requests.get(first[who]["link"], timeout=20).status_code == 404  # withdrawn
        assert requests.get(second[who]["link"], timeout=20).status_code == 200
    # the patient sets a password with the new link; a third run gives them no link
    sess = requests.Session()
    page = sess.get(second[patient]["link"], timeout=20)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    r = sess.post(second[patient]["link"], data={"csrfmiddlewaretoken": token, "password1": PASSWORD,
                                                  "password2": PASSWORD}, timeout=20, allow_redirects=False)
    assert r.status_code == 302
    third = links(server, people)
    assert third[patient] == {"member_id": patient, "status": "enrolled", "link": None, "withdrawn": 0,
                              "expires_in_hours": None}
    assert third[clinician]["status"] == "renewed"
    assert requests.get(second[clinician]["link"], timeout=20).status_code == 404
