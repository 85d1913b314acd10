"""One canonical form for the identifiers an identity assertion carries (subject, org, session, ...).

45 CFR 164.312(a)(2)(i) (unique user identification) asks for a unique name or number that
identifies and tracks each user. A name is only unique if two strings that look the same cannot
both be names: ``"dr.lee"`` and ``"dr.lee\\u200b"`` (a zero-width space) would be two users in
the audit trail and one on the screen. :func:`normalise_id` therefore

- NFC-normalises (Unicode Standard Annex #15), so a precomposed ``"é"`` (U+00E9) and ``"e"``
  followed by U+0301 COMBINING ACUTE ACCENT give the same string, and
- refuses, rather than silently strips, everything that is invisible, ambiguous or not text:
  control (Cc), format (Cf: zero-width characters, U+FEFF, bidi embeddings/overrides/isolates
  U+202A-U+202E, U+2066-U+2069, tag characters), surrogate (Cs), private-use (Co) and unassigned
  (Cn, which includes the noncharacters) code points; the other default-ignorable code points
  (Unicode ``DerivedCoreProperties.txt``: variation selectors, U+034F COMBINING GRAPHEME JOINER,
  the Hangul fillers, ...), which render as nothing; U+FFFD (what a decoder puts in place of
  invalid UTF-8, so the original is lost); separators other than U+0020 SPACE (U+00A0 NO-BREAK
  SPACE looks like a space but is not one); leading or trailing whitespace; the empty string and
  anything over :data:`MAX_ID_LENGTH` code points.

Refusing instead of repairing keeps the rule simple: an id either is its own canonical form (up to
NFC) or is not an id. What is *not* folded, by design: letter case (``"Lee"`` and ``"lee"`` are
visibly different), compatibility variants (NFKC: fullwidth ``"Ａ"`` is visibly wider than
``"A"``) and cross-script confusables (Cyrillic ``"а"`` against Latin ``"a"``, UTS #39), which
need a registration-time policy, not a parser. "Unassigned" is judged by the running Python's
Unicode database (:data:`unicodedata.unidata_version`).
"""
from __future__ import annotations

import unicodedata

__all__ = ["MAX_ID_LENGTH", "InvalidIdentifierError", "normalise_id"]

MAX_ID_LENGTH = 128
"""Longest identifier, in code points after NFC normalisation."""

# Default_Ignorable_Code_Point (Unicode 15.1 DerivedCoreProperties.txt) minus the ranges already
# refused as Cf or Cn: code points that are letters or marks by category yet render as nothing.
_IGNORABLE_NOT_CF: tuple[tuple[int, int], ...] = (
    (0x034F, 0x034F),    # COMBINING GRAPHEME JOINER
    (0x115F, 0x1160),    # HANGUL CHOSEONG / JUNGSEONG FILLER
    (0x17B4, 0x17B5),    # KHMER VOWEL INHERENT AQ / AA
    (0x180B, 0x180D),    # MONGOLIAN FREE VARIATION SELECTOR ONE..THREE
    (0x180F, 0x180F),    # MONGOLIAN FREE VARIATION SELECTOR FOUR
    (0x3164, 0x3164),    # HANGUL FILLER
    (0xFE00, 0xFE0F),    # VARIATION SELECTOR-1..16
    (0xFFA0, 0xFFA0),    # HALFWIDTH HANGUL FILLER
    (0xE0100, 0xE01EF),  # VARIATION SELECTOR-17..256
)

_CATEGORY_REASON = {
    "Cc": "a control character",
    "Cf": "an invisible format character",
    "Cs": "a surrogate code point",
    "Co": "a private-use character",
    "Cn": "an unassigned code point",
}

# Checked before normalising: a string canonically equivalent to an NFC id of MAX_ID_LENGTH code
# points is at most as long as its NFD form, and NFD turns one code point into at most four
# (e.g. U+1F82), so anything longer cannot be an id and is refused without the work.
_MAX_RAW_LENGTH = 4 * MAX_ID_LENGTH


class InvalidIdentifierError(ValueError):
    """An identifier that is not in (or cannot be brought to) the one canonical form.

    ``field`` names the identifier (``"subject"``, ``"org"``, ...); ``reason`` says what is wrong.
    The message never repeats the refused value: it may hold bidi controls that would rewrite the
    log line it lands in.
    """

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


def _ignorable(code: int) -> bool:
    return any(lo <= code <= hi for lo, hi in _IGNORABLE_NOT_CF)


def _describe(ch: str) -> str:
    code = ord(ch)
    name = unicodedata.name(ch, "")
    return f"U+{code:04X}{' ' + name if name else ''}"


def normalise_id(value: object, field: str) -> str:
    """``value`` in its one canonical form: NFC, and free of anything listed in the module docstring.

    The same visible identifier always gives the same string, and a string that could look like
    another identifier is refused (45 CFR 164.312(a)(2)(i), unique user identification).

    Raises InvalidIdentifierError (a ValueError) naming ``field`` and the reason: not a string,
    empty, over :data:`MAX_ID_LENGTH` code points, leading/trailing whitespace, or a refused code
    point (given as ``U+XXXX NAME`` and its kind). Never returns a partially cleaned value.
    """
    if not isinstance(value, str):
        raise InvalidIdentifierError(field, f"expected a string, got {type(value).__name__}")
    if len(value) > _MAX_RAW_LENGTH:
        raise InvalidIdentifierError(field, f"longer than {MAX_ID_LENGTH} characters")
    if value.isascii() and value.isprintable():
        # U+0020..U+007E only: already NFC, and none of them is refused below (no control, format,
        # surrogate, private-use, unassigned, default-ignorable or non-space separator code point),
        # so the per-character walk (every id of every call, several times) would find nothing.
        if not value:
            raise InvalidIdentifierError(field, "empty")
        if len(value) > MAX_ID_LENGTH:
            raise InvalidIdentifierError(field, f"longer than {MAX_ID_LENGTH} characters ({len(value)})")
        if value != value.strip():
            raise InvalidIdentifierError(field, "leading or trailing whitespace")
        return value
    # Surrogates first: they are not text, and NFC of a string holding one is not meaningful.
    for ch in value:
        if unicodedata.category(ch) == "Cs":
            raise InvalidIdentifierError(field, f"contains {_describe(ch)}, {_CATEGORY_REASON['Cs']}")
    text = unicodedata.normalize("NFC", value)
    if not text:
        raise InvalidIdentifierError(field, "empty")
    if len(text) > MAX_ID_LENGTH:
        raise InvalidIdentifierError(field, f"longer than {MAX_ID_LENGTH} characters ({len(text)})")
    for ch in text:
        category = unicodedata.category(ch)
        if category in _CATEGORY_REASON:
            raise InvalidIdentifierError(field, f"contains {_describe(ch)}, {_CATEGORY_REASON[category]}")
        if ch == "\ufffd":
            raise InvalidIdentifierError(
                field, "contains U+FFFD REPLACEMENT CHARACTER (the id was decoded from invalid UTF-8)"
            )
        if _ignorable(ord(ch)):
            raise InvalidIdentifierError(field, f"contains {_describe(ch)}, an invisible (default-ignorable) character")
        if category in ("Zs", "Zl", "Zp") and ch != " ":
            raise InvalidIdentifierError(field, f"contains {_describe(ch)}, a separator other than U+0020 SPACE")
    if text != text.strip():
        raise InvalidIdentifierError(field, "leading or trailing whitespace")
    return text
