"""Confide on more than one machine's worth of processes: the building blocks of ``make cluster``.

:mod:`confide.cluster.postgres_ha` runs PostgreSQL under Patroni (etcd as its consensus store, HAProxy
in front) on one machine, for tests and demos; the same engines an operator runs across machines.
"""
