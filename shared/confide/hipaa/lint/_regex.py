"""Regular-expression building blocks shared by the rule modules of the 45 CFR 164.501 lint."""

from __future__ import annotations

import re
from collections.abc import Iterable

#: Any dash: hyphen, the Unicode hyphens, en and em dash, minus sign.
DASH = "[-\u2010\u2011\u2012\u2013\u2014\u2212]"
#: An integer or decimal number.
NUM = r"\d+(?:\.\d+)?"
#: One character of a clause body: anything up to a sentence end ('.' not inside a number), ';'
#: or a newline.
CLAUSE = r"(?:[^.;\n]|\.(?=\d))"
#: Like :data:`CLAUSE` but a ';' does not end it (a plan or goal list runs on past semicolons).
CLAUSE_SEMI = r"(?:[^.\n]|\.(?=\d))"
#: The start of a clause: start of text or just after a sentence or clause break.
CLAUSE_START = r"(?:^|(?<=[.;:!?\n(]))\s*"


def alt(words: Iterable[str]) -> str:
    """Regex alternation of literal phrases, compiled as a trie so that matching costs about one
    character test per position however long the lexicon.  A space in a phrase matches any run
    of whitespace or a dash ("every-other-week"), a hyphen any dash.  Longer phrases win over
    their prefixes (greedy)."""
    trie: dict = {}
    for w in set(words):
        node = trie
        for ch in w.lower():
            node = node.setdefault(ch, {})
        node[""] = {}
    return "(?:" + _trie_rx(trie) + ")"


def _unit(ch: str) -> str:
    if ch == " ":
        return rf"(?:\s+|{DASH})"  # "every other week" also as "every-other-week"
    if ch == "-":
        return DASH
    return re.escape(ch)


def _trie_rx(node: dict) -> str:
    end = "" in node
    branches = [_unit(ch) + _trie_rx(child) for ch, child in sorted(node.items()) if ch]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return f"(?:{body})?" if end else body
