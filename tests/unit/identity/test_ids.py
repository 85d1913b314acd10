"""normalise_id: one canonical form per visible identifier, and look-alikes refused, not repaired."""
import unicodedata

import pytest

from confide.identity.ids import MAX_ID_LENGTH, InvalidIdentifierError, normalise_id


def test_plain_id_passes_unchanged():
    assert normalise_id("clin-0001", "subject") == "clin-0001"
    assert normalise_id("Dr Lee", "subject") == "Dr Lee"  # an inner U+0020 is fine


def test_nfd_and_nfc_e_acute_are_one_id():
    nfc, nfd = "ren\u00e9", "rene\u0301"
    assert nfc != nfd
    assert normalise_id(nfd, "subject") == normalise_id(nfc, "subject") == nfc
    assert unicodedata.is_normalized("NFC", normalise_id(nfd, "subject"))


def test_singleton_decomposition_is_folded():
    # U+212B ANGSTROM SIGN looks exactly like U+00C5 and is canonically equivalent to it.
    assert normalise_id("\u212bngstr\u00f6m", "org") == "\u00c5ngstr\u00f6m"


@pytest.mark.parametrize("lookalike, code", [
    ("dr.lee\u200b", "U+200B"),        # zero-width space
    ("dr.\u202eeel", "U+202E"),        # right-to-left override
    ("\ufeffdr.lee", "U+FEFF"),        # byte-order mark / zero-width no-break space
    ("dr.\u2066lee\u2069", "U+2066"),  # left-to-right isolate
    ("dr.\u200dlee", "U+200D"),        # zero-width joiner
    ("dr.lee\U000e0041", "U+E0041"),   # tag character
])
def test_invisible_format_characters_are_refused(lookalike, code):
    with pytest.raises(InvalidIdentifierError) as err:
        normalise_id(lookalike, "subject")
    assert err.value.field == "subject"
    assert code in str(err.value) and "format character" in str(err.value)
    assert "dr" not in str(err.value)  # the refused value is never echoed into a log line


@pytest.mark.parametrize("value, reason", [
    ("dr.lee\ufe0f", "default-ignorable"),   # variation selector (Mn, renders as nothing)
    ("dr.\u034flee", "default-ignorable"),   # combining grapheme joiner
    ("dr\u3164lee", "default-ignorable"),    # Hangul filler (Lo, blank)
    ("dr\u00a0lee", "separator"),            # no-break space looks like a space
    ("dr\u2003lee", "separator"),            # em space
    ("dr\u2028lee", "separator"),            # line separator
    ("dr\tlee", "control"),
    ("dr\x00lee", "control"),
    ("dr\x7flee", "control"),
    ("dr\ue000lee", "private-use"),
    ("dr\U000f0000lee", "private-use"),
    ("dr\U0010fffelee", "unassigned"),       # noncharacter
    ("dr\ufffflee", "unassigned"),
    ("dr\U000e0fffee", "unassigned"),
    ("dr\ud800lee", "surrogate"),
    ("dr\ufffdlee", "invalid UTF-8"),
])
def test_other_refused_code_points(value, reason):
    with pytest.raises(InvalidIdentifierError, match=reason) as err:
        normalise_id(value, "org")
    assert str(err.value).startswith("org: ")


def test_invalid_utf8_decoded_with_replacement_is_refused():
    decoded = b"clin-\xff01".decode("utf-8", errors="replace")
    with pytest.raises(InvalidIdentifierError, match="U\\+FFFD"):
        normalise_id(decoded, "subject")


@pytest.mark.parametrize("value", [" clin-1", "clin-1 ", "  "])
def test_leading_or_trailing_whitespace_is_refused(value):
    with pytest.raises(InvalidIdentifierError, match="whitespace"):
        normalise_id(value, "subject")


def test_empty_is_refused():
    with pytest.raises(InvalidIdentifierError, match="subject: empty"):
        normalise_id("", "subject")


def test_length_limit_counts_code_points_after_nfc():
    assert normalise_id("a" * MAX_ID_LENGTH, "subject") == "a" * MAX_ID_LENGTH
    assert normalise_id("e\u0301" * MAX_ID_LENGTH, "subject") == "\u00e9" * MAX_ID_LENGTH
    with pytest.raises(InvalidIdentifierError, match="longer than 128"):
        normalise_id("a" * (MAX_ID_LENGTH + 1), "subject")
    with pytest.raises(InvalidIdentifierError, match="longer than 128"):
        normalise_id("a" * 10_000_000, "subject")


@pytest.mark.parametrize("value", [None, 42, b"clin-1", ["clin-1"]])
def test_non_strings_are_refused(value):
    with pytest.raises(InvalidIdentifierError, match="expected a string"):
        normalise_id(value, "subject")


def test_error_is_a_value_error_with_field_and_reason():
    with pytest.raises(ValueError) as err:
        normalise_id("x\u200b", "session_id")
    assert isinstance(err.value, InvalidIdentifierError)
    assert err.value.field == "session_id" and "U+200B" in err.value.reason


def test_non_latin_ids_are_allowed():
    assert normalise_id("\u674e\u533b\u751f", "subject") == "\u674e\u533b\u751f"
    assert normalise_id("\u0645\u0631\u064a\u0645", "subject") == "\u0645\u0631\u064a\u0645"  # RTL letters, no bidi controls


# Default_Ignorable_Code_Point, Unicode DerivedCoreProperties.txt (15.x): every one renders as nothing.
_DEFAULT_IGNORABLE = [
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
    (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164),
    (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
]


def test_every_default_ignorable_code_point_is_refused():
    for lo, hi in _DEFAULT_IGNORABLE:
        for code in range(lo, hi + 1):
            with pytest.raises(InvalidIdentifierError):
                normalise_id(f"clin{chr(code)}1", "subject")
