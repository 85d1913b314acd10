"""The directory, as the front door sees it: who a member is now, and where sign-in events go.

:class:`Directory` is the interface; :func:`get_directory` returns the configured one
(``CONFIDE_WEB_DIRECTORY``):

- ``rpc`` (default): the directory service over nameko RPC (``directory.get_member``,
  ``directory.record_sign_in_event``), called with the web's own service assertion.
- ``file:<dir>``: :class:`FileDirectory`, members from ``<dir>/members.json`` and events appended
  to ``<dir>/sign_in_events.jsonl``; for tests and demos where the directory service is not running.

``get_member`` returns ``{"member_id", "name", "roles", "active"}`` or ``None`` for an unknown id.
``record_sign_in_event`` takes the payload :func:`sign_in_event` builds (never a password).
"""
from __future__ import annotations

import hashlib
import json
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings

SIGN_IN_EVENT_KINDS = frozenset({
    "signed_in", "sign_in_failed", "locked_out", "signed_out", "idle_timeout", "session_expired",
    "session_revoked", "deactivated_signed_out", "sso_refused",
})


class DirectoryUnavailableError(Exception):
    """The directory could not be asked; the front door refuses rather than guesses (fail closed)."""


class Directory(Protocol):
    def get_member(self, member_id: str) -> dict[str, Any] | None: ...

    def record_sign_in_event(self, event: dict[str, Any]) -> None: ...


def username_digest(username: str) -> str:
    """A failed sign-in's username, hashed: it may be a password typed in the wrong box."""
    return hashlib.sha256(("confide-web-username:" + username).encode("utf-8", "surrogatepass")).hexdigest()[:32]


def session_digest(session_key: str | None) -> str | None:
    """Sessions are named by a digest in events: the key itself is a bearer credential."""
    if not session_key:
        return None
    return hashlib.sha256(("confide-web-session:" + session_key).encode()).hexdigest()[:32]


def sign_in_event(
    kind: str,
    *,
    member_id: str | None = None,
    username: str | None = None,
    session_key: str | None = None,
    method: str | None = None,
    ip_address: str | None = None,
    user_agent: str | None = None,
    by: str | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """The payload of ``directory.record_sign_in_event``. A known member is named by id; an
    unrecognised username only by :func:`username_digest`."""
    if kind not in SIGN_IN_EVENT_KINDS:
        raise ValueError(f"unknown sign-in event kind {kind!r}")
    event: dict[str, Any] = {
        "kind": kind,
        "at": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
        "member_id": member_id,
        "username_sha256": None if member_id or username is None else username_digest(username),
        "session": session_digest(session_key),
        "method": method,
        "ip_address": ip_address,
        "user_agent": (user_agent or "")[:256] or None,
        "by": by,
        "reason": reason,
    }
    return {k: v for k, v in event.items() if v is not None}


class FileDirectory:
    """Members from ``members.json`` (``{id: {"name", "roles", "active"}}``), events to a JSONL file."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self._lock = threading.Lock()

    def get_member(self, member_id: str) -> dict[str, Any] | None:
        try:
            members = json.loads((self.folder / "members.json").read_text())
        except FileNotFoundError as exc:
            raise DirectoryUnavailableError(str(exc)) from None
        entry = members.get(member_id)
        if entry is None:
            return None
        return {"member_id": member_id, "name": entry.get("name", member_id), "roles": list(entry.get("roles", [])),
                "active": bool(entry.get("active", True))}

    def record_sign_in_event(self, event: dict[str, Any]) -> None:
        line = json.dumps(event, sort_keys=True)
        with self._lock, open(self.folder / "sign_in_events.jsonl", "a", encoding="utf-8") as fh:
            fh.write(line + "\n")


class RpcDirectory:
    """The directory service over nameko RPC, called as the service ``web``."""

    def get_member(self, member_id: str) -> dict[str, Any] | None:
        from web.rpc import service_rpc

        try:
            with service_rpc() as rpc:
                return rpc.directory.get_member(member_id)
        except Exception as exc:  # noqa: BLE001  (any failure to ask is a refusal, never a guess)
            if type(exc).__name__ in {"UnknownMemberError", "NotFoundError"}:
                return None
            raise DirectoryUnavailableError(f"directory.get_member failed: {type(exc).__name__}: {exc}") from exc

    def record_sign_in_event(self, event: dict[str, Any]) -> None:
        from web.rpc import service_rpc

        try:
            with service_rpc() as rpc:
                rpc.directory.record_sign_in_event(event)
        except Exception as exc:  # noqa: BLE001
            raise DirectoryUnavailableError(f"directory.record_sign_in_event failed: {type(exc).__name__}: {exc}") from exc


_override: Directory | None = None


def set_directory(directory: Directory | None) -> None:
    """Inject a directory (unit tests); ``None`` returns to the configured one."""
    global _override
    _override = directory


def get_directory() -> Directory:
    if _override is not None:
        return _override
    spec = settings.DIRECTORY
    if spec == "rpc":
        return RpcDirectory()
    if spec.startswith("file:"):
        return FileDirectory(spec[len("file:"):])
    raise ValueError(f"CONFIDE_WEB_DIRECTORY={spec!r}: expected 'rpc' or 'file:<dir>'")
