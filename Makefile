# The two commands of the README: `make run` starts a hub on embedded SQLite,
# `make test` runs the whole suite. Both build the local virtualenv themselves.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run demo test lint bench clean services browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/offload-hub serve

demo: $(STAMP)
	$(BIN)/offload-hub demo

services:
	@bash scripts/ensure-services

browser:
	@bash scripts/ensure-chromium

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: $(STAMP) services browser lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .pytest_cache offload-hub.db offload-hub.db-wal offload-hub.db-shm
