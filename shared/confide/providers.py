"""nameko dependency providers every service shares (the event store's lives in
:mod:`confide.eventstore.provider`): the practice's decision key and the clock."""
from __future__ import annotations

from pathlib import Path

from nameko.extensions import DependencyProvider

from confide import config
from confide.keys import ensure_decision_key
from confide.timestamps import now_utc

#: Config key of the key directory (default :func:`confide.config.key_dir`).
KEY_DIR_KEY = "KEY_DIR"


def key_dir_of(container_config: dict) -> Path:
    """The key directory a service is configured with. Raises ValueError naming ``KEY_DIR`` when it
    exists but is not a directory."""
    path = Path(container_config.get(KEY_DIR_KEY) or config.key_dir())
    if path.exists() and not path.is_dir():
        raise ValueError(f"{KEY_DIR_KEY}: {path} is not a directory")
    return path


class DecisionKeyDir(DependencyProvider):
    """Injects the key directory holding ``decision.key``: every ``AccessDecided`` is sealed with it
    (:func:`confide.keys.seal_decision`), and the notes service refuses to release under a decision
    whose seal does not verify. All services of an installation use the same directory; the key is
    created on start if missing (0600). Raises ValueError at start for a bad ``KEY_DIR``."""

    def setup(self):
        self.key_dir = key_dir_of(self.container.config)
        ensure_decision_key(self.key_dir)

    def get_dependency(self, worker_ctx):
        return self.key_dir


class Clock(DependencyProvider):
    """Injects a callable returning the current aware UTC time (tests replace it)."""

    def get_dependency(self, worker_ctx):
        return now_utc
