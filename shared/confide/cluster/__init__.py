"""Confide on several machines: the distributed engines (RabbitMQ cluster, PostgreSQL HA) for tests and demos."""
