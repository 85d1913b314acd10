"""What a rule of the 45 CFR 164.501 lint is: :class:`Rule`, the categories, and gate tokens.

A rule is declared once, by name, in the module of its category; the engine
(:mod:`confide.hipaa.lint.engine`) runs every rule of :data:`confide.hipaa.lint.engine.RULES`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

#: The excluded-content categories of 45 CFR 164.501, as named in the disclosure case files.
CATEGORIES: tuple[str, ...] = (
    "medication_prescription_and_monitoring",
    "session_start_stop_times",
    "modalities_and_frequencies_of_treatment",
    "clinical_test_results",
    "summary_diagnosis",
    "summary_functional_status",
    "summary_treatment_plan",
    "summary_symptoms",
    "summary_prognosis",
    "summary_progress_to_date",
)

#: The progress-note field each category belongs in (used in a finding's suggestion).
FIELD: dict[str, str] = {
    "medication_prescription_and_monitoring": "medications",
    "session_start_stop_times": "session start/stop times",
    "modalities_and_frequencies_of_treatment": "modality and frequency of treatment",
    "clinical_test_results": "clinical test results",
    "summary_diagnosis": "diagnosis",
    "summary_functional_status": "functional status",
    "summary_treatment_plan": "treatment plan",
    "summary_symptoms": "symptoms",
    "summary_prognosis": "prognosis",
    "summary_progress_to_date": "progress to date",
}

#: A match filter: the span to report for a match (usually ``m.span()``), or None to drop it.
Filter = Callable[[re.Match, str], tuple | None]
#: Whether a span wholly inside quoted speech is still reported: ``(text, start, end) -> bool``.
QuotePolicy = Callable[[str, int, int], bool]

_TOKEN = re.compile(r"[^\W_]+")


def tokens(s: str) -> frozenset[str]:
    """Gate tokens written as a space-separated string: ``tokens("plan goals")``."""
    return frozenset(s.lower().split())


def longest_tokens(phrases: Iterable[str]) -> frozenset[str]:
    """The longest word of each phrase of a lexicon: a match of any phrase contains one of them."""
    out = set()
    for ph in phrases:
        toks = _TOKEN.findall(ph.lower())
        if toks:
            out.add(max(toks, key=len))
    return frozenset(out)


def quoted_speech_is_content(text: str, start: int, end: int) -> bool:
    """Default quote policy: the patient's own words are session content, never reported."""
    return False


@dataclass(frozen=True)
class Rule:
    """One named way of recognising text of one excluded category.

    ``name``: ``"<module>.<what it recognises>"``, e.g. ``"medication.drug_with_dose"``.
    ``patterns``: regular expressions (compiled case-insensitively); a match of any is a finding.
    ``gate``: tokens (lower-cased words, or pseudo-tokens ``<clock>``, ``<mg>``, ``<min>``,
    ``<cpt>``, ``<icd>``, ``<qfreq>``) at least one of which every match contains; the rule runs
    only in windows around them (``window`` characters after, 64 before).
    ``filter``: decides a match in context (see :mod:`confide.hipaa.lint.filters`).
    ``fallback``: a loose clause kept only where no ordinary rule of the category found tighter
    evidence overlapping it.
    ``keep_quoted``: whether a span wholly inside quoted speech is still reported.
    ``section``: the rule has no pattern; its spans are the bodies of the note sections whose
    header names this category ("Plan:", "Dx:"), found by the sectionizer
    (:mod:`confide.hipaa.lint.context`): the header gives its whole body the category.  For a
    *tight* category (``fallback`` set: excerpts of it are released from psychotherapy notes,
    see ``notes.views``) the body ends at its first clause (``;``), is kept only where no
    ordinary rule found tighter evidence, and only when ``section_body`` accepts its text.
    ``section_body``: for a section rule, whether the text after the header (to the clause end)
    has the shape of the category ("none", a drug, a score...); None accepts any.
    """

    name: str
    category: str
    patterns: str | tuple[str, ...]  # one pattern or several; a tuple after __post_init__
    gate: frozenset[str] | set[str]  # a frozenset after __post_init__
    filter: Filter | None = None
    window: int = 120
    fallback: bool = False
    keep_quoted: QuotePolicy = quoted_speech_is_content
    section: bool = False
    section_body: Callable[[str], bool] | None = field(default=None, compare=False)
    compiled: tuple[re.Pattern, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"rule {self.name}: unknown category {self.category!r}")
        if not self.gate:
            raise ValueError(f"rule {self.name}: no gate tokens")
        pats = (self.patterns,) if isinstance(self.patterns, str) else tuple(self.patterns)
        object.__setattr__(self, "patterns", pats)
        object.__setattr__(self, "gate", frozenset(self.gate))
        object.__setattr__(self, "compiled", tuple(re.compile(p, re.IGNORECASE) for p in pats))


#: The gate of a section rule: a pseudo-token no text has, so the engine never runs it as a regex.
SECTION_GATE = frozenset({"<section>"})


def section_rule(module: str, category: str, body: Callable[[str], bool] | None = None,
                 tight: bool = False) -> Rule:
    """The rule of ``category`` whose spans are section bodies under a header naming it (see
    :class:`Rule`: ``tight`` for a category whose excerpts are released verbatim; ``body`` checks
    the text after the header)."""
    return Rule(f"{module}.section_body", category, (), SECTION_GATE, fallback=tight, section=True,
                section_body=body)
