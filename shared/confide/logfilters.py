"""Logging filters that keep clinical content out of service logs.

kombu logs a message it cannot decode *with its raw body* at ERROR; a body may
be an RPC payload carrying note text. ``NoMessageBodies`` keeps the record (an
operator needs to know it happened) and drops its arguments. Installed on
every service's console handler (services/*/config.yml).
"""
from __future__ import annotations

import logging


class NoMessageBodies(logging.Filter):
    """Rewrite kombu's undecodable-message records to a fixed text without the body."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("kombu") and "decode message body" in str(record.msg):
            record.msg = "Can't decode message body (body not logged: it may hold clinical content)"
            record.args = ()
        return True
