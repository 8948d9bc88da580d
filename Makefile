# The two commands of the README: `make demo` and `make test`. Both create
# .venv and install what they need on a machine with only Python, make, git.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
BACKENDS ?= tensorflow jax torch
PYTEST_ARGS ?=

SOURCES := pyproject.toml $(wildcard keras_lstm_variants/*.py)

.PHONY: test demo docs docs-serve bench install clean

DEMO_ARGS ?=

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# The package is installed (not editable): the tests run against what a user
# gets from `pip install`. It is reinstalled whenever a source file changes.
$(VENV)/.installed: $(BIN)/python $(SOURCES)
	$(PIP) install --quiet ".[test,demo,examples,docs,export,tensorflow,jax,torch]"
	$(PIP) install --quiet --no-deps --force-reinstall .
	touch $@

install: $(VENV)/.installed

test: $(VENV)/.installed
	@set -e; for backend in $(BACKENDS); do \
		echo "=== KERAS_BACKEND=$$backend"; \
		KERAS_BACKEND=$$backend $(BIN)/pytest $(PYTEST_ARGS); \
	done
	@echo "=== docs (mkdocs build --strict)"
	@$(MAKE) --no-print-directory docs

# The documentation site, into site/. --strict: a broken link, a missing API
# reference or a docstring warning fails the build (and so `make test`).
docs: $(VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

docs-serve: $(VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

# The adding problem, offline: trains the four layers and a SimpleRNN baseline.
demo: $(VENV)/.installed
	$(BIN)/python examples/adding_problem.py $(DEMO_ARGS)

# Our layers against keras.layers.LSTM: train and inference step times at
# three shapes, on each backend (see benchmarks/RESULTS.md). BENCH_ARGS adds
# options, e.g. BENCH_ARGS="--shapes small --jit on" or "--quick".
BENCH_ARGS ?=
bench: $(VENV)/.installed
	@set -e; for backend in $(BACKENDS); do \
		$(BIN)/python benchmarks/bench_layers.py --backend $$backend $(BENCH_ARGS); \
	done

clean:
	rm -rf $(VENV) build dist *.egg-info demo_output site bench_output
