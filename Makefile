# Confide. `make run` and `make test` set up everything they need (deploy/setup.sh).
SHELL := /bin/bash
VENV := .venv/bin
PYTEST := $(VENV)/pytest

.PHONY: setup run test test-unit test-integration test-e2e demo bench bench-eventstore bench-disclosures bench-audit bench-web chaos lint lint-quality down cluster cluster-down test-cluster

setup:
	@bash deploy/setup.sh

run: setup
	$(VENV)/confide run

# tests/cluster (Patroni, etcd, HAProxy; kills servers) runs under `make test-cluster` only.
test:
	@bash deploy/setup.sh --test
	$(PYTEST) -q tests --ignore=tests/cluster

# The cluster topology on one machine (app/confide_app/cluster_cli.py): PostgreSQL under Patroni (a
# primary, a synchronous standby, etcd, HAProxy), 3 RabbitMQ nodes with quorum queues, 2 replicas of
# each service behind HAProxy on 127.0.0.1:8000/:8080 (other ports, printed, when those are taken);
# data in /tmp/confide-cluster-<uid> (CONFIDE_CLUSTER_BASE). Foreground: Ctrl-C stops and removes it all.
cluster:
	@bash deploy/setup.sh --cluster
	$(VENV)/confide cluster up $(if $(ETCD),--etcd $(ETCD))

cluster-down:
	$(VENV)/confide cluster down

# Patroni failover, RabbitMQ cluster, replicas, then the whole topology killed part by part under load
# (tests/cluster/test_failover_under_load.py prints the counts, recovery times and 1-vs-2 throughput).
test-cluster:
	@bash deploy/setup.sh --cluster
	$(PYTEST) -q -s tests/cluster

# The unit tier needs only the venv: no PostgreSQL, RabbitMQ, schema or keys.
test-unit:
	@bash deploy/setup.sh --venv
	$(PYTEST) -q tests/unit

test-integration:
	@bash deploy/setup.sh --test
	$(PYTEST) -q tests/integration

test-e2e: setup
	$(PYTEST) -q tests/e2e

demo:
	$(VENV)/confide demo

# Benchmarks print ratios against baselines measured in the same run (not timed tests).
bench: setup
	$(VENV)/python bench/eventstore_bench.py
	$(VENV)/python bench/disclosures_bench.py
	$(VENV)/python bench/audit_bench.py
	$(VENV)/python bench/web_pages.py
	$(VENV)/python bench/lint_speed.py
	$(VENV)/python bench/lint_quality.py
	$(VENV)/python bench/case_quality.py

bench-eventstore: setup
	$(VENV)/python bench/eventstore_bench.py

bench-disclosures: setup
	$(VENV)/python bench/disclosures_bench.py

bench-audit: setup
	$(VENV)/python bench/audit_bench.py

bench-web: setup
	$(VENV)/python bench/web_pages.py

# Faults under load (kill -9 each service, then PostgreSQL, then RabbitMQ) on a PostgreSQL cluster and
# a RabbitMQ node of its own, on other ports; prints the table and fails unless every count is 0.
# The short form (one kill of each kind) runs in CI: tests/e2e/test_chaos.py.
chaos: setup
	$(VENV)/python bench/chaos.py

# ruff (pyflakes, pycodestyle, import order, bugbear), the layer contracts (import-linter, in
# pyproject.toml) and mypy on the shared library's domain and the services' domain packages.
lint:
	@bash deploy/setup.sh --venv
	$(VENV)/ruff check .
	$(VENV)/lint-imports
	$(VENV)/mypy

lint-quality:
	$(VENV)/python bench/lint_quality.py

down:
	-docker compose down
