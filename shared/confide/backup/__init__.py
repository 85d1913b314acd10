"""Backups that restore: the encrypted archive (:mod:`confide.backup.crypto`) and what goes in and
comes back out of it (:mod:`confide.backup.archive`); ``confide backup`` / ``confide restore``."""
