"""Leave-one-batch-out cross-validation of the 164.501 lint: how it does on a writer it never saw.

Usage: ``.venv/bin/python bench/lint_crossval.py [--batches e,f,g,h,i,k] [--errors] [--json]``

For each left-out batch (default: the blind-written batches, see ``BATCHES`` in
``bench/lint_quality.py``), the learned tagger (:mod:`confide.hipaa.lint.learned`) is trained
with the committed settings on every *other* batch of the labelled set and scored on the left-out
one, as three systems:

* ``lexical``: the rules alone (the same for every fold: the rules are not retrained, and they
  were tuned on batches a, b, f, g and h, so their figures on f, g and h are in-sample);
* ``learned``: the tagger alone (its spans read by ConText like any candidate, no rules);
* ``combined``: what :func:`confide.hipaa.lint.lint` does (the rules, and the tagger's spans
  where no rule of the category found tighter evidence).

Scoring is ``bench/lint_quality.py``'s: a finding matches a label when the categories are equal
and the spans overlap.  ``pooled`` sums the counts over the left-out batches.  Deterministic
(fixed seed).  Never prints sentence text unless ``--errors`` is given (the set is synthetic).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from confide.hipaa.lint import CATEGORIES, engine, learned
from lint_quality import count as count_predictions
from lint_quality import load

SYSTEMS = ("lexical", "learned", "combined")


def predict(text: str, system: str, model: learned.Model | None) -> list[tuple[str, int, int]]:
    """``(category, start, end)`` of each finding of one system on ``text``."""
    if system == "lexical":
        spans = engine._spans(text, model=None)
    elif system == "learned":
        spans = engine._spans(text, model=model, rules=False)
    else:
        spans = engine._spans(text, model=model)
    return [(c, s, e) for c, sp in spans.items() for s, e, _ in engine._merge(text, sp)]


def count(rows: list[dict], system: str, model: learned.Model | None, errors: list | None = None) -> dict:
    """``{tp_pred, n_pred, tp_label, n_label}`` overall and per category (``lint_quality.count``)."""
    return count_predictions(rows, lambda text: predict(text, system, model), errors)


def pr(v: dict) -> tuple[float, float]:
    return (v["tp_pred"] / v["n_pred"] if v["n_pred"] else 1.0, v["tp_label"] / v["n_label"] if v["n_label"] else 1.0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", default="e,f,g,h,i,k", help="left-out batches, comma-separated")
    ap.add_argument("--errors", action="store_true", help="list false positives/negatives (prints text)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--per-category", action="store_true", help="pooled P/R per category")
    a = ap.parse_args(argv)
    rows = load()
    present = {r["batch"] for r in rows}
    folds = [b for b in a.batches.split(",") if b in present]
    settings = learned.Settings()
    pooled = {s: None for s in SYSTEMS}
    table = {}
    for b in folds:
        train_rows = [r for r in rows if r["batch"] != b]
        test_rows = [r for r in rows if r["batch"] == b]
        t = time.process_time()
        model = learned.train(train_rows, settings, hints=engine.rule_candidates)
        t_train = time.process_time() - t
        table[b] = {"sentences": len(test_rows), "train_sentences": len(train_rows), "train_cpu_s": round(t_train, 1)}
        for s in SYSTEMS:
            errs: list | None = [] if a.errors else None
            c = count(test_rows, s, model, errs)
            table[b][s] = c
            if pooled[s] is None:
                pooled[s] = {k: dict(v) for k, v in c.items()}
            else:
                for k, v in c.items():
                    for f, x in v.items():
                        pooled[s][k][f] += x
            if errs:
                for kind, cat, ev, text in errs:
                    print(f"  [{b}] {kind} {s} {cat}: {ev!r}  <- {text!r}")
    if a.json:
        print(json.dumps({"folds": table, "pooled": pooled}, indent=2))
        return 0
    print("leave-one-batch-out: train the tagger on every other batch, score the left-out one")
    print(f"{'left out':8} {'sents':>5} {'labels':>6} {'train s':>7} | " + " | ".join(f"{s:^13}" for s in SYSTEMS))
    print(f"{'':8} {'':>5} {'':>6} {'':>7} | " + " | ".join(f"{'P':>6} {'R':>6}" for _ in SYSTEMS))
    for b in folds:
        row = table[b]
        cells = " | ".join("{:6.3f} {:6.3f}".format(*pr(row[s]["overall"])) for s in SYSTEMS)
        print(f"{b:8} {row['sentences']:5d} {row['lexical']['overall']['n_label']:6d} {row['train_cpu_s']:7.1f} | {cells}")
    n_sent = sum(table[b]["sentences"] for b in folds)
    cells = " | ".join("{:6.3f} {:6.3f}".format(*pr(pooled[s]["overall"])) for s in SYSTEMS)
    print(f"{'pooled':8} {n_sent:5d} {pooled['lexical']['overall']['n_label']:6d} {'':7} | {cells}")
    if a.per_category:
        print()
        print(f"{'pooled, per category':42} | " + " | ".join(f"{s:^13}" for s in SYSTEMS))
        for k in CATEGORIES:
            cells = " | ".join("{:6.3f} {:6.3f}".format(*pr(pooled[s][k])) for s in SYSTEMS)
            print(f"{k:42} | {cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
