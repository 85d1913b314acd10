# Confide. `make run` and `make test` set up everything they need (deploy/setup.sh).
SHELL := /bin/bash
VENV := .venv/bin
PYTEST := $(VENV)/pytest

.PHONY: setup run test test-unit test-integration test-e2e demo bench lint-quality down

setup:
	@bash deploy/setup.sh

run: setup
	$(VENV)/confide run

test:
	@bash deploy/setup.sh --test
	$(PYTEST) -q tests

test-unit: setup
	$(PYTEST) -q tests/unit

test-integration:
	@bash deploy/setup.sh --test
	$(PYTEST) -q tests/integration

test-e2e: setup
	$(PYTEST) -q tests/e2e

demo:
	$(VENV)/confide demo

bench: setup
	$(VENV)/python bench/eventstore_bench.py

lint-quality:
	$(VENV)/python bench/lint_quality.py

down:
	-docker compose down
