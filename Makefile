# kedro-prefect-starter: working on the template. `make help` lists the targets.
# `make demo` bakes a project and runs it on Prefect; `make test` runs the whole template suite.

TEMPLATE_VENV ?= $(CURDIR)/.venv
BIN := $(TEMPLATE_VENV)/bin
PYTHON := $(BIN)/python
DEMO_DIR ?= $(CURDIR)/.demo
DEMO_PORT ?= 4200
DEMO_PROJECT := $(DEMO_DIR)/kedro-prefect-project
# The demo project's make runs as a user's would: its own .venv, none of this make's variables.
IN_DEMO := cd $(DEMO_PROJECT) && env -u VIRTUAL_ENV -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make
export PATH := $(BIN):$(PATH)
# ruff would keep a cache beside the template project's pyproject.toml, inside the tree that cookiecutter
# copies; keep it at the top instead.
export RUFF_CACHE_DIR := $(CURDIR)/.ruff_cache

.DEFAULT_GOAL := help
.PHONY: help dev test test-layer wheel layer-dist reliability-report lint format front-doors bench demo demo-down clean

# kedro-prefect, the Prefect layer generated projects depend on: its own distribution in
# kedro-prefect/, shipped to projects as a wheel in the template's vendor/ until it is on PyPI.
VENDOR := {{cookiecutter.repo_name}}/vendor
LAYER_DIST := kedro-prefect/dist
# Python files without Jinja, which ruff reads in place (kedro-prefect/ with its own settings).
PY_PATHS := hooks tests scripts benchmarks kedro-prefect {{cookiecutter.repo_name}}/register_prefect_flow.py

help: ## Show this list
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

dev: $(TEMPLATE_VENV)/.installed ## Create .venv with the template's tools and the generated project's dependencies

$(TEMPLATE_VENV)/.installed: requirements-dev.txt {{cookiecutter.repo_name}}/pyproject.toml scripts/project_requirements.py $(wildcard $(VENDOR)/*.whl)
	test -x $(PYTHON) || python3 -m venv $(TEMPLATE_VENV)
	$(PYTHON) -m pip install --quiet --upgrade 'uv>=0.9,<1'
	$(PYTHON) scripts/project_requirements.py > $(TEMPLATE_VENV)/project-requirements.txt
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(PYTHON) --find-links $(VENDOR) \
		--reinstall-package kedro-prefect -r requirements-dev.txt -r $(TEMPLATE_VENV)/project-requirements.txt
	touch $@

test: dev test-layer ## kedro-prefect's tests, then the whole template suite, in random order (bakes projects, starts real Prefect servers)
	$(PYTHON) -m pytest tests

# kedro-prefect's wheel and sdist, built afresh from kedro-prefect/ (what test-layer and wheel use).
layer-dist: dev
	rm -rf $(LAYER_DIST)
	$(BIN)/uv build --quiet --out-dir $(LAYER_DIST) kedro-prefect

test-layer: layer-dist ## kedro-prefect's own tests, against its wheel built from kedro-prefect/ and installed (seconds, no server)
	$(BIN)/uv pip install --quiet --python $(PYTHON) --reinstall-package kedro-prefect $(LAYER_DIST)/*.whl
	cd kedro-prefect && $(PYTHON) -m pytest

wheel: layer-dist ## Build kedro-prefect's wheel and sdist, check them with twine, and ship the wheel in the template's vendor/
	$(BIN)/twine check --strict $(LAYER_DIST)/*
	rm -f $(VENDOR)/kedro_prefect-*.whl
	cp $(LAYER_DIST)/*.whl $(VENDOR)/

reliability-report: dev ## Run the reliability tests and write their figures to the tracked reports/reliability.md
	RELIABILITY_REPORT=$(CURDIR)/reports/reliability.md $(PYTHON) -m pytest tests/test_reliability.py

lint: dev ## Check the template's Python and kedro-prefect with ruff, and type-check kedro-prefect with mypy (the rest of the project: test_end_to_end)
	$(BIN)/ruff check $(PY_PATHS) && $(BIN)/ruff format --check $(PY_PATHS)
	cd kedro-prefect && $(PYTHON) -m mypy

format: dev ## Fix and format the template's Python and, through a bake, the generated project's
	$(BIN)/ruff check --fix --quiet $(PY_PATHS); $(BIN)/ruff format --quiet $(PY_PATHS)
	$(PYTHON) scripts/format_template.py

front-doors: dev ## Regenerate copier.yml and prompts.yml from cookiecutter.json
	$(PYTHON) scripts/generate_front_doors.py

bench: dev ## Benchmark the flow against Kedro runners and bare Prefect (benchmarks/results.md; BENCH_SECTIONS= for a part)
	$(PYTHON) benchmarks/run_benchmark.py

demo: dev ## Bake a project into .demo/, install it, start Prefect, deploy and run the example
	rm -rf $(DEMO_PROJECT)
	$(BIN)/cookiecutter --no-input --output-dir $(DEMO_DIR) $(CURDIR)
	$(IN_DEMO) install
	$(IN_DEMO) up PREFECT_PORT=$(DEMO_PORT)
	$(IN_DEMO) deploy PREFECT_PORT=$(DEMO_PORT)
	$(IN_DEMO) run PREFECT_PORT=$(DEMO_PORT)
	@echo
	@echo "Demo project: $(DEMO_PROJECT)"
	@echo "Outputs:      $(DEMO_PROJECT)/data/03_primary and $(DEMO_PROJECT)/data/08_reporting"
	@echo "Prefect UI:   http://127.0.0.1:$(DEMO_PORT)/deployments"
	@echo "Stop it with: make demo-down"

demo-down: ## Stop the demo's server and worker
	@if [ -d $(DEMO_PROJECT) ]; then $(IN_DEMO) down PREFECT_PORT=$(DEMO_PORT); \
	else echo "No demo project in $(DEMO_DIR)"; fi

clean: demo-down ## Remove .venv and the demo project
	rm -rf $(TEMPLATE_VENV) $(DEMO_DIR)
