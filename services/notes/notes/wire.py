"""Psychotherapy text on the RPC wire (45 CFR 164.312(e)(1)): only in libsodium sealed boxes.

In: ``sealed_text`` is a sealed box to the notes transport key (``notes.transport_public_key()``,
``notes-transport.pub``); :func:`open_text` opens it in memory. A plaintext ``text`` for
psychotherapy content is refused (:func:`refuse_plaintext`) naming the field.
Out: :class:`Sealer` turns each psychotherapy text or excerpt into ``{"sealed": box}`` to the
requesting session's ``reply_public_key``; without one it refuses (fail closed) before anything
leaves. Nothing here logs text.
"""
from __future__ import annotations

from confide import transport
from confide.validation import first_bad_text
from notes.domain import errors

MAX_TEXT = 100000
PLAINTEXT_REFUSED = ("psychotherapy text is not accepted in the clear: send sealed_text, a sealed box "
                     "(confide.transport.seal_for) to notes.transport_public_key()")


def refuse_plaintext(field: str = "text") -> errors.ValidationError:
    return errors.ValidationError(f"{field}: {PLAINTEXT_REFUSED}", {field: [PLAINTEXT_REFUSED]})


def open_text(private_key, box, field: str = "sealed_text", min_len: int = 1) -> str:
    """The text in ``box`` (base64 sealed box to the notes transport key), checked as the schemas
    check text: ``min_len``..100000 characters, no NUL or lone surrogate. Raises ValidationError
    naming ``field``."""
    try:
        text = transport.open_sealed(private_key, box)
    except transport.TransportError as exc:
        message = f"not a sealed box to this notes service's transport key ({exc})"
        raise errors.ValidationError(f"{field}: {message}", {field: [message]}) from None
    if not min_len <= len(text) <= MAX_TEXT:
        message = f"the sealed text must be {min_len} to {MAX_TEXT} characters"
        raise errors.ValidationError(f"{field}: {message}", {field: [message]})
    bad = first_bad_text(text)
    if bad:
        raise errors.ValidationError(f"{field}: {bad[1]}", {field: [bad[1]]})
    return text


class Sealer:
    """``sealer(text) -> {"sealed": box}`` to ``reply_public_key`` (base64, validated by the schema).
    With no key every call raises ValidationError naming ``reply_public_key`` (and the recorded
    decision), so a release that would carry psychotherapy text stops before anything leaves."""

    def __init__(self, reply_public_key: str | None, decision_id: str | None = None):
        self.reply_public_key = reply_public_key
        self.decision_id = decision_id

    def __call__(self, text: str) -> dict:
        if not self.reply_public_key:
            recorded = f"; decision {self.decision_id} recorded" if self.decision_id else ""
            message = ("required to release psychotherapy-note text or excerpts: they leave only sealed to "
                       f"the requesting session's X25519 public key{recorded}; nothing released")
            raise errors.ValidationError(f"reply_public_key: {message}", {"reply_public_key": [message]})
        return transport.sealed(self.reply_public_key, text)


REFUSE = Sealer(None)
