# The two commands of the README: `make run` and `make test`. Both go through `make install`,
# which is idempotent: a .venv with the project installed and the model files fetched.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT := $(or $(RASTERISATION_PORT),8000)
PYTEST_ARGS ?=

.PHONY: install install-test run test openapi benchmarks clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# torch first and pinned: an unpinned resolution would pull gigabytes of CUDA packages.
$(VENV)/.installed: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed
	$(BIN)/rasterisation models fetch

install-test: install $(VENV)/.installed-test

run: install
	$(BIN)/rasterisation db upgrade
	exec $(BIN)/rasterisation serve --host 127.0.0.1 --port $(PORT)

test: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

openapi: install
	$(BIN)/rasterisation openapi write

benchmarks: install
	for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info
