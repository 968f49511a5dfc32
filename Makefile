# Two commands: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: run test test-fast bench bench-airflow install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	@export TRADEWIND_HOME=$${TRADEWIND_HOME:-$(CURDIR)/.tradewind-home}; \
	for dag_id in $$($(BIN)/tradewind dags list --dags-folder examples -o plain | tail -n +2 | cut -d' ' -f1); do \
		echo "== tradewind dags test $$dag_id"; \
		$(BIN)/tradewind dags test $$dag_id --dags-folder examples || exit $$?; \
	done

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m 'not slow' $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache build dist src/*.egg-info
