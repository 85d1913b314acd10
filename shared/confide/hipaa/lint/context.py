"""Context of a candidate finding, read with medSpaCy's ConText and sectionizer (45 CFR 164.501 lint).

The rule modules find *candidates*: text shaped like excluded content.  Whether a candidate is
the client's own current treatment and condition, as 45 CFR 164.501 means, depends on its
context: whose drug or diagnosis it is (a relative's, a friend's), whether it is real (a dream, a
joke, a hypothetical, a wish), when (childhood, "years ago"), what it came from (a documentary,
a podcast), and which note section it sits in ("Plan:", "Dx:", "FHx:").  This module reads that
context with a well-kept clinical NLP library instead of hand-written filters:

* **ConText** (``medspacy.context``): medSpaCy's default English rules (negation, possibility,
  hypothetical, history, family) plus our own rules in ``data/context_rules.json`` for the
  psychotherapy-note cues the defaults lack (other people, imagined and conditional talk,
  biography, things read or heard about, goals, the client's reported speech...).  Every rule of
  ours carries a ``why``; default rules that contradict clinical shorthand are disabled there,
  each with its reason.  A candidate is a ConText *target* labelled with its category; the
  categories of the modifiers that reach it are returned, and each category module says which
  of them make the candidate session content (``CONTEXT_VETO``).
* **Sectionizer** (``medspacy.section_detection``): section headers in ``data/section_rules.json``
  (``"Plan:"``, ``"Dx:"``, ``"Meds:"``, ``"FHx:"``...).  A header counts at the start of a line or
  a sentence.  A header named after an excluded category makes its section body a finding of
  that category; a context header (``"FHx:"``) gives its body that context.  A section body is
  the rest of the header's sentence, or, when the header ends its line, the lines that follow up
  to a blank line or the next header.

Scope: ConText's scope is a sentence.  Sentences are split here (at ``.``/``!``/``?`` before a
new word, except after common abbreviations and initials, at ``;`` and at line ends), and only
the sentences holding a candidate or a ``:`` are handed to spaCy, so the cost grows with the
clinical content of a note, not its length.  (medSpaCy's PyRuSH sentence splitter costs about a
millisecond per sentence, too slow for live hints over a whole note; it is not loaded.)

The pipeline (a blank English spaCy model with medSpaCy's tokenizer, ConText and the
sectionizer; no downloaded model) is built once per process, on first use, and shared.  Nothing
here logs text: PyRuSH's loguru logger is disabled, and the pipeline is only given text in
memory.
"""

from __future__ import annotations

import bisect
import json
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from .rule import CATEGORIES

__all__ = ["Context", "read", "sentence_spans", "CONTEXT_CATEGORIES"]

#: Context categories the rule files may use (medSpaCy's defaults and ours).  A category module's
#: ``CONTEXT_VETO`` names some of them; ``"A+B"`` means both at once.
CONTEXT_CATEGORIES: frozenset[str] = frozenset({
    # medSpaCy defaults
    "NEGATED_EXISTENCE", "POSSIBLE_EXISTENCE", "HYPOTHETICAL", "HISTORICAL", "FAMILY",
    # ours (data/context_rules.json)
    "OTHER_PERSON", "IMAGINED", "BIOGRAPHICAL", "INFORMATION", "MEDICAL", "GOAL", "CLIENT_BELIEF",
    "REPORTED_SPEECH", "PROGNOSTIC",
    # ours, modifying nothing: they end other modifiers' scope (PSEUDO direction)
    "CLIENT_SUBJECT", "REASON", "PSEUDO",
})

_SPAN_GROUP = "confide_lint_candidates"


# ---- rule files ---------------------------------------------------------------------------------

def _data(name: str) -> dict:
    return json.loads(files(__package__).joinpath("data", name).read_text(encoding="utf-8"))


def _without_why(entry: dict, where: str) -> dict:
    """A rule entry without its ``why``; every rule of ours must say why it exists."""
    why = entry.get("why")
    if not isinstance(why, str) or not why.strip():
        raise ValueError(f"{where}: rule {entry.get('literal') or entry.get('category')!r} has no 'why'")
    return {k: v for k, v in entry.items() if k != "why"}


def context_rules() -> list:
    """medSpaCy's default English ConText rules, less the disabled ones, plus ours.

    :raises ValueError: if a rule of ours has no ``why``, names an unknown category, or a
        disabled default does not exist (the defaults changed under us).
    """
    from medspacy.context import ConTextRule

    data = _data("context_rules.json")
    import medspacy

    default_path = Path(medspacy.__file__).resolve().parents[1] / "resources" / "en" / "context_rules.json"
    defaults = ConTextRule.from_json(str(default_path))
    disabled = {(d["literal"], d["category"]) for d in
                (_without_why(d, "disabled_default_rules") for d in data["disabled_default_rules"])}
    present = {(r.literal, r.category) for r in defaults}
    missing = disabled - present
    if missing:
        raise ValueError(f"context_rules.json disables default rules that do not exist: {sorted(missing)}")
    rules = [r for r in defaults if (r.literal, r.category) not in disabled]
    for entry in data["context_rules"]:
        rule = ConTextRule(**_without_why(entry, "context_rules"))
        if rule.category not in CONTEXT_CATEGORIES:
            raise ValueError(f"context rule {rule.literal!r}: unknown category {rule.category}")
        rules.append(rule)
    out = [r for rule in rules for r in _as_phrases(rule)]
    for r in out:
        r.terminated_by.update(_TERMINATED_BY.get(r.category, ()))
    return out


#: Which categories end the scope of which: a relative or another person stops being the subject
#: when a clause turns back to the client ("Since her father died, she has been taking
#: clonazepam").  Set on the rules here: ConText's ``terminating_types`` option reaches only the
#: first rule when given through spaCy's config (the list arrives as a one-pass iterator).
_TERMINATED_BY = {"FAMILY": {"CLIENT_SUBJECT"}, "OTHER_PERSON": {"CLIENT_SUBJECT"}}


def _as_phrases(rule: Any) -> list:
    """A rule whose pattern is one word from a list (``[{"LOWER": {"IN": [...]}}]``, optionally
    followed by optional tokens such as "'s") as one phrase rule per word: the same modifiers
    (less the optional tokens), found by spaCy's PhraseMatcher, which is several times cheaper
    than a token pattern with a set.  Other rules are returned unchanged."""
    from medspacy.context import ConTextRule

    pat = rule.pattern
    if not (isinstance(pat, list) and pat and set(pat[0]) == {"LOWER"} and isinstance(pat[0]["LOWER"], dict)
            and set(pat[0]["LOWER"]) == {"IN"} and all(spec.get("OP") == "?" for spec in pat[1:])):
        return [rule]
    return [ConTextRule(word, rule.category, direction=rule.direction, on_modifies=rule.on_modifies,
                        allowed_types=rule.allowed_types, excluded_types=rule.excluded_types,
                        max_scope=rule.max_scope, max_targets=rule.max_targets,
                        terminated_by=rule.terminated_by, metadata={"from": rule.literal})
            for word in pat[0]["LOWER"]["IN"]]


def section_rules() -> list:
    """Our section headers (``data/section_rules.json``: per category, its headers and why).

    :raises ValueError: if an entry has no ``why`` or its category is neither an
        excluded-content category nor a context category.
    """
    from medspacy.section_detection import SectionRule

    rules: list = []
    for entry in _data("section_rules.json")["section_rules"]:
        entry = _without_why(entry, "section_rules")
        category = entry["category"]
        if category not in CATEGORIES and category not in CONTEXT_CATEGORIES:
            raise ValueError(f"section rules: unknown category {category}")
        rules.extend(SectionRule(literal, category, pattern=_token_pattern(literal)) for literal in entry["literals"])
    return rules


_PIECE = re.compile(r"\w+|[^\w\s]")


def _token_pattern(literal: str) -> list[dict]:
    """A case-insensitive token pattern for a header ("f/u:" -> f / u :), so that the sectionizer
    matches it with spaCy's Matcher."""
    return [{"LOWER": piece} for piece in _PIECE.findall(literal.lower())]


# ---- the pipeline (one per process) -----------------------------------------------------------

class _Pipeline:
    """medSpaCy's tokenizer, ConText and sectionizer, built once; calls are serialised."""

    def __init__(self) -> None:
        from loguru import logger

        logger.disable("PyRuSH")  # PyRuSH logs at DEBUG through loguru; nothing clinical may be logged
        import medspacy

        nlp = medspacy.load(medspacy_enable=["medspacy_tokenizer"])
        self.context = nlp.add_pipe("medspacy_context", config={
            "rules": None, "input_span_type": "group", "span_group_name": _SPAN_GROUP, "span_attrs": None})
        self.context.add(context_rules())
        self.sectionizer = nlp.add_pipe("medspacy_sectionizer", config={
            "rules": None, "input_span_type": None, "span_attrs": None})
        self.sectionizer.add(section_rules())
        self.nlp = nlp
        self.triggers = _Triggers(self.context.rules, nlp)
        self.header_words = frozenset(rule.pattern[0]["LOWER"] for rule in self.sectionizer.rules)
        self.lock = threading.Lock()

    def may_open_with_header(self, sentence: str) -> bool:
        """Whether a section header may open ``sentence`` (after a list marker): its first word
        opens some header, and a ':' follows within the length of a header."""
        lead = _lead_end(sentence)
        m = _FIRST_WORD.match(sentence, lead)
        return bool(m and m.group().lower() in self.header_words and ":" in sentence[lead:lead + 48])


class _Triggers:
    """Per context category, the words at least one of which each of its rules needs (or, for a
    regular-expression rule, the expression): a sentence without any of them cannot get that
    category, so ConText need not run on it (spaCy's Matcher is the costly step).  Exact: a rule
    whose needed words cannot be read off makes its category always possible."""

    def __init__(self, rules: list, nlp: Any) -> None:
        self.words: dict[str, set[str]] = {}
        regexes: dict[str, list[str]] = {}
        self.always: set[str] = set()
        for rule in rules:
            if rule.direction in ("PSEUDO", "TERMINATE"):
                continue
            cat = rule.category
            if isinstance(rule.pattern, str):
                regexes.setdefault(cat, []).append(rule.pattern)
                continue
            if rule.pattern is None:
                needed = {t.lower_ for t in nlp.make_doc(rule.literal.lower())[:1]}
            else:
                # any required token will do; take the one whose words are longest (rarest)
                required = [v for v in (_lower_values(spec) for spec in rule.pattern
                                        if spec.get("OP") not in ("?", "*")) if v]
                needed = max(required, key=lambda v: min(map(len, v)), default=set())
            if needed:
                self.words.setdefault(cat, set()).update(needed)
            else:
                self.always.add(cat)
        self.regexes = {cat: re.compile("|".join(f"(?:{p})" for p in ps), re.IGNORECASE) for cat, ps in regexes.items()}

    def possible(self, chunk: str) -> set[str]:
        """The context categories that some rule might give a span of the sentence ``chunk``."""
        lowers = _pieces(chunk.lower())
        found = set(self.always)
        found.update(cat for cat, words in self.words.items() if not words.isdisjoint(lowers))
        found.update(cat for cat, rx in self.regexes.items() if cat not in found and rx.search(chunk))
        return found


_PIECES = re.compile(r"[\w'/.\-]+|\w+|'\w+|n't|[^\w\s]")


def _pieces(lower: str) -> set[str]:
    """A superset of the spaCy tokens of ``lower``: whole runs of word characters with their inner
    punctuation, the words inside them, clitics ("'s", "'d", "n't") and punctuation marks."""
    out = set(_PIECES.findall(lower))
    for run in [w for w in out if len(w) > 1 and not w.isalnum()]:
        out.update(re.findall(r"\w+|'\w+|n't|[^\w\s]", run))
        out.add(run.strip(".'-/"))
    return out


def _lower_values(spec: dict) -> set[str]:
    low = spec.get("LOWER")
    if isinstance(low, str):
        return {low}
    if isinstance(low, dict) and isinstance(low.get("IN"), list):
        return set(low["IN"])
    return set()


#: The process's pipeline: built once, when the lint is imported (about a second), so that no
#: request pays for it and no two threads build it.
PIPELINE = _Pipeline()


# ---- sentences ---------------------------------------------------------------------------------
#: Abbreviations after which a full stop never ends a sentence ("Dr. Kim", "vs. last month").
_TITLE = frozenset("dr drs mr mrs ms mx prof st vs v e.g eg i.e ie approx cf fig no nos re".split())
#: Abbreviations after which a full stop ends a sentence only before a capital ("2 wks. She").
_ABBREV = frozenset("""etc appt apt al p.m a.m pm am b.i.d t.i.d q.i.d q.d q.h.s p.r.n p.o sr jr inc wk wks hr hrs
    min mins mo mos yr yrs pt pts""".split())
_END = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*(?=\s)")
_HARD = re.compile(r";|\n")
_WORD_BEFORE = re.compile(r"([\w.]+)$")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence of ``text`` (whitespace trimmed, empty ones dropped).

    A sentence ends at ``;``, at a line end, and at ``.``/``!``/``?`` followed by space, unless
    the word before the full stop is a common abbreviation or an initial ("Dr.", "p.m.", "K.").
    """
    cuts = {0, len(text)}
    for m in _HARD.finditer(text):
        cuts.add(m.end())
    for m in _END.finditer(text):
        if m.group()[0] == "." and _abbreviation_dot(text, m.start()):
            continue
        cuts.add(m.end())
    out = []
    edges = sorted(cuts)
    for a, b in zip(edges, edges[1:]):
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            out.append((a, b))
    return out


# ---- reading a text -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Context:
    """What :func:`read` found.

    ``modifiers[i]``: the context categories that reach candidate ``i`` (ConText modifiers and the
    context of the section it sits in).  ``sections``: ``(category, start, body_start, end)`` of
    each section body named after an excluded category, header included (``start`` is the
    header's, ``body_start`` where the text after it begins; one per line of a multi-line body).
    """

    modifiers: tuple[frozenset[str], ...]
    sections: tuple[tuple[str, int, int, int], ...]


_LEAD = re.compile(r"(?:[\s\-\u2013\u2014*\u2022>#(\[]|\d{1,2}[.)](?=\s))*")
_FIRST_WORD = re.compile(r"\w+")


def _lead_end(sentence: str) -> int:
    """Where a sentence's text begins after spaces, bullets and list numbers."""
    m = _LEAD.match(sentence)
    return m.end() if m else 0
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_STOP = re.compile(r"[.!?](?=\s|$)")
_AFTER_DOT = re.compile(r"[ \t]*[\"'\u201c\u2018(]?(\w?)")


def read(text: str, candidates: Sequence[tuple[int, int, str]],
         wanted: Mapping[str, Sequence[frozenset[str]]] | None = None) -> Context:
    """Read the context of each ``(start, end, category)`` candidate span of ``text``.

    Only sentences that may open with a section header, or that hold a candidate, are handed to
    spaCy.  ``wanted``: if given, per candidate category, the combinations of context
    categories the caller acts on; ConText then runs only on sentences where one of them could
    be met for one of the sentence's candidates (elsewhere modifiers are reported empty).  Pure
    apart from the shared pipeline; never logs ``text``.
    """
    sents = sentence_spans(text)
    if not sents:
        return Context(tuple(frozenset() for _ in candidates), ())
    p = PIPELINE
    starts = [a for a, _ in sents]
    by_sent: dict[int, list[int]] = {}
    for i, (s, _e, _c) in enumerate(candidates):
        k = max(0, bisect.bisect_right(starts, s) - 1)
        by_sent.setdefault(k, []).append(i)
    found: list[set[str]] = [set() for _ in candidates]
    headers: list[tuple[str, int, int]] = []  # (category, header start, header end) in text
    with p.lock:
        for k, (a, b) in enumerate(sents):
            idx = by_sent.get(k, ())
            b = max([b] + [candidates[i][1] for i in idx])
            chunk = text[a:b]
            header = p.may_open_with_header(chunk)
            if idx and wanted is not None:
                possible = p.triggers.possible(chunk)
                if not any(w <= possible for c in {candidates[i][2] for i in idx} for w in wanted[c]):
                    idx = ()
            if not (header or idx):
                continue
            doc = p.nlp.make_doc(chunk)
            if not len(doc):
                continue
            if header:
                p.sectionizer(doc)
                headers.extend(_headers(doc, chunk, a))
            if idx:
                for t in doc:
                    t.is_sent_start = t.i == 0  # the chunk is one sentence: ConText's scope
                spans, kept = [], []
                for i in idx:
                    s, e, c = candidates[i]
                    sp = doc.char_span(s - a, e - a, label=c, alignment_mode="expand")
                    if sp is not None and len(sp):
                        spans.append(sp)
                        kept.append(i)
                doc.spans[_SPAN_GROUP] = spans
                p.context(doc)
                for i, sp in zip(kept, doc.spans[_SPAN_GROUP]):
                    # a cue inside the candidate is part of its evidence ("met her goal of ..."):
                    # ConText means to skip such self-modifying cues, but its overlap test misses
                    # a cue strictly inside the target
                    found[i].update(m.category for m in sp._.modifiers
                                    if not (sp.start <= m.modifier_span[0] and m.modifier_span[1] <= sp.end))
    sections, extents = _sections(text, headers)
    for cat, lo, hi in extents:
        for i, (s, e, _c) in enumerate(candidates):
            if lo <= s and e <= hi:
                found[i].add(cat)
    return Context(tuple(frozenset(f) for f in found), tuple(sections))


def _headers(doc: Any, chunk: str, offset: int) -> list[tuple[str, int, int]]:
    """Section headers of a one-sentence doc that open it (after any list marker)."""
    out = []
    lead = _lead_end(chunk)
    for sec in doc._.sections:
        if sec.category is None:
            continue
        hs, he = sec.title_span
        span = doc[hs:he]
        if span.start_char == lead:
            out.append((sec.category, offset + span.start_char, offset + span.end_char))
    return out


def _sections(text: str, headers: list[tuple[str, int, int]]):
    """Section bodies (for findings) and extents (for context) from header positions."""
    sections: list[tuple[str, int, int, int]] = []
    extents: list[tuple[str, int, int]] = []
    header_starts = sorted(h[1] for h in headers)
    for cat, hs, he in headers:
        line_end = text.find("\n", he)
        line_end = len(text) if line_end < 0 else line_end
        parts: list[tuple[int, int, int]] = []  # (start, body start, end)
        if text[he:line_end].strip():
            # the rest of the header's sentence (a ';' does not end it: plans run on past it)
            m = _STOP.search(text, he, line_end)
            while m and m.group() == "." and _abbreviation_dot(text, m.start()):
                m = _STOP.search(text, m.end(), line_end)
            end = m.start() if m else line_end
            parts.append((hs, he, end))
        else:
            # the lines after a header that ends its line, up to a blank line or the next header
            nxt = next((s for s in header_starts if s > hs), len(text))
            blank = _BLANK_LINE.search(text, he)
            stop = min(nxt, blank.start() if blank else len(text))
            pos = line_end + 1
            while pos < stop:
                le = text.find("\n", pos, stop)
                le = stop if le < 0 else le
                if text[pos:le].strip():
                    parts.append((pos, pos, le))
                pos = le + 1
        for lo, body, hi in parts:
            while hi > lo and (text[hi - 1].isspace() or (text[hi - 1] == "." and not _abbreviation_dot(text, hi - 1))):
                hi -= 1
            while lo < hi and text[lo].isspace():
                lo += 1
            if hi <= lo:
                continue
            if cat in CATEGORIES:
                sections.append((cat, lo, max(lo, min(body, hi)), hi))
            else:
                extents.append((cat, lo, hi))
    return sections, extents


def _abbreviation_dot(text: str, i: int) -> bool:
    """Whether the full stop at ``i`` belongs to an abbreviation, an initial or a number."""
    w = _WORD_BEFORE.search(text, max(0, i - 24), i)
    word = w.group(1).lower().rstrip(".") if w else ""
    if word in _TITLE or (len(word) == 1 and word.isalpha()):
        return True
    if word in _ABBREV:  # a sentence ends here only before a capital, a line end or the end
        nxt = _AFTER_DOT.match(text, i + 1)
        if nxt is None:  # the pattern matches the empty string: never None
            return False
        return not (nxt.group(1)[:1].isupper() or nxt.end() >= len(text) or text[nxt.end()] in "\r\n")
    return i + 1 < len(text) and text[i + 1].isdigit()
