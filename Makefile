# Two commands on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_DIR ?= out/demo
JOBS ?= 2

.PHONY: setup sysdeps demo test lint typecheck unit clean

# System libraries WeasyPrint needs (Pango, HarfBuzz subsetting), installed only when missing.
sysdeps:
	@if ! ldconfig -p | grep -q libpango-1.0 || ! ldconfig -p | grep -q libharfbuzz-subset; then \
	  echo "installing Pango and HarfBuzz for WeasyPrint"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core >/dev/null; \
	fi

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

setup: sysdeps $(STAMP)

demo: setup
	DEMO_DIR=$(DEMO_DIR) BIN=$(BIN) scripts/demo.sh

lint: setup
	$(BIN)/ruff check compliance tests migrations scripts
	$(BIN)/ruff format --check compliance tests migrations

typecheck: setup
	$(BIN)/mypy

# The whole suite, against SQLite and a throwaway PostgreSQL 15 server on loopback.
test: setup lint typecheck
	COMPLIANCE_REQUIRE_PG=1 scripts/pg-test.sh $(BIN)/pytest -n $(JOBS) -q

unit: setup
	$(BIN)/pytest -q -x

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache .hypothesis
