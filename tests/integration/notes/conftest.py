"""Integration tier of the notes service: NotesService in a nameko container on real PostgreSQL and RabbitMQ.

Each test gets its own RabbitMQ vhost and key directory (``service_config``);
the event store is the shared test database, so every test uses fresh ids
(patients, members, notes, markers) and never cleans up. The service is driven with
``entrypoint_hook`` (or over RabbitMQ) with the caller's assertion in nameko context data, as
every client sends it: :class:`confide.testing.identities.Identities` enrols each test's
clinicians and registers its patients in the directory streams the identity gate reads, and mints
their assertions with the keys in the test's ``KEY_DIR``. Failures to reach PostgreSQL or RabbitMQ
fail loudly.
"""
import json
import uuid

import pytest
from nameko.testing.services import entrypoint_hook

from confide import transport
from confide.testing.identities import Identities
from notes.service import NotesService

MARKER_PREFIX = "PSYMARKER"
# A requesting session's reply key: read_note / release_fields seal psychotherapy text to it.
READER_KEY, READER_PUB = transport.ephemeral()


@pytest.fixture
def marker():
    return f"{MARKER_PREFIX}-{uuid.uuid4().hex}"


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def people(pg_store, service_config):
    """Enrols and registers in the shared store; its keys are the container's (made before it starts)."""
    return Identities(pg_store, service_config["KEY_DIR"])


@pytest.fixture
def patient_id(people):
    return people.patient(unique("P")).subject


@pytest.fixture
def clinician(people):
    """The author of most notes here (credentials PsyD)."""
    return people.member(unique("C-A"), "clinician", credentials="PsyD")


@pytest.fixture
def other_clinician(people):
    return people.member(unique("C-B"), "clinician")


@pytest.fixture
def notes_container(container_factory, service_config, people):
    container = container_factory(NotesService, {**service_config, "IDENTITY_CACHE_TTL": 0.5})
    container.start()
    return container


def call(container, person, name, *args, via=None, **kwargs):
    """``name`` through the entrypoint hook, as ``person`` (a calling service ``via``, when given);
    replies are JSON-safe as kombu will send them."""
    context = person.context(via) if person is not None else {}
    with entrypoint_hook(container, name, context_data=context) as hook:
        reply = hook(*args, **kwargs)
    json.dumps(reply)
    return reply


def progress_content(**overrides):
    content = {
        "session_date": "2026-05-01", "start_time": "14:00", "stop_time": "14:53",
        "modality": "individual psychotherapy", "cpt_code": "90837", "frequency": "weekly",
        "diagnosis_codes": ["F32.1"], "symptoms": "low mood", "functional_status": "working",
        "interventions": "CBT", "treatment_plan": "continue weekly", "prognosis": "fair",
        "progress_to_date": "improving", "medications": [], "clinical_tests": {"phq9": 12, "gad7": 8},
        "risk_assessment": {"level": "low"}, "late_entry_reason": "written after the session",
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
