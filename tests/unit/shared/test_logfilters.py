"""Undecodable broker messages are logged without their bodies."""
import logging

from confide.logfilters import NoMessageBodies


def test_kombu_decode_error_keeps_the_event_and_drops_the_body(caplog):
    logger = logging.getLogger("kombu.mixins")
    logger.addFilter(NoMessageBodies())
    try:
        with caplog.at_level(logging.ERROR, logger="kombu.mixins"):
            logger.error("Can't decode message body: %r (type:%r encoding:%r raw:%r')",
                         "x", "application/json", "utf-8", "SECRET-PROCESS-NOTE-TEXT")
    finally:
        logger.filters.clear()
    assert "decode message body" in caplog.text and "SECRET-PROCESS-NOTE-TEXT" not in caplog.text
