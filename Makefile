# Two commands on a fresh clone: `make run` (train on the shipped data) and `make test`.
VENV ?= .venv
PYTHON := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
# Hydra overrides for `make run`, e.g. make run OVERRIDES="model=linear_svm features=char"
OVERRIDES ?=
# The embedded defaults work offline: no usage reports from MLflow.
export MLFLOW_DISABLE_TELEMETRY ?= true

.PHONY: install params run test lint clean

$(INSTALLED): pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $(INSTALLED)

install: $(INSTALLED)

# Compose conf/ (plus OVERRIDES) into params.yaml, which the DVC stages read.
params: $(INSTALLED)
	$(PYTHON) -m pipeline.compose_params $(OVERRIDES)

run: params
	PATH="$(abspath $(VENV))/bin:$$PATH" dvc repro
	$(PYTHON) -m pipeline.summary

test: $(INSTALLED)
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .

clean:
	rm -rf data/processed models reports outputs multirun
