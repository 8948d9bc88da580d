# The two commands of the README: `make demo` and `make test`. Both create
# .venv and install what they need on a machine with only Python, make, git.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
BACKENDS ?= tensorflow jax
PYTEST_ARGS ?=

SOURCES := pyproject.toml $(wildcard keras_lstm_variants/*.py)

.PHONY: test demo install clean

DEMO_ARGS ?=

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# The package is installed (not editable): the tests run against what a user
# gets from `pip install`. It is reinstalled whenever a source file changes.
$(VENV)/.installed: $(BIN)/python $(SOURCES)
	$(PIP) install --quiet ".[test,demo,examples,tensorflow,jax]"
	$(PIP) install --quiet --no-deps --force-reinstall .
	touch $@

install: $(VENV)/.installed

test: $(VENV)/.installed
	@set -e; for backend in $(BACKENDS); do \
		echo "=== KERAS_BACKEND=$$backend"; \
		KERAS_BACKEND=$$backend $(BIN)/pytest $(PYTEST_ARGS); \
	done

# The adding problem, offline: trains the four layers and a SimpleRNN baseline.
demo: $(VENV)/.installed
	$(BIN)/python examples/adding_problem.py $(DEMO_ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info demo_output
