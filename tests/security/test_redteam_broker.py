"""Red team: topic permissions on ``nameko-rpc`` are bypassed by dead-lettering.

Every Confide user has ``configure`` on queues/exchanges named ``rpc.reply-<user>-<uuid>`` and
``write`` on ``nameko-rpc``. RabbitMQ checks only plain ``write`` on a queue's
``x-dead-letter-exchange`` at declare time, never the topic permission on the dead-letter routing
key. So the gateway (the internet-facing front door, which "cannot publish notes.read_note")
declares its own exchange and a TTL-0 queue dead-lettering to ``nameko-rpc`` with routing key
``notes.<anything>``, publishes to its own exchange, and the message -- body, headers and
``reply_to`` all chosen by the gateway -- lands in ``rpc-notes``. (A message without
``reply_to`` stops a nameko 2.14 container: README "Known limits" assumes only an *authorised*
caller can send one.) The probe uses a method name no service has and removes its message again
as the ``notes`` user.
"""
import time
import uuid

import amqp

from .test_broker import connect


def test_gateway_cannot_route_a_message_to_notes_by_dead_lettering(confide_vhost, uri):
    probe_key = f"notes.zz_redteam_{uuid.uuid4().hex[:8]}"
    notes = connect(uri("notes"))
    nch = notes.channel()
    nch.queue_declare("rpc-notes", durable=True, auto_delete=False)  # as nameko declares it
    gw = connect(uri("gateway"))
    ch = gw.channel()
    name = f"rpc.reply-gateway-{uuid.uuid4()}"
    arrived = None
    try:
        try:
            ch.exchange_declare(name, "fanout", auto_delete=True)
            ch.queue_declare(name, exclusive=True, auto_delete=True, arguments={
                "x-dead-letter-exchange": "nameko-rpc", "x-dead-letter-routing-key": probe_key,
                "x-message-ttl": 0})
            ch.queue_bind(name, name, "")
            ch.basic_publish(amqp.Message('{"args": [], "kwargs": {}}', content_type="application/json"), name, "")
            ch.exchange_declare(name, "fanout", passive=True)  # a round trip: surfaces a refusal
        except (amqp.exceptions.AccessRefused, amqp.exceptions.NotAllowed, amqp.exceptions.PreconditionFailed):
            return  # refused somewhere along the chain: the boundary holds
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            msg = nch.basic_get("rpc-notes")
            if msg is None:
                time.sleep(0.1)
                continue
            if msg.delivery_info["routing_key"] == probe_key:
                nch.basic_ack(msg.delivery_tag)  # clean up our own probe
                arrived = msg
                break
            nch.basic_reject(msg.delivery_tag, requeue=True)
            time.sleep(0.1)
    finally:
        try:
            ch.exchange_delete(name)
        except Exception:
            pass
        gw.collect()
        notes.close()
    assert arrived is None, (
        f"the gateway user delivered a message it chose to rpc-notes ({probe_key}) through a "
        f"dead-letter exchange, around its topic permissions: {arrived.body!r}")
