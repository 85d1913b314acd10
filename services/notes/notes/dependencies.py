"""nameko dependency providers of the notes service (besides the shared EventStore)."""
from __future__ import annotations

from pathlib import Path

from confide import config
from confide.keys import ensure_decision_key
from nameko.extensions import DependencyProvider

from notes.crypto import Keyring

KEY_DIR_KEY = "KEY_DIR"


class KeyringProvider(DependencyProvider):
    """Injects the practice's :class:`notes.crypto.Keyring` (config key ``KEY_DIR``,
    default :func:`confide.config.key_dir`). The keyring file is created on first use (0600)."""

    def setup(self):
        key_dir = self.container.config.get(KEY_DIR_KEY) or config.key_dir()
        path = Path(key_dir)
        if path.exists() and not path.is_dir():
            raise ValueError(f"{KEY_DIR_KEY}: {path} is not a directory")
        self.keyring = Keyring(path)

    def get_dependency(self, worker_ctx):
        return self.keyring


def _key_dir(container) -> Path:
    path = Path(container.config.get(KEY_DIR_KEY) or config.key_dir())
    if path.exists() and not path.is_dir():
        raise ValueError(f"{KEY_DIR_KEY}: {path} is not a directory")
    return path


class DecisionKeyDirProvider(DependencyProvider):
    """Injects the key directory holding ``decision.key`` (config ``KEY_DIR``, default
    :func:`confide.config.key_dir`), which seals every recorded ``AccessDecided`` and verifies a
    decision before ``release_fields`` releases under it. The key is created on start if missing
    (0600); the disclosures service must use the same directory."""

    def setup(self):
        self.key_dir = _key_dir(self.container)
        ensure_decision_key(self.key_dir)

    def get_dependency(self, worker_ctx):
        return self.key_dir
