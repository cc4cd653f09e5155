# The two commands of the README: `make run` starts a hub on embedded SQLite,
# `make test` runs the whole suite. Both build the local virtualenv themselves.
# `make run PORT=9000` / `make demo PORT=9000` listen on another port (HOST= likewise);
# the demo keeps its own database (offload-hub-demo.db).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run demo test lint bench clean services browser nginx adapter

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

LISTEN = $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT))

run: $(STAMP)
	$(BIN)/offload-hub serve $(LISTEN)

demo: $(STAMP)
	$(BIN)/offload-hub demo $(LISTEN)

services:
	@bash scripts/ensure-services

browser:
	@bash scripts/ensure-chromium

nginx:
	@bash scripts/ensure-nginx

# The browser adapter (hub/static/offload-hub-adapter.js) is built from adapter/src;
# `make test` checks it is up to date (tests/e2e/test_adapter_bundle.py).
adapter:
	$(PYTHON) adapter/bundle.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: $(STAMP) services browser nginx lint
	$(BIN)/python -m pytest

# The benchmark suite (about ten minutes): results in bench/results/, the README's table.
bench: $(STAMP) services
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache offload-hub.db offload-hub.db-wal offload-hub.db-shm \
		offload-hub-demo.db offload-hub-demo.db-wal offload-hub-demo.db-shm
