# Quick start: `make lab` (open the course) and `make test` (run every test).
# Each target bootstraps .venv when it is missing or older than pyproject.toml.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml 2>/dev/null | cut -c1-12)

.PHONY: bootstrap system-deps lab lint test test-all test-unit test-notebooks course site bench clean-notebooks

# The stamp's name carries pyproject's hash: any change there reinstalls.
$(STAMP): pyproject.toml
	@test -x $(PY) && $(PY) -c "import sys" 2>/dev/null || { rm -rf $(VENV); $(PYTHON) -m venv $(VENV); }
	$(VENV)/bin/pip install --upgrade pip >/dev/null
	$(VENV)/bin/pip install -e ".[dev,browser,offline-weights,site]"
	rm -f $(VENV)/.installed-*
	touch $@

bootstrap: $(STAMP)

# Debian's chromium for the browser test (root and apt only; never `playwright install`).
system-deps:
	@if [ -x /usr/bin/chromium ]; then echo "chromium present"; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  apt-get update && apt-get install -y chromium; \
	else echo "chromium missing: the browser test will be skipped (install Debian's chromium to run it)"; fi

# `make lab PORT=8899 IP=0.0.0.0` serves a workshop; unset, Jupyter's own settings apply.
# As root it adds --allow-root, with no display --no-browser: tlhelpers/cli/lab.py.
PORT ?=
IP ?=
lab: bootstrap
	$(PY) -m tlhelpers lab $(if $(PORT),--port $(PORT)) $(if $(IP),--ip $(IP))

# The tests' own TLH_HOME (stored features, saved models, run logs), apart from
# the course's data/cache; CI sets TLH_HOME itself.
TEST_HOME ?= $(CURDIR)/build/test-home
PYTEST := TLH_PROFILE=quick TLH_HOME=$${TLH_HOME:-$(TEST_HOME)} $(PY) -m pytest
# Notebooks first: nbval runs each once and leaves its stored features and
# saved models in TLH_HOME, where the tests after it find them (tests/coursehome.py).
COURSE_TESTS := notebooks tests --nbval-lax --nbval-current-env -p no:cacheprovider

lint: bootstrap
	$(VENV)/bin/ruff check tlhelpers tests notebooks conftest.py

# What CI runs: lint, then every notebook once (nbval), unit, reliability,
# packaging and browser tests, and the training notebooks under two replicas.
# --durations: CI's log names the slowest tests, where its time budget goes.
test: lint
	$(PYTEST) $(COURSE_TESTS) -m "not exhaustive" --durations=25

# The slower matrix besides: every notebook under two replicas and on a flat
# folder, and a full-profile run on the whole dataset.
test-all: lint
	$(PYTEST) $(COURSE_TESTS)

test-unit: bootstrap
	$(PYTEST) tests/unit tests/reliability -q

test-notebooks: bootstrap
	$(PYTEST) notebooks --nbval-lax --nbval-current-env -q

# Every notebook headless; executed copies and HTML in build/course/.
course: bootstrap
	$(PY) -m tlhelpers course

# The course site in build/site/ from those executed copies: only the notebooks
# with no current copy (new, changed since, or failed) run first.
site: bootstrap
	$(PY) -m tlhelpers course --changed
	$(PY) -m tlhelpers site

bench: bootstrap
	$(PY) -m tlhelpers bench

# Strip outputs before committing (CI refuses notebooks with outputs).
clean-notebooks: bootstrap
	$(VENV)/bin/jupyter nbconvert --clear-output --inplace notebooks/*.ipynb
