"""The learned span tagger of the 45 CFR 164.501 lint: where the word lists do not know a writer's words.

The lexical rules (:mod:`.engine`) were written from the vocabulary of the batches they were tuned
on, and a new writer's phrasing falls outside them (``bench/lint_crossval.py``).  This module tags
each word of a note with the 164.501 categories it belongs to, by one logistic regression per
category over sparse features of the word and its neighbours (the word, its prefix, suffixes and
shape; which of the lint's word lists it is in; the two words either side; the words of its
sentence; a header opening the sentence; quoted speech), and turns each run of tagged words into
a span.  The engine gives those spans to ConText like any candidate and keeps them only where no
rule of the category found tighter evidence (:func:`confide.hipaa.lint.engine._spans`).

The model (``data/learned_model.npz``, with ``data/learned_model.json`` naming the SHA-256 of the
labelled set it was trained on) is trained by ``bench/train_lint_model.py`` with :func:`train`:
numpy only, a fixed seed, one thread, so the same labelled set gives the same bytes.  Runtime needs
numpy only.  Pure and deterministic; never logs, prints or stores the text it is given.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib.resources import files

import numpy as np
from spacy.lang.en.stop_words import STOP_WORDS

from . import lexicons
from .context import sentence_spans
from .rule import CATEGORIES

__all__ = ["Model", "load_model", "train", "MODEL_FILE", "META_FILE", "labelled_set_sha256"]

MODEL_FILE = "learned_model.npz"
META_FILE = "learned_model.json"
#: The name a learned span carries in ``Finding.rules``.
RULE_NAME = "learned.span_tagger"

_WORD = re.compile(r"\w+|[^\w\s]")
_QUOTE_CH = frozenset("\"\u201c\u201d")
_PUNCT_EDGE = frozenset(",;:.-\u2013\u2014()[]/&\"'\u2018\u2019\u201c\u201d!?")
_EDGE_WORDS = frozenset({"and", "but", "or", "so", "then", "which", "that", "the", "a", "in", "at", "on", "of",
                         "with", "by", "as", "for"})


_FUNCTION_WORDS = frozenset(STOP_WORDS) - {"not", "no", "never", "nothing", "none", "well", "back", "down", "up",
                                            "off", "full", "again", "less", "more", "first", "last", "next"}


# ---- features -------------------------------------------------------------------------------------
def _lexicon_words() -> dict[str, tuple[str, ...]]:
    """Per lower-cased word, the names of the lint's word lists with a term holding it."""
    lists = {
        "drug": lexicons.DRUG_TERMS, "drugclass": lexicons.DRUG_CLASS_TERMS, "sidefx": lexicons.SIDE_EFFECT_TERMS,
        "modality": lexicons.MODALITY_TERMS, "technique": lexicons.TECHNIQUE_TERMS,
        "freq": lexicons.FREQUENCY_TERMS, "scale": lexicons.SCALE_TERMS, "lab": lexicons.LAB_TERMS,
        "dx": lexicons.DIAGNOSIS_TERMS, "sx": lexicons.SYMPTOM_TERMS, "planverb": lexicons.PLAN_VERB_TERMS,
        "rxverb": lexicons.load("prescribing_verbs.txt"), "course": lexicons.load("medication_course_verbs.txt"),
        "sxmod": lexicons.load("symptom_modifiers.txt"), "progadj": lexicons.load("progress_adjectives.txt"),
        "progsubj": lexicons.load("progress_subjects.txt"), "progchg": lexicons.load("progress_changes.txt"),
    }
    out: dict[str, set[str]] = {}
    for name, terms in lists.items():
        for term in terms:
            for w in re.findall(r"[^\W_]+", term.lower()):
                if len(w) > 2 or name in ("scale", "lab", "dx", "drug"):
                    out.setdefault(w, set()).add(name)
    return {w: tuple(sorted(v)) for w, v in out.items()}


_LEX = _lexicon_words()


def _shape(w: str) -> str:
    s = re.sub(r"[A-Z]+", "A", re.sub(r"[a-z]+", "a", re.sub(r"\d+", "0", w)))
    return s[:6]


def _word_keys(w: str) -> tuple[list[str], list[str], list[str]]:
    """Features of one word: (as the tagged word, as a neighbour at distance 1, at distance 2)."""
    lo = w.lower()
    lex = ["lx=" + n for n in _LEX.get(lo, ())]
    shape = "sh=" + _shape(w)
    own = ["w=" + lo, "p3=" + lo[:3], "s3=" + lo[-3:], shape, *lex]
    if len(lo) > 4:
        own.append("s4=" + lo[-4:])
    near = ["w=" + lo, "s3=" + lo[-3:], shape, *lex]
    far = ["w=" + lo, *lex]
    return own, near, far


@dataclass(frozen=True)
class _Sentence:
    start: int
    tokens: tuple[tuple[int, int], ...]  # (start, end) in the text
    words: tuple[str, ...]


def _sentences(text: str) -> list[_Sentence]:
    out = []
    for a, b in sentence_spans(text):
        toks, words = [], []
        for m in _WORD.finditer(text, a, b):
            toks.append(m.span())
            words.append(m.group())
        if toks:
            out.append(_Sentence(a, tuple(toks), tuple(words)))
    return out


def _token_features(sent: _Sentence, cache: dict, hints: Sequence[tuple[int, int, str]] = ()) -> list[list[str]]:
    """The feature names of each token of one sentence; ``hints``: the rules' candidates
    ``(start, end, category)`` (before context is read)."""
    words = sent.words
    n = len(words)
    keys = []
    for w in words:
        k = cache.get(w)
        if k is None:
            k = cache[w] = _word_keys(w)
        keys.append(k)
    lows = [w.lower() for w in words]
    bag = sorted({"sw=" + lo for lo in lows if lo.isalpha() and len(lo) > 2})
    header = []
    for j in range(1, min(n, 5)):
        if words[j] == ":":
            header = ["hdr=" + "_".join(lows[:j])]
            break
    if hints:
        a, b = sent.tokens[0][0], sent.tokens[-1][1]
        mine = [h for h in hints if h[0] < b and a < h[1]]
        header = header + sorted({"hs=" + h[2] for h in mine})
    else:
        mine = []
    in_quote = False
    feats = []
    for i in range(n):
        if words[i] in _QUOTE_CH:
            in_quote = not in_quote
        f = ["bias", *keys[i][0], *bag, *header]
        if mine:
            s, e = sent.tokens[i]
            f.extend(sorted({"h=" + h[2] for h in mine if h[0] < e and s < h[1]}))
        if in_quote:
            f.append("quoted")
        for d, side in ((-1, "L1"), (1, "R1")):
            j = i + d
            if 0 <= j < n:
                f.extend(side + k for k in keys[j][1])
            else:
                f.append(side + "edge")
        for d, side in ((-2, "L2"), (2, "R2")):
            j = i + d
            if 0 <= j < n:
                f.extend(side + k for k in keys[j][2])
        f.append("B<" + (lows[i - 1] if i else "^") + "_" + lows[i])
        f.append("B>" + lows[i] + "_" + (lows[i + 1] if i + 1 < n else "$"))
        feats.append(f)
    return feats


# ---- the model ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Model:
    """A trained tagger: ``index`` maps a feature name to its row of ``weights`` (features x
    categories), ``bias`` per category; ``low``/``high`` the probability thresholds of a span
    (every word of it at least ``low``, one at least ``high``)."""

    index: dict[str, int]
    weights: np.ndarray
    bias: np.ndarray
    low: float
    high: float

    def probabilities(self, sent: _Sentence, cache: dict, hints: Sequence[tuple[int, int, str]] = ()) -> np.ndarray:
        """Per token of ``sent``, the probability of each category (tokens x categories)."""
        feats = _token_features(sent, cache, hints)
        get = self.index.get
        idx: list[int] = []
        starts: list[int] = []
        for f in feats:  # every token has the feature "bias", so no segment is empty
            starts.append(len(idx))
            idx.extend(r for r in map(get, f) if r is not None)
        logits = np.add.reduceat(self.weights[np.asarray(idx)], np.asarray(starts), axis=0) + self.bias
        return 1.0 / (1.0 + np.exp(-logits))

    def spans(self, text: str, hints: Sequence[tuple[int, int, str]] = ()) -> list[tuple[int, int, str]]:
        """``(start, end, category)`` of each span the tagger finds in ``text`` (no context read);
        ``hints``: the rules' candidates ``(start, end, category)`` in ``text``."""
        out: list[tuple[int, int, str]] = []
        cache: dict = {}
        for sent in _sentences(text):
            p = self.probabilities(sent, cache, hints)
            hot = p.max(axis=0) >= self.high
            for c in np.flatnonzero(hot):
                out.extend((s, e, CATEGORIES[c]) for s, e in _runs(sent, p[:, c], self.low, self.high))
        return out


def _runs(sent: _Sentence, p: np.ndarray, low: float, high: float) -> Iterable[tuple[int, int]]:
    """Runs of tokens at least ``low`` holding one at least ``high``, edge punctuation and
    conjunctions trimmed."""
    n = len(p)
    i = 0
    while i < n:
        if p[i] < low:
            i += 1
            continue
        j = i
        while j + 1 < n and p[j + 1] >= low:
            j += 1
        if p[i:j + 1].max() >= high:
            a, b = i, j
            while a <= b and (sent.words[a] in _PUNCT_EDGE or sent.words[a].lower() in _EDGE_WORDS):
                a += 1
            while b >= a and (sent.words[b] in _PUNCT_EDGE or sent.words[b].lower() in _EDGE_WORDS):
                b -= 1
            # a run of function words alone ("until", "to it") carries no content of any category
            if a <= b and any(w.lower() not in _FUNCTION_WORDS and w not in _PUNCT_EDGE for w in sent.words[a:b + 1]):
                yield sent.tokens[a][0], sent.tokens[b][1]
        i = j + 1


def _read_bytes(name: str) -> bytes:
    return files(__package__).joinpath("data", name).read_bytes()


def load_model() -> Model | None:
    """The committed model (``data/learned_model.npz``), or None when none is committed.

    :raises ValueError: if the artefact is present but malformed.
    """
    try:
        raw = _read_bytes(MODEL_FILE)
    except FileNotFoundError:
        return None
    return from_bytes(raw)


def from_bytes(raw: bytes) -> Model:
    """Read a model written by :func:`to_bytes`.

    :raises ValueError: if ``raw`` is not such a model.
    """
    try:
        z = np.load(io.BytesIO(raw), allow_pickle=False)
        names = z["features"].tobytes().decode("utf-8").split("\n")
        weights = z["weights"].astype(np.float32)
        bias = z["bias"].astype(np.float32)
        low, high = (float(x) for x in z["thresholds"])
    except (KeyError, OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"malformed learned lint model: {type(exc).__name__}") from exc
    if weights.shape != (len(names), len(CATEGORIES)) or bias.shape != (len(CATEGORIES),) or "bias" not in names:
        raise ValueError("learned lint model does not match the lint's categories")
    return Model({n: i for i, n in enumerate(names)}, weights, bias, low, high)


def to_bytes(model: Model) -> bytes:
    """The model as a compressed ``.npz`` (weights stored as float16), byte for byte the same for
    the same model (fixed member dates)."""
    names = sorted(model.index, key=model.index.__getitem__)
    arrays: dict[str, np.ndarray] = {"features": np.frombuffer("\n".join(names).encode("utf-8"), dtype=np.uint8),
              "weights": model.weights.astype(np.float16), "bias": model.bias.astype(np.float32),
              "thresholds": np.asarray([model.low, model.high], dtype=np.float32)}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, arr in arrays.items():
            member = io.BytesIO()
            np.save(member, arr, allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, member.getvalue(), compresslevel=9)
    return buf.getvalue()


# ---- training -------------------------------------------------------------------------------------
def labelled_set_sha256(raw: bytes) -> str:
    """SHA-256 (hex) of the labelled set's bytes, as named in ``data/learned_model.json``."""
    return hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True)
class Settings:
    """Training settings (recorded in the model's metadata)."""

    seed: int = 13
    epochs: int = 12
    batch: int = 32
    rate: float = 0.2
    l2: float = 1e-4
    min_count: int = 2
    low: float = 0.5
    high: float = 0.8


def _examples(rows: Sequence[dict], hints: Callable[[str], Sequence[tuple[int, int, str]]] | None
              ) -> tuple[list[list[str]], np.ndarray]:
    """Feature names and category targets of every token of the labelled rows
    (``{"text", "labels": [(category, start, end)]}``); ``hints(text)``: the rules' candidates."""
    feats: list[list[str]] = []
    targets: list[np.ndarray] = []
    cache: dict = {}
    col = {c: i for i, c in enumerate(CATEGORIES)}
    for row in rows:
        text = row["text"]
        found = hints(text) if hints else ()
        for sent in _sentences(text):
            f = _token_features(sent, cache, found)
            y = np.zeros((len(f), len(CATEGORIES)), dtype=np.float32)
            for t, (s, e) in enumerate(sent.tokens):
                for cat, ls, le in row["labels"]:
                    if ls < e and s < le:
                        y[t, col[cat]] = 1.0
            feats.extend(f)
            targets.append(y)
    return feats, np.concatenate(targets) if targets else np.zeros((0, len(CATEGORIES)), np.float32)


def train(rows: Sequence[dict], settings: Settings = Settings(),
          hints: Callable[[str], Sequence[tuple[int, int, str]]] | None = None) -> Model:
    """Train the tagger on labelled rows (``{"text", "labels": [(category, start, end)]}``):
    per category a logistic regression, by AdaGrad over shuffled mini-batches from a fixed seed.

    :raises ValueError: if ``rows`` hold no token.
    """
    feats, y = _examples(rows, hints)
    if not feats:
        raise ValueError("no training tokens")
    counts: dict[str, int] = {}
    for f in feats:
        for k in f:
            counts[k] = counts.get(k, 0) + 1
    names = sorted(k for k, v in counts.items() if v >= settings.min_count)
    index = {k: i for i, k in enumerate(names)}
    rows_idx = [np.asarray([index[k] for k in f if k in index], dtype=np.int64) for f in feats]
    n_feat, n_cat = len(names), len(CATEGORIES)
    w = np.zeros((n_feat, n_cat), dtype=np.float64)
    g2w = np.full((n_feat, n_cat), 1e-8)
    prior = np.clip(y.mean(axis=0), 1e-4, 1 - 1e-4)
    b = np.log(prior / (1 - prior))
    g2b = np.full(n_cat, 1e-8)
    rng = np.random.default_rng(settings.seed)
    order = np.arange(len(feats))
    for _ in range(settings.epochs):
        rng.shuffle(order)
        for first in range(0, len(order), settings.batch):
            chunk = order[first:first + settings.batch]
            idx = np.concatenate([rows_idx[t] for t in chunk])
            seg = np.concatenate([np.full(len(rows_idx[t]), j) for j, t in enumerate(chunk)])
            logits = np.tile(b, (len(chunk), 1))
            np.add.at(logits, seg, w[idx])
            grad = 1.0 / (1.0 + np.exp(-logits)) - y[chunk]
            uniq, inv = np.unique(idx, return_inverse=True)
            gw = np.zeros((len(uniq), n_cat))
            np.add.at(gw, inv, grad[seg])
            gw += settings.l2 * w[uniq]
            g2w[uniq] += gw * gw
            w[uniq] -= settings.rate * gw / np.sqrt(g2w[uniq])
            gb = grad.sum(axis=0)
            g2b += gb * gb
            b -= settings.rate * gb / np.sqrt(g2b)
    return Model(index, w.astype(np.float32), b.astype(np.float32), settings.low, settings.high)


def metadata(model: Model, settings: Settings, data_sha256: str, n_rows: int, batches: Sequence[str]) -> dict:
    """What ``data/learned_model.json`` records about a trained model."""
    return {"labelled_set_sha256": data_sha256, "rows": n_rows, "batches": sorted(set(batches)),
            "features": len(model.index), "categories": list(CATEGORIES),
            "settings": settings.__dict__, "numpy": np.__version__}


def dumps_metadata(meta: dict) -> str:
    return json.dumps(meta, indent=2, sort_keys=True) + "\n"
