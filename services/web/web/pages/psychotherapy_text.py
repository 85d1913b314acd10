"""The psychotherapy pane's text work, pure (no Django, no RPC): sentences, the 164.501 hints worded by
the lint's category, and where a moved sentence goes in the progress-note record (the table in
:mod:`web.pages.psychotherapy`)."""
from __future__ import annotations

import re
from dataclasses import dataclass

#: category -> (what the sentence reads like, the progress-note section it moves to)
CATEGORIES: dict[str, tuple[str, str]] = {
    "summary_diagnosis": ("a diagnosis summary", "Diagnosis and symptoms"),
    "summary_symptoms": ("a summary of symptoms", "Symptoms"),
    "summary_functional_status": ("a summary of functional status", "Functional status"),
    "summary_treatment_plan": ("a treatment plan", "Treatment plan"),
    "summary_prognosis": ("a prognosis", "Prognosis"),
    "summary_progress_to_date": ("a summary of progress to date", "Progress to date"),
    "medication_prescription_and_monitoring": ("medication prescribing or monitoring", "Medications"),
    "clinical_test_results": ("clinical test results", "Clinical tests"),
    "session_start_stop_times": ("session start and stop times", "Session times"),
    "modalities_and_frequencies_of_treatment": ("a modality or frequency of treatment", "Interventions"),
}
MOVES = {c: section for c, (_, section) in CATEGORIES.items()}

# A sentence: from a non-space to a terminator followed by a space or the end, a line end, or the end.
_SENTENCE = re.compile(r"\S.*?(?:[.!?]+(?=\s|\Z)|(?=\n)|\Z)", re.S)
_ICD10 = re.compile(r"\b[A-TV-Z][0-9][0-9AB](?:\.[0-9A-Z]{1,4})?\b")
_PHQ9 = re.compile(r"PHQ-?\s?9\D{0,20}?(\d{1,2})\b", re.I)
_GAD7 = re.compile(r"GAD-?\s?7\D{0,20}?(\d{1,2})\b", re.I)
_TIME = r"(\d{1,2})(?::(\d{2}))?\s*([ap]\.?m\.?)?"
_RANGE = re.compile(_TIME + r"\s*(?:-|–|—|to|until)\s*" + _TIME, re.I)


def message_for(category: str) -> str:
    what = CATEGORIES.get(category, ("content the 164.501 definition excludes", ""))[0]
    return f"this sentence reads like {what}: it belongs in the progress note and would not be protected here"


# -- sentences and hints -------------------------------------------------------------------------

def sentence_spans(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _SENTENCE.finditer(text)]


@dataclass
class Hint:
    start: int
    end: int
    sentence: str
    categories: list[str]
    spans: list[tuple[int, int]]

    @property
    def messages(self) -> list[str]:
        return [message_for(c) for c in self.categories]

    @property
    def section(self) -> str:
        return MOVES.get(self.categories[0], "")

    @property
    def key(self) -> str:
        return f"{self.start}:{self.end}"

    def as_json(self) -> dict:
        return {"key": self.key, "sentence": self.sentence, "categories": self.categories,
                "messages": self.messages, "section": self.section}


def hints_for(text: str, findings: list[dict]) -> list[Hint]:
    """The lint's findings grouped by the sentence each starts in, in text order."""
    spans = sentence_spans(text)
    by_sentence: dict[tuple[int, int], Hint] = {}
    for f in sorted(findings, key=lambda f: int(f.get("start", 0))):
        start = int(f.get("start", 0))
        span = next(((a, b) for a, b in spans if a <= start < b), None)
        if span is None or f.get("category") not in CATEGORIES:
            continue
        hint = by_sentence.setdefault(span, Hint(span[0], span[1], text[span[0]:span[1]], [], []))
        if f["category"] not in hint.categories:
            hint.categories.append(f["category"])
        hint.spans.append((start, int(f.get("end", start))))
    return list(by_sentence.values())


def without(text: str, start: int, end: int) -> str:
    """``text`` with [start, end) taken out and the whitespace around it closed up."""
    before, after = text[:start].rstrip(" \t"), text[end:].lstrip(" \t")
    if before and after and not before.endswith("\n") and not after.startswith("\n"):
        return f"{before} {after}".strip()
    return (before + after).strip()


# -- the move into the progress note ---------------------------------------------------------------

def _append(existing: str, addition: str) -> str:
    return f"{existing.rstrip()}\n{addition}" if existing and existing.strip() else addition


def _clock(hour: str, minute: str | None, meridiem: str | None) -> str | None:
    h, m = int(hour), int(minute or 0)
    if meridiem:
        pm = meridiem.lower().startswith("p")
        h = (h % 12) + (12 if pm else 0)
    return f"{h:02d}:{m:02d}" if 0 <= h < 24 and 0 <= m < 60 else None


def moved_into(content: dict, category: str, sentence: str, flagged: str) -> dict:
    """``content`` (a progress-note record) with ``sentence`` put where ``category`` belongs (module
    table). Nothing of the sentence is dropped: what cannot be read into a structured field is kept as text."""
    out = {**content}
    text_field = {"summary_symptoms": "symptoms", "summary_functional_status": "functional_status",
                  "summary_treatment_plan": "treatment_plan", "summary_prognosis": "prognosis",
                  "summary_progress_to_date": "progress_to_date",
                  "modalities_and_frequencies_of_treatment": "interventions"}.get(category)
    if text_field:
        out[text_field] = _append(out.get(text_field) or "", sentence)
    elif category == "summary_diagnosis":
        out["symptoms"] = _append(out.get("symptoms") or "", f"Diagnosis: {sentence}")
        codes = list(out.get("diagnosis_codes") or [])
        out["diagnosis_codes"] = codes + [c for c in dict.fromkeys(_ICD10.findall(sentence)) if c not in codes]
    elif category == "medication_prescription_and_monitoring":
        name = (flagged or sentence).strip()[:200] or "medication"
        out["medications"] = list(out.get("medications") or []) + [
            {"name": name, "dose": "", "prescription": "", "monitoring": sentence}]
    elif category == "clinical_test_results":
        tests = dict(out.get("clinical_tests") or {})
        for key, pattern, top in (("phq9", _PHQ9, 27), ("gad7", _GAD7, 21)):
            found = pattern.search(sentence)
            if found and int(found.group(1)) <= top:
                tests[key] = int(found.group(1))
        out["clinical_tests"] = {"phq9": tests.get("phq9"), "gad7": tests.get("gad7")}
        out["progress_to_date"] = _append(out.get("progress_to_date") or "", f"Clinical tests: {sentence}")
    elif category == "session_start_stop_times":
        found = _RANGE.search(sentence)
        times: tuple[str | None, str | None] = (None, None)
        if found:
            # "2:00-2:50 pm": the start takes the stop's am/pm when it has none of its own.
            start_meridiem = found.group(3) or found.group(6)
            times = (_clock(found.group(1), found.group(2), start_meridiem), _clock(*found.group(4, 5, 6)))
        if times[0] and times[1] and times[0] < times[1]:
            out["start_time"], out["stop_time"] = times
        else:
            out["interventions"] = _append(out.get("interventions") or "", f"Session times: {sentence}")
    return out
