"""The notes service's own nameko provider (the shared ones: :mod:`confide.providers`,
:mod:`confide.eventstore.provider`)."""
from __future__ import annotations

from nameko.extensions import DependencyProvider

from confide import transport
from confide.providers import key_dir_of
from notes.crypto import Keyring


class KeyringProvider(DependencyProvider):
    """Injects the practice's :class:`notes.crypto.Keyring` (config key ``KEY_DIR``,
    default :func:`confide.config.key_dir`). The keyring file is created on first use (0600)."""

    def setup(self):
        self.keyring = Keyring(key_dir_of(self.container.config))

    def get_dependency(self, worker_ctx):
        return self.keyring


class TransportKeyProvider(DependencyProvider):
    """Injects the notes service's X25519 transport private key (``notes-transport.key`` in
    ``KEY_DIR``; created with its ``.pub`` on start if missing, as ``confide keys init`` does).
    Callers seal psychotherapy text to its public key (``notes.transport_public_key()``)."""

    def setup(self):
        key_dir = key_dir_of(self.container.config)
        transport.ensure_transport_key(key_dir)
        self.private_key = transport.load_private_key(key_dir)

    def get_dependency(self, worker_ctx):
        return self.private_key
