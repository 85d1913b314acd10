"""The supervisor's review queue and co-signature (issue 11, item 1). Mounted at ``/supervision/``.

The queue is ``notes.review_queue()`` (metadata only, for the signed-in supervisor; the directory's
supervision links decide, so a supervision that ended shows nothing). A note is opened through
``notes.read_note`` (purpose ``training``: the practice's own supervised training, 45 CFR
164.508(a)(2)(i)(B) for a psychotherapy note), decided and recorded, before the co-sign button is
offered; the co-signature is ``notes.cosign_note``, which refuses a supervisor no longer linked to
the author. A psychotherapy note shows in the same private pane as its author's, which prints
nothing but a notice.
"""
from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST

from web.pages.common import NavItem, call, roles_required
from web.pages.psychotherapy import dated, read

NAV: list[NavItem] = [NavItem("Review queue", "web:supervision_queue", ("supervisor",), id="nav-supervision")]
#: Why a supervisor reads a trainee's note: the practice's own supervised training program.
PURPOSE = "training"


def _shown(value) -> str:
    """A released field's value as one line of text (a dict as "key: value; ...", a list joined)."""
    if isinstance(value, dict):
        return "; ".join(f"{k.replace('_', ' ')}: {_shown(v)}" for k, v in value.items() if v not in (None, "", []))
    if isinstance(value, list):
        return ", ".join(_shown(v) for v in value)
    return "" if value is None else str(value)


@roles_required("supervisor")
def supervision_queue(request: HttpRequest) -> HttpResponse:
    queue = [{**n, "signed_at": parse_datetime(n["signed_at"]) if n.get("signed_at") else None}
             for n in call(request, "notes", "review_queue")]
    return render(request, "web/supervision/queue.html", {"queue": queue})


@roles_required("supervisor")
def supervision_note(request: HttpRequest, note_id) -> HttpResponse:
    """The note as the supervisor may read it (decided and recorded; a refusal is a 403 with the rule)."""
    reply = read(request, str(note_id), PURPOSE)
    # Who wrote it and when it was signed come from the queue (metadata); a progress note read for
    # training releases only the minimum necessary fields (164.502(b)), not that metadata.
    queued = next((n for n in call(request, "notes", "review_queue") if n["note_id"] == str(note_id)), None)
    if queued:
        queued = {**queued, "signed_at": parse_datetime(queued["signed_at"]) if queued.get("signed_at") else None}
    fields = [(name.replace("_", " ").capitalize(), _shown(value))
              for name, value in (reply["note"].get("fields") or {}).items()]
    return render(request, "web/supervision/note.html", {"note": dated(reply["note"]), "decision": reply["decision"],
                                                          "queued": queued, "fields": fields})


@roles_required("supervisor")
@require_POST
def supervision_cosign(request: HttpRequest, note_id) -> HttpResponse:
    call(request, "notes", "cosign_note", str(note_id))
    messages.info(request, f"Co-signed note {note_id}.")
    return redirect("web:supervision_queue")


urlpatterns = [
    path("", supervision_queue, name="supervision_queue"),
    path("<uuid:note_id>", supervision_note, name="supervision_note"),
    path("<uuid:note_id>/cosign", supervision_cosign, name="supervision_cosign"),
]
