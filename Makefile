# The two commands: `make run` (the pipeline with a live view) and `make test` (everything CI runs).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
NEZLAM := $(VENV)/bin/nezlam
PYTEST := $(VENV)/bin/pytest

.DEFAULT_GOAL := help
.PHONY: help setup system-deps stack-up stack-down stack-status migrate run worker \
	test lint unit integration bench bench-history bench-forecast bench-dispatch dashboards up down deploy-check

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

system-deps: ## install missing Debian packages (PostgreSQL, kcat, Prometheus, Alertmanager)
	@bash tools/install-system-deps.sh

$(VENV)/.installed: pyproject.toml setup.py
	@echo "==> python environment ($(VENV))"
	@$(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/pip install -q -U pip
	@$(VENV)/bin/pip install -q -e '.[dev]'
	@touch $@

setup: system-deps $(VENV)/.installed ## install everything the project needs

stack-up: setup ## start Kafka and PostgreSQL (idempotent), create topics
	@$(NEZLAM) stack up

stack-down: ## stop the local services
	@$(NEZLAM) stack down

stack-status: ## what runs where
	@$(NEZLAM) stack status

migrate: stack-up ## apply database migrations
	@$(NEZLAM) db migrate

run: setup ## the whole pipeline: simulator -> Kafka -> worker -> PostgreSQL, with a live view
	@$(NEZLAM) run

worker: migrate ## one worker in the foreground
	@$(NEZLAM) worker

lint: $(VENV)/.installed ## ruff and mypy
	@echo "==> ruff"
	@$(VENV)/bin/ruff check streams tests
	@echo "==> mypy"
	@$(VENV)/bin/mypy streams

unit: $(VENV)/.installed ## unit tests (no services)
	@echo "==> unit tests"
	@$(PYTEST) tests/unit -q

integration: stack-up ## integration tests on the real local services (namespace `test`)
	@echo "==> integration tests (Kafka, PostgreSQL, TimescaleDB in WASM), namespace test"
	@$(PYTEST) tests/integration -q -m integration

test: setup lint unit integration ## everything CI runs

bench-forecast: $(VENV)/.installed ## fuel forecaster against the predict_linear baseline
	@$(PY) -m streams.bench.forecast

bench-history: stack-up ## read side at national scale: D days of history, every panel and analyst query timed (BENCH_ARGS="--days 7 --json history.json")
	@$(NEZLAM) bench history $(BENCH_ARGS)

bench-dispatch: $(VENV)/.installed ## dispatch plan on simulated blackouts: OR-Tools, VROOM, the chosen plan and the greedy baseline side by side (BENCH_ARGS="--points 400 --json d.json")
	@$(PY) -m streams.bench.dispatch $(BENCH_ARGS)

bench: stack-up ## worker against Faust's no-op: rate, CPU/event, latency, memory, 2 workers (namespace `bench`; BENCH_ARGS="--minutes 3 --no-scale-out --json bench.json")
	@$(NEZLAM) namespace run bench -- $(PY) -m streams.bench.worker_throughput $(BENCH_ARGS)

dashboards: $(VENV)/.installed ## regenerate dashboards/*.json and the Grafana datasource provisioning
	@$(PY) -m streams.dashboards

up: ## the production-like stack in containers (deploy/compose.yaml; needs a Docker Engine)
	@bash tools/compose-up.sh

down: ## stop the container stack (data kept in its volumes)
	@docker compose -f deploy/compose.yaml --env-file deploy/.env down

deploy-check: $(VENV)/.installed ## validate deploy/: promtool, amtool, compose and k8s schemas, hadolint
	@bash tools/deploy-checks.sh
