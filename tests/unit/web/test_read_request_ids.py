"""Every read the web makes carries its own request id, the notes service's idempotency key (issue 12):
a redelivered RPC message for one page request cannot record a second AccessDecided, while two page
requests are two logical reads, each decided and recorded."""
from __future__ import annotations

import uuid

import pytest

from web.pages import clinician, privacy, psychotherapy


@pytest.fixture
def calls(monkeypatch):
    seen: list[tuple[str, tuple, dict]] = []

    def fake_call(request, service, method, *args, **kwargs):
        seen.append((method, args, kwargs))
        if method == "read_note":
            return {"decision": {"decision": "permit"}, "note": {"note_id": args[0], "kind": "progress"}}
        raise AssertionError(f"unexpected call {service}.{method}")

    for module in (clinician, privacy, psychotherapy):
        monkeypatch.setattr(module, "call", fake_call)
    return seen


NOTE = "6f1c1d1e-0000-4000-8000-000000000001"


@pytest.mark.parametrize("read", [
    lambda: clinician._read(None, NOTE, None),
    lambda: privacy._read_note_for_officer(None, NOTE),
], ids=["clinician chart", "privacy officer"])
def test_each_page_read_sends_a_fresh_request_id(calls, read):
    read()
    read()
    ids = [kwargs["request_id"] for method, _, kwargs in calls if method == "read_note"]
    assert len(ids) == 2
    assert all(uuid.UUID(i).version == 4 for i in ids)
    assert ids[0] != ids[1]


def test_the_private_pane_read_sends_a_request_id(calls, monkeypatch):
    from confide import transport

    monkeypatch.setattr(transport, "open_tree", lambda key, reply: reply)  # nothing sealed in this reply
    assert psychotherapy.read(None, NOTE)["note"]["note_id"] == NOTE
    (method, args, kwargs), = calls
    assert method == "read_note" and args[0] == NOTE
    assert uuid.UUID(kwargs["request_id"]).version == 4
