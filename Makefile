# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test test-unit test-integration bench install install-test clean lock audit services chaos lint typecheck

# What the product needs, from requirements.lock (pinned, with hashes: `make lock` remakes it), then this
# repository's own packages (the partner SDK and the platform) without touching those pins.
$(STAMP): requirements.lock pyproject.toml partner-sdk/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e partner-sdk
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# The tests need more: the test tools (requirements-test.lock, the same pins plus pytest, moto, Playwright,
# schemathesis, ...) and Debian's Chromium for the browser tests. `make run` installs none of it.
$(TEST_STAMP): $(STAMP) requirements-test.lock
	$(PY) -m pip install --quiet --require-hashes -r requirements-test.lock
	$(PY) scripts/install_browser.py
	touch $(TEST_STAMP)

install: $(STAMP)

install-test: $(TEST_STAMP)

run: $(STAMP)
	$(VENV)/bin/replenish serve

# The unit tier (and the partner SDK's tests) on every core (pytest-xdist): they share nothing but the CPU. The
# integration and end-to-end tiers then run one test at a time, as they share PostgreSQL, Redis and ports.
test: $(TEST_STAMP)
	$(PY) -m pytest -q -n auto tests/unit partner-sdk/tests
	$(PY) -m pytest -q tests/integration tests/e2e

test-unit: $(TEST_STAMP)
	$(PY) -m pytest -q -n auto tests/unit

test-integration: $(TEST_STAMP)
	$(PY) -m pytest -q tests/integration

# The quality gate's linter (ruff, configured in pyproject.toml): `.ci/run` runs it before the tests.
lint: $(TEST_STAMP)
	$(PY) -m ruff check .

# The type gate (mypy, configured in pyproject.toml: which packages, which are fully annotated): `.ci/run` runs
# it after the linter. docs/decisions/0019-type-checking-gate.md.
typecheck: $(TEST_STAMP)
	$(PY) -m mypy

lock: $(TEST_STAMP)
	$(PY) scripts/lock.py

audit: $(TEST_STAMP)
	$(PY) scripts/audit.py

# The real-service deployment (DATABASE_URL, REDIS_URL): database created and migrated, then web, WORKERS
# workers and beat under honcho (Procfile). docs/operations.md.
services: $(STAMP)
	$(PY) scripts/services.py

# Faults under load against a private PostgreSQL and Redis (not part of `make test`). docs/operations.md.
chaos: $(STAMP)
	$(PY) scripts/chaos.py $(CHAOS_ARGS)

bench: $(STAMP)
	$(PY) bench/orders.py

clean:
	rm -rf $(VENV) var build *.egg-info partner-sdk/build partner-sdk/src/*.egg-info
