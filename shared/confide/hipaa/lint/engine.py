"""The engine of the 45 CFR 164.501 lint: gating, quoted speech, context, span merging, :func:`lint`.

The engine knows nothing about any category: it runs every :class:`~confide.hipaa.lint.rule.Rule`
of :data:`RULES` (declared in the category modules) to find candidates, reads their context with
medSpaCy's ConText and sectionizer (:mod:`confide.hipaa.lint.context`), drops the candidates
whose context the category's ``CONTEXT_VETO`` names, adds the bodies of sections whose header
names a category, then applies the category modules' resolutions and merges what is left into
:class:`Finding` objects.

Speed: scanning a long note with ~190 expressions costs too much, so each rule runs only in
windows around its *gate* tokens (words without which it cannot match: a drug name, a scale name,
"since", a clock time...), so cost grows with the clinical content of a note rather than its
length; tests prove the gating returns exactly what a full scan returns on the labelled set.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from . import (
    clinical_tests,
    context,
    diagnosis,
    functional_status,
    learned,
    medication,
    modality_frequency,
    prognosis,
    progress,
    session_times,
    symptoms,
    treatment_plan,
)
from .rule import CATEGORIES, FIELD, Rule

__all__ = ["CATEGORIES", "CONTEXT_VETO", "RULES", "Finding", "lint"]

#: Every rule, by category in the order of :data:`CATEGORIES`.
RULES: tuple[Rule, ...] = (
    *medication.RULES, *session_times.RULES, *modality_frequency.RULES, *clinical_tests.RULES,
    *diagnosis.RULES, *functional_status.RULES, *treatment_plan.RULES, *symptoms.RULES,
    *prognosis.RULES, *progress.RULES,
)
#: Resolutions between categories, applied in order after the rules.
RESOLUTIONS = progress.RESOLUTIONS
_MODULES = (medication, session_times, modality_frequency, clinical_tests, diagnosis, functional_status,
            treatment_plan, symptoms, prognosis, progress)
#: Per category, the contexts (:data:`confide.hipaa.lint.context.CONTEXT_CATEGORIES`; ``"A+B"``:
#: both) that make a candidate session content rather than the client's excluded content.
CONTEXT_VETO: dict[str, tuple[frozenset[str], ...]] = {
    m.CATEGORY: tuple(frozenset(v.split("+")) for v in sorted(m.CONTEXT_VETO)) for m in _MODULES}
#: Per category, the rule whose spans are the bodies of sections under a header naming it.
SECTION_RULE: dict[str, str] = {r.category: r.name for r in RULES if r.section}
_SECTION_RULES: dict[str, Rule] = {r.category: r for r in RULES if r.section}

if set(CONTEXT_VETO) != set(CATEGORIES) or set(SECTION_RULE) != set(CATEGORIES):
    raise ImportError("every lint category needs a CONTEXT_VETO and one section rule")
for _veto in CONTEXT_VETO.values():
    for _parts in _veto:
        if not _parts <= context.CONTEXT_CATEGORIES:
            raise ImportError(f"unknown context category in CONTEXT_VETO: {sorted(_parts - context.CONTEXT_CATEGORIES)}")

#: The learned span tagger (:mod:`.learned`), loaded once per process; None if no model is committed.
LEARNED: learned.Model | None = learned.load_model()
_DEFAULT: object = object()

_names = [r.name for r in RULES]
if len(set(_names)) != len(_names):
    raise ImportError("duplicate lint rule names: " + ", ".join(sorted({n for n in _names if _names.count(n) > 1})))
del _names


@dataclass(frozen=True)
class Finding:
    """One span of a note that 45 CFR 164.501 excludes from the psychotherapy-note definition.

    ``category`` is one of :data:`CATEGORIES`; ``start``/``end`` are character (code point)
    offsets into the linted text, end exclusive, so ``text[start:end] == finding.text``;
    ``suggestion`` is a human-readable hint ("move to the progress note: <field>");
    ``rules`` names the rules whose matches make up the span (sorted; for diagnostics and
    ``bench/lint_quality.py``: not compared, hashed or serialised).
    """

    category: str
    start: int
    end: int
    text: str
    suggestion: str
    rules: tuple[str, ...] = field(default=(), compare=False)

    def to_dict(self) -> dict:
        """Return ``{"category", "start", "end", "text"}`` (exactly those four keys)."""
        return {"category": self.category, "start": self.start, "end": self.end, "text": self.text}


# ---- gating -----------------------------------------------------------------------------------
_TOKEN = re.compile(r"[^\W_]+")
_CPT_TOKEN = re.compile(r"^(?:908\d\d|9078[5-9]|9079\d)$")
_ICD_TOKEN = re.compile(r"^[a-z]\d[0-9a-z]$")
_GLUED_DOSE = re.compile(r"^\d+(?:mg|mcg)$")
_GLUED_MIN = re.compile(r"^\d+(?:min|mins)$")
_QFREQ = re.compile(r"^q\d+wks?$")
_SPACE = re.compile(r"\s")
_CLOCK = re.compile(r"\d:[0-5]\d|\d\s*[ap]\.?m?\b")
#: How far a rule's match can start before its gate token.
_BEFORE = 64


def _occurrences(text: str) -> dict[str, list[int]]:
    """Start offsets of each lower-cased token, plus pseudo-tokens for shapes (``<cpt>``,
    ``<icd>``, ``<mg>``, ``<min>``, ``<qfreq>``, ``<clock>``)."""
    occ: dict[str, list[int]] = {}
    for m in _TOKEN.finditer(text):
        tok = m.group().lower()
        occ.setdefault(tok, []).append(m.start())
        if tok[0].isdigit():
            if _CPT_TOKEN.match(tok):
                occ.setdefault("<cpt>", []).append(m.start())
            elif _GLUED_DOSE.match(tok):
                occ.setdefault("<mg>", []).append(m.start())
            elif _GLUED_MIN.match(tok):
                occ.setdefault("<min>", []).append(m.start())
        elif len(tok) == 3 and _ICD_TOKEN.match(tok):
            occ.setdefault("<icd>", []).append(m.start())
        elif tok[0] == "q" and _QFREQ.match(tok):
            occ.setdefault("<qfreq>", []).append(m.start())
    occ["<clock>"] = [m.start() for m in _CLOCK.finditer(text)]
    return occ


def _windows(text: str, positions: list[int], after: int) -> list[tuple[int, int]]:
    """Merged windows from ``_BEFORE`` characters before to ``after`` characters after each
    position (ascending), widened to whole words."""
    n = len(text)
    out: list[list[int]] = []
    for p in positions:
        lo, hi = max(0, p - _BEFORE), min(n, p + after)
        if out and lo <= out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    for w in out:  # never cut a word: widen each window to the surrounding whitespace
        if w[1] < n:
            ws = _SPACE.search(text, w[1])
            w[1] = ws.start() if ws else n
        k = w[0]
        while k > 0 and not text[k - 1].isspace():
            k -= 1
        w[0] = k
    merged: list[list[int]] = []
    for lo, hi in out:
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return [(lo, hi) for lo, hi in merged]


def _rule_windows(text: str, rule: Rule, occ: dict[str, list[int]], cache: dict) -> list[tuple[int, int]]:
    """The windows a rule runs in: around each occurrence of one of its gate tokens."""
    key = (rule.gate, rule.window)
    windows = cache.get(key)
    if windows is None:
        hits = rule.gate & occ.keys()
        pos = sorted(p for t in hits for p in occ[t]) if hits else []
        windows = cache[key] = _windows(text, pos, rule.window) if pos else []
    return windows


# ---- quoted speech ----------------------------------------------------------------------------
_QUOTE_CH = re.compile("[\"'\u2018\u2019\u201c\u201d]")


def _quote_spans(text: str) -> list[tuple[int, int]]:
    """Spans of quoted speech.  An apostrophe inside a word ("don't", "father's") neither opens
    nor closes a quote; a quote left open for 400 characters is dropped."""
    out: list[tuple[int, int]] = []
    dq = sq = -1
    n = len(text)
    for m in _QUOTE_CH.finditer(text):
        i, q = m.start(), m.group()
        prev = text[i - 1] if i else " "
        nxt = text[i + 1] if i + 1 < n else " "
        if dq >= 0 and i - dq > 400:
            dq = -1
        if sq >= 0 and i - sq > 400:
            sq = -1
        opening = (i == 0 or prev.isspace() or prev in "([{\u2014-\"\u201c'\u2018") and nxt.isalnum()
        if q in "\"\u201c\u201d":
            if dq < 0 and q != "\u201d" and (opening or q == "\u201c"):
                dq = i
            elif dq >= 0 and q != "\u201c":
                out.append((dq, i + 1))
                dq = -1
        else:
            if sq < 0 and q != "\u2019" and opening:
                sq = i
            elif sq >= 0 and q != "\u2018" and not prev.isspace() and not nxt.isalnum():
                out.append((sq, i + 1))
                sq = -1
    return out


def _quoted(quotes: list[tuple[int, int]], s: int, e: int) -> bool:
    return any(qs <= s and e <= qe for qs, qe in quotes)


# ---- running the rules ------------------------------------------------------------------------
_TRIM = " \t\r\n,;:-\u2013\u2014"
# Same-category spans separated only by this much punctuation/space are one finding.
_JOIN_GAP = re.compile(r"[ \t,()/:&\-\u2013]{0,3}")


def _trimmed(text: str, s: int, e: int) -> tuple[int, int]:
    while s < e and text[s] in _TRIM:
        s += 1
    while e > s and text[e - 1] in _TRIM:
        e -= 1
    return s, e


def _rule_spans(text: str, rule: Rule, windows: list[tuple[int, int]], quotes: list[tuple[int, int]],
                rejected: list[tuple[int, int, str]] | None = None):
    """``(start, end, rule name)`` of each kept match of ``rule`` within ``windows``; the matches
    its word-sense filter rejects are added to ``rejected`` as ``(start, end, category)``."""
    flt, name = rule.filter, rule.name
    for rx in rule.compiled:
        for lo, hi in windows:
            for m in rx.finditer(text, lo, hi):
                span = flt(m, text) if flt else m.span()
                if span is None:
                    if rejected is not None:
                        rejected.append((m.start(), m.end(), rule.category))
                    continue
                s, e = _trimmed(text, *span)
                if e <= s:
                    continue
                if quotes and _quoted(quotes, s, e) and not rule.keep_quoted(text, s, e):
                    continue  # the patient's own words, unless the category keeps them
                yield s, e, name


def _spans(text: str, gated: bool = True, model: learned.Model | None | object = _DEFAULT,
           rules: bool = True) -> dict[str, list[tuple[int, int, str]]]:
    """Spans per category, ``(start, end, rule name)``, after context, fallbacks and resolutions.
    ``gated=False`` scans the whole text with every rule and runs ConText on every sentence that
    holds a candidate (slow; used by tests to prove the gate tokens and ConText's trigger words
    lose nothing).  ``model``: the learned tagger whose spans are kept where no rule of their
    category found tighter evidence (default :data:`LEARNED`; None: the rules alone);
    ``rules=False`` runs the tagger alone (for ``bench/lint_crossval.py``)."""
    tagger = LEARNED if model is _DEFAULT else model
    found: dict[str, list[tuple[int, int, str]]] = {c: [] for c in CATEGORIES}
    loose: dict[str, list[tuple[int, int, str]]] = {c: [] for c in CATEGORIES}
    quotes = _quote_spans(text)
    occ = _occurrences(text) if gated else {}
    rejected: list[tuple[int, int, str]] = []  # matches a word-sense filter rejected (everyday senses)
    matched = _matches(text, quotes, occ, gated, rejected)
    candidates = list(matched) if rules else []  # (start, end, category, rule, fallback)
    if isinstance(tagger, learned.Model):  # the tagger reads the rules' matches as features
        for s, e, category in tagger.spans(text, [(s, e, c) for s, e, c, _, _ in matched]):
            if quotes and _quoted(quotes, s, e):
                continue  # the patient's own words
            if any(c == category and rs < e and s < re_ for rs, re_, c in rejected):
                continue  # a rule's filter judged these words an everyday sense ("progress on the deck")
            candidates.append((s, e, category, learned.RULE_NAME, True))
    read = context.read(text, [(s, e, c) for s, e, c, _, _ in candidates], CONTEXT_VETO if gated else None)
    vetoed: list[tuple[int, int, str]] = []
    tagged: list[tuple[int, int, str]] = []
    for (s, e, category, name, fallback), mods in zip(candidates, read.modifiers):
        if any(v <= mods for v in CONTEXT_VETO[category]):
            vetoed.append((s, e, category))
            continue  # someone else's, imagined, past, read about... (see the category's CONTEXT_VETO)
        if name == learned.RULE_NAME:
            if not any(c == category and vs < e and s < ve for vs, ve, c in vetoed):
                tagged.append((s, e, category))  # unless it holds a rule's match that context vetoed
            continue
        (loose if fallback else found)[category].append((s, e, name))
    for category, s, b, e in (read.sections if rules else ()):  # a header gives its body its category
        rule = _SECTION_RULES[category]
        if rule.fallback:  # a tight category: the first clause, if it has the category's shape
            cut = text.find(";", b, e)
            e = e if cut < 0 else cut
            while e > b and text[e - 1].isspace():
                e -= 1
            if e <= b or (rule.section_body and not rule.section_body(text[b:e])):
                continue
        (loose if rule.fallback else found)[category].append((s, e, rule.name))
    if tagged:  # the tagger finds what the rules miss: only in sentences where no rule found its category
        sents = context.sentence_spans(text)
        starts = [a for a, _ in sents]
        ruled = {c: (*found[c], *loose[c]) for c in CATEGORIES}
        for s, e, category in tagged:
            a, b = sents[max(0, bisect.bisect_right(starts, s) - 1)]
            if not any(rs < b and a < re_ for rs, re_, _ in ruled[category]):
                loose[category].append((s, e, learned.RULE_NAME))
    for category, spans in loose.items():  # a fallback only where nothing tighter overlaps it
        tight = found[category]
        for span in spans:
            s, e = span[0], span[1]
            if not any(ts < e and s < te for ts, te, _ in tight):
                tight.append(span)
    for resolve in RESOLUTIONS:
        resolve(text, found)
    return found


def _merge(text: str, spans: list[tuple[int, int, str]]) -> list[tuple[int, int, tuple[str, ...]]]:
    """Merge overlapping or adjacent spans (joined only by :data:`_JOIN_GAP`), with the names of
    the rules that produced them."""
    out: list[list] = []
    for s, e, name in sorted(spans):
        if out and (s <= out[-1][1] or _JOIN_GAP.fullmatch(text, out[-1][1], s)):
            out[-1][1] = max(out[-1][1], e)
            out[-1][2].add(name)
        else:
            out.append([s, e, {name}])
    return [(s, e, tuple(sorted(names))) for s, e, names in out]


def _matches(text: str, quotes: list[tuple[int, int]], occ: dict[str, list[int]], gated: bool,
             rejected: list[tuple[int, int, str]] | None = None) -> list[tuple[int, int, str, str, bool]]:
    """``(start, end, category, rule name, fallback)`` of every kept match of every rule (the
    matches a word-sense filter rejects go to ``rejected``)."""
    cache: dict = {}
    whole = [(0, len(text))]
    out: list[tuple[int, int, str, str, bool]] = []
    for rule in RULES:
        if rule.section:
            continue
        windows = _rule_windows(text, rule, occ, cache) if gated else whole
        if windows:
            out.extend((s, e, rule.category, name, rule.fallback)
                       for s, e, name in _rule_spans(text, rule, windows, quotes, rejected))
    return out


def rule_candidates(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, category)`` of every match of the rules in ``text`` outside quoted speech,
    before context is read: the learned tagger's hints (for training it as the engine runs it)."""
    return [(s, e, c) for s, e, c, _, _ in _matches(text, _quote_spans(text), _occurrences(text), True)]


def lint(text: str) -> list[Finding]:
    """Find content that 45 CFR 164.501 excludes from the definition of psychotherapy notes.

    :param text: the text of one note (any Unicode string; offsets are code points).
    :returns: findings sorted by ``(start, end, category)``; within one category spans never
        overlap.  An empty list means nothing excluded was found.
    :raises TypeError: if ``text`` is not a ``str``.

    Pure and deterministic; never logs or stores ``text``.
    """
    if not isinstance(text, str):
        raise TypeError(f"lint() expects str, got {type(text).__name__}")
    findings: list[Finding] = []
    for category, spans in _spans(text).items():
        suggestion = f"move to the progress note: {FIELD[category]}"
        for s, e, rules in _merge(text, spans):
            findings.append(Finding(category, s, e, text[s:e], suggestion, rules))
    findings.sort(key=lambda f: (f.start, f.end, f.category))
    return findings
