"""An ack or a requeue that cannot reach the broker is logged, never raised (confide.messaging): nameko
kills the whole service container when either raises from a worker's result handler."""
import logging

import pytest

from confide.messaging import QueueConsumer


class DeadChannelMessage:
    """A message whose channel's socket the broker has closed (what a finishing worker meets)."""

    class channel:
        connection = object()  # still looks alive to nameko's check

    def __init__(self, error):
        self.error = error

    def ack(self):
        raise self.error

    def requeue(self):
        raise self.error


@pytest.mark.parametrize("error", [BrokenPipeError(32, "Broken pipe"), ConnectionResetError(104, "reset"),
                                   OSError("Server unexpectedly closed connection")])
def test_ack_and_requeue_on_a_lost_connection_do_not_raise(error, caplog):
    consumer = QueueConsumer()
    with caplog.at_level(logging.WARNING, logger="confide.messaging"):
        consumer.ack_message(DeadChannelMessage(error))
        consumer.requeue_message(DeadChannelMessage(error))
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [
        "could not acknowledge a message", "could not requeue a message"]
    assert type(error).__name__ in caplog.records[0].getMessage()


def test_confide_entrypoints_and_reply_listeners_share_the_safe_consumer():
    from audit.service import AuditService
    from confide import rpc

    assert isinstance(rpc.RpcConsumer.queue_consumer, QueueConsumer)
    assert isinstance(rpc.ReplyListener.queue_consumer, QueueConsumer)
    consumer = next(e for e in AuditService.handle_event.nameko_entrypoints)
    assert isinstance(consumer.queue_consumer, QueueConsumer)
