"""CDex Task mapping for every shipped Da Vinci example, read in place (never copied)."""
import base64
import json

import pytest

from confide import config
from gateway import cdex

EXAMPLES = sorted((config.data_dir() / "payer-requests" / "davinci-cdex").glob("cdex-task-example*.json"))
# Checked at collection: an empty list would make the parametrized test below a silent skip.
assert EXAMPLES, f"no shipped CDex Task examples under {config.data_dir()} (set CONFIDE_DATA_DIR)"


def test_examples_are_shipped():
    assert len(EXAMPLES) >= 11


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_maps_to_a_payment_request(path):
    task = json.loads(path.read_text())
    mapped = cdex.map_task(task)
    assert mapped["purpose"] == "payment"
    assert mapped["note_kind"] == "progress"
    assert mapped["patient_id"] in {"Member123", "cdex-example-patient"}
    assert mapped["channel"]["task_id"] == task["id"]
    assert mapped["channel"]["task_identifiers"] == task.get("identifier", [])
    assert mapped["channel"]["pou"]


def load(name):
    return json.loads((config.data_dir() / "payer-requests" / "davinci-cdex" / f"{name}.json").read_text())


def test_claim_attachment_example_keeps_claim_service_date_and_tracking_id():
    mapped = cdex.map_task(load("cdex-task-example19"))
    assert mapped["channel"]["pou"] == "CLMATTCH"
    assert mapped["channel"]["claim"] == "Claim123"
    assert (mapped["date_from"], mapped["date_to"]) == ("2022-06-13", "2022-06-13")
    assert mapped["channel"]["due"] == "2022-06-21"
    assert mapped["channel"]["task_identifiers"][0]["value"] == "trackingid123"
    assert {"system": "http://loinc.org", "code": "11506-3", "display": "Progress note"} in mapped["channel"]["codes"]


def test_psychotherapy_code_asks_for_psychotherapy_notes():
    task = load("cdex-task-example6")
    task["input"][0]["valueCodeableConcept"] = {"coding": [{"code": "PSYTHPN"}], "text": "notes"}
    assert cdex.map_task(task)["note_kind"] == "psychotherapy"
    task["input"][0]["valueCodeableConcept"] = {"coding": [{"code": "x"}], "text": "Psychotherapy notes"}
    assert cdex.map_task(task)["note_kind"] == "psychotherapy"


def test_clinician_treat_pou_is_treatment():
    assert cdex.map_task(load("cdex-task-example11"), role="external_clinician")["purpose"] == "treatment"
    assert cdex.map_task(load("cdex-task-example11"), role="insurer_health_plan")["purpose"] == "payment"


@pytest.mark.parametrize("subject", [{}, {"reference": "#nobody"}, {"reference": "Organization/x"}, []])
def test_unidentifiable_patient_names_for(subject):
    task = load("cdex-task-example1")
    task["for"] = subject
    with pytest.raises(cdex.TaskMappingError) as info:
        cdex.map_task(task)
    assert info.value.field == "for"


def view(status, **kw):
    base = {"request_id": "r-1", "status": status, "patient_id": "Member123", "note_kind": "progress",
            "requester": {"org": "Acme"}, "received_at": "2026-05-01T15:00:00.000000Z",
            "channel": {"task_id": "cdex-task-example19", "task_identifiers": [{"value": "trackingid123"}],
                        "claim": "Claim123", "codes": []},
            "decision": None, "hold": None, "refusal": None, "release": None}
    base.update(kw)
    return base


def test_task_status_flow():
    assert cdex.task_from_view(view("requested"))["status"] == "requested"
    held = cdex.task_from_view(view("on_hold", hold={"reasons": ["verify"], "rule": "45 CFR 164.514(h)(1)"}))
    assert held["status"] == "on-hold" and held["statusReason"]["text"] == "verify"
    rejected = cdex.task_from_view(view("refused", refusal={"reason": "no authorization", "rule": "45 CFR 164.508(a)(2)"}))
    assert rejected["status"] == "rejected"
    assert rejected["statusReason"]["coding"][0]["code"] == "45 CFR 164.508(a)(2)"
    done = cdex.task_from_view(view("released", content={"notes": [{"note_id": "n1", "fields": {"a": 1}}]}))
    assert done["status"] == "completed"
    assert {"system": cdex.CONFIDE_TASK_ID, "value": "cdex-task-example19"} in done["identifier"]
    payload = json.loads(base64.b64decode(done["output"][0]["valueAttachment"]["data"]))
    assert payload == {"notes": [{"note_id": "n1", "fields": {"a": 1}}]}


class TestRequester:
    """Task.requester must not name another organisation than the token's ``org``."""

    def test_identifier_matches_ignoring_case_and_spacing(self):
        task = load("cdex-task-example1")
        assert cdex.requester_names(task) == ["Payer123"]
        cdex.check_requester(task, " payer123 ")
        assert cdex.map_task(task, org="Payer123")["patient_id"] == "Member123"

    def test_another_organisation_is_422_naming_requester(self):
        with pytest.raises(cdex.TaskMappingError) as info:
            cdex.map_task(load("cdex-task-example1"), org="Acme Health Plan")
        assert info.value.field == "requester" and "Acme Health Plan" in info.value.message

    def test_organization_reference_and_contained_organization(self):
        task = load("cdex-task-example6")
        assert cdex.requester_names(task) == ["cdex-example-payer"]
        with pytest.raises(cdex.TaskMappingError):
            cdex.check_requester(task, "Other Plan")
        task["requester"] = {"reference": "#payer"}
        task["contained"] = [{"resourceType": "Organization", "id": "payer", "name": "Acme Health Plan",
                              "identifier": [{"value": "ACME-1"}]}]
        cdex.check_requester(task, "acme health plan")
        cdex.check_requester(task, "ACME-1")

    def test_a_requester_naming_no_organisation_is_not_checked(self):
        task = load("cdex-task-example1")
        task["requester"] = {"reference": "PractitionerRole/abc"}
        cdex.check_requester(task, "Acme Health Plan")
        del task["requester"]
        cdex.check_requester(task, "Acme Health Plan")


class TestIdempotencyKey:
    def test_same_task_same_org_same_id(self):
        task = load("cdex-task-example19")
        first = cdex.request_id_for("Payer123", task)
        assert first == cdex.request_id_for("Payer123", json.loads(json.dumps(task)))
        assert first != cdex.request_id_for("Other", task)
        assert first != cdex.request_id_for("Payer123", {**task, "id": "another"})

    def test_identifiers_when_no_id_and_none_without_either(self):
        task = load("cdex-task-example20")
        del task["id"]
        key = cdex.request_id_for("Payer123", task)
        assert key and key == cdex.request_id_for("Payer123", {**task, "identifier": task["identifier"][::-1]})
        assert cdex.request_id_for("Payer123", {"resourceType": "Task"}) is None
