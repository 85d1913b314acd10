"""Facts count only when the service that owns them signed them.

Every service believes the directory (who is enrolled, with which roles; which patients and payers
are registered), and the disclosures service believes its own request and authorization streams, and
they read them from the event store. Whoever holds the services' database login can append events
through ``append_events``: an unsigned ``WorkforceMemberEnrolled`` would make them a practice admin in
every service's eyes, an unsigned ``AuthorizationRecorded`` would let the engine permit a disclosure
nobody authorized. So the owning service signs each event it records: an Ed25519 signature by its own
key (``service-keys/<writer>.key``; the database never holds it) over ``{stream, type, data}`` in
RFC 8785 form, kept in the event's metadata; every reader checks it with the public key:

- :class:`SealedStreams` wraps a store. ``read_stream`` of an owned stream returns each event whose
  seal does not verify as :data:`~confide.contracts.directory.UNSEALED` with empty data: it still
  counts for the stream's version (so the owner's own appends stay consistent) but every fold ignores
  it (fail closed: a forged enrolment, grant, registration, request or authorization does not exist).
  ``append`` seals the owner's events when given the owner's signing key, and refuses them otherwise.
  ``read_stream``, ``read_streams`` and ``read_category`` check seals, and ``checked`` checks one event
  read from the store beneath (the process manager looks at the stream and type of what it reads
  there and believes a conclusion only through it); ``read_all``, ``iter_all`` and ``get_event`` are
  the store's own (for projections and logs, which decide nothing).
- :func:`SealedDirectory` (the directory's streams) and :func:`SealedDisclosures` (requests and
  authorizations) are the two owners; the read models accept only such a reader.

Sign-in logs and refusal records are logs, not facts anything is decided on, and are not sealed.
"""
from __future__ import annotations

import base64
import binascii
import logging
import os
from dataclasses import dataclass, replace
from typing import Any, Optional, Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from confide import streams
from confide.contracts.directory import SEAL_METADATA_KEY, SEALED_CATEGORIES, SEALED_TYPES, UNSEALED, seal_payload
from confide.envelope import NewEvent, StreamAppend
from confide.identity.keys import load_service_public_keys, load_service_signing_key

log = logging.getLogger(__name__)

DIRECTORY_SERVICE = "directory"
DISCLOSURES_SERVICE = "disclosures"
#: The disclosures service's own facts: every event of these streams is sealed by it.
DISCLOSURE_CATEGORIES = frozenset({streams.DISCLOSURE_REQUEST, streams.AUTHORIZATION})


@dataclass(frozen=True)
class _Unsealed:
    """Stands in for an owned event whose seal does not verify (type UNSEALED, no data)."""

    stream_name: str
    stream_version: int
    global_position: int
    recorded_at: Any
    event_id: Any
    type: str = UNSEALED
    data: Any = None
    metadata: Any = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "data", {})
        object.__setattr__(self, "metadata", {})


#: Seals found genuine, by (writer's public key, stream, type, stored data text, stored metadata text):
#: a verification is a pure function of exactly these, so an event read again (the payer and the
#: patient of every request, a request's own stream) is not canonicalised and verified again. Every
#: read still goes to the store (a revocation or a directory change is seen at once); only the
#: Ed25519 check of bytes already checked is skipped. Bounded: cleared when full.
_GENUINE: dict[tuple, bool] = {}
_GENUINE_MAX = 8192


class SealedStreams:
    """A store whose streams of ``categories`` read only what ``writer`` signed (see the module
    docstring); everything else is delegated unchanged. ``types``: the event types sealed there (None:
    all). ``signing_key``: the writer's own key, given only to the writer (its appends are sealed)."""

    def __init__(self, store, writer: str, categories: frozenset[str], public_key: Ed25519PublicKey,
                 signing_key: Optional[Ed25519PrivateKey] = None, types: Optional[frozenset[str]] = None):
        self._store, self.writer, self.sealed_categories = store, writer, frozenset(categories)
        self._public, self._signing, self._types = public_key, signing_key, types
        self._public_raw = public_key.public_bytes_raw()

    @classmethod
    def for_writer(cls, store, key_dir: str | os.PathLike[str], writer: str, categories: frozenset[str], *,
                   sign: bool = False, types: Optional[frozenset[str]] = None) -> "SealedStreams":
        """Trust ``service-keys/<writer>.pub`` of ``key_dir`` (with ``sign``, seal with its private key).
        Raises FileNotFoundError / ValueError when the key is missing or not a key (``confide keys
        init`` makes it): without it none of those facts can be believed."""
        public = next((key for name, key in load_service_public_keys(key_dir).values() if name == writer), None)
        if public is None:
            raise FileNotFoundError(f"{key_dir}/service-keys/{writer}.pub is missing: run `confide keys init`")
        signing = load_service_signing_key(key_dir, writer) if sign else None
        return cls(store, writer, categories, public, signing, types)

    def with_store(self, store) -> "SealedStreams":
        """The same seals over another store (one per worker)."""
        return SealedStreams(store, self.writer, self.sealed_categories, self._public, self._signing, self._types)

    def seals(self, category: str) -> bool:
        """Whether this reader checks the seals of ``category``'s streams."""
        return category in self.sealed_categories or getattr(self._store, "seals", lambda c: False)(category)

    @property
    def verifies_directory_seals(self) -> bool:
        return self.seals(streams.WORKFORCE_MEMBER)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def _owned(self, stream_name: str, type_: Optional[str] = None) -> bool:
        return streams.category_of(stream_name) in self.sealed_categories and (
            self._types is None or type_ is None or type_ in self._types)

    def genuine(self, stream: str, type_: str, data: Any, metadata: Any) -> bool:
        seal = metadata.get(SEAL_METADATA_KEY) if isinstance(metadata, dict) else None
        if not isinstance(seal, str):
            return False
        try:
            self._public.verify(base64.b64decode(seal, validate=True), seal_payload(stream, type_, data))
        except (InvalidSignature, binascii.Error, ValueError):
            return False
        return True

    def _checked(self, r: Any) -> Any:
        """``r`` itself when it is not owned or its seal verifies, else its UNSEALED stand-in."""
        name = r.stream_name
        if streams.category_of(name) not in self.sealed_categories or not self._owned(name, r.type):
            return r
        stored = (getattr(r, "data_json", None), getattr(r, "metadata_json", None))
        memo = (self._public_raw, name, r.type, *stored) if isinstance(stored[0], str) and \
            isinstance(stored[1], str) else None
        if memo is not None and memo in _GENUINE:
            return r
        if self.genuine(name, r.type, r.data, r.metadata):
            if memo is not None:
                if len(_GENUINE) >= _GENUINE_MAX:
                    _GENUINE.clear()
                _GENUINE[memo] = True
            return r
        log.warning("ignored %s at %s:%s: not sealed by %s", r.type, name, r.stream_version, self.writer)
        return _Unsealed(r.stream_name, r.stream_version, r.global_position, r.recorded_at, r.event_id)

    def checked(self, recorded: Any) -> Any:
        """``recorded`` (an event read from the store beneath, e.g. by a reader that looked only at its
        stream and type) as this reader's ``read_category`` would have returned it: itself when it is
        not owned here or its seal verifies, else its UNSEALED stand-in; an event of a category this
        reader does not seal is left to the store beneath (which may check seals of its own)."""
        if streams.category_of(recorded.stream_name) in self.sealed_categories:
            return self._checked(recorded)
        inner = getattr(self._store, "checked", None)
        return inner(recorded) if callable(inner) else recorded

    def read_stream(self, stream_name: str, *args, **kwargs) -> list:
        recorded = self._store.read_stream(stream_name, *args, **kwargs)
        if streams.category_of(stream_name) not in self.sealed_categories:
            return recorded
        return [self._checked(r) for r in recorded]

    def read_category(self, category: str, *args, **kwargs) -> list:
        """The category's events, an owned one whose seal does not verify as UNSEALED (as ``read_stream``)."""
        recorded = self._store.read_category(category, *args, **kwargs)
        if category not in self.sealed_categories:
            return recorded
        return [self._checked(r) for r in recorded]

    def read_streams(self, stream_names: Sequence[str]) -> list:
        """Every event of these streams in global order, read in one call of the store beneath (one
        query on PostgreSQL, not one per stream), each owned one checked as ``read_stream`` does."""
        return [r if streams.category_of(r.stream_name) not in self.sealed_categories else self._checked(r)
                for r in self._store.read_streams(list(stream_names))]

    def _sealed(self, stream_name: str, events: Sequence[NewEvent]) -> list[NewEvent]:
        """``events`` with this writer's seal on each it owns. Raises PermissionError for an event of an
        owned stream without the key."""
        out = []
        for ev in events:
            if self._owned(stream_name, ev.type):
                if self._signing is None:
                    raise PermissionError(f"{ev.type}: only the {self.writer} service records {stream_name}")
                signature = self._signing.sign(seal_payload(stream_name, ev.type, dict(ev.data)))
                ev = replace(ev, metadata={**dict(ev.metadata),
                                           SEAL_METADATA_KEY: base64.b64encode(signature).decode()})
            out.append(ev)
        return out

    def append(self, stream_name: str, events: Sequence[NewEvent], expected_version: Optional[int] = None):
        """Append through the store, sealing this writer's events when it holds the key. Raises
        PermissionError for an event of an owned stream without the key (nothing written)."""
        return self._store.append(stream_name, self._sealed(stream_name, events), expected_version=expected_version)

    def multi_stream_append(self, appends: Sequence[StreamAppend]) -> list:
        """``append`` over several streams in one transaction of the store beneath (all or nothing),
        each stream's events sealed as ``append`` seals them; PermissionError (nothing written) when
        any owned event cannot be sealed."""
        return self._store.multi_stream_append([
            StreamAppend(name, self._sealed(name, events), expected) for name, events, expected in appends])


class SealedDirectory(SealedStreams):
    """The directory's streams, read (and, with its key, written) as the directory service sealed them."""

    def __init__(self, store, public_key: Ed25519PublicKey, signing_key: Optional[Ed25519PrivateKey] = None):
        super().__init__(store, DIRECTORY_SERVICE, SEALED_CATEGORIES, public_key, signing_key, frozenset(SEALED_TYPES))

    @classmethod
    def from_key_dir(cls, store, key_dir: str | os.PathLike[str], *, sign: bool = False) -> "SealedDirectory":
        """Trust ``service-keys/directory.pub`` (with ``sign``, seal with ``directory.key``). Raises
        FileNotFoundError / ValueError when the key is missing (``confide keys init`` makes it)."""
        sealed = SealedStreams.for_writer(store, key_dir, DIRECTORY_SERVICE, SEALED_CATEGORIES, sign=sign)
        return cls(store, sealed._public, sealed._signing)

    def with_store(self, store) -> "SealedDirectory":
        return SealedDirectory(store, self._public, self._signing)


def SealedDisclosures(store, key_dir: str | os.PathLike[str], *, sign: bool = False) -> SealedStreams:  # noqa: N802
    """Disclosure requests and authorizations, read (and, for the disclosures service, written) as the
    disclosures service sealed them."""
    return SealedStreams.for_writer(store, key_dir, DISCLOSURES_SERVICE, DISCLOSURE_CATEGORIES, sign=sign)
