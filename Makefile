# The two commands of the README: `make demo` and `make test`. Both create
# .venv and install what they need on a machine with only Python, make, git:
# the demo the package with JAX and matplotlib, the tests everything.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
BACKENDS ?= tensorflow jax torch
PYTEST_ARGS ?=

SOURCES := pyproject.toml constraints.txt $(wildcard keras_lstm_variants/*.py) \
	$(wildcard keras_lstm_variants/*/*.py)
# Our exact test environment (torch's CPU wheel); users get the extras' ranges.
CONSTRAINTS := -c constraints.txt

.PHONY: test test-fast lint demo docs docs-check docs-serve bench install clean dist dist-check

DEMO_ARGS ?=

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# The package is installed (not editable): the tests run against what a user
# gets from `pip install`. It is reinstalled whenever a source file changes.
$(VENV)/.installed: $(BIN)/python $(SOURCES)
	$(PIP) install --quiet $(CONSTRAINTS) \
		".[test,demo,examples,tfds,docs,export,tensorflow,jax,torch]"
	$(PIP) install --quiet --no-deps --force-reinstall .
	touch $@

install: $(VENV)/.installed

# What the demo needs, and no more: JAX and matplotlib.
$(VENV)/.installed-demo: $(BIN)/python $(SOURCES)
	$(PIP) install --quiet $(CONSTRAINTS) ".[demo,jax]"
	$(PIP) install --quiet --no-deps --force-reinstall .
	touch $@

# The backends' sessions run TEST_JOBS at a time (CI has 2 cores; most of a
# session is single-threaded Python and compilation), each one's output
# printed whole when it ends; -k: one backend failing does not stop the
# others, and `make test` still fails.
TEST_JOBS ?= 2

test: $(VENV)/.installed
	@echo "=== ruff check"
	@$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory -k -j$(TEST_JOBS) --output-sync=target \
		$(BACKEND_TESTS) dist-check
	@$(MAKE) --no-print-directory docs-check

# The edit-test loop: one backend (PyTorch's session is the quickest)
# without the tests marked slow, stopping at the first failure. Not a
# substitute for `make test`: the checks that run pairwise run a third here.
FAST_BACKEND ?= torch
test-fast: $(VENV)/.installed
	KERAS_BACKEND=$(FAST_BACKEND) $(BIN)/pytest -m "not slow" -x -q $(PYTEST_ARGS)

# ruff, with the configuration in pyproject.toml.
lint: $(VENV)/.installed
	$(BIN)/ruff check .

BACKEND_TESTS := $(addprefix test-,$(BACKENDS))
.PHONY: $(BACKEND_TESTS)
$(BACKEND_TESTS): test-%: $(VENV)/.installed
	@echo "=== KERAS_BACKEND=$*"
	@start=$$(date +%s); KERAS_BACKEND=$* $(BIN)/pytest $(PYTEST_ARGS); \
		status=$$?; echo "=== KERAS_BACKEND=$* exit $$status in $$(( $$(date +%s) - start )) s"; \
		exit $$status

# The package as a user installs it: a wheel and an sdist that pass
# `twine check --strict`; the wheel installed with each backend's extra
# alone into a new virtual environment (nothing of the repository on its
# path), one after the other, where the README's quickstart runs and its
# saved model reloads.
DIST_VENV := build/dist-venv
DIST_EXTRAS ?= tensorflow jax torch

dist: $(VENV)/.installed
	rm -rf dist
	mkdir -p build
	$(BIN)/python -m build --outdir dist . > build/dist.log \
		|| (cat build/dist.log; exit 1)
	$(BIN)/twine check --strict dist/*
	tar -tzf dist/*.tar.gz | grep -q "/LICENSE$$"

dist-check: dist
	@set -e; start=$$(date +%s); for extra in $(DIST_EXTRAS); do \
		echo "=== the built wheel with [$$extra] alone, in a new virtual environment"; \
		rm -rf $(DIST_VENV); \
		$(PYTHON) -m venv $(DIST_VENV); \
		$(DIST_VENV)/bin/python -m pip install --quiet $(CONSTRAINTS) \
			"$$(ls dist/*.whl)[$$extra]"; \
		(cd $(DIST_VENV) && KERAS_BACKEND=$$extra bin/python \
			$(CURDIR)/scripts/run_readme_quickstart.py $(CURDIR)/README.md); \
	done; rm -rf $(DIST_VENV); \
	echo "=== dist-check: $(DIST_EXTRAS) in $$(( $$(date +%s) - start )) s"

# The documentation site, into site/ (.readthedocs.yaml runs the same
# command, with its own output folder). --strict: a broken link, a missing API
# reference or a docstring warning fails the build (and so `make test`).
docs: $(VENV)/.installed
	$(MKDOCS_BUILD)

# The site as the hosting service builds it: a new virtual environment
# holding `.[docs]` alone (no backend, so mkdocstrings reads the sources
# statically), built with --strict from the checkout and again from another
# folder with -f (paths in mkdocs.yml are relative to the file).
DOCS_VENV := build/docs-venv

docs-check: $(BIN)/python
	@echo "=== docs: [docs] alone, mkdocs build --strict"
	@rm -rf $(DOCS_VENV) && $(PYTHON) -m venv $(DOCS_VENV)
	@$(DOCS_VENV)/bin/python -m pip install --quiet $(CONSTRAINTS) ".[docs]"
	@NO_MKDOCS_2_WARNING=1 $(DOCS_VENV)/bin/mkdocs build --strict --quiet \
		--site-dir $(CURDIR)/build/site
	@cd /tmp && NO_MKDOCS_2_WARNING=1 $(CURDIR)/$(DOCS_VENV)/bin/mkdocs build \
		--strict --quiet -f $(CURDIR)/mkdocs.yml --site-dir $(CURDIR)/build/site
	@rm -rf $(DOCS_VENV) build/site

docs-serve: $(VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

# The adding problem, offline: trains the four layers and a SimpleRNN baseline.
demo: $(VENV)/.installed-demo
	$(BIN)/python examples/adding_problem.py --backend jax $(DEMO_ARGS)

# Our layers against keras.layers.LSTM: train and inference step times at
# three shapes, on each backend (see benchmarks/RESULTS.md). BENCH_ARGS adds
# options, e.g. BENCH_ARGS="--shapes small --jit on" or "--quick".
BENCH_ARGS ?=
bench: $(VENV)/.installed
	@set -e; for backend in $(BACKENDS); do \
		$(BIN)/python benchmarks/bench_layers.py --backend $$backend $(BENCH_ARGS); \
	done

# `mkdocs build` as `make docs` and Read the Docs run it.
MKDOCS_BUILD = NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

clean:
	rm -rf $(VENV) build dist *.egg-info demo_output site bench_output
