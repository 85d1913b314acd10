"""A request that cannot be answered is dropped, never allowed to stop the service.

nameko 2.14 stops a whole service container when an RPC request has no ``reply_to`` or a body that is
not an object. Topic permissions do not keep every broker user from getting a message into a
service's queue (RabbitMQ checks no topic permission on a dead-letter routing key), so Confide's
consumer (:mod:`confide.rpc`) acks, logs and drops such a request: a broker login can no longer stop
a service, and a dropped request is never executed.
"""
import json

from kombu import Connection, Exchange, Producer
from nameko.standalone.rpc import ServiceRpcProxy

from confide.rpc import rpc


class EchoService:
    name = "echo_robust"
    calls: list = []

    @rpc
    def ping(self):
        EchoService.calls.append("ping")
        return "pong"


def test_unanswerable_requests_are_dropped_and_the_service_keeps_serving(container_factory, rabbit_config):
    container = container_factory(EchoService, rabbit_config)
    container.start()
    EchoService.calls.clear()
    exchange = Exchange("nameko-rpc", type="topic", durable=True)
    with Connection(rabbit_config["AMQP_URI"]) as conn:
        producer = Producer(conn)
        producer.publish(json.dumps({"args": [], "kwargs": {}}), exchange=exchange, routing_key="echo_robust.ping",
                         content_type="application/json", declare=[exchange])  # no reply_to
        producer.publish(json.dumps(["not", "an", "object"]), exchange=exchange, routing_key="echo_robust.ping",
                         content_type="application/json", reply_to="nowhere")
    with ServiceRpcProxy("echo_robust", rabbit_config, timeout=30) as echo:
        assert echo.ping() == "pong"  # answered after both bad requests were consumed
    assert not container._died.ready()
    assert EchoService.calls == ["ping"]  # neither dropped request was executed
