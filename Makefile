# sweepwise: every target creates .venv and installs what it needs on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU build of torch keeps a fresh install quick; for a GPU machine use e.g. TORCH_SPEC="torch==2.13.0".
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: help install demo train test lint format bench ui clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## create .venv and install sweepwise with its test tools

demo: $(STAMP) ## train the default model on the embedded digits data, logged to ./mlflow.db
	$(PY) train.py

train: demo ## the same as demo: one training with the default config

test: $(STAMP) ## run the test suite
	$(PY) -m pytest

lint: $(STAMP) ## ruff check and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP) ## apply ruff's formatting and safe fixes
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(STAMP) ## benchmarks: loop throughput against bare PyTorch, and the default run
	$(PY) bench/throughput.py
	$(PY) bench/default_run.py

ui: $(STAMP) ## open the MLflow UI on ./mlflow.db at http://$(HOST):$(PORT)
	MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false $(VENV)/bin/mlflow server --backend-store-uri sqlite:///$(CURDIR)/mlflow.db \
		--host $(HOST) --port $(PORT) --workers 1

clean: ## remove outputs, the local MLflow store and caches (keeps .venv)
	rm -rf outputs multirun mlflow.db mlruns .pytest_cache .ruff_cache
