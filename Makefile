# Every command here is what CI runs too; see README.md.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: integration test unit lint engine setup clean-stacks

## integration: set everything up, then run the stack's integration tests through the plugin
integration: setup engine
	$(BIN)/pytest tests/integration $(PYTEST_ARGS)

## test: set everything up, then run the whole test suite
test: setup engine
	$(BIN)/pytest $(PYTEST_ARGS)

## unit: the tests that need no Docker engine
unit: setup
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

## lint: ruff and mypy
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

## engine: a running Docker engine with Compose v2 and the stack's base images
engine:
	bash scripts/bootstrap-docker.sh
