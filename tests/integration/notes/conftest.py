"""Integration tier of the notes service: NotesService in a nameko container on real PostgreSQL and RabbitMQ.

Each test gets its own RabbitMQ vhost and key directory (``service_config``);
the event store is the shared test database, so every test uses fresh ids
(patients, notes, markers) and never cleans up. The service is driven with
``entrypoint_hook``; failures to reach PostgreSQL or RabbitMQ fail loudly.
"""
import uuid

import pytest
from nameko.testing.services import entrypoint_hook

from confide import transport
from notes.service import NotesService

MARKER_PREFIX = "PSYMARKER"
# A requesting session's reply key: read_note / release_fields seal psychotherapy text to it.
READER_KEY, READER_PUB = transport.ephemeral()


@pytest.fixture
def marker():
    return f"{MARKER_PREFIX}-{uuid.uuid4().hex}"


@pytest.fixture
def patient_id():
    return f"P-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def notes_container(container_factory, service_config):
    container = container_factory(NotesService, service_config)
    container.start()
    return container


def author(id_="C-A", role="clinician"):
    return {"id": id_, "role": role, "credentials": "PsyD"}


def progress_content(**overrides):
    content = {
        "session_date": "2026-05-01", "start_time": "14:00", "stop_time": "14:53",
        "modality": "individual psychotherapy", "cpt_code": "90837", "frequency": "weekly",
        "diagnosis_codes": ["F32.1"], "symptoms": "low mood", "functional_status": "working",
        "interventions": "CBT", "treatment_plan": "continue weekly", "prognosis": "fair",
        "progress_to_date": "improving", "medications": [], "clinical_tests": {"phq9": 12, "gad7": 8},
        "risk_assessment": {"level": "low"},
    }
    content.update(overrides)
    return content


def seal_to(container, text):
    """``text`` sealed, as a front door does, to the running service's transport public key."""
    with entrypoint_hook(container, "transport_public_key") as hook:
        return transport.seal_for(hook(), text)


def opened(reply):
    """A reply with its sealed parts opened by the requesting session (``READER_KEY``)."""
    return transport.open_tree(READER_KEY, reply)
