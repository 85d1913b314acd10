"""Cluster tier (``make test-cluster``, never ``make test``): PostgreSQL under Patroni on this machine.

One cluster for the module (etcd, two PostgreSQL nodes with a synchronous standby, HAProxy: see
:mod:`confide.cluster.postgres_ha`), on ports and directories of its own; the shared server on 5432 is
never touched. Each test installs the event store in a schema of its own through HAProxy, and leaves
the cluster as it found it: a primary and a synchronous standby. Needs the Debian packages patroni,
etcd-server and haproxy (``deploy/setup.sh --cluster``): without them the tests fail, naming them.
"""
import os
import uuid

import pytest

from confide.cluster.postgres_ha import HaPostgres


@pytest.fixture(scope="module")
def cluster():
    ha = HaPostgres(etcd_members=1)
    try:
        ha.start()
        ha.install_event_store("confide")
        yield ha
    finally:
        # CONFIDE_CLUSTER_KEEP=1 keeps the logs and data directories (their path is printed).
        ha.stop(keep_data=bool(os.environ.get("CONFIDE_CLUSTER_KEEP")))
        if os.environ.get("CONFIDE_CLUSTER_KEEP"):
            print(f"cluster directory kept: {ha.base}")


@pytest.fixture
def ha_schema(cluster):
    """A fresh event-store schema in database ``confide`` of the cluster, installed through HAProxy; the
    cluster has a primary and a synchronous standby again when the test ends."""
    schema = f"ha_{uuid.uuid4().hex[:10]}"
    cluster.install_event_store("confide", schema)
    yield schema
    for node in cluster.nodes:  # a test that failed half-way may leave a node down
        if node.patroni is None or not node.patroni.alive() or node.postmaster_pid() is None:
            cluster.restart_node(node.name)
    cluster.wait_ready(120)
