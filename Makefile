# cspolicy — the two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_BASE := $(VENV)/.installed-base
STAMP_DEV := $(VENV)/.installed-dev
MERMAID_JS := docs/javascripts/mermaid.min.js
MERMAID_VERSION ?= 11
AXE_JS := build/axe-core/axe.min.js
AXE_VERSION ?= 4

.PHONY: pg-available demo test lint typecheck pytest policy-tests schema docs docs-serve bench fuzz clean axe

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_BASE): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[service]'
	touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(STAMP_BASE)

## make demo: evaluate the example cases against the shipped Wisconsin policy
DEMO_CASES = $(shell grep -l 'state: WI' examples/cases-v2/*.yaml)

demo: $(STAMP_BASE)
	$(BIN)/cspolicy evaluate $(DEMO_CASES) --policy policies/wisconsin

## make test: lint, type-check, pytest (incl. the YAML policy tests) and the docs build
test: $(STAMP_DEV) browser $(MERMAID_JS) $(AXE_JS) lint typecheck pytest policy-tests docs

lint: $(STAMP_DEV)
	$(BIN)/ruff check src tests $(wildcard benchmarks)
	$(BIN)/ruff format --check src tests $(wildcard benchmarks)
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP_DEV)
	$(BIN)/mypy

pytest: $(STAMP_DEV) pg-available
	$(BIN)/pytest -q -p no:cacheprovider tests

policy-tests: $(STAMP_DEV)
	$(BIN)/cspolicy test --coverage --fail-under 100 policies
	$(BIN)/cspolicy check --strict policies

## make bench: caseload benchmark (per-case, 1M batch, 13M streamed, Rete); not part of `make test`
bench: $(STAMP_DEV)
	$(BIN)/python benchmarks/caseload_bench.py

## make fuzz: the fuzz properties FUZZ_FACTOR times longer (default 10: 100,000+ examples);
## prints examples tried and failures. `make fuzz FUZZ_FACTOR=20` for a longer run.
FUZZ_FACTOR ?= 10
fuzz: $(STAMP_DEV)
	CSPOLICY_FUZZ_FACTOR=$(FUZZ_FACTOR) $(BIN)/pytest -q -p no:cacheprovider -rxX tests/test_fuzz.py

## make schema: regenerate the JSON Schemas under schema/ from the pydantic models
schema: $(STAMP_BASE)
	$(BIN)/cspolicy schema all -o schema

## make docs: the docs site (rule catalogue generated from policies/) into site/, --strict
# (silences a plugin's banner about a future MkDocs 2; the build does not depend on it)
docs docs-serve: export NO_MKDOCS_2_WARNING := 1
docs docs-serve: export DISABLE_MKDOCS_2_WARNING := true
docs: $(STAMP_DEV) $(MERMAID_JS)
	$(BIN)/mkdocs build --strict --site-dir site

docs-serve: $(STAMP_DEV) $(MERMAID_JS)
	$(BIN)/mkdocs serve

# Mermaid is served from the site (no CDN at read time): fetched once from the npm registry.
$(MERMAID_JS):
	@mkdir -p $(@D)
	@tmp=$$(mktemp -d) && (cd $$tmp && npm pack --silent mermaid@$(MERMAID_VERSION) >/dev/null) \
	  && tar -xzf $$tmp/mermaid-*.tgz -C $$tmp package/dist/mermaid.min.js \
	  && mv $$tmp/package/dist/mermaid.min.js $@; rm -rf $$tmp; \
	  test -s $@ || { echo "could not fetch mermaid@$(MERMAID_VERSION) with npm: diagrams will not render" >&2; exit 1; }

# axe-core, the accessibility checker tests/docs/test_accessibility.py runs on every page of the
# site (WCAG 2.1 AA), is fetched once from the npm registry into build/ (gitignored), like Mermaid.
axe: $(AXE_JS)
$(AXE_JS):
	@mkdir -p $(@D)
	@tmp=$$(mktemp -d) && (cd $$tmp && npm pack --silent axe-core@$(AXE_VERSION) >/dev/null) \
	  && tar -xzf $$tmp/axe-core-*.tgz -C $$tmp package/axe.min.js package/LICENSE \
	  && mv $$tmp/package/LICENSE $(@D)/LICENSE && mv $$tmp/package/axe.min.js $@; rm -rf $$tmp; \
	  test -s $@ || { echo "could not fetch axe-core@$(AXE_VERSION) with npm: the accessibility test will fail" >&2; exit 1; }

## make browser: Debian's chromium + chromedriver for the headless-browser docs test (as root)
browser:
	@test -x /usr/bin/chromium && test -x /usr/bin/chromedriver || \
	  (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver)

clean:
	rm -rf $(VENV) site .pytest_cache .mypy_cache .ruff_cache

## PostgreSQL binaries for the decision store tests (the tests start and stop their own server
## on a loopback port, data in a temporary directory); installed with apt-get when missing.
pg-available:
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    { apt-get install -y -q postgresql >/dev/null 2>&1 || \
	      { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q postgresql >/dev/null 2>&1; }; }; } || \
	  echo "PostgreSQL is not installed: tests/store/test_store_postgres.py will be skipped"
