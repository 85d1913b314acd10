"""Queue types and failover URIs for a RabbitMQ cluster (issue 15): what set-up and the services
declare must agree, on one node (classic, as before) and on a cluster (quorum, 3 replicas)."""
import pytest
from kombu import Connection
from nameko import rpc as nameko_rpc

from confide import config
from confide.broker import RPC_EXCHANGE, audit_dlq, audit_queue, durable_queue_arguments, rpc_queue


@pytest.fixture
def one_node(monkeypatch):
    monkeypatch.delenv(config.QUEUE_TYPE_KEY, raising=False)
    monkeypatch.delenv(config.QUORUM_GROUP_SIZE_KEY, raising=False)


@pytest.fixture
def clustered(monkeypatch):
    monkeypatch.setenv(config.QUEUE_TYPE_KEY, "quorum")
    monkeypatch.delenv(config.QUORUM_GROUP_SIZE_KEY, raising=False)


def _shape(queue):
    return (queue.name, queue.routing_key, queue.exchange.name, queue.durable, queue.auto_delete,
            queue.exclusive, queue.queue_arguments or {})


def test_on_one_node_the_rpc_queue_is_the_one_nameko_declares(one_node):
    nameko_queue = nameko_rpc.Queue("rpc-notes", exchange=RPC_EXCHANGE, routing_key="notes.*", durable=True)
    assert _shape(rpc_queue("notes")) == _shape(nameko_queue)
    assert durable_queue_arguments() == {}


def test_on_one_node_the_audit_queues_keep_the_arguments_they_were_declared_with(one_node):
    assert audit_queue().queue_arguments == {
        "x-queue-type": "quorum", "x-delivery-limit": 5,
        "x-dead-letter-exchange": "confide.dlx", "x-dead-letter-routing-key": "audit.events"}
    assert audit_dlq().queue_arguments == {"x-queue-type": "quorum"}


def test_on_a_cluster_every_durable_queue_is_a_quorum_queue_of_three(clustered):
    for queue in (rpc_queue("disclosures"), audit_queue(), audit_dlq()):
        assert queue.durable and not queue.auto_delete and not queue.exclusive
        assert queue.queue_arguments["x-queue-type"] == "quorum"
        assert queue.queue_arguments["x-quorum-initial-group-size"] == 3


def test_the_group_size_is_configurable_and_a_bad_one_refused(clustered, monkeypatch):
    monkeypatch.setenv(config.QUORUM_GROUP_SIZE_KEY, "5")
    assert rpc_queue("notes").queue_arguments["x-quorum-initial-group-size"] == 5
    for bad in ("0", "three", "-1"):
        monkeypatch.setenv(config.QUORUM_GROUP_SIZE_KEY, bad)
        with pytest.raises(ValueError, match=config.QUORUM_GROUP_SIZE_KEY):
            rpc_queue("notes")


def test_an_unknown_queue_type_fails_closed(monkeypatch):
    monkeypatch.setenv(config.QUEUE_TYPE_KEY, "quorom")
    with pytest.raises(ValueError, match=config.QUEUE_TYPE_KEY):
        audit_queue()
    monkeypatch.setenv(config.QUEUE_TYPE_KEY, "Quorum")
    assert config.queue_type() == "quorum"


def test_the_services_rpc_entrypoint_declares_the_configured_queue(clustered):
    from nameko.containers import ServiceContainer

    from confide.rpc import rpc

    class Echo:
        name = "echo"

        @rpc
        def echo(self, value):
            return value

    container = ServiceContainer(Echo, {"AMQP_URI": "amqp://guest:guest@127.0.0.1:1/"})
    consumer = next(ext for ext in container.subextensions if type(ext).__name__ == "RpcConsumer")
    consumer.setup()
    assert _shape(consumer.queue) == _shape(rpc_queue("echo"))


def test_a_failover_list_gets_each_users_password_on_every_node(monkeypatch, tmp_path):
    (tmp_path / "broker").mkdir()
    (tmp_path / "broker" / "notes.secret").write_text("s3cret/+\n")
    monkeypatch.setenv(config.KEY_DIR_KEY, str(tmp_path))
    monkeypatch.delenv(config.amqp_uri_key("notes"), raising=False)
    monkeypatch.setenv(config.AMQP_URI_KEY, "amqp://10.0.0.1:5672/confide;amqp://10.0.0.2:5673/confide")
    uri = config.amqp_uri("notes")
    assert uri == ("amqp://notes:s3cret%2F%2B@10.0.0.1:5672/confide;"
                   "amqp://notes:s3cret%2F%2B@10.0.0.2:5673/confide")
    conn = Connection(uri)
    assert (conn.hostname, conn.port, conn.userid, conn.password, conn.virtual_host) == (
        "10.0.0.1", 5672, "notes", "s3cret/+", "confide")
    assert len(conn.alt) == 2


def test_a_failover_list_with_credentials_is_used_as_it_is(monkeypatch):
    listed = "amqp://u:p@a:1/v;amqp://u:p@b:2/v"
    monkeypatch.delenv(config.amqp_uri_key("cli"), raising=False)
    monkeypatch.setenv(config.AMQP_URI_KEY, listed)
    assert config.amqp_uri("cli") == listed
    assert config.amqp_nodes(listed) == ["amqp://u:p@a:1/v", "amqp://u:p@b:2/v"]
    with pytest.raises(ValueError):
        config.amqp_nodes(" ; ")


def test_tls_on_any_node_of_a_list_verifies_the_broker(monkeypatch):
    monkeypatch.delenv(config.AMQP_CA_KEY, raising=False)
    monkeypatch.setenv(config.AMQP_URI_KEY, "amqps://a:5671/confide;amqps://b:5671/confide")
    assert config.amqp_ssl() is not None
