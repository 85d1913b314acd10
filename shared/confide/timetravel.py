"""Time travel: a stream's state as it stood at a given time.

The state is the fold of the stream's events recorded at or before ``at``:
each event's data is merged over the previous state (later fields win), and
the list of events known then is kept, so an auditor sees both what the note,
authorization or request looked like and how it got there. Psychotherapy
note text is ciphertext in the store and stays so here.
"""
from __future__ import annotations

from datetime import datetime

from confide.envelope import format_timestamp


def state_as_of(store, stream_name: str, at: datetime) -> dict:
    """``{stream, as_of, version, status, state, events: [{version, type, recorded_at}]}``.

    ``version`` is -1 and ``state`` empty when the stream did not exist yet.
    """
    state: dict = {}
    events = []
    for ev in store.read_stream(stream_name):
        if ev.recorded_at > at:
            break
        state.update(ev.data)
        events.append({"version": ev.stream_version, "type": ev.type,
                       "recorded_at": format_timestamp(ev.recorded_at), "global_position": ev.global_position})
    return {"stream": stream_name, "as_of": format_timestamp(at),
            "version": events[-1]["version"] if events else -1,
            "status": events[-1]["type"] if events else None, "state": state, "events": events}
