"""Confide on more than one server process per role: PostgreSQL under Patroni, a RabbitMQ cluster (for tests, demos and `make cluster`)."""
