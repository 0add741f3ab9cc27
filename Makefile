# Two commands on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_DIR ?= out/demo
JOBS ?= 2

.PHONY: setup sysdeps testdeps demo serve test lint typecheck unit bench web-load soak clean

# System libraries WeasyPrint needs (Pango, HarfBuzz subsetting), installed only when missing.
sysdeps:
	@if ! ldconfig -p | grep -q libpango-1.0 || ! ldconfig -p | grep -q libharfbuzz-subset; then \
	  echo "installing Pango and HarfBuzz for WeasyPrint"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core >/dev/null; \
	fi

# What the tests run as an auditor would, installed only when missing: OpenSSH's ssh-keygen
# (verifying signed packs), unzip (the pack verification steps without the tool), and Debian's
# chromium with its driver (the portal's browser test; no browser is downloaded otherwise).
testdeps:
	@if ! command -v ssh-keygen >/dev/null || ! command -v unzip >/dev/null; then \
	  echo "installing openssh-client and unzip for the tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-client unzip >/dev/null; \
	fi
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  echo "installing chromium and chromium-driver for the portal's browser test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

setup: sysdeps $(STAMP)

demo: setup
	DEMO_DIR=$(DEMO_DIR) BIN=$(BIN) scripts/demo.sh

# The portal on the demo database (made by `make demo` when missing), with a demo account.
PORT ?= 8000
serve: setup
	@[ -f $(DEMO_DIR)/compliance.db ] || $(MAKE) demo
	DEMO_DIR=$(DEMO_DIR) BIN=$(BIN) PORT=$(PORT) scripts/serve-demo.sh

lint: setup
	$(BIN)/ruff check compliance tests migrations scripts
	$(BIN)/ruff format --check compliance tests migrations

typecheck: setup
	$(BIN)/mypy

# The whole suite, against SQLite and a throwaway PostgreSQL 15 server on loopback.
test: setup testdeps lint typecheck
	COMPLIANCE_REQUIRE_PG=1 COMPLIANCE_REQUIRE_BROWSER=1 scripts/pg-test.sh $(BIN)/pytest -n $(JOBS) -q

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

# The portal's load test: 1,000 deployments, 50 clients for 30 s, on SQLite and PostgreSQL;
# prints p50/p95/p99 per request kind (benchmarks/web_load.py; figures in benchmarks/RESULTS.md).
web-load: setup
	$(PY) -m benchmarks.web_load --sqlite -o out/bench/web-load-sqlite.json
	scripts/pg-test.sh $(PY) -m benchmarks.web_load -o out/bench/web-load-pg.json

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache .hypothesis
