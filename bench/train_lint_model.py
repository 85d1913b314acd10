"""Train the 164.501 lint's learned span tagger on the whole labelled set and write its artefacts.

Usage: ``.venv/bin/python bench/train_lint_model.py [--check]``

Writes ``shared/confide/hipaa/lint/data/learned_model.npz`` (the model) and
``learned_model.json`` (the SHA-256 of ``tests/unit/lint/labelled_sentences.jsonl`` it was trained
on, the settings, sizes).  Deterministic: the same labelled set and settings give the same bytes
(:func:`confide.hipaa.lint.learned.train`: a fixed seed, numpy only).  Run it after any change to
the labelled set; ``tests/unit/lint/test_learned.py`` fails while the committed model was trained
on other data.  ``--check`` trains and compares with the committed artefact without writing
(exit 1 if they differ).  Prints sizes and times, never sentence text.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from confide.hipaa.lint import engine, learned
from lint_quality import DATA, load

OUT = Path(learned.__file__).resolve().parent / "data"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare with the committed model, write nothing")
    a = ap.parse_args(argv)
    raw = DATA.read_bytes()
    rows = load(DATA)
    settings = learned.Settings()
    t0, c0 = time.perf_counter(), time.process_time()
    model = learned.train(rows, settings, hints=engine.rule_candidates)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    blob = learned.to_bytes(model)
    meta = learned.dumps_metadata(learned.metadata(model, settings, learned.labelled_set_sha256(raw), len(rows),
                                                   [r["batch"] for r in rows]))
    print(f"trained on {len(rows)} sentences in {wall:.1f} s ({cpu:.1f} s CPU): {len(model.index)} features, "
          f"model {len(blob) / 1e6:.2f} MB")
    model_path, meta_path = OUT / learned.MODEL_FILE, OUT / learned.META_FILE
    if a.check:
        same = model_path.exists() and model_path.read_bytes() == blob and meta_path.read_text("utf-8") == meta
        print("committed model is up to date" if same else "committed model differs: run bench/train_lint_model.py")
        return 0 if same else 1
    model_path.write_bytes(blob)
    meta_path.write_text(meta, encoding="utf-8")
    print(f"wrote {model_path.name} and {meta_path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
