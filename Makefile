# Two commands on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_DIR ?= out/demo
JOBS ?= 2

.PHONY: setup sysdeps testdeps demo test lint typecheck unit bench soak clean

# System libraries WeasyPrint needs (Pango, HarfBuzz subsetting), installed only when missing.
sysdeps:
	@if ! ldconfig -p | grep -q libpango-1.0 || ! ldconfig -p | grep -q libharfbuzz-subset; then \
	  echo "installing Pango and HarfBuzz for WeasyPrint"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core >/dev/null; \
	fi

# What the tests run as an auditor would, installed only when missing: OpenSSH's ssh-keygen
# (verifying signed packs) and unzip (the pack verification steps without the tool).
testdeps:
	@if ! command -v ssh-keygen >/dev/null || ! command -v unzip >/dev/null; then \
	  echo "installing openssh-client and unzip for the tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-client unzip >/dev/null; \
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
test: setup testdeps lint typecheck
	COMPLIANCE_REQUIRE_PG=1 scripts/pg-test.sh $(BIN)/pytest -n $(JOBS) -q

# The reliability tests of `make test` (crash, concurrency, migrations, fuzzing) with larger
# bounds; figures go to out/reliability/*.json. Override e.g. SOAK_CRASH_TRIALS=1000.
SOAK_CRASH_TRIALS ?= 300
SOAK_FUZZ_EXAMPLES ?= 2000
SOAK_CONCURRENCY_ROUNDS ?= 10
soak: setup
	COMPLIANCE_SOAK=1 COMPLIANCE_REQUIRE_PG=1 COMPLIANCE_FIGURES_DIR=out/reliability \
	COMPLIANCE_CRASH_TRIALS=$(SOAK_CRASH_TRIALS) COMPLIANCE_FUZZ_EXAMPLES=$(SOAK_FUZZ_EXAMPLES) \
	COMPLIANCE_CONCURRENCY_ROUNDS=$(SOAK_CONCURRENCY_ROUNDS) \
	scripts/pg-test.sh $(BIN)/pytest -n $(JOBS) -q tests/test_crash.py tests/test_concurrency.py \
	  tests/test_migrations_data.py tests/test_fuzz.py

unit: setup
	$(BIN)/pytest -q -x

# Benchmarks: the engine against hand-written floors at N = 100, 1,000 and 10,000 deployments, on
# SQLite and a throwaway PostgreSQL 15; prints one table and writes out/bench/results.md.
# `make bench QUICK=1` (or BENCH_ARGS=--quick) for tiny sizes; BENCH_ARGS="--sizes 100,1000" etc.
bench: setup
	@$(PY) -c "import pyinstrument" 2>/dev/null || $(PY) -m pip install -q -e ".[dev,bench]"
	scripts/pg-test.sh $(PY) -m benchmarks.run $(if $(QUICK),--quick) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache .hypothesis
