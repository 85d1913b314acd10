"""Time per note of the 164.501 content lint on synthetic 5,000-word notes, beside a baseline.

Usage: ``.venv/bin/python bench/lint_speed.py [--words N] [--repeat R] [--seed S]``

Two notes are built from the labelled sentence set (synthetic, not patient data): one where a
quarter of the sentences carry excluded content (a realistic psychotherapy note) and one where
every sentence does (worst case: every rule's triggers fire everywhere).  For each, the best of R
runs of ``lint(note)`` is printed beside two baselines measured in the same run on the same text:
``str.lower().split()`` and one ``re.finditer`` pass of a trivial pattern (``\\w+``), with the
ratio lint/baseline, so that the numbers mean something on any machine.  CPU time of this process
(``time.process_time``) is used: the machine may be shared.  Never prints note text.

This is a benchmark, not a test: it asserts nothing.  A useful reading is the ratio; the lint
doc promises cost that grows with clinical content, so the 25% note should be clearly cheaper
than the 100% note.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from pathlib import Path

from confide.hipaa.lint import lint

DATA = Path(__file__).resolve().parents[1] / "tests" / "unit" / "lint" / "labelled_sentences.jsonl"
_WORD = re.compile(r"\w+")


def build_note(rows: list[dict], clinical_share: float, words: int, seed: int) -> str:
    rng = random.Random(seed)
    process = [r["text"] for r in rows if not r["findings"]]
    clinical = [r["text"] for r in rows if r["findings"]]
    parts, n = [], 0
    while n < words:
        t = rng.choice(clinical) if rng.random() < clinical_share else rng.choice(process)
        parts.append(t)
        n += len(t.split())
    return " ".join(parts)


def best_of(fn, arg, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        fn(arg)
        best = min(best, time.process_time() - t)
    return best


def _split(text: str) -> int:
    return len(text.lower().split())


def _finditer(text: str) -> int:
    return sum(1 for _ in _WORD.finditer(text))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--words", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--seed", type=int, default=3)
    a = ap.parse_args(argv)
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    print(f"lint speed: best of {a.repeat} runs, CPU time per note (process_time)")
    for share in (0.25, 1.0):
        note = build_note(rows, share, a.words, a.seed)
        lint(note)  # warm up (regex caches)
        t_lint = best_of(lint, note, a.repeat)
        t_split = best_of(_split, note, a.repeat)
        t_iter = best_of(_finditer, note, a.repeat)
        n_find = len(lint(note))
        print(f"{int(share * 100):3d}% clinical, {len(note.split())} words, {len(note)} chars, "
              f"{n_find} findings: lint {t_lint * 1000:7.2f} ms | "
              f"lower+split {t_split * 1000:6.3f} ms (x{t_lint / max(t_split, 1e-9):6.0f}) | "
              f"re.finditer(\\w+) {t_iter * 1000:6.3f} ms (x{t_lint / max(t_iter, 1e-9):5.0f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
