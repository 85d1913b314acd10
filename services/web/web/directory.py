"""The directory, as the front door sees it: who a member is now, and where sign-in events go.

:class:`Directory` is the interface; :func:`get_directory` returns the configured one
(``CONFIDE_WEB_DIRECTORY``):

- ``rpc`` (default): the directory service over nameko RPC (``directory.sign_in_lookup``,
  ``directory.record_sign_in_event``, both for the ``web`` service identity only), called through
  :mod:`web.rpc` with the web's own service assertion; a SessionRevoked also carries the revoking
  member's assertion (the directory takes ``by`` from it). :func:`contract_event` turns the web's
  event into exactly the payload the directory's schema accepts (``confide.contracts.directory``:
  SignedIn, SignInFailed, AccountLockedOut, SignedOut, SessionTimedOut, SessionRevoked); the
  directory stamps ``at`` itself.
- ``file:<dir>``: :class:`FileDirectory`, members from ``<dir>/members.json`` and events appended
  to ``<dir>/sign_in_events.jsonl``; for tests and demos where the directory service is not running.

``get_member`` returns ``{"member_id", "name", "roles", "active"}`` or ``None`` for an unknown id.
``record_sign_in_event`` takes the payload :func:`sign_in_event` builds (never a password).
"""
from __future__ import annotations

import hashlib
import hmac
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

    def record_sign_in_event(self, event: dict[str, Any], assertion: str | None = None) -> None: ...


def username_digest(username: str, key: str | None = None) -> str:
    """A failed sign-in's username as HMAC-SHA256 under a key derived from the web's secret key
    (``key``, default ``settings.SECRET_KEY``): it may be a password typed in the wrong box, and a
    plain hash of it (even with a fixed prefix) is reversed by a dictionary by anyone who reads the
    sign-in log. The same text gives the same digest, so its failures still group."""
    secret = (key if key is not None else settings.SECRET_KEY).encode("utf-8", "surrogatepass")
    derived = hmac.new(secret, b"confide-web-username-digest", hashlib.sha256).digest()
    return hmac.new(derived, username.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


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
    amr: list[str] | None = None,
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
        "amr": list(amr) if amr else None,
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

    def record_sign_in_event(self, event: dict[str, Any], assertion: str | None = None) -> None:
        line = json.dumps(event, sort_keys=True)
        with self._lock, open(self.folder / "sign_in_events.jsonl", "a", encoding="utf-8") as fh:
            fh.write(line + "\n")


#: The web's event kinds as the directory's contract types.
_SESSION_END = {"signed_out": ("SignedOut", None), "deactivated_signed_out": ("SignedOut", None),
                "idle_timeout": ("SessionTimedOut", "idle"), "session_expired": ("SessionTimedOut", "absolute")}


def contract_username(event: dict[str, Any]) -> str:
    """A member id when the account exists, else ``sha256:<hex>`` of what was typed (the web's salted
    :func:`username_digest`: a username box often receives a password; never the text)."""
    if event.get("member_id"):
        return str(event["member_id"])
    return "sha256:" + str(event.get("username_sha256") or username_digest(""))


def contract_event(event: dict[str, Any]) -> dict[str, Any]:
    """The payload ``directory.record_sign_in_event`` accepts for one of the web's events: only the
    schema's fields (client address, user agent and the web's own reason words stay in the web's log)."""
    kind = event["kind"]
    session = event.get("session") or "none"
    if kind == "signed_in":
        return {"type": "SignedIn", "member_id": event["member_id"], "session_id": session,
                "amr": list(event.get("amr") or ["pwd"])}
    if kind in ("sign_in_failed", "sso_refused"):
        reason = "sso_not_enrolled" if kind == "sso_refused" else (event.get("reason") or "bad_credentials")
        return {"type": "SignInFailed", "username": contract_username(event), "reason": reason}
    if kind == "locked_out":
        return {"type": "AccountLockedOut", "username": contract_username(event)}
    if kind in _SESSION_END:
        type_, timeout_kind = _SESSION_END[kind]
        payload = {"type": type_, "member_id": event["member_id"], "session_id": session}
        if timeout_kind:
            payload["kind"] = timeout_kind
        return payload
    if kind == "session_revoked":
        return {"type": "SessionRevoked", "session_id": session, "member_id": event.get("member_id")}
    raise ValueError(f"no directory contract type for sign-in event {kind!r}")


class RpcDirectory:
    """The directory service over nameko RPC, called as the service ``web``."""

    def get_member(self, member_id: str) -> dict[str, Any] | None:
        from web.rpc import service_rpc

        try:
            with service_rpc() as rpc:
                return rpc.directory.sign_in_lookup(member_id)
        except Exception as exc:  # noqa: BLE001  (any failure to ask is a refusal, never a guess)
            raise DirectoryUnavailableError(f"directory.sign_in_lookup failed: {type(exc).__name__}: {exc}") from exc

    def record_sign_in_event(self, event: dict[str, Any], assertion: str | None = None) -> None:
        from web.rpc import service_rpc

        payload = contract_event(event)
        try:
            with service_rpc(assertion=assertion if payload["type"] == "SessionRevoked" else None) as rpc:
                rpc.directory.record_sign_in_event(payload)
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
