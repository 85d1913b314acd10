"""Unit tier: needs only the venv (`make test-unit`, i.e. ``deploy/setup.sh --venv``).

No PostgreSQL, no RabbitMQ, no network, no installed keys: event stores are
``InMemoryEventStore``, keys live in per-test tmp dirs, nameko services are
driven with ``worker_factory``. The shipped public data (Synthea, CDex, BALP,
published cases) is read in place from ``CONFIDE_DATA_DIR`` /
``CONFIDE_CASES_DIR``. The tier passes with ``CONFIDE_DB_DSN``,
``CONFIDE_ADMIN_DSN`` and ``CONFIDE_AMQP_URI`` pointing at closed ports; a test
that needs a service belongs in tests/integration.
"""
