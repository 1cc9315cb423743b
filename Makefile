# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-unit test-integration bench install clean

$(STAMP): requirements.txt requirements-test.txt pyproject.toml partner-sdk/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e partner-sdk
	$(PY) -m pip install --quiet -r requirements-test.txt
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) scripts/install_browser.py
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/replenish serve

test: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-unit: $(STAMP)
	$(PY) -m pytest -q tests/unit

test-integration: $(STAMP)
	$(PY) -m pytest -q tests/integration

bench: $(STAMP)
	$(PY) bench/orders.py

clean:
	rm -rf $(VENV) var build *.egg-info partner-sdk/build partner-sdk/src/*.egg-info
