"""The learned span tagger of the 164.501 lint (confide.hipaa.lint.learned) and its artefact."""

from __future__ import annotations

import json
from importlib.resources import files

import numpy as np
import pytest

from confide.hipaa.lint import engine, learned, lint

from .test_lint import LABELS

DATA = files("confide.hipaa.lint").joinpath("data")


def _meta() -> dict:
    return json.loads(DATA.joinpath(learned.META_FILE).read_text(encoding="utf-8"))


def test_committed_model_was_trained_on_this_labelled_set():
    # Changed the labelled set?  Retrain: .venv/bin/python bench/train_lint_model.py
    assert _meta()["labelled_set_sha256"] == learned.labelled_set_sha256(LABELS.read_bytes())


def test_committed_model_is_small_and_loaded_by_the_lint():
    raw = DATA.joinpath(learned.MODEL_FILE).read_bytes()
    assert len(raw) < 10_000_000
    model = learned.from_bytes(raw)
    assert engine.LEARNED is not None
    assert len(engine.LEARNED.index) == len(model.index) == _meta()["features"]
    assert _meta()["settings"] == learned.Settings().__dict__


def _rows(*pairs: tuple[str, list[tuple[str, str]]]) -> list[dict]:
    out = []
    for text, labels in pairs:
        found = [(c, text.index(ev), text.index(ev) + len(ev)) for c, ev in labels]
        out.append({"text": text, "labels": found})
    return out


MED = "medication_prescription_and_monitoring"
# A made-up drug the word lists cannot know, without a dose: only the tagger can find it.
TOY = _rows(*[(f"{verb} zorbaxil {when}.", [(MED, f"{verb} zorbaxil")])
              for verb in ("Started", "Increased", "Stopped") for when in ("at bedtime", "this week", "in the morning")],
            ("She talked about the garden and her sister.", []), ("We sat with the silence for a while.", []),
            ("He remembered the lake house.", []), ("The argument with her boss took most of the hour.", []))


def test_training_is_reproducible_and_round_trips():
    a, b = learned.train(TOY), learned.train(TOY)
    assert a.index == b.index and np.array_equal(a.weights, b.weights) and np.array_equal(a.bias, b.bias)
    assert learned.to_bytes(a) == learned.to_bytes(b)
    back = learned.from_bytes(learned.to_bytes(a))
    assert back.index == a.index and np.allclose(back.weights, a.weights, atol=1e-3)


def test_malformed_model_is_refused():
    with pytest.raises(ValueError):
        learned.from_bytes(b"not a model")


def test_tagger_finds_words_the_lists_do_not_know_with_a_genuine_span():
    model = learned.train(TOY)
    text = "We talked about her week. Started zorbaxil this morning. She cried about her father."
    assert engine._spans(text, model=None)[MED] == []  # the rules cannot know the name
    spans = engine._spans(text, model=model)[MED]
    assert len(spans) == 1
    s, e, rule = spans[0]
    assert rule == learned.RULE_NAME
    assert "zorbaxil" in text[s:e] and text[s:e] in "Started zorbaxil this morning"


def test_tagger_spans_obey_quoted_speech_and_context():
    model = learned.train(TOY)
    quoted = 'She said, "Started zorbaxil this morning, doc."'
    relative = "Her mother started zorbaxil last week."
    assert engine._spans(quoted, model=model)[MED] == []
    assert engine._spans(relative, model=model)[MED] == []


def test_lint_reports_the_taggers_findings_deterministically():
    rows = [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines()]
    learned_rule = [f for r in rows for f in lint(r["text"]) if learned.RULE_NAME in f.rules]
    assert learned_rule, "the committed tagger adds nothing to the rules"
    text = " ".join(r["text"] for r in rows[:200])
    assert lint(text) == lint(text)
