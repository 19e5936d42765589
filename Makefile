# cspolicy — the two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_BASE := $(VENV)/.installed-base
STAMP_DEV := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck pytest policy-tests schema docs docs-serve bench fuzz clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_BASE): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(STAMP_BASE)

## make demo: evaluate the example cases against the shipped Wisconsin policy
demo: $(STAMP_BASE)
	$(BIN)/cspolicy evaluate examples/cases/*.yaml --policy policies/wisconsin

## make test: lint, type-check, pytest (incl. the YAML policy tests) and the docs build
test: $(STAMP_DEV) lint typecheck pytest policy-tests docs

lint: $(STAMP_DEV)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP_DEV)
	$(BIN)/mypy

pytest: $(STAMP_DEV)
	$(BIN)/pytest -q -p no:cacheprovider tests

policy-tests: $(STAMP_DEV)
	$(BIN)/cspolicy test --coverage --fail-under 100 policies
	$(BIN)/cspolicy check --strict policies

## make schema: regenerate the JSON Schemas under schema/ from the pydantic models
schema: $(STAMP_BASE)
	$(BIN)/cspolicy schema all -o schema

docs: $(STAMP_DEV)
	$(BIN)/mkdocs build --strict --site-dir site

docs-serve: $(STAMP_DEV)
	$(BIN)/mkdocs serve

clean:
	rm -rf $(VENV) site .pytest_cache .mypy_cache .ruff_cache
