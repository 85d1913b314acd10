"""The notes service's own nameko provider (the shared ones: :mod:`confide.providers`,
:mod:`confide.eventstore.provider`)."""
from __future__ import annotations

from nameko.extensions import DependencyProvider

from confide.providers import key_dir_of
from notes.crypto import Keyring


class KeyringProvider(DependencyProvider):
    """Injects the practice's :class:`notes.crypto.Keyring` (config key ``KEY_DIR``,
    default :func:`confide.config.key_dir`). The keyring file is created on first use (0600)."""

    def setup(self):
        self.keyring = Keyring(key_dir_of(self.container.config))

    def get_dependency(self, worker_ctx):
        return self.keyring
