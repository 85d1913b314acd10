"""nameko dependency providers of the notes service (besides the shared EventStore)."""
from __future__ import annotations

from pathlib import Path

from confide import config
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
