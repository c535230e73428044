# sweepwise: every target creates .venv and installs what it needs on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU build of torch keeps a fresh install quick; for a GPU machine use e.g. TORCH_SPEC="torch==2.13.0".
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 5000
DASHBOARD_PORT ?= 8080
# the MLflow server's store and artifacts: a team puts them on PostgreSQL and a shared path (see the README)
DB ?= sqlite:///$(CURDIR)/mlflow.db
ARTIFACTS ?= $(CURDIR)/mlartifacts
SWEEP ?= random_lr_wd
TRIALS ?= 12
# test-newest's environment: the newest releases of every dependency
NEWEST_VENV ?= .venv-newest
# `make test` runs its tests on this many processes; most tests train in subprocesses of their own
TEST_WORKERS ?= 2

.PHONY: help install demo train inspect preflight sweep ensemble dashboard sweep-slurm test test-fast test-newest reliability lint format bench ui mlflow-server db-up db-down slurm-up slurm-down clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/$$(HOST)/$(HOST)/g; s/$$(PORT)/$(PORT)/g; s/$$(DASHBOARD_PORT)/$(DASHBOARD_PORT)/g; s/$$(SWEEP)/$(SWEEP)/g' \
		| awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## create .venv and install sweepwise with its test tools

demo: $(STAMP) ## a small random-search sweep on the embedded digits data (8 trials, 2 at a time; study demo; ARGS="hydra.sweeper.n_trials=12" continues it)
	$(PY) train.py sweeps=random_lr_wd hydra.sweeper.study_name=demo hydra.sweeper.n_trials=8 trainer.epochs=5 $(ARGS)

train: $(STAMP) ## one training with the default config (digits, convnet, adam, cosine)
	$(PY) train.py

inspect: $(STAMP) ## the data report of the default data (ARGS="data=image_folder data.root=..." for another)
	$(PY) train.py mode=inspect $(ARGS)

preflight: $(STAMP) ## the recipe's checks alone (ARGS="model=mlp data=csv ..." for another config)
	$(PY) train.py mode=preflight $(ARGS)

sweep: $(STAMP) ## a sweep from sweeps/ (SWEEP=random_lr_wd|architecture|regularize, TRIALS=12, STUDY=$(SWEEP))
	@echo "study: $(or $(STUDY),$(SWEEP))"
	$(PY) train.py sweeps=$(SWEEP) hydra.sweeper.n_trials=$(TRIALS) hydra.sweeper.study_name=$(or $(STUDY),$(SWEEP))

ensemble: $(STAMP) ## a finished sweep's best trials alone and as an ensemble (STUDY=the latest study, K=5)
	@study=$$($(PY) -m sweepwise.study.catalog name $(STUDY)) && echo "study: $$study" \
		&& $(PY) -m sweepwise.recipe.ensemble --study $$study --k $(or $(K),5)

sweep-slurm: $(STAMP) ## the same sweep, every trial a SLURM job (one GPU each; STUDY=$(SWEEP)-slurm)
	@echo "study: $(or $(STUDY),$(SWEEP)-slurm)"
	$(PY) train.py sweeps=$(SWEEP) hydra.sweeper.n_trials=$(TRIALS) hydra/launcher=slurm \
		hydra.launcher.gpus_per_node=1 hydra.sweeper.study_name=$(or $(STUDY),$(SWEEP)-slurm)

test: $(STAMP) ## run the test suite, on TEST_WORKERS=2 processes (the tests of one SLURM cluster or database on one)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup

test-fast: $(STAMP) ## the unit and in-process tests alone, in under 3 minutes: the everyday check (CI runs all)
	$(PY) -m pytest -m "not slow and not reliability"

test-newest: ## the fast tests on the newest release of every dependency, in .venv-newest (its torch: several GB)
	PYTHON=$(PYTHON) NEWEST_VENV=$(NEWEST_VENV) bash tests/newest_releases.sh

reliability: $(STAMP) ## rerun the load, fault and bad-input tests and write docs/reliability.md (needs make slurm-up)
	SWEEPWISE_REQUIRE_SERVICES=1 SWEEPWISE_RELIABILITY_REPORT=$(CURDIR)/docs/reliability.md $(PY) -m pytest -m reliability

lint: $(STAMP) ## ruff check (private names of other libraries too) and format check, the layer contracts, mypy, the layout rules
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff check --preview --select PLC2701 .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	$(PY) -m pytest -q -p no:cacheprovider tests/test_layout.py

format: $(STAMP) ## apply ruff's formatting and safe fixes
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(STAMP) ## every benchmark (about 12 minutes; the pruning one is most of it)
	$(PY) bench/throughput.py
	$(PY) bench/default_run.py
	$(PY) bench/slot_utilization.py
	$(PY) bench/sweep_overhead.py
	$(PY) bench/pruning.py
	$(PY) bench/preflight.py
	$(PY) bench/model_export.py

ui: mlflow-server ## open the MLflow UI on ./mlflow.db at http://$(HOST):$(PORT)

mlflow-server: $(STAMP) ## an MLflow server on ./mlflow.db (or DB=postgresql://...) that trials log to with tracking.uri=http://HOST:PORT
	@[ "$(HOST)" = "127.0.0.1" ] || echo "warning: HOST=$(HOST): anyone who can reach port $(PORT) can read and change every run" >&2
	@MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false $(VENV)/bin/mlflow server \
		--backend-store-uri $(subst postgresql://,postgresql+psycopg://,$(DB)) \
		--artifacts-destination $(ARTIFACTS) --host $(HOST) --port $(PORT) --workers 1

dashboard: $(STAMP) ## optuna-dashboard on a study (STUDY=the latest study) at http://$(HOST):$(DASHBOARD_PORT)
	@[ "$(HOST)" = "127.0.0.1" ] || echo "warning: HOST=$(HOST): anyone who can reach port $(DASHBOARD_PORT) can read the study" >&2
	@journal=$$($(PY) -m sweepwise.study.catalog journal $(STUDY)) && echo "study: $$journal" \
		&& $(VENV)/bin/optuna-dashboard $$journal --host $(HOST) --port $(DASHBOARD_PORT)

db-up: ## start a local PostgreSQL server (Debian's packages) for studies and runs; prints the URLs, with a generated password
	@bash tests/cluster/postgres_up.sh

db-down: ## stop the local PostgreSQL server (its data and password stay for the next db-up)
	@bash tests/cluster/postgres_down.sh

slurm-up: ## install and start a SLURM test cluster (two nodes here, 6 fake GPUs); prints the SLURM_CONF to export
	@bash tests/cluster/slurm_up.sh

slurm-down: ## stop the test cluster
	@bash tests/cluster/slurm_down.sh

clean: ## remove outputs, studies, the local MLflow store and caches (keeps .venv)
	rm -rf outputs multirun studies mlflow.db mlruns mlartifacts .pytest_cache .ruff_cache
