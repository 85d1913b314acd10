"""nameko providers of the disclosures service (the event store provider lives in confide.eventstore)."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from confide import config
from confide.keys import ensure_decision_key
from nameko.extensions import DependencyProvider

KEY_DIR_KEY = "KEY_DIR"


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Clock(DependencyProvider):
    """Injects a callable returning the current aware UTC time (tests replace it)."""

    def get_dependency(self, worker_ctx):
        return utc_now


class DecisionKeyDir(DependencyProvider):
    """Injects the key directory holding ``decision.key`` (config ``KEY_DIR``, default
    :func:`confide.config.key_dir`): every ``AccessDecided`` this service records is sealed with
    it, and the notes service (same directory) refuses a decision whose seal does not verify.
    The key is created on start if missing (0600)."""

    def setup(self):
        path = Path(self.container.config.get(KEY_DIR_KEY) or config.key_dir())
        if path.exists() and not path.is_dir():
            raise ValueError(f"{KEY_DIR_KEY}: {path} is not a directory")
        self.key_dir = path
        ensure_decision_key(path)

    def get_dependency(self, worker_ctx):
        return self.key_dir
