# Two commands: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# Line coverage of the test process (tries and servers started as subprocesses are not measured);
# `make test COV_ARGS=` runs without it.
COV_ARGS ?= --cov=tradewind --cov-report=term:skip-covered
CHECK_PATHS := src tests bench examples

.PHONY: compose-test run check test test-fast chaos bench bench-deps bench-airflow bench-celery bench-peers install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,celery]'
	touch $(STAMP)

install: $(STAMP)

# Runs everything (DAG processor, scheduler, executor, API/UI) on SQLite with the example DAGs.
run: $(STAMP)
	TRADEWIND_HOME=$${TRADEWIND_HOME:-$(CURDIR)/.tradewind-home} \
	TRADEWIND__CORE__DAGS_FOLDER=$${TRADEWIND__CORE__DAGS_FOLDER:-$(CURDIR)/examples} \
	$(BIN)/tradewind standalone

# Static checks: lint, formatting, types (mypy's settings are in pyproject.toml: it checks src/).
check: $(STAMP)
	$(BIN)/ruff check $(CHECK_PATHS)
	$(BIN)/ruff format --check $(CHECK_PATHS)
	$(BIN)/mypy

# The checks first (any finding fails), then the whole suite with its line coverage printed.
test: check
	$(BIN)/python -m pytest $(COV_ARGS) $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m 'not slow' $(PYTEST_ARGS)

# The long chaos run (`make test` runs a short one): CHAOS_DURATION seconds of kills per backend
# (default 300); CHAOS_SEED replays a run; CHAOS_WORKDIR keeps its files. See tests/chaos.
chaos: $(STAMP)
	CHAOS_DURATION=$${CHAOS_DURATION:-300} $(BIN)/python -m pytest tests/chaos $(PYTEST_ARGS)

# The bench's plot needs matplotlib: a bench-only tool, installed into the venv on first use.
bench-deps: $(STAMP)
	@$(BIN)/python -c 'import matplotlib' 2>/dev/null || $(BIN)/pip install --quiet matplotlib

# Everything on SQLite (bench/results/latest.md), then the celery figures (latest-celery.md).
bench: bench-deps
	$(BIN)/python -m bench $(BENCH_ARGS)
	$(MAKE) --no-print-directory bench-celery

# W1 and W2 through the celery executor with 1, 2 and 4 workers next to the local executor's,
# on PostgreSQL + Redis (bench/results/latest-celery.md); BENCH_CELERY=tradewind,airflow
# adds Airflow's CeleryExecutor (installed into bench/.airflow on first use).
BENCH_CELERY ?= tradewind
bench-celery: bench-deps
	$(BIN)/python -m bench --db postgres --only W1,W2 --celery $(BENCH_CELERY) $(BENCH_CELERY_ARGS)

# Also runs W1-W4 on Apache Airflow 3 standalone (installed into bench/.airflow on first use),
# and W1-W2 on its CeleryExecutor next to Tradewind's.
bench-airflow: bench-deps
	$(BIN)/python -m bench --airflow $(BENCH_ARGS)
	$(MAKE) --no-print-directory bench-celery BENCH_CELERY=tradewind,airflow

# Also runs W1-W3 on Prefect 3 and Dagster (each installed into bench/.peers on first use);
# BENCH_ARGS='--peer-variants prefect-threads,...' runs fewer (Dagster multiprocess is the slow one).
bench-peers: bench-deps
	$(BIN)/python -m bench --peers $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage build dist src/*.egg-info

# The compose deployment on a real Docker engine (deploy/smoke-test.sh; started if stopped):
# the local executor's topology, then the Celery one. Exit 77 when no engine can be used.
compose-test:
	bash deploy/smoke-test.sh local
	bash deploy/smoke-test.sh celery
