# The two commands: `make run` (the hub on its embedded default with demo data and one reference CSD per demo
# CSD, 127.0.0.1:8000 and 9101-9105) and `make test`.
SHELL := /bin/bash
# The interpreter the virtual environment is made from: the system's /usr/bin/python3.11 where it can make
# one (on Debian, a statically linked build that ran the settlement bench about a quarter faster here than a
# default source build such as pyenv's, which links libpython as a shared library and has no profile-guided
# optimisation; the Docker image's python:3.11 is an optimised build too), else the first python3.11 on
# PATH. `make PYTHON=...` chooses another (remove .venv first: an existing one is kept).
PYTHON ?= $(shell /usr/bin/python3.11 -c 'import ensurepip, venv' >/dev/null 2>&1 && echo /usr/bin/python3.11 || echo python3.11)
VENV := .venv
PY := $(VENV)/bin/python
RUN_STAMP := $(VENV)/.run-installed
DEV_STAMP := $(VENV)/.dev-installed
BENCH_STAMP := $(VENV)/.bench-installed
# anvil, the local EVM node of the ledger's anchor tests and benchmark, from the npm registry (package.json)
ANVIL := node_modules/.bin/anvil

# The test suite runs against real PostgreSQL and Redis (on this machine and in CI).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/hub
TEST_BROKER_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test bench lint venv clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(RUN_STAMP): requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(DEV_STAMP): requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@ $(RUN_STAMP)

venv: $(DEV_STAMP)

# the MT bench's baseline (bench/iso20022/mt.py), without its one dependency: the backport of typing for
# Pythons before 3.5, which has no business beside 3.11's own module
$(BENCH_STAMP): $(DEV_STAMP)
	$(PY) -m pip install --quiet --no-deps swift-parser-py==0.5.0
	touch $@

$(ANVIL): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

run: export DEBUG ?= true
run: $(RUN_STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py reference_csds export
	$(PY) manage.py runhub $(if $(SIMULATE),--simulate $(SIMULATE))

test: $(DEV_STAMP) $(ANVIL)
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} CELERY_BROKER_URL=$${CELERY_BROKER_URL:-$(TEST_BROKER_URL)} \
		$(PY) -m pytest $(PYTEST_ARGS)

# the settlement bench runs the issue's 20,000 transfers (about six minutes here); BENCH_SETTLEMENT_COUNT=2000
# gives a quick look
bench: export BENCH_SETTLEMENT_COUNT ?= 20000
bench: $(BENCH_STAMP) $(ANVIL)
	@for script in $$(find bench -name '*.py' ! -name '_*' ! -name 'compare.py' | sort); do \
		echo "# $$script" >&2; $(PY) $$script || exit 1; \
	done

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf var .pytest_cache .ruff_cache
