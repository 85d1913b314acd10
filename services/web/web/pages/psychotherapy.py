"""The psychotherapy note: a private pane kept apart from the chart (45 CFR 164.501), its live 164.501
hints and the one-click move of a flagged sentence into the session's progress note (issue 11, item 1).

In a 42 CFR Part 2 program (``CONFIDE_PRACTICE_PART2_PROGRAM``) the same pane writes SUD counseling
notes too (42 CFR 2.11 as amended in 2024: Part 2's counterpart of psychotherapy notes, kept apart the
same way and released only with a consent naming them, 2.31(b)): the clinician chooses the kind when
starting a note (:data:`KINDS`), and it is written with ``notes.write_sud_counseling_note``. Outside a
Part 2 program the choice is not offered (and the notes service refuses such a note anyway).

Mounted at ``/clinician/psychotherapy/``. The note text crosses the broker only sealed: in as
``sealed_text`` (``confide.transport.seal_for`` to ``notes.transport_public_key()``), out sealed to a
key pair made for the one request in this process (``transport.ephemeral``), opened in memory and
never stored, logged or put in a URL. Every read is ``notes.read_note`` (decided and recorded); a
refusal is a 403 naming the rule (``web.pages.common``). The pages print nothing but a notice and
offer no export.

Moving a sentence (:data:`MOVES`, :func:`moved_into`): the lint's findings (``notes.lint_text``) are
grouped by sentence; the first finding's category in a sentence decides where it goes in the progress
note of the same patient and session date that the signed-in author has in draft (found through
``notes.list_notes``, read through ``notes.read_note``, revised with ``notes.revise_note``), or in a
new draft (``notes.write_progress_note``) when there is none, from the session facts the page asks for
once. The progress note is written first, then the sentence is taken out of the psychotherapy draft,
so a failure never loses it.

| lint category                            | progress-note field                                           |
|------------------------------------------|---------------------------------------------------------------|
| summary_diagnosis                        | symptoms ("Diagnosis: ..."), ICD-10-CM codes in it added to diagnosis_codes |
| summary_symptoms                         | symptoms                                                      |
| summary_functional_status                | functional_status                                             |
| summary_treatment_plan                   | treatment_plan                                                |
| summary_prognosis                        | prognosis                                                     |
| summary_progress_to_date                 | progress_to_date                                              |
| medication_prescription_and_monitoring   | medications (+ {name: the flagged words, monitoring: sentence}) |
| clinical_test_results                    | clinical_tests (PHQ-9 / GAD-7 scores read from it) and progress_to_date |
| session_start_stop_times                 | start_time / stop_time (read from it), else interventions     |
| modalities_and_frequencies_of_treatment  | interventions                                                 |
"""
from __future__ import annotations

import re
from datetime import date
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST

from web.pages.common import (
    InvalidInput,
    NavItem,
    ServiceRefused,
    ServiceUnavailable,
    call,
    read_request_id,
    roles_required,
)
from web.pages.psychotherapy_text import MOVES, hints_for, moved_into, without

WRITERS = ("clinician", "trainee", "supervisor")
MAX_TEXT = 100000

NAV: list[NavItem] = [NavItem("Psychotherapy notes", "web:psychotherapy_index", WRITERS, id="nav-psychotherapy")]

RISK_LEVELS = ("none", "low", "moderate", "high", "imminent")

#: The note kinds this pane writes: (kind, label, the notes RPC that drafts one).
KINDS = (("psychotherapy", "Psychotherapy note (45 CFR 164.501)", "write_psychotherapy_note"),
         ("sud_counseling", "SUD counseling note (42 CFR Part 2, 2.11)", "write_sud_counseling_note"))
WRITE_RPC = {kind: rpc for kind, _, rpc in KINDS}
KIND_LABELS = {"psychotherapy": "Psychotherapy note", "sud_counseling": "SUD counseling note"}


def kinds_offered() -> list[tuple[str, str]]:
    """(kind, label) of the kinds a clinician may start here: SUD counseling notes only in a Part 2
    program (``confide.config.practice``), which the notes service checks again."""
    from confide import config

    part2 = config.practice()["part2_program"]
    return [(kind, label) for kind, label, _ in KINDS if kind == "psychotherapy" or part2]


def _kind(raw: str | None) -> str:
    kind = (raw or "psychotherapy").strip()
    if kind not in dict(kinds_offered()):
        raise InvalidInput(f"note_kind: {kind} notes are not written in this practice", "ValidationError")
    return kind


SESSION_FACTS = ("pn_start_time", "pn_stop_time", "pn_cpt_code", "pn_modality", "pn_frequency", "pn_diagnosis_codes",
                 "pn_risk_level")


def new_progress_content(post, session_date: str) -> dict:
    """A new progress-note record from the session facts the page asked for (the service validates
    each; a missing one is named). Raises InvalidInput."""
    missing = [name for name in SESSION_FACTS if not (post.get(name) or "").strip()]
    if missing:
        raise InvalidInput("There is no draft progress note for this session yet: to start one, give "
                           + ", ".join(SESSION_FACT_LABELS[m] for m in missing) + " under 'Progress note for this "
                           "session'. Nothing was moved.", "ValidationError")
    return {"session_date": session_date, "start_time": post["pn_start_time"].strip(),
            "stop_time": post["pn_stop_time"].strip(), "cpt_code": post["pn_cpt_code"].strip(),
            "modality": post["pn_modality"].strip(), "frequency": post["pn_frequency"].strip(),
            "diagnosis_codes": [c.strip().upper() for c in re.split(r"[,\s]+", post["pn_diagnosis_codes"]) if c.strip()],
            "risk_assessment": {"level": post["pn_risk_level"].strip()}}


SESSION_FACT_LABELS = {"pn_start_time": "start time", "pn_stop_time": "stop time", "pn_cpt_code": "CPT code",
                       "pn_modality": "modality", "pn_frequency": "frequency",
                       "pn_diagnosis_codes": "ICD-10-CM codes", "pn_risk_level": "risk level"}


def dated(note: dict) -> dict:
    """``note`` with its instants (signed_at, cosigned_at, each addendum's added_at) as datetimes, for display."""
    out = {**note, **{k: parse_datetime(note[k]) if note.get(k) else None for k in ("signed_at", "cosigned_at")}}
    out["addenda"] = [{**a, "added_at": parse_datetime(a["added_at"]) if a.get("added_at") else None}
                      for a in note.get("addenda") or []]
    return out


# -- talking to the notes service -----------------------------------------------------------------

def sealed(request: HttpRequest, text: str) -> str:
    from confide import transport

    return transport.seal_for(call(request, "notes", "transport_public_key"), text)


def read(request: HttpRequest, note_id: str, purpose: str = "treatment") -> dict:
    """``notes.read_note`` as the signed-in person, psychotherapy text sealed to a key pair made for
    this request only and opened here (never stored). Raises ServiceRefused (403, with the rule)."""
    from confide import transport

    private, public = transport.ephemeral()
    reply = call(request, "notes", "read_note", note_id, purpose, reply_public_key=public,
                 request_id=read_request_id())
    try:
        return transport.open_tree(private, reply)
    except transport.TransportError:
        raise ServiceUnavailable("the note came back in a form this page cannot open", "TransportError") from None


def lint(request: HttpRequest, text: str) -> list[dict]:
    if not text.strip():
        return []
    return call(request, "notes", "lint_text", sealed_text=sealed(request, text))["findings"]


def draft_progress_note(request: HttpRequest, patient_id: str, session_date: str) -> dict | None:
    """The signed-in author's draft progress note of ``patient_id`` for ``session_date``, read through
    ``notes.read_note`` (None when there is none). Found in the author's own worklist
    (``notes.my_notes``: metadata of the notes they drafted), so no other note is asked about."""
    mine = call(request, "notes", "my_notes")["notes"]
    drafts = [n for n in mine if n.get("kind") == "progress" and n.get("patient_id") == patient_id
              and n.get("status") == "draft" and (n.get("session_date") or "")[:10] == session_date[:10]]
    if not drafts:
        return None
    return read(request, drafts[-1]["note_id"])["note"]


# -- views ----------------------------------------------------------------------------------------

def _clean_text(raw: str | None) -> str:
    text = (raw or "").replace("\r\n", "\n")
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"text: at most {MAX_TEXT} characters", "ValidationError")
    return text


def _session_date(raw: str | None) -> str:
    try:
        return date.fromisoformat((raw or "").strip()).isoformat()
    except ValueError:
        raise InvalidInput("session_date: give the session's date as YYYY-MM-DD", "ValidationError") from None


def _patient_id(raw: str | None) -> str:
    value = (raw or "").strip()
    if not value:
        raise InvalidInput("patient_id: required", "ValidationError")
    return value


@roles_required(*WRITERS)
def psychotherapy_index(request: HttpRequest) -> HttpResponse:
    """Start a psychotherapy note (patient, session date, supervisor for a trainee); list the signed-in
    author's psychotherapy notes of a patient (``?patient=``, from their own worklist ``notes.my_notes``:
    no colleague's note is asked about, so none of their "who has seen my notes" fills with this page)."""
    patient = (request.GET.get("patient") or "").strip()
    notes = None
    if patient:
        mine = call(request, "notes", "my_notes")["notes"]
        notes = [{**n, "kind_label": KIND_LABELS[n["kind"]]} for n in mine
                 if n.get("kind") in WRITE_RPC and n.get("patient_id") == patient]
    return render(request, "web/psychotherapy/index.html", {"patient": patient, "notes": notes,
                                                            "today": date.today().isoformat(),
                                                            "kinds": kinds_offered()})


def _editor(request: HttpRequest, ctx: dict, status: int = 200) -> HttpResponse:
    ctx.setdefault("author", True)
    ctx["kind_label"] = KIND_LABELS.get((ctx.get("note") or {}).get("kind") or "psychotherapy", "Psychotherapy note")  # the new note and every POST that reaches _act are the author's own
    ctx.setdefault("hints", None)
    ctx.setdefault("risk_levels", RISK_LEVELS)
    ctx.setdefault("facts", {k: request.POST.get(k, "") for k in SESSION_FACTS})
    return render(request, "web/psychotherapy/note.html", ctx, status=status)


@roles_required(*WRITERS)
def psychotherapy_new(request: HttpRequest) -> HttpResponse:
    """A new draft: the editor with the patient and session date chosen on the index page."""
    source = request.POST if request.method == "POST" else request.GET
    meta = {"patient_id": _patient_id(source.get("patient_id")),
            "session_date": _session_date(source.get("session_date")),
            "supervisor_id": (source.get("supervisor_id") or "").strip() or None,
            "status": "new", "note_id": None, "kind": _kind(source.get("kind"))}
    if request.method != "POST":
        progress = draft_progress_note(request, meta["patient_id"], meta["session_date"])
        return _editor(request, {"note": meta, "text": "", "progress": progress})
    return _act(request, meta, _clean_text(request.POST.get("text")))


@roles_required(*WRITERS)
def psychotherapy_note(request: HttpRequest, note_id) -> HttpResponse:
    """One psychotherapy note, read through ``notes.read_note`` (purpose treatment: the originator's
    own use, 164.508(a)(2)(i)(A); anyone else is refused with the rule). A draft opens in the editor;
    a signed note shows read-only with its addenda and a form to add one."""
    reply = read(request, str(note_id))
    note = reply["note"]
    if note.get("kind") not in WRITE_RPC:
        raise InvalidInput(f"note {note_id} is not a psychotherapy or SUD counseling note", "ValidationError")
    # Reading is the service's decision (the supervisor named on a trainee's note may read it,
    # 164.508(a)(2)(i)(B)); editing, moving and signing are the author's alone. A reader who is not the
    # author gets the text read-only, and a forged POST of the editor is refused before anything is
    # written: a move would otherwise put the author's sentence into the reader's own progress note
    # (the chart) before the service refused the revision of the psychotherapy note.
    author = note.get("author_id") == request.user.get_username()
    if request.method == "POST":
        if not author and (request.POST.get("move") or request.POST.get("action", "save") != "addendum"
                           or note.get("status") == "draft"):
            raise ServiceRefused(f"only the author of note {note_id} edits, moves or signs it; nothing was written",
                                 "NotAuthorError")
        return _act(request, note, _clean_text(request.POST.get("text")))
    progress = draft_progress_note(request, note["patient_id"], note["session_date"]) \
        if note["status"] == "draft" and author else None
    return _editor(request, {"note": dated(note), "text": note.get("text") or "", "progress": progress,
                             "decision": reply["decision"], "author": author})


def _act(request: HttpRequest, note: dict, text: str) -> HttpResponse:
    """One POST of the editor: check, save, move, sign or addendum (``action`` / ``move``). Input the
    notes service rejects (400) shows on the editor with the text kept, the message linked to it;
    a refusal (403) or an unreachable service (503) is the shared error page."""
    try:
        return _act_or_reject(request, note, text)
    except InvalidInput as exc:
        progress = None
        if note.get("status") in ("new", "draft"):
            try:
                progress = draft_progress_note(request, note["patient_id"], note["session_date"])
            except InvalidInput:
                progress = None
        return _editor(request, {"note": dated(note) if note.get("note_id") else note, "text": text,
                                 "progress": progress, "error": exc.reason}, status=400)


def _act_or_reject(request: HttpRequest, note: dict, text: str) -> HttpResponse:
    note_id = note.get("note_id")
    if request.POST.get("move"):
        return _move(request, note, text, request.POST["move"])
    action = request.POST.get("action", "save")
    if action == "addendum":
        addendum = _clean_text(request.POST.get("addendum"))
        if not addendum.strip():
            raise InvalidInput("addendum: write the addendum first", "ValidationError")
        call(request, "notes", "add_addendum", note_id, sealed_text=sealed(request, addendum))
        messages.info(request, "Addendum added.")
        return redirect("web:psychotherapy_note", note_id=note_id)
    if action == "check":
        progress = draft_progress_note(request, note["patient_id"], note["session_date"])
        return _editor(request, {"note": note, "text": text, "progress": progress,
                                 "hints": hints_for(text, lint(request, text))})
    if not text.strip():
        raise InvalidInput("text: the note is empty", "ValidationError")
    note_id = _save(request, note, text)
    if action == "sign":
        call(request, "notes", "sign_note", note_id)
        messages.info(request, "Signed and locked. Later changes are addenda.")
    else:
        messages.info(request, "Draft saved.")
    return redirect("web:psychotherapy_note", note_id=note_id)


def _save(request: HttpRequest, note: dict, text: str) -> str:
    if note.get("note_id"):
        if text != (note.get("text") or ""):
            call(request, "notes", "revise_note", note["note_id"], sealed_text=sealed(request, text))
        return note["note_id"]
    payload = {"patient_id": note["patient_id"], "session_date": note["session_date"],
               "sealed_text": sealed(request, text)}
    if note.get("supervisor_id"):
        payload["supervisor_id"] = note["supervisor_id"]
    return call(request, "notes", WRITE_RPC[note.get("kind") or "psychotherapy"], payload)["note_id"]


def _move(request: HttpRequest, note: dict, text: str, key: str) -> HttpResponse:
    """Move the sentence ``key`` ("start:end" of the posted text) into the progress note: only a
    sentence the lint flags now (the text is linted again here, the browser's hint is not trusted)."""
    hint = next((h for h in hints_for(text, lint(request, text)) if h.key == key), None)
    if hint is None:
        raise InvalidInput("move: that sentence is no longer flagged in the text as it stands; check again",
                           "ValidationError")
    category = hint.categories[0]
    flagged = text[hint.spans[0][0]:hint.spans[0][1]]
    progress = draft_progress_note(request, note["patient_id"], note["session_date"])
    if progress is None:
        content = moved_into(new_progress_content(request.POST, note["session_date"]), category, hint.sentence, flagged)
        payload = {"patient_id": note["patient_id"], "content": content}
        if note.get("supervisor_id"):
            payload["supervisor_id"] = note["supervisor_id"]
        progress_id = call(request, "notes", "write_progress_note", payload)["note_id"]
    else:
        progress_id = progress["note_id"]
        call(request, "notes", "revise_note", progress_id,
             content=moved_into(progress["content"], category, hint.sentence, flagged))
    remaining = without(text, hint.start, hint.end)
    note_id = note.get("note_id")
    if note_id:
        if remaining.strip():
            call(request, "notes", "revise_note", note_id, sealed_text=sealed(request, remaining))
        else:
            messages.warning(request, "The sentence was the whole note: the psychotherapy draft keeps its last "
                                      "saved text; revise it before signing.")
    elif remaining.strip():
        note_id = _save(request, note, remaining)
    messages.info(request, f"Moved to the progress note draft ({MOVES[category]}).")
    if note_id:
        return redirect("web:psychotherapy_note", note_id=note_id)
    return redirect(f"{reverse('web:psychotherapy_index')}?{urlencode({'patient': note['patient_id']})}")


@roles_required(*WRITERS)
@require_POST
def psychotherapy_lint(request: HttpRequest) -> HttpResponse:
    """The live hints: the draft (POST body, never the URL) sealed to ``notes.lint_text`` ->
    ``{"hints": [{key, sentence, categories, messages, section}]}`` (the author's own words back to
    the author's page; nothing stored or logged)."""
    text = _clean_text(request.POST.get("text"))
    return JsonResponse({"hints": [h.as_json() for h in hints_for(text, lint(request, text))]})


urlpatterns = [
    path("", psychotherapy_index, name="psychotherapy_index"),
    path("new", psychotherapy_new, name="psychotherapy_new"),
    path("hints", psychotherapy_lint, name="psychotherapy_lint"),
    path("<uuid:note_id>", psychotherapy_note, name="psychotherapy_note"),
]
